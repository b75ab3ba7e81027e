"""Ask/tell over any searcher: what every backend that is not Ray Tune drives.

A backend whose trials run elsewhere (worker processes, Slurm jobs, grid jobs, the in-process
fake) asks the searcher for one configuration at a time and tells it each result, doing what
Tune's ``SearchGenerator`` does: set the search properties once, ``suggest(trial_id)``,
``on_trial_complete(trial_id, result, error)``. Answers are typed: a :class:`Suggestion`,
:data:`NOT_NOW` (the searcher waits for results first) or :data:`FINISHED`.

The searcher protocol is :class:`~hpogrid.search._core.SearchCore` (a Ray searcher of Ray's own
is driven through :func:`~hpogrid.search._core.as_core`). Native cores (:class:`RandomSampler`,
optuna's ask/tell) need no Ray at all:
this module imports none, so a run that uses them starts without Ray's second of imports.
Random search (algorithms ``random`` and ``tune``) is :class:`RandomSampler` on every backend
(under Ray Tune wrapped as a ``Searcher``), so the same ``--seed`` gives the same points
everywhere.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

from hpogrid.errors import ValidationError
from hpogrid.search._codec import EVALUATED_KEY, Codec, GridByIndex
from hpogrid.search._core import NothingToLearn, SearchCore, as_core

#: what ``Searcher.suggest`` returns when it has nothing more to offer (Ray's constant)
_RAY_FINISHED = "FINISHED"


@dataclass(frozen=True)
class Suggestion:
    """A configuration to evaluate: latent values, as the codec decodes them."""

    uid: str
    config: Dict[str, Any]


class _Signal:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: the searcher has no configuration now (it waits for running trials)
NOT_NOW = _Signal("NOT_NOW")
#: the searcher has no configuration any more
FINISHED = _Signal("FINISHED")

Answer = Union[Suggestion, _Signal]


class RandomSampler(SearchCore):
    """Random sampling of every latent dimension from one seeded numpy Generator, enumerating
    ``grid_search`` categoricals once per sample (Ray's basic variant semantics)."""

    #: random search learns nothing from results (resume tells it nothing)
    learns = False
    budgeted = True

    def __init__(self, codec: Codec, seed: Optional[int] = None, num_samples: Optional[int] = None,
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        import numpy as np

        self._rng = np.random.default_rng(seed)
        grid = {n: e for n, e in codec.encodings.items() if isinstance(e, GridByIndex)}
        self._drawn = {n: e for n, e in codec.encodings.items() if n not in grid}
        self._points = [dict(p) for p in (points_to_evaluate or [])]
        names = list(grid)
        indices = [range(len(grid[n].latent.categories)) for n in names]
        self._combos = [dict(zip(names, values)) for values in itertools.product(*indices)] or [{}]
        self._count = 0
        self.num_samples = num_samples  # per grid point; None: without end

    @property
    def grid_size(self) -> int:
        return len(self._combos)

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True  # the space comes from the codec

    def suggest(self, trial_id: str) -> Union[Dict[str, Any], str, None]:
        if self.num_samples is not None and self._count >= self.num_samples * len(self._combos):
            return _RAY_FINISHED
        combo = self._combos[self._count % len(self._combos)]
        self._count += 1
        drawn = {n: _plain(e.from_latent(e.latent.sample(self._rng))) for n, e in self._drawn.items()}
        if self._points:  # user-given starting points override the random part
            drawn.update(self._points.pop(0))
        return {**drawn, **combo}

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        pass

    def add_evaluated_point(self, *args, **kwargs) -> None:
        raise NotImplementedError  # random search learns nothing

    def take_back(self, trial_id: str) -> None:
        self._count -= 1  # its draw counts against num_samples and the grid cycle: given back


def learns(searcher) -> bool:
    """Can ``searcher`` learn from results (and so be told a resumed study's history)?"""
    return searcher is not None and as_core(searcher).learns


class AskTell:
    """The searcher as seen by an ask/tell backend: ``ask(uid)`` / ``tell(uid, metrics, ok)``."""

    def __init__(self, searcher: Any, codec: Codec, metric: str, mode: str, space_given: bool = False,
                 objectives: Any = None):
        """``space_given``: the searcher has its space already (it was told a resumed study's
        history, which needs the space first). ``objectives``: an
        :class:`~hpogrid.objectives.Objectives` when there are several or constraints (a
        result is usable only with every objective a finite number)."""
        from hpogrid.objectives import Objectives

        self.codec, self.metric = codec, metric
        self.objectives = objectives if objectives is not None else Objectives.parse(metric, mode)
        self.searcher = searcher
        #: the searcher under the protocol (itself, or Ray's searcher through the bridge)
        self.core = core = as_core(searcher)
        if not space_given and not core.native \
                and not core.set_search_properties(metric, mode, codec.param_space()):
            raise ValidationError("hpo_config.algorithm_param",
                                  f"{type(searcher).__name__} already has a search space; remove "
                                  "'space' from algorithm_param")
        self._configs: Dict[str, Dict[str, Any]] = {}
        #: trials the searcher did not propose that this run follows (taken over on resume)
        self._foreign: Dict[str, Dict[str, Any]] = {}
        #: results told so far (a searcher asked now has learnt from this many trials)
        self.told = 0
        #: a conditional space searched flat: told results carry the point as evaluated
        #: (a define-by-run codec's space is {})
        self._flat_conditional = (not core.conditional_native
                                  and bool(getattr(codec.space, "conditional", False)))

    def adopt(self, uid: str, config: Dict[str, Any]) -> None:
        """Follow a trial another searcher proposed (a dead run's, taken over on resume): its
        result is told as an evaluated point, where the searcher can learn from one."""
        self._foreign[uid] = config

    def _tell_foreign(self, config: Dict[str, Any], metrics: Optional[Dict[str, Any]], ok: bool) -> None:
        if metrics is None or not (_usable(metrics, self.objectives, ok) and self.core.learns):
            return
        try:
            self.core.add_evaluated_point(config, float(metrics[self.metric]), **evaluated_metrics(self.core, metrics))
            self.told += 1
        except (NotImplementedError, NothingToLearn):  # (a define-by-run trial that used nothing known)
            pass

    @property
    def pending(self) -> int:
        """Configurations handed out and not yet told."""
        return len(self._configs)

    def ask(self, uid: str) -> Answer:
        config = self.core.suggest(uid)
        if config is None:
            return NOT_NOW
        if config == _RAY_FINISHED:
            return FINISHED
        config = flat_config(config)
        self._configs[uid] = config
        return Suggestion(uid, config)

    def tell(self, uid: str, metrics: Optional[Dict[str, Any]], ok: bool, used: Optional[Dict[str, Any]] = None,
             distributions: Optional[Dict[str, Any]] = None) -> None:
        """Report a finished trial; a failed or metric-less one is told as an error.

        Trials the searcher never proposed (re-runs of a resumed study) are not told:
        searchers look their own trials up by id. ``used``/``distributions``: what a
        define-by-run model actually used (:mod:`hpogrid.search.define_by_run`), told first.
        """
        if used is not None:
            self.core.observe(uid, used, distributions or {})
        if uid in self._foreign:
            config = self._foreign.pop(uid)  # (a define-by-run model may not have used all of it)
            self._tell_foreign(self.codec.encode(used) if used is not None else config, metrics, ok)
            return
        if uid not in self._configs:
            return
        config = self._configs.pop(uid)
        usable = _usable(metrics, self.objectives, ok)
        result = {**(metrics or {}), "config": config or {}} if usable else None
        if result is not None and self._flat_conditional:  # (usable)
            # a searcher of the flat space must not learn from values the trial never used: it
            # is told them at one neutral value (no information), where its library can be told
            told = self.codec.encode(self.codec.decode(config))
            if told != config:
                result[EVALUATED_KEY] = told
        self.core.on_trial_complete(uid, result=result, error=not usable)
        self.told += 1


def _usable(metrics: Optional[Dict[str, Any]], objectives: Any, ok: bool) -> bool:
    return ok and objectives.values(metrics) is not None


def evaluated_metrics(searcher: Any, metrics: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Keyword arguments of ``add_evaluated_point`` for a trial's ``metrics``: searchers that
    take every objective and constraint (``told_metrics``) get them all, the others only the
    value of the objective."""
    return {"metrics": dict(metrics or {})} if as_core(searcher).told_metrics else {}


def _plain(value: Any) -> Any:
    """numpy scalars (and 1-element arrays) -> Python scalars."""
    if hasattr(value, "tolist"):
        value = value.tolist()
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
    return value


def flat_config(config: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Searchers hand back nested dicts for names with '/', as Tune does; the codec wants them flat
    (values as plain Python scalars)."""
    out: Dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_config(value, name + "/"))
        else:
            out[name] = _plain(value)
    return out
