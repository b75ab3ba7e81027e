"""HEBO (Huawei's winner of the NeurIPS 2020 black-box optimisation challenge) by ask/tell.

HEBO's own ``suggest``/``observe`` drive it on every backend (under Ray Tune through
:class:`hpogrid.search._ray_searchers.NativeSearcher`): Ray's ``HEBOSearch`` adds nothing but a
Ray import. HEBO 0.3.6 declares ``numpy<1.25`` and ``pymoo==0.6.0`` yet runs with the project's
numpy 2 and pymoo 0.6.2 (its own requirements are installed by setup.cfg, HEBO itself with
``--no-deps`` by setupenv.sh; see the comment there).

HEBO draws from numpy's and torch's global generators (and, through :func:`_seed_pymoo`, pymoo
from numpy's); each suggestion runs with both seeded from ``(seed, number of suggestions so
far)`` and restored after, so a seeded run repeats and nothing else in the process sees its
draws. Trials still running when HEBO is asked are told to a copy of its data as the best value
so far (the constant liar), so concurrent trials do not all get the same point.
"""
from __future__ import annotations

import math
import secrets
from typing import Any, Dict, List, Optional

from hpogrid.search._codec import _EPS, ChoiceByIndex, Codec, IntNative, NormalViaUniform, UniformNative, evaluated
from hpogrid.search._core import SearchCore


def _seed_pymoo() -> None:
    """HEBO optimises its acquisition with pymoo and passes no seed. pymoo 0.6.0 (HEBO's pin)
    then drew one from numpy's global generator, which :meth:`HeboAskTell._ask` seeds; 0.6.1 and
    later draw fresh entropy, so a seeded HEBO run would not repeat. Give pymoo a seed drawn
    from the global generator again, in HEBO's module only."""
    import numpy as np
    from hebo.acq_optimizers import evolution_optimizer

    minimize = evolution_optimizer.minimize
    if getattr(minimize, "hpogrid_seeded", False):
        return

    def seeded(*args, **kwargs):
        kwargs.setdefault("seed", int(np.random.randint(0, 2 ** 31 - 1)))
        return minimize(*args, **kwargs)

    setattr(seeded, "hpogrid_seeded", True)
    evolution_optimizer.minimize = seeded


def _hash_duplicates() -> None:
    """HEBO's acquisition search (pymoo NSGA-II over mixed variables) drops duplicate
    individuals with pymoo's ``MixedVariableDuplicateElimination``, which compares every pair
    of dicts in Python: over half of each suggestion's time (measured: 105 of 190 s in a
    30-evaluation run on 10 dimensions). Give HEBO's module the same elimination by hashing
    each individual's values: the same individuals are dropped, so a seeded run is unchanged."""
    from hebo.acq_optimizers import evolution_optimizer
    from pymoo.core.mixed import MixedVariableDuplicateElimination

    class HashedDuplicateElimination(MixedVariableDuplicateElimination):
        def _do(self, pop, other, is_duplicate):
            names = list(pop[0].X) if len(pop) else []

            def key(individual):
                values = individual.X
                if len(values) != len(names):
                    raise KeyError("individuals with different variables")
                return tuple(values[n] for n in names)

            try:
                if other is None:  # a duplicate of a later individual is dropped, as pymoo does
                    later, dropped = set(), []
                    for i in range(len(pop) - 1, -1, -1):
                        k = key(pop[i])
                        if k in later:
                            dropped.append(i)
                        later.add(k)
                else:
                    known = {key(o) for o in other}
                    dropped = [i for i in range(len(pop)) if key(pop[i]) in known]
            except (KeyError, TypeError):  # not one set of hashable values: pymoo's pairwise way
                return super()._do(pop, other, is_duplicate)
            is_duplicate[dropped] = True
            return is_duplicate

    if evolution_optimizer.MixedVariableDuplicateElimination is MixedVariableDuplicateElimination:
        evolution_optimizer.MixedVariableDuplicateElimination = HashedDuplicateElimination


