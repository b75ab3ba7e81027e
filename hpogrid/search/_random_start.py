"""A model-based searcher's random start, drawn by hpogrid while the library loads.

HyperOpt, scikit-optimize, bayesian-optimization and Ax begin every search with random points
(TPE's startup jobs, skopt's initial points, Ax's Sobol trials) and take 1-5 s to import, Ax
with torch the longest. :class:`RandomStart` hands out that random start from a
:class:`~hpogrid.search.asktell.RandomSampler` at once while a thread builds the library's
searcher, then tells the library every random result and lets it propose the rest: the first
trial starts in well under a second whichever searcher is chosen.

The random start has a fixed length (the library's own), so the same ``--seed`` gives the same
points on every run; a failed random trial gives its place back (a model needs results, not
errors). The library is asked once it is loaded and at least one result is in; until then the
loop is told to wait (:data:`~hpogrid.search.asktell.NOT_NOW`) while trials run.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from hpogrid.search._codec import Codec, evaluated
from hpogrid.search._core import SearchCore
from hpogrid.search.asktell import RandomSampler


class RandomStart(SearchCore):
    """A random start, then the library's core (a :class:`SearchCore` built by ``build``)."""

    def __init__(self, codec: Codec, metric: str, seed: Optional[int], length: int, build: Callable[[], Any],
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None, objectives: Any = None):
        """``build()`` returns the library's native searcher (run in a thread); ``length``: how
        many random points it would have drawn itself (``points_to_evaluate`` come first).
        ``objectives``: several, or constraints: a result counts when every objective is a
        number, and the library is told every metric (``told_metrics``)."""
        self.metric = metric
        self.objectives = objectives
        #: see :func:`hpogrid.search.asktell.evaluated_metrics`
        self.told_metrics = objectives is not None
        self._random = RandomSampler(codec, seed, points_to_evaluate=points_to_evaluate)
        self._length = max(length, len(points_to_evaluate or []), 1)
        self._mine: Dict[str, Any] = {}      # random points handed out, not yet told
        self._given = self._failed = self._results = 0
        self._told_before = 0  # results of earlier runs (resume): they shorten the random start
        # results for the library once loaded: (config, value, every metric)
        self._waiting: List[Tuple[Dict[str, Any], float, Optional[Dict[str, Any]]]] = []
        self._library: Any = None
        self._error: Optional[BaseException] = None
        loader = threading.Thread(target=self._load, args=(build,), name="hpogrid-searcher-load", daemon=True)
        self._loader: Union[threading.Thread, _Loaded] = loader
        loader.start()

    def _load(self, build: Callable[[], Any]) -> None:
        try:
            self._library = build()
        except BaseException as exc:  # re-raised in the run's thread when the library is needed
            self._error = exc

    def __getstate__(self) -> Dict[str, Any]:
        """Pickling (Ray Tune pickles its searcher) waits for the library: it is the state."""
        self._loader.join()
        return {k: v for k, v in self.__dict__.items() if k != "_loader"}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._loader = _Loaded()

    # -- the searcher protocol of hpogrid.search.AskTell ----------------------------------
    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Union[Dict[str, Any], str, None]:
        if self._given - self._failed < self._length - self._told_before:
            config = self._random.suggest(trial_id)
            self._mine[trial_id] = config
            self._given += 1
            return config
        if self._loader.is_alive() and self._mine:
            return None  # trials are running: come back when one ends
        library = self._ready()
        if not self._results:
            return None  # a model needs a result first (random trials are still running)
        return library.suggest(trial_id)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        config = self._mine.pop(trial_id, None)
        if config is None:
            self._library.on_trial_complete(trial_id, result=result, error=error)
            if not error and self._usable(result):
                self._results += 1
            return
        if error or not self._usable(result):
            self._failed += 1
        else:
            self.add_evaluated_point(evaluated(result, config), (result or {})[self.metric], metrics=result)

    def _usable(self, result: Optional[Dict]) -> bool:
        if not result:
            return False
        if self.objectives is not None:
            return self.objectives.values(result) is not None
        return result.get(self.metric) is not None

    def add_evaluated_point(self, config: Dict[str, Any], value: float, metrics: Optional[Dict[str, Any]] = None,
                            **kwargs) -> None:
        """A result the library did not propose (the random start, or an earlier run on resume)."""
        self._results += 1
        if self._given == 0:
            self._told_before += 1
        self._waiting.append((config, float(value), metrics))
        if self._library is not None:
            self._flush()

    # -- the library ----------------------------------------------------------------------
    def _ready(self) -> Any:
        self._loader.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        self._flush()
        return self._library

    def _flush(self) -> None:
        while self._waiting:
            config, value, metrics = self._waiting.pop(0)
            extra = {"metrics": metrics} if self._library.told_metrics and metrics else {}
            try:
                self._library.add_evaluated_point(config, value, **extra)
            except NotImplementedError:
                pass  # a library that learns only from its own points (some of nevergrad's)


class _Loaded:
    """The loader of an unpickled :class:`RandomStart`: its library came with it."""

    def is_alive(self) -> bool:
        return False

    def join(self) -> None:
        pass
