"""Ray's ``BayesOptSearch``, with failed random trials replaced instead of waited for.

Ray's searcher hands out ``random_search_steps`` random points, then proposes nothing until
that many have *succeeded*: one failed trial among them and it never proposes again (the run
stops with "the search algorithm proposed no configuration"). Here a failed trial of the
random phase gives its place back, so another random point is drawn.
"""
from typing import Dict, Optional

from ray.tune.search.bayesopt import BayesOptSearch


class BayesOptSearcher(BayesOptSearch):
    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        unusable = error or result is None
        if unusable and trial_id in self._live_trial_mapping \
                and len(self._buffered_trial_results) < self.random_search_trials:
            self._total_random_search_trials -= 1
        super().on_trial_complete(trial_id, result=result, error=error)
