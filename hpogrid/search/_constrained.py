"""Parameter constraints for any searcher: propose, decode, reject what breaks a constraint.

:func:`constrain` wraps a searcher of the protocol :class:`hpogrid.search.AskTell` drives (a
native ask/tell core or a Ray Tune ``Searcher``) in :class:`ConstrainedSearcher` when the space
has ``constraints``. Each proposal is decoded with the codec (the values the model would
receive) and checked with :meth:`SearchSpace.violated`; a proposal that breaks a constraint is
never handed out: the inner searcher is told it as a failed trial (``on_trial_complete(id, None,
error=True)``) under an internal trial id and asked again. After ``max_rejections`` rejections
in a row the search stops with a one-line :class:`~hpogrid.errors.ValidationError` naming
``search_space.constraints``: feasible points are too rare for this searcher.

What a searcher learns from a rejection is what it learns from a failed trial: none of the
libraries hpogrid drives models failures (optuna's samplers, HyperOpt's TPE, Ax, skopt, HEBO,
nevergrad and bayesian-optimization all leave failed trials out of their models). So a model
that proposes an infeasible point keeps proposing it, or points near it: measured here, optuna's
TPE, HyperOpt's TPE and skopt's GP each proposed 300 infeasible points in a row right after their
random start, on a space where one random point in six is feasible. Hence the fill-in: after
``patience`` rejections in a row of a searcher that learns, the wrapper draws random points from
the space itself (seeded) until one is feasible, hands that out, and tells the searcher its
result as an evaluated point (``add_evaluated_point``) when the trial ends: the model moves, and
the search goes on. While the searcher stays stuck, each further fill-in comes after half as
many of its proposals (down to one), so a slow model wastes little time; one of its own
proposals accepted restores the patience. A searcher that learns nothing (random search) needs no fill-in. Ax is given
linear constraints natively instead (:meth:`Constraint.ax_expression
<hpogrid.space.Constraint.ax_expression>`, :func:`ax_constraints`).

Random search (:class:`~hpogrid.search.asktell.RandomSampler`, also inside Ray's
``SeededSampler``) counts its draws against ``num_samples`` and cycles through ``grid_search``
points: a rejected draw is given back, so the budget counts accepted points and each grid point
gets its share. A re-run of a stored trial (``__hpogrid_rerun__``) is not checked.

The wrapper is a :class:`~hpogrid.search._core.SearchCore` over one: the capabilities it
declares (``learns``, ``native``, ``conditional_native``, ``told_metrics``, ``budgeted``,
``num_samples``, ...) are the inner searcher's, each delegated by name; per-trial calls
(``on_trial_result``, ``observe``) reach the inner searcher under the id it proposed with.
"""
from __future__ import annotations

import os
import pickle
import sys
import tempfile
from typing import Any, Dict, List, Optional

from hpogrid.errors import ValidationError
from hpogrid.search._codec import EVALUATED_KEY, RERUN_KEY, Codec, evaluated
from hpogrid.search._core import RaySearcherCore, SearchCore, as_core
from hpogrid.search.asktell import evaluated_metrics, flat_config

#: rejections in a row before the space is called practically infeasible for the searcher
DEFAULT_MAX_REJECTIONS = 1000
#: rejections in a row of a searcher that learns, after which random points fill in
DEFAULT_PATIENCE = 20
#: what ``Searcher.suggest`` returns when it has nothing more to offer (Ray's constant)
FINISHED = "FINISHED"
#: the state a checkpoint keeps (besides the inner searcher's)
_STATE = ("rejected", "in_a_row", "filled", "fill_rejected", "_alias", "_spent", "_serial", "_broken", "_fills",
          "_rng", "_wait")


