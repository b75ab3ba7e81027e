"""Random search as a Ray ``Searcher``: :class:`hpogrid.search.RandomSampler` under Ray Tune.

Tune asks it for every trial, so Ray Tune and the ask/tell backends draw the same sequence of
points for the same seed.
"""
from typing import Any, Dict, List, Optional

from ray.tune.search import Searcher

from hpogrid.search._codec import Codec
from hpogrid.search.asktell import RandomSampler


class SeededSampler(Searcher):
    learns = False

    def __init__(self, codec: Codec, seed: Optional[int] = None, num_samples: Optional[int] = None,
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        super().__init__()
        self.core = RandomSampler(codec, seed, num_samples, points_to_evaluate)

    @property
    def num_samples(self) -> Optional[int]:
        return self.core.num_samples

    @num_samples.setter
    def num_samples(self, value: Optional[int]) -> None:
        self.core.num_samples = value

    @property
    def grid_size(self) -> int:
        return self.core.grid_size

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True  # the space comes from the codec

    def suggest(self, trial_id: str):
        return self.core.suggest(trial_id)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        pass

    def add_evaluated_point(self, *args, **kwargs) -> None:
        raise NotImplementedError  # random search learns nothing
