"""``ReportCallback(checkpoint=True)`` of Keras and Lightning: each epoch's model is saved in
the trial's checkpoint folder, and the next attempt of the trial resumes from it (in this
process, inside an activated trial: the retry itself is the engine's, tested in tests/engine)."""
import os

import pytest

from hpogrid.trial import activated, last_checkpoint

os.environ.setdefault("KERAS_BACKEND", "torch")
pytestmark = pytest.mark.slow


def test_keras_saves_each_epoch_and_resume_returns_the_epoch_to_go_on_from(tmp_path):
    keras = pytest.importorskip("keras")
    import numpy as np

    from hpogrid.integrations.keras import ReportCallback, resume

    def build():
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        return model

    x = np.linspace(-1, 1, 32, dtype="float32").reshape(-1, 1)
    with activated("t1", tmp_path / "t1"):
        first = build()
        assert resume(first) == 0 and last_checkpoint() is None
        first.fit(x, 3 * x, epochs=3, verbose=0, callbacks=[ReportCallback(checkpoint=True)])
        again = build()
        assert resume(again) == 3
        assert all(np.allclose(a, b) for a, b in zip(again.get_weights(), first.get_weights()))
        history = again.fit(x, 3 * x, epochs=5, initial_epoch=3, verbose=0)
        assert len(history.history["loss"]) == 2


def test_lightning_saves_each_epoch_and_a_retry_fits_on_from_it(tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    import torch

    from hpogrid.integrations.lightning import ReportCallback, resume_path

    class Line(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)
            self.epochs_run = []

        def training_step(self, batch, _):
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def on_train_epoch_start(self):
            self.epochs_run.append(self.current_epoch)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x = torch.linspace(-1, 1, 16).unsqueeze(1)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, 3 * x), batch_size=8)

    def trainer(epochs):
        return pl.Trainer(max_epochs=epochs, callbacks=[ReportCallback(checkpoint=True)], logger=False,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                          accelerator="cpu", devices=1)

    with activated("t1", tmp_path / "t1"):
        assert resume_path() is None
        trainer(3).fit(Line(), data, data)
        assert resume_path() is not None
        model = Line()
        trainer(5).fit(model, data, data, ckpt_path=resume_path())
        assert model.epochs_run == [3, 4]
