"""Search algorithms and schedulers as adapters over Ray Tune, and the ask/tell layer over them.

The package is lazy (PEP 562): ``hpogrid.search.names``, used by config validation, loads
neither numpy nor Ray; the adapters load on first attribute access, and each imports its own
library only inside :meth:`SearcherAdapter.make`.
"""
from hpogrid.lazy import lazy_exports

_EXPORTS = {
    "ADAPTERS": "hpogrid.search._registry",
    "get_adapter": "hpogrid.search._registry",
    "SCHEDULER_ADAPTERS": "hpogrid.search._schedulers",
    "get_scheduler": "hpogrid.search._schedulers",
    "scheduler_for": "hpogrid.search._schedulers",
    "SchedulerAdapter": "hpogrid.search._schedulers",
    "SearcherAdapter": "hpogrid.search._base",
    "SearchCore": "hpogrid.search._core",
    "as_core": "hpogrid.search._core",
    "RunShape": "hpogrid.search._base",
    "AutoChoice": "hpogrid.search._auto",
    "Codec": "hpogrid.search._codec",
    "RERUN_KEY": "hpogrid.search._codec",
    "AutoAdapter": "hpogrid.search._auto",
    "AskTell": "hpogrid.search.asktell",
    "SeededSampler": "hpogrid.search._ray_searchers",
    "RandomSampler": "hpogrid.search.asktell",
    "learns": "hpogrid.search.asktell",
    "Suggestion": "hpogrid.search.asktell",
    "NOT_NOW": "hpogrid.search.asktell",
    "FINISHED": "hpogrid.search.asktell",
    "constrain": "hpogrid.search._constrained",
    "unwrap": "hpogrid.search._constrained",
    "rejected": "hpogrid.search._constrained",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
