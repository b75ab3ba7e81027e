"""A trial's checkpoint carried by Ray Tune, for a Ray cluster without a shared file system.

On such a cluster a retried trial may run on another node, where its trial folder (and the
checkpoint the lost attempt saved there, :func:`hpogrid.trial.checkpoint_dir`) does not
exist. So, when the run retries trials (hpo_config ``max_retries``), each report after which
the checkpoint folder changed hands a copy of it to Tune (``tune.report(...,
checkpoint=Checkpoint.from_directory(...))``), which persists it under the run's storage path;
an attempt that Tune restores gets it back (``tune.get_checkpoint()``) into its checkpoint
folder before the model starts, so ``last_checkpoint()`` finds it wherever the attempt runs.

Which copy wins: every copy sent carries a sequence number, and the trial folder remembers
the last number it sent or received (:data:`SENT_FILE`). The copy Tune restores replaces the
folder's own checkpoint unless the folder holds that copy or a later one (the same node, with
a checkpoint saved after the last report): a stale folder on a node the trial ran on before
never wins over a newer attempt elsewhere.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional, Tuple

from hpogrid.trial import CHECKPOINT_DIR, holds_checkpoint

#: in the trial folder: the sequence number of the last checkpoint sent to or received from Tune
SENT_FILE = ".checkpoint_sent"
#: in a copy handed to Tune: its sequence number
SEQUENCE_FILE = ".hpogrid_sequence"


def _read_number(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _signature(folder: Path) -> Tuple:
    """What the checkpoint folder holds now (names, sizes, modification times)."""
    root = folder / CHECKPOINT_DIR
    try:
        return tuple(sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                            for p in root.rglob("*") if p.is_file()))
    except OSError:
        return ()


class Carrier:
    """Hands the trial's checkpoint to Tune with a report when it changed since the last one."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.last = _signature(self.folder)  # (a restored checkpoint is Tune's already)

    def report(self, metrics: dict) -> None:
        """``tune.report(metrics)``, with a copy of the checkpoint when it changed."""
        from ray import tune

        now = _signature(self.folder)
        if not now or now == self.last:
            tune.report(metrics)
            return
        self.last = now
        sequence = _read_number(self.folder / SENT_FILE) + 1
        with tempfile.TemporaryDirectory(prefix="hpogrid-checkpoint-") as tmp:
            copy = Path(tmp) / CHECKPOINT_DIR
            shutil.copytree(self.folder / CHECKPOINT_DIR, copy)
            (copy / SEQUENCE_FILE).write_text(str(sequence))
            # Tune persists the copy to its storage path before report returns
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(copy)))
        (self.folder / SENT_FILE).write_text(str(sequence))


def restore(folder: Path, checkpoint: Optional[Any] = None) -> bool:
    """Before an attempt starts: Tune's last checkpoint of this trial (``checkpoint``, default
    ``tune.get_checkpoint()``) into the trial's checkpoint folder unless the folder holds it or
    a later one (see the module docstring). True when it was restored from Tune's copy."""
    if checkpoint is None:
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return False
    folder = Path(folder)
    with checkpoint.as_directory() as src:
        sequence = _read_number(Path(src) / SEQUENCE_FILE)
        if holds_checkpoint(folder) and _read_number(folder / SENT_FILE) >= sequence:
            return False
        target = folder / CHECKPOINT_DIR
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(src, target)
    (target / SEQUENCE_FILE).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SENT_FILE).write_text(str(sequence))
    return True