class ConstrainedSearcher(SearchCore):
    """A searcher that hands out only proposals satisfying every constraint of the codec's space.

    ``rejected``: the inner searcher's proposals rejected (each told to it as a failed trial);
    ``filled``: random fill-in points handed out; ``fill_rejected``: random draws rejected;
    ``in_a_row``: rejections (of either) since the last point handed out.
    """

    def __init__(self, inner: Any, codec: Codec, max_rejections: Optional[int] = None,
                 patience: Optional[int] = DEFAULT_PATIENCE, seed: Optional[int] = None,
                 name: Optional[str] = None):
        """``max_rejections``: rejections in a row before giving up (default 1000);
        ``patience``: rejections in a row of a searcher that learns before random points fill in
        (None: never); ``seed``: of the fill-in draws; ``name``: the searcher's, for messages."""
        import numpy as np

        for key, value in (("max_rejections", max_rejections), ("patience", patience)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{key} must be a positive integer (got {value!r})")
        self.name = name or type(inner).__name__
        self.inner = as_core(inner)
        self.codec = codec
        self.max_rejections = max_rejections or DEFAULT_MAX_REJECTIONS
        self.patience = patience
        self.rejected = 0
        self.in_a_row = 0
        self.filled = 0
        self.fill_rejected = 0
        self._alias: Dict[str, str] = {}   # trial id handed out -> the id the inner searcher proposed under
        self._spent: set = set()           # trial ids already used for a rejected proposal
        self._serial = 0                   # for internal ids
        self._broken: Dict[int, int] = {}  # constraint index -> rejections in the current run of them
        self._fills: Dict[str, Dict[str, Any]] = {}  # trial id -> random fill-in handed out, not yet told
        self._rng = np.random.default_rng(seed)
        self._wait = patience or 0  # rejections before a fill-in now: halved after each fill-in

    def __setstate__(self, state: Dict[str, Any]) -> None:
        """Pickles of earlier versions hold a Ray searcher of Ray's own as ``inner`` itself."""
        self.__dict__.update(state, inner=as_core(state["inner"]))

    def __repr__(self) -> str:
        return f"ConstrainedSearcher({self.inner!r}, {len(self.codec.space.constraints)} constraints)"

    # -- what it declares: the inner searcher's ---------------------------------------------------
    @property
    def native(self) -> bool:  # type: ignore[override]
        return self.inner.native

    @property
    def learns(self) -> bool:  # type: ignore[override]
        return self.inner.learns

    @property
    def told_metrics(self) -> bool:  # type: ignore[override]
        return self.inner.told_metrics

    @property
    def conditional_native(self) -> bool:  # type: ignore[override]
        return self.inner.conditional_native

    @property
    def budgeted(self) -> bool:  # type: ignore[override]
        return self.inner.budgeted

    @property
    def num_samples(self) -> Optional[int]:
        return self.inner.num_samples

    @num_samples.setter
    def num_samples(self, value: Optional[int]) -> None:  # the engine sets random search's budget
        self.inner.num_samples = value

    @property
    def grid_size(self) -> int:
        return self.codec.grid_size

    @property
    def metric(self) -> Optional[str]:  # type: ignore[override]
        return self.inner.metric

    @property
    def mode(self) -> Optional[str]:  # type: ignore[override]
        return self.inner.mode

    @property
    def objectives(self) -> Any:
        return self.inner.objectives

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.inner.set_max_concurrency(max_concurrent)

    def on_trial_result(self, trial_id: str, result: Dict) -> None:
        if trial_id not in self._fills:  # a fill-in: the inner searcher never proposed it
            self.inner.on_trial_result(self._alias.get(trial_id, trial_id), result)

    def observe(self, trial_id: str, used: Dict[str, Any], distributions: Dict[str, Any]) -> None:
        if trial_id not in self._fills:
            self.inner.observe(self._alias.get(trial_id, trial_id), used, distributions)

    def on_pause(self, trial_id: str) -> None:
        if trial_id not in self._fills:
            self.inner.on_pause(self._alias.get(trial_id, trial_id))

    def on_unpause(self, trial_id: str) -> None:
        if trial_id not in self._fills:
            self.inner.on_unpause(self._alias.get(trial_id, trial_id))

    # -- the searcher protocol --------------------------------------------------------------------
    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: Any, **spec: Any) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> Any:
        """The inner searcher's next proposal that satisfies every constraint (or a random
        fill-in, see the module doc); NOT_NOW (None) and FINISHED pass through. Raises
        ValidationError after ``max_rejections`` rejections in a row."""
        while True:
            if self.in_a_row >= self.max_rejections:
                raise self._infeasible()
            if self._filling():
                config = self._draw()
                broken = self._violated(config)
                if not broken:
                    self._fills[trial_id] = config
                    self.filled += 1
                    self._wait = max(1, self._wait // 2)  # still stuck next time? fill in sooner
                    return self._handed_out(config)
                self.fill_rejected += 1
            else:
                uid = self._next_id(trial_id)
                config = self.inner.suggest(uid)
                if config is None or (isinstance(config, str) and config == FINISHED):
                    return config
                broken = self._violated(config)
                if not broken:
                    if uid != trial_id:
                        self._alias[trial_id] = uid
                    self._wait = self.patience or 0
                    return self._handed_out(config)
                self._reject(uid, trial_id)
                self.rejected += 1
            self.in_a_row += 1
            for constraint in broken:
                index = self.codec.space.constraints.index(constraint)
                self._broken[index] = self._broken.get(index, 0) + 1

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        """Told on to the inner searcher under its own id; a fill-in's result as an evaluated point."""
        self._spent.discard(trial_id)
        fill = self._fills.pop(trial_id, None)
        if fill is None:
            self.inner.on_trial_complete(self._alias.pop(trial_id, trial_id), result=result, error=error)
            return
        metric = self.inner.metric
        value = None if error or not result or not metric else result.get(metric)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        metrics = {k: v for k, v in (result or {}).items() if k not in ("config", EVALUATED_KEY)}
        objectives = self.inner.objectives  # several, or outcome constraints
        if objectives is not None and objectives.values(metrics) is None:
            return
        try:
            self.inner.add_evaluated_point(evaluated(result, fill), value, **evaluated_metrics(self.inner, metrics))
        except NotImplementedError:
            pass  # a searcher that learns only from its own points

    def add_evaluated_point(self, *args: Any, **kwargs: Any) -> None:
        """Passed on as it is (a stored trial breaking a constraint added later still informs)."""
        return self.inner.add_evaluated_point(*args, **kwargs)

    def save(self, checkpoint_path: str) -> None:
        """The inner searcher's checkpoint and the wrapper's state in one file (NotImplementedError,
        Ray's "cannot save", when the inner searcher cannot save)."""
        fd, tmp = tempfile.mkstemp(prefix="hpogrid-constrained-")
        os.close(fd)
        try:
            self.inner.save(tmp)
            with open(tmp, "rb") as fh:
                inner = fh.read()
        finally:
            os.unlink(tmp)
        state = {k: self.__dict__[k] for k in _STATE}
        with open(checkpoint_path, "wb") as fh:
            pickle.dump({"inner": inner, "state": state}, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            saved = pickle.load(fh)
        fd, tmp = tempfile.mkstemp(prefix="hpogrid-constrained-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(saved["inner"])
            self.inner.restore(tmp)
        finally:
            os.unlink(tmp)
        self.__dict__.update(saved["state"])

    # -- internals ------------------------------------------------------------------------------
    def _next_id(self, trial_id: str) -> str:
        """The trial id itself, unless a rejected proposal used it: then an internal one."""
        if trial_id not in self._spent:
            return trial_id
        self._serial += 1
        return f"{trial_id}~hpogrid-constrained-{self._serial}"

    def _violated(self, config: Dict[str, Any]) -> tuple:
        if RERUN_KEY in config:  # a stored trial's exact values, run again
            return ()
        return self.codec.space.violated(self.codec.decode(flat_config(config)))

    def _reject(self, uid: str, trial_id: str) -> None:
        """Tell the inner searcher its proposal failed (and give a random sampler its draw back)."""
        if uid == trial_id:  # (internal ids are never used twice)
            self._spent.add(uid)
        self.inner.on_trial_complete(uid, result=None, error=True)
        self.inner.take_back(uid)  # (random search: its draw counts against num_samples and the grid cycle)

    def _handed_out(self, config: Dict[str, Any]) -> Dict[str, Any]:
        self.in_a_row = 0
        self._broken.clear()
        return config

    def _filling(self) -> bool:
        """Whether random points fill in now: a searcher that learns was rejected too often."""
        return (self.patience is not None and self.in_a_row >= self._wait
                and self.inner.learns)

    def _draw(self) -> Dict[str, Any]:
        """A random point of the whole space, in the searcher's encoding."""
        return {name: _plain(enc.from_latent(enc.latent.sample(self._rng)))
                for name, enc in self.codec.encodings.items()}

    def _infeasible(self) -> ValidationError:
        constraints = self.codec.space.constraints
        index = max(self._broken, key=lambda i: self._broken[i]) if self._broken else 0
        filled = " and random fill-in points" if self._filling() else ""
        return ValidationError(
            "search_space.constraints",
            f"{self.in_a_row} points in a row proposed by {self.name}{filled} broke a constraint, most "
            f"often [{index}] {constraints[index].text!r}: the space is practically infeasible for this "
            "searcher; relax the constraints or shift the parameters' ranges so that points satisfying them "
            "are not rare")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def constrain(searcher: Any, codec: Codec, ray: bool = False, max_rejections: Optional[int] = None,
              seed: Optional[int] = None, name: Optional[str] = None,
              patience: Optional[int] = DEFAULT_PATIENCE) -> Any:
    """``searcher`` itself when the codec's space has no constraints; otherwise it wrapped in a
    :class:`ConstrainedSearcher` and, with ``ray``, that as a Ray Tune ``Searcher``
    (:class:`ConstrainedTuneSearcher`; a Tune ``ConcurrencyLimiter`` goes around it, not inside).

    ``max_rejections``: rejections in a row before giving up (default 1000); ``seed``: the run's
    seed, for the random fill-in points; ``name``: the algorithm, for the message;
    ``patience``: see :class:`ConstrainedSearcher`."""
    if searcher is None or not codec.space.constraints:
        return searcher
    wrapped = ConstrainedSearcher(searcher, codec, max_rejections, patience, seed, name)
    if not ray:
        return wrapped
    return _tune_class()(wrapped)


def unwrap(searcher: Any) -> Any:
    """The searcher under any constraint wrappers (e.g. to ask whether it is a ``SeededSampler``)."""
    while True:
        if isinstance(searcher, ConstrainedSearcher):
            searcher = searcher.inner
        elif isinstance(searcher, RaySearcherCore):
            searcher = searcher.searcher
        elif _is_tune_wrapper(searcher):
            searcher = searcher.constrained
        else:
            return searcher


def ax_constraints(codec: Codec) -> List[str]:
    """Ax's parameter-constraint strings for the constraints Ax can take natively (see
    :meth:`~hpogrid.space.Constraint.ax_expression`); the others are left to :func:`constrain`."""
    out = []
    for constraint in codec.space.constraints:
        expression = constraint.ax_expression(codec)
        if expression is not None:
            out.append(expression)
    return out


def rejected(searcher: Any) -> int:
    """Proposals rejected so far by the constraint wrapper of ``searcher`` (0 without one)."""
    if _is_tune_wrapper(searcher):
        searcher = searcher.constrained
    return searcher.rejected if isinstance(searcher, ConstrainedSearcher) else 0


# -- under Ray Tune: the wrapper class lives with hpogrid's other Ray searchers ----------------------
_RAY_MODULE = "hpogrid.search._ray_searchers"


def _is_tune_wrapper(searcher: Any) -> bool:
    module = sys.modules.get(_RAY_MODULE)  # not loaded: no Ray wrapper can exist
    return module is not None and isinstance(searcher, module.ConstrainedTuneSearcher)


def _tune_class() -> type:
    from hpogrid.search._ray_searchers import ConstrainedTuneSearcher

    return ConstrainedTuneSearcher


def __getattr__(name: str) -> Any:  # checkpoints pickled when the class was defined here
    if name == "ConstrainedTuneSearcher":
        return _tune_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
