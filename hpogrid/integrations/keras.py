"""Keras 3: ``model.fit(..., callbacks=[ReportCallback()])`` reports each epoch's logs (loss,
metrics, ``val_*``) as one intermediate result of the current trial, with ``step`` = the
epoch (from 1), and sets ``model.stop_training`` when the scheduler stops the trial: ``fit``
returns after that epoch. Any Keras backend (``KERAS_BACKEND=torch`` needs no TensorFlow).

``ReportCallback(checkpoint=True)`` also saves the model into the trial's checkpoint folder
(:func:`hpogrid.trial.checkpoint_dir`) after each epoch, before reporting it; a retried trial
calls :func:`resume` to load it and passes the epoch it returns to ``fit(initial_epoch=...)``.
"""
from __future__ import annotations

import json
import os
from typing import Optional, Sequence

import keras

from hpogrid.trial import checkpoint_dir, last_checkpoint, report

#: the files of a checkpoint: the whole model, and the epochs it has trained
MODEL_FILE = "model.keras"
EPOCH_FILE = "epoch.json"


def resume(model) -> int:
    """Load the trial's last checkpoint (saved by ``ReportCallback(checkpoint=True)``) into
    ``model``; returns the epochs it has trained (0: no checkpoint), for ``initial_epoch``."""
    last = last_checkpoint()
    if last is None or not (last / MODEL_FILE).is_file():
        return 0
    saved = keras.models.load_model(last / MODEL_FILE)
    model.set_weights(saved.get_weights())
    try:
        return int(json.loads((last / EPOCH_FILE).read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


class ReportCallback(keras.callbacks.Callback):
    """Report at every epoch end (``metrics``: the log names to report; default all;
    ``checkpoint``: save the model first, see :func:`resume`)."""

    def __init__(self, metrics: Optional[Sequence[str]] = None, checkpoint: bool = False):
        super().__init__()
        self.metrics = list(metrics) if metrics is not None else None
        self.checkpoint = checkpoint

    def _save(self, epoch: int) -> None:
        folder = checkpoint_dir()
        tmp = folder / f".{MODEL_FILE}.tmp.keras"
        self.model.save(tmp)
        os.replace(tmp, folder / MODEL_FILE)
        (folder / EPOCH_FILE).write_text(json.dumps({"epoch": epoch}))

    def on_epoch_end(self, epoch, logs=None) -> None:
        values = {}
        for key, value in (logs or {}).items():
            if self.metrics is None or key in self.metrics:
                try:
                    values[key] = float(value)  # (numpy and backend scalars too)
                except (TypeError, ValueError):
                    continue
        if self.checkpoint:
            self._save(epoch + 1)
        if report(epoch + 1, **values):
            self.model.stop_training = True
