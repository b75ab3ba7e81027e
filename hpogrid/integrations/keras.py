"""Keras 3: ``model.fit(..., callbacks=[ReportCallback()])`` reports each epoch's logs (loss,
metrics, ``val_*``) as one intermediate result of the current trial, with ``step`` = the
epoch (from 1), and sets ``model.stop_training`` when the scheduler stops the trial: ``fit``
returns after that epoch. Any Keras backend (``KERAS_BACKEND=torch`` needs no TensorFlow).
"""
from __future__ import annotations

from typing import Optional, Sequence

import keras

from hpogrid.trial import report


class ReportCallback(keras.callbacks.Callback):
    """Report at every epoch end (``metrics``: the log names to report; default all)."""

    def __init__(self, metrics: Optional[Sequence[str]] = None):
        super().__init__()
        self.metrics = list(metrics) if metrics is not None else None

    def on_epoch_end(self, epoch, logs=None) -> None:
        values = {}
        for key, value in (logs or {}).items():
            if self.metrics is None or key in self.metrics:
                try:
                    values[key] = float(value)  # (numpy and backend scalars too)
                except (TypeError, ValueError):
                    continue
        if report(epoch + 1, **values):
            self.model.stop_training = True
