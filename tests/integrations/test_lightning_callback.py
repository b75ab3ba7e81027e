"""The PyTorch Lightning callback for real: a tiny regression trained by ``Trainer.fit`` on the
pool backend, ASHA stopping the hopeless trial through ``trainer.should_stop``.

Three configurations run one after another, up to 9 epochs each: lr=0.1 and 0.05 learn
``y = 3x``; lr=0 never does, its validation loss at epoch 1 is far above the first trial's,
and ASHA stops it there (its fit returns after epoch 1).
"""
import pytest

pytest.importorskip("lightning")

from tests.integrations.helpers import check_asha_stops_the_hopeless_fit  # noqa: E402

pytestmark = pytest.mark.slow

MODEL = """
import torch
import lightning.pytorch as pl
from hpogrid.integrations.lightning import ReportCallback
from hpogrid.trial import trial_dir


class Line(pl.LightningModule):
    def __init__(self, lr):
        super().__init__()
        self.lr, self.layer = lr, torch.nn.Linear(1, 1)

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def objective(config):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x = torch.linspace(-1, 1, 64).unsqueeze(1)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, 3 * x), batch_size=8)
    model = Line(config["lr"])
    trainer = pl.Trainer(max_epochs=100, callbacks=[ReportCallback(["val_loss"])], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1)
    trainer.fit(model, data, data)
    open(trial_dir() / "epochs", "w").write(str(trainer.current_epoch))  # how far the fit went
"""


def test_asha_stops_a_lightning_fit_through_the_callback(tmp_path):
    check_asha_stops_the_hopeless_fit(tmp_path, MODEL)
