"""PyTorch Lightning: ``Trainer(callbacks=[ReportCallback()])`` reports each validation's
metrics (``trainer.callback_metrics``: what ``self.log`` logged) as one intermediate result
of the current trial, with ``step`` = the epoch (from 1), and sets ``trainer.should_stop``
when the scheduler stops the trial: the fit ends after that epoch and the model function goes
on (save, return). Works with the ``lightning`` and the older ``pytorch_lightning`` package.

``ReportCallback(checkpoint=True)`` also saves the trainer's checkpoint into the trial's
checkpoint folder (:func:`hpogrid.trial.checkpoint_dir`) before each report; a retried trial
resumes with ``trainer.fit(model, ckpt_path=resume_path())``.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from hpogrid.trial import checkpoint_dir, last_checkpoint, report

#: the checkpoint file in the trial's checkpoint folder
CHECKPOINT_FILE = "last.ckpt"


def resume_path() -> Optional[str]:
    """The trial's last checkpoint saved by ``ReportCallback(checkpoint=True)`` (for
    ``trainer.fit(..., ckpt_path=...)``), None when there is none (start from scratch)."""
    last = last_checkpoint()
    return str(last / CHECKPOINT_FILE) if last is not None and (last / CHECKPOINT_FILE).is_file() else None

try:
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - the older package name
    from pytorch_lightning import Callback


def scalar_metrics(metrics: Dict[str, Any], names: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """One-element tensors and numbers as floats (``names``: only those)."""
    out = {}
    for key, value in metrics.items():
        if names is not None and key not in names:
            continue
        if hasattr(value, "numel") and value.numel() == 1:
            value = value.item()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


class ReportCallback(Callback):
    """Report at every validation end (``metrics``: the names to report; default all logged;
    ``checkpoint``: save the trainer's checkpoint first, see :func:`resume_path`)."""

    def __init__(self, metrics: Optional[Sequence[str]] = None, checkpoint: bool = False):
        self.metrics = list(metrics) if metrics is not None else None
        self.checkpoint = checkpoint

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        if self.checkpoint:
            trainer.save_checkpoint(str(checkpoint_dir() / CHECKPOINT_FILE))
        if report(trainer.current_epoch + 1, **scalar_metrics(dict(trainer.callback_metrics), self.metrics)):
            trainer.should_stop = True
