"""The four primitive ("latent") dimensions every parameter reduces to.

Search libraries (hyperopt, optuna, skopt, ax, nevergrad, Ray) disagree on what they can
express, but all can explore a choice, a float interval, an inclusive integer interval and
(most) a normal. Each :class:`~hpogrid.space.Param` maps onto exactly one of these plus a
deterministic ``decode``, so an adapter needs only four translations and never re-implements
log scales or quantisation.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Tuple


class Latent(abc.ABC):
    """A primitive dimension a search library can explore directly."""

    @abc.abstractmethod
    def sample(self, rng) -> Any:
        """Draw one value with the numpy ``Generator`` ``rng``."""


@dataclass(frozen=True)
class LatentChoice(Latent):
    """Unordered choice among ``categories`` (JSON values, returned as the same objects)."""

    categories: Tuple[Any, ...]

    def sample(self, rng) -> Any:
        return self.categories[int(rng.integers(len(self.categories)))]


@dataclass(frozen=True)
class LatentUniform(Latent):
    """Float uniform on ``[low, high)``."""

    low: float
    high: float

    def sample(self, rng) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class LatentInt(Latent):
    """Integer uniform on the INCLUSIVE range ``[low, high]``."""

    low: int
    high: int

    def sample(self, rng) -> int:
        return int(rng.integers(self.low, self.high, endpoint=True))


@dataclass(frozen=True)
class LatentNormal(Latent):
    """Float normal with mean ``mu`` and standard deviation ``sigma``."""

    mu: float
    sigma: float

    def sample(self, rng) -> float:
        return float(rng.normal(self.mu, self.sigma))
