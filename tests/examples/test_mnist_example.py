"""README Example 3 (a CNN on digits, a Trainable class) runs through the CLI with real Ray Tune and torch."""
import json
import math

import pytest

from hpogrid import paths
from hpogrid.study import StudyStore, sqlite_url
from tests.conftest import EXAMPLE_SCRIPTS

pytestmark = pytest.mark.slow

MNIST_SPACE = {
    "hidden": {"method": "categorical", "dimension": {"categories": [32, 64, 128]}},
    "batchsize": {"method": "categorical", "dimension": {"categories": [32, 64, 128, 256, 512]}},
    "lr": {"method": "loguniform", "dimension": {"low": 4.5e-05, "high": 1.83e-2}},
    "beta": {"method": "uniform", "dimension": {"low": 0.5, "high": 1.0}},
}


def test_readme_example3_mnist_cnn_through_the_cli(run_cli):
    steps = [
        ("model_config", "create", "mnist_cnn", "--script", "mnist.py", "--model", "MNISTTrainable",
         "--param", json.dumps({"epochs": 1})),
        ("search_space", "create", "mnist_cnn_space", json.dumps(MNIST_SPACE)),
        ("hpo_config", "create", "hyperopt_min_loss", "--algorithm", "hyperopt", "--metric", "loss",
         "--mode", "min", "--trials", "200", "--stop", json.dumps({"training_iteration": 1})),
        ("project", "create", "mnist_cnn", "--scripts_path", EXAMPLE_SCRIPTS / "mnist.py",
         "--model_config", "mnist_cnn", "--search_space", "mnist_cnn_space", "--hpo_config", "hyperopt_min_loss"),
    ]
    for args in steps:
        r = run_cli(*args)
        assert r.exit_code == 0, (args, r.output)

    r = run_cli("local_run", "mnist_cnn", "--trials", "2", "--seed", "3")
    assert r.exit_code == 0, r.output
    assert "2 completed, 0 failed" in r.output

    trials = StudyStore(sqlite_url(paths.study_db("mnist_cnn"))).trials("mnist_cnn")
    assert len(trials) == 2 and {t.state for t in trials} == {"COMPLETED"}, [t.error for t in trials]
    for t in trials:
        assert set(t.params) == set(MNIST_SPACE)
        assert t.params["hidden"] in (32, 64, 128) and t.params["batchsize"] in (32, 64, 128, 256, 512)
        loss, accuracy = t.metrics["loss"], t.metrics["accuracy"]
        assert math.isfinite(loss) and loss > 0
        assert 0.0 <= accuracy <= 1.0
        assert t.value == pytest.approx(loss)  # the hpo_config metric is what the study ranks by


def test_readme_example3_plain_loop_is_stopped_by_asha_on_the_pool(run_cli):
    # a grid run one trial at a time: lr=1e-7 learns nothing in its first epoch, far behind the
    # trial before it, and ASHA stops it there; the others run their 4 epochs
    space = {"lr": {"method": "categorical", "dimension": {"categories": [1e-2, 1e-7, 5e-3], "grid_search": 1}}}
    steps = [
        ("model_config", "create", "mnist_loop", "--script", "mnist.py", "--model", "mnist_loop"),
        ("search_space", "create", "mnist_loop_space", json.dumps(space)),
        ("hpo_config", "create", "asha_min_loss", "--algorithm", "tune", "--metric", "loss", "--mode", "min",
         "--trials", "3", "--scheduler", "asynchyperband", "--stop", json.dumps({"training_iteration": 4}),
         "--scheduler_param", json.dumps({"max_t": 4, "grace_period": 1, "reduction_factor": 2})),
        ("project", "create", "mnist_loop", "--scripts_path", EXAMPLE_SCRIPTS / "mnist.py",
         "--model_config", "mnist_loop", "--search_space", "mnist_loop_space", "--hpo_config", "asha_min_loss"),
    ]
    for args in steps:
        r = run_cli(*args)
        assert r.exit_code == 0, (args, r.output)
    r = run_cli("local_run", "mnist_loop", "--n_jobs", "1")
    assert r.exit_code == 0, r.output
    by_lr = {t.params["lr"]: t for t in StudyStore(sqlite_url(paths.study_db("mnist_loop"))).trials("mnist_loop")}
    assert {t.state for t in by_lr.values()} == {"COMPLETED"}, [t.error for t in by_lr.values()]
    assert by_lr[1e-7].annotations["stopped_early"]["at"] == 1 and len(by_lr[1e-7].intermediate) == 1
    assert [m["step"] for m in by_lr[1e-2].intermediate] == [1, 2, 3, 4]
    assert by_lr[1e-2].value == by_lr[1e-2].intermediate[-1]["loss"] < by_lr[1e-7].value
