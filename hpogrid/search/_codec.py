"""Codec: how each search-space parameter is shown to a searcher, and how it comes back.

Every grammar method reduces to one of four latent dimensions (:mod:`hpogrid.space`). A
searcher explores latent values in Ray Tune's domain language; the objective wrapper decodes
them to the user's values. Where a library lacks a latent kind, an exact transform is used:
a normal as a uniform probability through the inverse normal CDF, an integer or a category as
the floor of a uniform. Categories always travel as indices, so any JSON value works with
every library (Ax, Optuna and ConfigSpace only accept some scalar types).

Conditional parameters (``when``): :meth:`Codec.decode` keeps only the parameters active for
the decoded values (an inactive one may be missing), so the model never sees one whose
condition does not hold. Most searchers explore the flat space; BOHB and HyperOpt draw only
what the conditions activate, and :meth:`Codec.complete` fills in the rest. :meth:`Codec.encode`
of a point without its inactive parameters fills them with a fixed neutral value (a searcher
of the flat space needs every dimension).
"""
import json
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, ClassVar, Dict, Tuple, Type

from hpogrid.space import LatentChoice, LatentInt, LatentNormal, LatentUniform, SearchSpace

#: config key of a resumed re-run (see hpogrid.engine.resume)
RERUN_KEY = "__hpogrid_rerun__"
#: result key of the point a trial of a conditional space evaluated, where it differs from the
#: searcher's proposal: inactive parameters at their neutral value (see AskTell.tell)
EVALUATED_KEY = "__hpogrid_evaluated__"


def evaluated(result, proposal):
    """What a searcher is told a trial evaluated: ``result[EVALUATED_KEY]`` when AskTell put one
    there (a conditional space), else its own ``proposal``."""
    return (result or {}).get(EVALUATED_KEY) or proposal

#: probabilities closer than this to 0 or 1 are clipped: the normal is cut at about 7 sigma
#: (a mass of 1e-12), where optimisers proposing a bound would otherwise give infinity
_EPS = 1e-12


class Encoding:
    """One parameter's encoding: a Ray Tune domain and the way back to the latent value."""

    latent_type: ClassVar[type]

    def __init__(self, latent):
        self.latent = latent

    def domain(self):
        raise NotImplementedError

    def to_latent(self, value: Any) -> Any:
        return value

    def from_latent(self, latent_value: Any) -> Any:
        """Inverse of :meth:`to_latent` (used to hand stored trials back to a searcher)."""
        return latent_value


def _index(categories, value) -> int:
    key = json.dumps(value, sort_keys=True)
    for i, c in enumerate(categories):
        if json.dumps(c, sort_keys=True) == key:
            return i
    raise ValueError(f"{value!r} is not one of the categories")


class UniformNative(Encoding):
    latent_type = LatentUniform

    def domain(self):
        from ray import tune
        return tune.uniform(self.latent.low, self.latent.high)

    def to_latent(self, value):
        return min(max(float(value), self.latent.low), self.latent.high)

    def from_latent(self, latent_value):
        return self.to_latent(latent_value)


class IntNative(Encoding):
    latent_type = LatentInt

    def domain(self):
        from ray import tune
        return tune.randint(self.latent.low, self.latent.high + 1)  # Ray's upper bound is exclusive

    def to_latent(self, value):
        return int(round(float(value)))


class NormalNative(Encoding):
    latent_type = LatentNormal

    def domain(self):
        from ray import tune
        return tune.randn(self.latent.mu, self.latent.sigma)

    def to_latent(self, value):
        return float(value)


class ChoiceByIndex(Encoding):
    latent_type = LatentChoice

    def domain(self):
        from ray import tune
        return tune.choice(list(range(len(self.latent.categories))))

    def to_latent(self, value):
        return self.latent.categories[int(value)]

    def from_latent(self, latent_value):
        return _index(self.latent.categories, latent_value)


class GridByIndex(ChoiceByIndex):
    """``grid_search``: every category once per sample (basic variant generator only)."""

    def domain(self):
        from ray import tune
        return tune.grid_search(list(range(len(self.latent.categories))))


class NormalViaUniform(Encoding):
    """N(mu, sigma) as mu + sigma * Phi^-1(u), u ~ U(0, 1): the same distribution."""

    latent_type = LatentNormal

    def domain(self):
        from ray import tune
        return tune.uniform(_EPS, 1 - _EPS)

    def to_latent(self, value):
        u = min(max(float(value), _EPS), 1 - _EPS)
        return NormalDist(self.latent.mu, self.latent.sigma).inv_cdf(u)

    def from_latent(self, latent_value):
        return min(max(NormalDist(self.latent.mu, self.latent.sigma).cdf(float(latent_value)), _EPS), 1 - _EPS)


class IntViaUniform(Encoding):
    """Integer in [low, high] as floor(u), u ~ U(low, high + 1): each integer equally likely."""

    latent_type = LatentInt

    def domain(self):
        from ray import tune
        return tune.uniform(self.latent.low, self.latent.high + 1)

    def to_latent(self, value):
        return int(min(max(math.floor(float(value)), self.latent.low), self.latent.high))

    def from_latent(self, latent_value):
        return int(latent_value) + 0.5


class ChoiceViaUniform(Encoding):
    """Category k as floor(u), u ~ U(0, n): each category equally likely."""

    latent_type = LatentChoice

    def domain(self):
        from ray import tune
        return tune.uniform(0, len(self.latent.categories))

    def to_latent(self, value):
        n = len(self.latent.categories)
        return self.latent.categories[int(min(max(math.floor(float(value)), 0), n - 1))]

    def from_latent(self, latent_value):
        return _index(self.latent.categories, latent_value) + 0.5


