"""The Keras 3 callback for real (torch backend, no TensorFlow): a tiny regression trained by
``model.fit`` on the pool backend, ASHA stopping the hopeless trial through
``model.stop_training``.

Three configurations run one after another, up to 9 epochs each: lr=0.1 and 0.05 learn
``y = 3x``; lr=0 never does, its validation loss at epoch 1 is far above the first trial's,
and ASHA stops it there (its fit returns after epoch 1).
"""
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("keras")

from hpogrid.backends import RunOptions, get_backend  # noqa: E402
from hpogrid.project import load_project  # noqa: E402
from tests.backends.helpers import trials_so_far  # noqa: E402
from tests.projects import make_project  # noqa: E402

pytestmark = pytest.mark.slow

MODEL = """
import os
os.environ["KERAS_BACKEND"] = "torch"
import keras
import numpy as np
from hpogrid.integrations.keras import ReportCallback
from hpogrid.trial import trial_dir


def objective(config):
    keras.utils.set_random_seed(0)
    x = np.linspace(-1, 1, 64, dtype="float32").reshape(-1, 1)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=config["lr"]), loss="mse")
    history = model.fit(x, 3 * x, batch_size=8, epochs=100, validation_data=(x, 3 * x), verbose=0,
                        callbacks=[ReportCallback(["val_loss"])])
    open(trial_dir() / "epochs", "w").write(str(len(history.history["val_loss"])))  # how far the fit went
"""
GRID = {"lr": {"method": "categorical", "dimension": {"categories": [0.1, 0.0, 0.05], "grid_search": 1}}}


def test_asha_stops_a_keras_fit_through_the_callback(tmp_path):
    name = make_project(tmp_path, MODEL, GRID, metric="val_loss", algorithm="tune", trials=3,
                        scheduler="asynchyperband", stop={"training_iteration": 9},
                        scheduler_param={"max_t": 9, "grace_period": 1, "reduction_factor": 3})
    summary = get_backend("pool").run(load_project(name), RunOptions(progress=False, n_jobs=1))
    assert summary.scheduler == "asynchyperband"
    by_lr = {t.params["lr"]: t for t in trials_so_far(name)}
    assert [by_lr[lr].state for lr in (0.1, 0.0, 0.05)] == ["COMPLETED"] * 3, [t.error for t in by_lr.values()]
    stopped = by_lr[0.0]
    assert stopped.annotations["stopped_early"]["at"] == 1
    assert [m["step"] for m in stopped.intermediate] == [1]
    assert open(f"{stopped.annotations['trial_dir']}/epochs").read() == "1"  # of 100
    first = by_lr[0.1]
    assert [m["step"] for m in first.intermediate] == list(range(1, 10))
    assert first.value < stopped.value
