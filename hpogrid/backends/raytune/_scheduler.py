"""hpogrid's early-stopping rules as a Ray Tune trial scheduler, so Ray stops the trials the
pool, the fake backend and Slurm would stop (:mod:`hpogrid.engine.early_stop`).

Ray's own ASHA, HyperBand and median stopping keep their state in the scheduler object,
assign brackets at random and pause trials; this scheduler only answers each result with
CONTINUE or STOP from the engine's :class:`EarlyStopper` (loaded with the study's curves,
so a resumed run judges against the earlier runs' trials). Synchronous Hyperband cannot
hold a Ray trial in its report: its answers here are the forced ones (the best of those
that reached the rung so far), which is what the pool gives with one worker.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from hpogrid.engine.early_stop import EarlyStopper


class EngineScheduler(FIFOScheduler):
    """CONTINUE / STOP by ``stopper``; ``uid_of(trial)`` is the trial's study uid."""

    def __init__(self, stopper: EarlyStopper, uid_of: Callable[[Any], str]):
        super().__init__()
        self.stopper, self.uid_of = stopper, uid_of

    def on_trial_add(self, tune_controller, trial) -> None:
        self.stopper.restart(self.uid_of(trial))

    def on_trial_result(self, tune_controller, trial, result: Dict[str, Any]) -> str:
        verdict = self.stopper.decide(self.uid_of(trial), result, force=True)
        return TrialScheduler.STOP if verdict.stop else TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller, trial, result) -> None:
        self.stopper.finish(self.uid_of(trial))

    def on_trial_error(self, tune_controller, trial) -> None:
        self.stopper.finish(self.uid_of(trial))

    def on_trial_remove(self, tune_controller, trial) -> None:
        self.stopper.finish(self.uid_of(trial))

    def debug_string(self) -> str:
        return f"Using hpogrid's {self.stopper.scheduler} early stopping."
