"""``ray.tune.report`` outside Ray Tune: a stand-in for Tune's function session.

Outside a Tune session Ray 2.60's ``tune.report`` only warns and drops the metrics (it looks
up a module-level session), so :class:`_Session` takes that session's place: it is put in
place the moment Ray's session module is imported (or at once if it already is) and sends
each report through the thread's :class:`~hpogrid.objective.runner.TrialRunner`, which ends
the function (:class:`~hpogrid.objective.runner.StopTrial`) when the trial stops, as Tune would.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from typing import Any, Dict

from hpogrid.objective.runner import TrialRunner

_RAY_SESSION = "ray.train._internal.session"
#: the trial each thread runs (the fake backend runs several trials of one process in threads)
_RUNNERS = threading.local()


class _Session:
    """Stands in for Ray Tune's function session (``tune.report`` & co.) of the thread's trial."""

    loaded_checkpoint = None
    trial_resources = None
    world_rank = None  # as in a Tune session (Ray tells Tune and Train sessions apart by it)
    world_size, local_rank, local_world_size, node_rank = 1, 0, 1, 0
    metadata: Dict[str, Any] = {}

    @property
    def _runner(self) -> TrialRunner:
        return _RUNNERS.current

    @property
    def trial_id(self) -> str:
        return self._runner.spec.uid

    trial_name = trial_id

    @property
    def experiment_name(self) -> str:
        return self._runner.spec.study

    run_id = experiment_name

    @property
    def trial_dir(self) -> str:
        return str(self._runner.spec.folder)

    def report(self, metrics: Dict[str, Any], checkpoint: Any = None) -> None:
        if not isinstance(metrics, dict):
            raise TypeError(f"tune.report expects a dict of metrics (got {type(metrics).__name__})")
        self._runner.report_or_stop(metrics)


class _SessionHook(importlib.abc.MetaPathFinder):
    """Puts :class:`_Session` into Ray's session module right after Python imports it."""

    def __init__(self, session: _Session):
        self.session = session

    def find_spec(self, name, path, target=None):
        if name != _RAY_SESSION:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        session, run = self.session, spec.loader.exec_module

        def exec_module(module):
            run(module)
            module._session = session

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]  # (wraps the loader of Ray's module)
        return spec


_SESSION = _Session()


def serve(runner: TrialRunner) -> None:
    """``tune.report`` in this thread goes to ``runner`` from now on."""
    _RUNNERS.current = runner
    module = sys.modules.get(_RAY_SESSION)
    if module is not None:
        setattr(module, "_session", _SESSION)
    elif not any(isinstance(f, _SessionHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _SessionHook(_SESSION))
