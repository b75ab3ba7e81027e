"""The searcher protocol: what every backend asks of a search core, declared once.

:class:`SearchCore` is the contract :class:`~hpogrid.search.AskTell`, the constraint wrapper, the
random start and the engine (resume, warm start, the random-search budget) drive. Its methods
are Ray Tune's ``Searcher`` method names (so one object can serve both), and what a core can do
is declared as class attributes with defaults, read directly: nothing probes a searcher with
``getattr``/``hasattr``.

Every hpogrid core subclasses it (the native ask/tell cores, random search, the random start,
the constraint wrapper, hpogrid's own Ray searchers). A searcher of Ray's own (``HyperOptSearch``,
``OptunaSearch``, ``AxSearch``, ...) is seen through :class:`RaySearcherCore`, the one bridge
from Ray's ``Searcher`` to this protocol (:func:`as_core`); the bridge the other way, a core as
a Ray ``Searcher``, is :class:`hpogrid.search._ray_searchers.NativeSearcher`. This module imports
no Ray.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, Optional


class NothingToLearn(ValueError):
    """A finished trial has nothing a searcher can be told (a define-by-run model that used no
    parameter of a known distribution): skipped, not an error of the run."""


class SearchCore(ABC):
    """A searcher hpogrid drives: ``suggest`` a configuration per trial id, be told each result.

    ``suggest`` returns a configuration (a dict, in the codec's encoding), ``None`` when it has
    nothing now (it waits for running trials) or ``"FINISHED"`` when it has nothing any more.
    """

    #: its library's own ask/tell over the codec's space: it is never given a space through
    #: :meth:`set_search_properties` (a Ray ``Searcher`` is, and answers whether it took it)
    native: bool = True
    #: it learns from results (so a resumed or warm-started study's history is told to it, and
    #: a constraint wrapper fills in random points when it is stuck); random search does not
    learns: bool = True
    #: :meth:`add_evaluated_point` takes ``metrics``: every metric of a trial (several
    #: objectives, outcome constraints); otherwise it is told the objective's value only
    told_metrics: bool = False
    #: it models a conditional space itself (told the point as it proposed it); otherwise a
    #: conditional space is searched flat and results carry the point as evaluated
    conditional_native: bool = False
    #: it draws ``num_samples`` configurations per grid point, then answers FINISHED (random
    #: search: the engine sets ``num_samples`` from the run's trials)
    budgeted: bool = False
    #: per grid point, for a ``budgeted`` core (None: without end)
    num_samples: Optional[int] = None
    #: the objective's metric and mode, where the core keeps them
    metric: Optional[str] = None
    mode: Optional[str] = None
    #: an :class:`~hpogrid.objectives.Objectives` where the core optimises several or learns
    #: outcome constraints (a result counts only with every objective a number)
    objectives: Any = None

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: Any, **spec: Any) -> bool:
        """Ray's way to hand over the space; a native core has it from the codec: True."""
        return True

    @abstractmethod
    def suggest(self, trial_id: str) -> Any:
        """A configuration for ``trial_id``, ``None`` (not now) or ``"FINISHED"``."""

    @abstractmethod
    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        """A trial it proposed ended: ``result`` (with ``config``) or ``error``."""

    def add_evaluated_point(self, config: Dict[str, Any], value: float, **kwargs: Any) -> None:
        """A result it did not propose (an earlier run's, a fill-in); ``metrics=`` when
        ``told_metrics``. NotImplementedError: it learns only from its own points."""
        raise NotImplementedError(f"{type(self).__name__} learns only from its own points")

    def on_trial_result(self, trial_id: str, result: Dict) -> None:
        """An intermediate result of a running trial (Ray Tune reports them)."""

    def observe(self, trial_id: str, used: Dict[str, Any], distributions: Dict[str, Any]) -> None:
        """What a define-by-run model actually used (:mod:`hpogrid.search.define_by_run`)."""

    def on_pause(self, trial_id: str) -> None:
        """A scheduler paused the trial (HyperBand for BOHB)."""

    def on_unpause(self, trial_id: str) -> None:
        """A scheduler resumed the trial."""

    def take_back(self, trial_id: str) -> None:
        """Its last suggestion was never run (a constraint rejected it): a ``budgeted`` core
        draws that one again, so the budget counts points handed out."""

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Ray's: whether it limits the trials at once itself (False: Tune limits them)."""
        return False

    def save(self, checkpoint_path: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot save its state")

    def restore(self, checkpoint_path: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot restore a state")


class RaySearcherCore(SearchCore):
    """A Ray Tune ``Searcher`` of Ray's own (``HyperOptSearch``, ``OptunaSearch``, ``AxSearch``,
    ``BayesOptSearch``, ...) as a :class:`SearchCore`: it is given the space through
    :meth:`set_search_properties`, learns from results, and is told the objective's value only."""

    native = False

    def __init__(self, searcher: Any):
        self.searcher = searcher

    def __repr__(self) -> str:
        return f"RaySearcherCore({self.searcher!r})"

    @property
    def metric(self) -> Optional[str]:  # type: ignore[override]
        return self.searcher.metric

    @property
    def mode(self) -> Optional[str]:  # type: ignore[override]
        return self.searcher.mode

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: Any, **spec: Any) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> Any:
        return self.searcher.suggest(trial_id)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def on_trial_result(self, trial_id: str, result: Dict) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def add_evaluated_point(self, config: Dict[str, Any], value: float, **kwargs: Any) -> None:
        kwargs.pop("metrics", None)  # (Ray's searchers take one value)
        self.searcher.add_evaluated_point(config, value, **kwargs)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return bool(self.searcher.set_max_concurrency(max_concurrent))

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


def as_core(searcher: Any) -> SearchCore:
    """``searcher`` under the protocol: a :class:`SearchCore` itself, anything else (a Ray
    ``Searcher`` of Ray's own) through :class:`RaySearcherCore`."""
    return searcher if isinstance(searcher, SearchCore) else RaySearcherCore(searcher)


def unwrap_ray(searcher: Any) -> Any:
    """The Ray searcher behind a :class:`RaySearcherCore`, else ``searcher``."""
    return searcher.searcher if isinstance(searcher, RaySearcherCore) else searcher
