"""The run engine: one trial lifecycle under every backend.

    from hpogrid.engine import Backend, RunOptions
    summary = SomeBackend().run(project, RunOptions(trials=20))

:class:`Backend` (a template method) resolves the search, opens and settles the study, drives
the trials through one :class:`TrialSink` under one :class:`RunControl` and summarises;
backends supply execution only - Ray Tune directly, everything else as an :class:`Executor`
under :class:`AskTellBackend`. Lazy (PEP 562): importing it loads neither Ray nor SQLAlchemy.
"""
from hpogrid.lazy import lazy_exports

_EXPORTS = {
    "Backend": "hpogrid.engine.backend",
    "AskTellBackend": "hpogrid.engine.executor",
    "Executor": "hpogrid.engine.executor",
    "TrialRun": "hpogrid.engine.executor",
    "Started": "hpogrid.engine.executor",
    "Ended": "hpogrid.engine.executor",
    "Queued": "hpogrid.engine.executor",
    "ended_from_result": "hpogrid.engine.executor",
    "RunControl": "hpogrid.engine.control",
    "RunOptions": "hpogrid.engine.options",
    "RunSpec": "hpogrid.engine.options",
    "RunSummary": "hpogrid.engine.options",
    "SearchPlan": "hpogrid.engine.plan",
    "plan_search": "hpogrid.engine.plan",
    "check_model": "hpogrid.engine.plan",
    "Workload": "hpogrid.engine.resume",
    "Adopted": "hpogrid.engine.resume",
    "prepare_resume": "hpogrid.engine.resume",
    "RerunSelection": "hpogrid.engine.resume",
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
