"""Ask/tell over the project's searcher, outside Ray Tune.

Slurm trials are separate jobs, so the driver asks the searcher for one configuration at a
time and tells it each result, doing what Tune's ``SearchGenerator`` would do: set the
search properties once, call ``suggest(trial_id)`` and ``on_trial_complete(trial_id, result,
error)``. Ray's ``BasicVariantGenerator`` (algorithms ``random`` and ``tune``) is not a
``Searcher`` (it expands whole experiments), so :class:`BasicSampler` reproduces it: grid
categories enumerated once per sample, every other domain drawn from a seeded numpy Generator.
"""
import itertools
from typing import Any, Dict, List, Optional, Union

from hpogrid.errors import ValidationError
from hpogrid.search import Codec

#: what ``suggest`` returns when the searcher has nothing more to offer (Ray's constant)
FINISHED = "FINISHED"


class BasicSampler:
    """Random sampling (and grid enumeration) of the codec's Tune domains, Searcher-shaped."""

    def __init__(self, codec: Codec, num_samples: int, seed: Optional[int],
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        import numpy as np
        from ray.tune.search.sample import Domain

        self._rng = np.random.default_rng(seed)
        space = codec.param_space()
        self._grid = {n: d["grid_search"] for n, d in space.items() if isinstance(d, dict) and "grid_search" in d}
        self._domains = {n: d for n, d in space.items() if isinstance(d, Domain)}
        self._points = [dict(p) for p in (points_to_evaluate or [])]
        names = list(self._grid)
        combos = [dict(zip(names, values)) for values in itertools.product(*self._grid.values())] or [{}]
        self._queue = iter([combo for _ in range(num_samples) for combo in combos])

    def suggest(self, trial_id: str) -> Union[Dict[str, Any], str]:
        combo = next(self._queue, None)
        if combo is None:
            return FINISHED
        drawn = {n: _plain(d.sample(random_state=self._rng)) for n, d in self._domains.items()}
        if self._points:  # user-given starting points override the random part
            drawn.update(self._points.pop(0))
        return {**drawn, **combo}

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        pass


class AskTell:
    """The searcher as seen by the Slurm driver: ``ask(uid)`` / ``tell(uid, metrics, ok)``."""

    def __init__(self, searcher: Any, codec: Codec, metric: str, mode: str, num_samples: int,
                 seed: Optional[int]):
        from ray.tune.search.basic_variant import BasicVariantGenerator

        self.codec = codec
        self.metric = metric
        if searcher is None or isinstance(searcher, BasicVariantGenerator):
            points = getattr(searcher, "points_to_evaluate", None) if searcher is not None else None
            self.searcher = BasicSampler(codec, num_samples, seed, points)
        else:
            self.searcher = searcher
            if not searcher.set_search_properties(metric, mode, codec.param_space()):
                raise ValidationError("hpo_config.algorithm_param",
                                      f"{type(searcher).__name__} already has a search space; remove "
                                      "'space' from algorithm_param")
        self._configs: Dict[str, Dict[str, Any]] = {}

    def ask(self, uid: str) -> Union[Dict[str, Any], str, None]:
        """The searcher's next configuration (latent values), ``None`` (not now) or ``FINISHED``."""
        config = self.searcher.suggest(uid)
        if config is None or config == FINISHED:
            return config
        config = _flat(config)
        self._configs[uid] = config
        return config

    def tell(self, uid: str, metrics: Optional[Dict[str, Any]], ok: bool) -> None:
        """Report a finished trial; a failed or metric-less one is told as an error.

        Trials the searcher never proposed (re-runs of a resumed study) are not told:
        searchers look their own trials up by id.
        """
        if uid not in self._configs:
            return
        config = self._configs.pop(uid)
        value = (metrics or {}).get(self.metric)
        usable = ok and isinstance(value, (int, float)) and not isinstance(value, bool)
        result = {**(metrics or {}), "config": config or {}} if usable else None
        self.searcher.on_trial_complete(uid, result=result, error=not usable)


def _plain(value: Any) -> Any:
    """numpy scalars (and 1-element arrays) -> Python scalars."""
    if hasattr(value, "tolist"):
        value = value.tolist()
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
    return value


def _flat(config: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Searchers hand back nested dicts for names with '/', as Tune does; the codec wants them flat."""
    out: Dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "/"))
        else:
            out[name] = _plain(value)
    return out
