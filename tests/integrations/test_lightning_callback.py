"""The PyTorch Lightning callback for real: a tiny regression trained by ``Trainer.fit`` on the
pool backend, ASHA stopping the hopeless trial through ``trainer.should_stop``.

Three configurations run one after another, up to 9 epochs each: lr=0.1 and 0.05 learn
``y = 3x``; lr=0 never does, its validation loss at epoch 1 is far above the first trial's,
and ASHA stops it there (its fit returns after epoch 1).
"""
import pytest

pytest.importorskip("lightning")

from hpogrid.backends import RunOptions, get_backend  # noqa: E402
from hpogrid.project import load_project  # noqa: E402
from tests.backends.helpers import trials_so_far  # noqa: E402
from tests.projects import make_project  # noqa: E402

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
GRID = {"lr": {"method": "categorical", "dimension": {"categories": [0.1, 0.0, 0.05], "grid_search": 1}}}


def test_asha_stops_a_lightning_fit_through_the_callback(tmp_path):
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
    # the fit itself ended after its first epoch (of 100)
    assert open(f"{stopped.annotations['trial_dir']}/epochs").read() == "1"
    first = by_lr[0.1]
    assert [m["step"] for m in first.intermediate] == list(range(1, 10))
    assert first.value < stopped.value