#: what a searcher that explores everything in its own terms uses
ALL_NATIVE: Tuple[Type[Encoding], ...] = (UniformNative, IntNative, ChoiceByIndex, NormalNative)
#: for libraries without a normal distribution (Optuna, Ax, skopt, ConfigSpace)
NO_NORMAL: Tuple[Type[Encoding], ...] = (UniformNative, IntNative, ChoiceByIndex, NormalViaUniform)
#: for libraries of continuous boxes only (BayesOpt)
FLOATS_ONLY: Tuple[Type[Encoding], ...] = (UniformNative, IntViaUniform, ChoiceViaUniform, NormalViaUniform)


@dataclass
class Codec:
    """Encodings of a whole space for one searcher; picklable, so trials decode in workers."""

    space: SearchSpace
    encodings: Dict[str, Encoding]

    @classmethod
    def build(cls, space: SearchSpace, encodings: Tuple[Type[Encoding], ...], grid: bool = False) -> "Codec":
        chosen: Dict[str, Encoding] = {}
        for name, param in space.items():
            latent = param.latent()
            if grid and name in space.grid_params:
                chosen[name] = GridByIndex(latent)
                continue
            enc = next(e for e in encodings if isinstance(latent, e.latent_type))
            chosen[name] = enc(latent)
        return cls(space, chosen)

    def param_space(self) -> Dict[str, Any]:
        """Ray Tune domains keyed by parameter name (for ``Tuner(param_space=...)``)."""
        return {name: enc.domain() for name, enc in self.encodings.items()}

    def decode(self, config: Dict[str, Any]) -> Dict[str, Any]:
        """Searcher config -> the user's values; keys outside the space pass through, and
        parameters whose condition does not hold are left out (they may be missing).

        A resumed re-run carries its stored values under ``__hpogrid_rerun__``: those are
        used exactly, whatever the searcher's encoding.
        """
        rerun = config.get(RERUN_KEY)
        if isinstance(rerun, dict):
            rest = {k: v for k, v in config.items() if k != RERUN_KEY and k not in self.encodings}
            return {**rest, **rerun["values"]}
        latent = {n: self.encodings[n].to_latent(config[n]) for n in self.encodings if n in config}
        values = self.space.decode(latent)
        return {**{k: v for k, v in config.items() if k not in self.encodings}, **values}

    def encode(self, values: Dict[str, Any]) -> Dict[str, Any]:
        """The searcher's config for the user's ``values`` (inverse of :meth:`decode`).

        Lets stored trials be re-run with the same values and told to a new searcher. A
        parameter missing from ``values`` because its condition does not hold gets a fixed
        neutral value (:func:`neutral`): it had no effect on the trial. Any other missing
        parameter is a KeyError (a trial of an older space).
        """
        active = set(self.space.active(values)) if self.space.conditional else set(self.encodings)
        out = {}
        for name, enc in self.encodings.items():
            if name in values:
                out[name] = enc.from_latent(_latent_of(self.space[name], values[name]))
            elif name in active:
                raise KeyError(name)  # a value the trial needed is missing (the space changed)
            else:
                out[name] = neutral(enc)
        return out

    def complete(self, proposal: Dict[str, Any]) -> Dict[str, Any]:
        """A proposal of a searcher that models the conditions (BOHB's ConfigSpace, HyperOpt's
        nested choices), which names only the parameters it drew, as a whole searcher config:
        each parameter it did not draw at its neutral value (:func:`neutral`), which
        :meth:`decode` drops again. Tune merges a searcher's config into its ``param_space``,
        so a missing key would stay an unresolved domain there."""
        out = {n: proposal[n] if n in proposal else neutral(e) for n, e in self.encodings.items()}
        return {**out, **{k: v for k, v in proposal.items() if k not in out}}

    def active(self, config: Dict[str, Any]) -> Tuple[str, ...]:
        """Names of the parameters active for searcher config ``config``."""
        return tuple(n for n in self.space.active(self.decode(config)) if n in self.encodings)

    @staticmethod
    def trial_uid(config: Dict[str, Any], default: str) -> str:
        """The study uid of a trial: a re-run keeps the one it had."""
        rerun = config.get(RERUN_KEY)
        return rerun["uid"] if isinstance(rerun, dict) else default

    @property
    def grid_size(self) -> int:
        size = 1
        for enc in self.encodings.values():
            if isinstance(enc, GridByIndex):
                size *= len(enc.latent.categories)
        return size


def neutral(enc: Encoding) -> Any:
    """A searcher value for a parameter that had no effect: the first category, the middle of
    an interval, the mean of a normal (always the same, so searchers see no noise in it)."""
    latent = enc.latent
    if isinstance(latent, LatentChoice):
        value: Any = latent.categories[0]
    elif isinstance(latent, LatentUniform):
        value = (latent.low + latent.high) / 2
    elif isinstance(latent, LatentInt):
        value = (latent.low + latent.high) // 2
    else:
        value = latent.mu
    return enc.from_latent(value)


def _latent_of(param, value: Any) -> Any:
    """The latent value that ``param.decode`` maps to ``value``.

    Log methods decode with ``exp``, so their latent is ``ln(value)``; a quantised value of
    0 (possible when ``q`` exceeds twice the lower bound) comes from any value below ``q/2``.
    """
    if isinstance(param.latent(), LatentChoice):
        return value
    if param.log:
        value = float(value)
        if value <= 0:
            value = float(getattr(param, "q", 1e-300)) / 4
        return math.log(value)
    return value
