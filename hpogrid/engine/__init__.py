"""The run engine: one trial lifecycle under every backend.

    from hpogrid.engine import Backend, RunOptions
    summary = SomeBackend().run(project, RunOptions(trials=20))

:class:`Backend` (a template method) resolves the search, opens and settles the study, drives
the trials through one :class:`TrialSink` under one :class:`RunControl` and summarises;
backends supply execution only - Ray Tune directly, everything else as an :class:`Executor`
under :class:`AskTellBackend` - and every hook of theirs is handed the one :class:`Run`. Lazy (PEP 562): importing it loads neither Ray nor SQLAlchemy.
"""
from typing import TYPE_CHECKING

from hpogrid.lazy import lazy_exports

if TYPE_CHECKING:  # what a type checker reads (the same names the table below loads lazily)
    from hpogrid.engine.backend import Backend
    from hpogrid.engine.control import RunControl
    from hpogrid.engine.environment import scoped_environ, worker_environment
    from hpogrid.engine.executor import (AskTellBackend, Ended, Event, Executor, Queued, Requeued, Started,
                                         TrialRun, ended_from_result)
    from hpogrid.engine.options import RunOptions, RunSpec, RunSummary
    from hpogrid.engine.plan import SearchPlan, check_model, plan_search
    from hpogrid.engine.rerun import RerunSelection, ResumeRequest
    from hpogrid.engine.resume import Adopted, Workload, prepare_resume
    from hpogrid.engine.outcome import clean_metrics, error_summary, json_safe, metric_verdict, record_ended
    from hpogrid.engine.run import Run
    from hpogrid.engine.sink import TrialSink
    from hpogrid.engine.trial_output import cap_logs, clean_error

_EXPORTS = {
    "Backend": "hpogrid.engine.backend",
    "AskTellBackend": "hpogrid.engine.executor",
    "Executor": "hpogrid.engine.executor",
    "TrialRun": "hpogrid.engine.executor",
    "Started": "hpogrid.engine.executor",
    "Ended": "hpogrid.engine.executor",
    "Queued": "hpogrid.engine.executor",
    "Requeued": "hpogrid.engine.executor",
    "Event": "hpogrid.engine.executor",
    "ended_from_result": "hpogrid.engine.executor",
    "RunControl": "hpogrid.engine.control",
    "RunOptions": "hpogrid.engine.options",
    "RunSpec": "hpogrid.engine.options",
    "RunSummary": "hpogrid.engine.options",
    "Run": "hpogrid.engine.run",
    "SearchPlan": "hpogrid.engine.plan",
    "plan_search": "hpogrid.engine.plan",
    "check_model": "hpogrid.engine.plan",
    "Workload": "hpogrid.engine.resume",
    "Adopted": "hpogrid.engine.resume",
    "prepare_resume": "hpogrid.engine.resume",
    "RerunSelection": "hpogrid.engine.rerun",
    "ResumeRequest": "hpogrid.engine.rerun",
    "TrialSink": "hpogrid.engine.sink",
    "clean_metrics": "hpogrid.engine.outcome",
    "error_summary": "hpogrid.engine.outcome",
    "metric_verdict": "hpogrid.engine.outcome",
    "record_ended": "hpogrid.engine.outcome",
    "json_safe": "hpogrid.engine.outcome",
    "clean_error": "hpogrid.engine.trial_output",
    "cap_logs": "hpogrid.engine.trial_output",
    "worker_environment": "hpogrid.engine.environment",
    "scoped_environ": "hpogrid.engine.environment",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
