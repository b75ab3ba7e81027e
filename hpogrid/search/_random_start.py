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
from typing import Any, Callable, Dict, List, Optional, Tuple

from hpogrid.search._codec import Codec, evaluated
from hpogrid.search.asktell import RandomSampler


class RandomStart:
    native = True

    def __init__(self, codec: Codec, metric: str, seed: Optional[int], length: int, build: Callable[[], Any],
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        """``build()`` returns the library's native searcher (run in a thread); ``length``: how
        many random points it would have drawn itself (``points_to_evaluate`` come first)."""
        self.metric = metric
        self._random = RandomSampler(codec, seed, points_to_evaluate=points_to_evaluate)
        self._length = max(length, len(points_to_evaluate or []), 1)
        self._mine: Dict[str, Dict[str, Any]] = {}      # random points handed out, not yet told
        self._given = self._failed = self._results = 0
        self._told_before = 0  # results of earlier runs (resume): they shorten the random start
        self._waiting: List[Tuple[Dict[str, Any], float]] = []  # results for the library once loaded
        self._library: Any = None
        self._error: Optional[BaseException] = None
        self._loader = threading.Thread(target=self._load, args=(build,), name="hpogrid-searcher-load", daemon=True)
        self._loader.start()

    def _load(self, build: Callable[[], Any]) -> None:
        try:
            self._library = build()
        except BaseException as exc:  # re-raised in the run's thread when the library is needed
            self._error = exc

    # -- the searcher protocol of hpogrid.search.AskTell ----------------------------------
    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
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
            if not error and result and result.get(self.metric) is not None:
                self._results += 1
            return
        value = None if error or not result else result.get(self.metric)
        if value is None:
            self._failed += 1
        else:
            self.add_evaluated_point(evaluated(result, config), value)

    def add_evaluated_point(self, config: Dict[str, Any], value: float, **kwargs) -> None:
        """A result the library did not propose (the random start, or an earlier run on resume)."""
        self._results += 1
        if self._given == 0:
            self._told_before += 1
        self._waiting.append((config, float(value)))
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
            config, value = self._waiting.pop(0)
            try:
                self._library.add_evaluated_point(config, value)
            except NotImplementedError:
                pass  # a library that learns only from its own points (some of nevergrad's)