def _design(name: str, enc) -> Optional[Dict[str, Any]]:
    """HEBO's description of one latent dimension (None: it has one value and is not searched)."""
    if isinstance(enc, UniformNative):
        low, high = enc.latent.low, enc.latent.high
        return None if low == high else {"name": name, "type": "num", "lb": low, "ub": high}
    if isinstance(enc, IntNative):
        low, high = enc.latent.low, enc.latent.high
        return None if low == high else {"name": name, "type": "int", "lb": low, "ub": high}
    if isinstance(enc, ChoiceByIndex):
        n = len(enc.latent.categories)
        return None if n == 1 else {"name": name, "type": "cat", "categories": [str(i) for i in range(n)]}
    if isinstance(enc, NormalViaUniform):
        return {"name": name, "type": "num", "lb": _EPS, "ub": 1 - _EPS}
    raise TypeError(f"no HEBO parameter for {type(enc).__name__}")  # pragma: no cover


def _fixed(enc) -> Any:
    return 0 if isinstance(enc, ChoiceByIndex) else enc.latent.low


class HeboAskTell(SearchCore):
    """The searcher protocol of :class:`hpogrid.search.AskTell` over ``hebo.optimizers.hebo.HEBO``;
    the keyword options are HEBO's own (``model_name``: gp, gpy, rf, ...; ``es``: the
    evolutionary optimiser of the acquisition)."""


    def __init__(self, codec: Codec, metric: Optional[str] = None, mode: Optional[str] = None,
                 seed: Optional[int] = None, model_name: str = "gp", rand_sample: Optional[int] = None,
                 es: str = "nsga2", model_config: Optional[Dict[str, Any]] = None,
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        from hebo.design_space.design_space import DesignSpace
        from hebo.optimizers.hebo import HEBO

        _seed_pymoo()
        _hash_duplicates()

        self.metric, self._sign = metric, (-1.0 if mode == "max" else 1.0)  # HEBO minimises
        self._seed = secrets.randbits(31) if seed is None else int(seed)  # no --seed: a fresh search
        designs = {n: _design(n, e) for n, e in codec.encodings.items()}
        self._searched = [n for n, d in designs.items() if d is not None]
        self._fixed = {n: _fixed(codec.encodings[n]) for n, d in designs.items() if d is None}
        self._kinds = {n: d["type"] for n, d in designs.items() if d is not None}
        self._cats = {n for n, kind in self._kinds.items() if kind == "cat"}
        self._opt: Any = None  # (HEBO's optimiser, built on the first ask)
        if self._searched:
            space = DesignSpace().parse([designs[n] for n in self._searched])
            self._opt = HEBO(space, model_name=model_name, rand_sample=rand_sample, es=es,
                             model_config=model_config, scramble_seed=self._seed)
        self._live: Dict[str, Dict[str, Any]] = {}
        self._asked = 0
        self._first = [dict(p) for p in (points_to_evaluate or [])]  # evaluated before HEBO asks

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Dict[str, Any]:
        config = dict(self._fixed)
        if self._first:
            config.update(self._first.pop(0))
        elif self._opt is not None:
            config.update(self._ask())
        self._live[trial_id] = config
        return config

    def _ask(self) -> Dict[str, Any]:
        import contextlib
        import io

        import numpy as np
        import torch

        state = np.random.get_state()
        opt = self._opt
        X, y = opt.X, opt.y
        pending = [c for c in self._live.values()]
        try:
            np.random.seed((self._seed * 1_000_003 + self._asked) % 2 ** 32)
            with torch.random.fork_rng():
                torch.manual_seed(self._seed * 1_000_003 + self._asked)
                if pending and len(y):
                    self._observe(pending, [float(y.min())] * len(pending))
                with contextlib.redirect_stdout(io.StringIO()):  # its GP prints each jitter retry
                    frame = opt.suggest(n_suggestions=1)
        finally:
            opt.X, opt.y = X, y
            np.random.set_state(state)
        self._asked += 1
        row = frame.iloc[0].to_dict()
        return {n: (float(row[n]) if self._kinds[n] == "num" else int(row[n])) for n in self._searched}

    def _observe(self, configs: List[Dict[str, Any]], values: List[float]) -> None:
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame([{n: (str(int(c[n])) if n in self._cats else c[n]) for n in self._searched}
                              for c in configs], columns=self._searched)
        self._opt.observe(frame, np.asarray(values, dtype=float).reshape(-1, 1))

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        config = self._live.pop(trial_id, None)
        if config is not None and not error and result and result.get(self.metric) is not None:
            self.add_evaluated_point(evaluated(result, config), result[self.metric])

    def add_evaluated_point(self, config: Dict[str, Any], value: float, **kwargs) -> None:
        """A result HEBO did not propose (the random start, an earlier run on resume, a known point)."""
        value = float(value)
        if self._opt is not None and math.isfinite(value):
            self._observe([config], [self._sign * value])

