"""The run both callback tests share: three learning rates one after another on the pool, ASHA
(grace 1, factor 3, max_t 9) over ``val_loss``; lr=0 never learns and must be stopped at epoch 1."""
from hpogrid.backends import RunOptions, get_backend
from hpogrid.project import load_project
from tests.backends.helpers import trials_so_far
from tests.projects import make_project

GRID = {"lr": {"method": "categorical", "dimension": {"categories": [0.1, 0.0, 0.05], "grid_search": 1}}}


def check_asha_stops_the_hopeless_fit(tmp_path, model: str) -> None:
    """``model`` writes how many epochs its fit ran into ``trial_dir()/epochs``."""
    name = make_project(tmp_path, model, GRID, metric="val_loss", algorithm="tune", trials=3,
                        scheduler="asynchyperband", stop={"training_iteration": 9},
                        scheduler_param={"max_t": 9, "grace_period": 1, "reduction_factor": 3})
    summary = get_backend("pool").run(load_project(name), RunOptions(progress=False, n_jobs=1))
    assert summary.scheduler == "asynchyperband"
    by_lr = {t.params["lr"]: t for t in trials_so_far(name)}
    assert [by_lr[lr].state for lr in (0.1, 0.0, 0.05)] == ["COMPLETED"] * 3, [t.error for t in by_lr.values()]
    stopped = by_lr[0.0]
    assert stopped.annotations["stopped_early"]["at"] == 1
    assert [m["step"] for m in stopped.intermediate] == [1]
    # the fit itself ended after its first epoch (of 100)
    assert open(f"{stopped.annotations['trial_dir']}/epochs").read() == "1"
    first = by_lr[0.1]
    assert [m["step"] for m in first.intermediate] == list(range(1, 10))
    assert first.value < stopped.value
