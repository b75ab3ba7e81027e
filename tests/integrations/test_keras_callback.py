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

from tests.integrations.helpers import check_asha_stops_the_hopeless_fit  # noqa: E402

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


def test_asha_stops_a_keras_fit_through_the_callback(tmp_path):
    check_asha_stops_the_hopeless_fit(tmp_path, MODEL)
