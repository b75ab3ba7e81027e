"""optuna's sampler ``gp-tpe``: the GP, with TPE while the GP's incumbent is stuck.

A GP with few points commits to one basin: on multimodal problems one seed in several kept the
same best value for 40 evaluations while its other seeds and TPE/CMA-ES went on improving
(issue 35; ``benchmarks/search_robustness.py`` measures it on many families and seeds). This
sampler asks the GP as long as the best value improves; once ``patience`` finished trials in a
row have not improved it, TPE proposes every other trial (it samples from everything seen, so
it leaves the basin) until a trial improves the best again. The GP keeps the other half: a
first version handed TPE every trial of a stall and lost the GP's slow late gains (seed 0 of
``search_robustness.py``: mean rank 3.62 against the plain GP's 2.75 on eight multimodal
problems), where alternating bounds what a false alarm costs.

Which sampler a trial gets is a function of the study's finished trials only (no clock, no
hidden state), so the same seed gives the same run and a resumed study carries on as before.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from optuna.samplers import BaseSampler, GPSampler, TPESampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

#: finished trials without a new best before TPE takes turns: past the GP's 10 random
#: trials, a budget of 50 leaves room for two or three stalls
PATIENCE = 10


def trials_since_improvement(study: Any) -> int:
    """How many finished trials since the best value last improved (all of them if none has a
    value yet); failed trials count as not improving."""
    trials = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)),
                    key=lambda t: t.number)
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    best: Optional[float] = None
    since = 0
    for trial in trials:
        value = trial.value if trial.state == TrialState.COMPLETE else None
        if value is not None and (best is None or sign * value < sign * best):
            best, since = value, 0
        else:
            since += 1
    return since


class GpThenTpeSampler(BaseSampler):
    """GP while the incumbent improves; after ``patience`` trials without, TPE (constant liar)
    and the GP take turns until one improves it."""

    def __init__(self, *, seed: Optional[int] = None, patience: int = PATIENCE, n_startup_trials: int = 10,
                 deterministic_objective: bool = False, warn_independent_sampling: bool = False) -> None:
        if patience < 1:
            raise ValueError(f"patience must be at least 1, not {patience}")
        self.patience = patience
        self.gp = GPSampler(seed=seed, n_startup_trials=n_startup_trials,
                            deterministic_objective=deterministic_objective,
                            warn_independent_sampling=warn_independent_sampling)
        self.tpe = TPESampler(seed=None if seed is None else seed + 1, constant_liar=True)
        #: trial number -> the sampler chosen when it began (kept for its later calls)
        self._chosen: Dict[int, BaseSampler] = {}

    def tpe_turn(self, study: Any) -> bool:
        """Whether TPE proposes the next trial: stalled, and every other trial from then on."""
        since = trials_since_improvement(study)
        return since >= self.patience and (since - self.patience) % 2 == 0

    def _for(self, study: Any, trial: FrozenTrial) -> BaseSampler:
        sampler = self._chosen.get(trial.number)
        if sampler is None:
            sampler = self._chosen[trial.number] = self.tpe if self.tpe_turn(study) else self.gp
        return sampler

    def reseed_rng(self) -> None:
        self.gp.reseed_rng()
        self.tpe.reseed_rng()

    def before_trial(self, study: Any, trial: FrozenTrial) -> None:
        self._for(study, trial).before_trial(study, trial)

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> Dict[str, Any]:
        return self._for(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: Any, trial: FrozenTrial, search_space: Dict[str, Any]) -> Dict[str, Any]:
        return self._for(study, trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: Any, trial: FrozenTrial, param_name: str, param_distribution: Any) -> Any:
        return self._for(study, trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Any, trial: FrozenTrial, state: TrialState, values: Optional[Sequence[float]]) -> None:
        self._chosen.pop(trial.number, self.gp).after_trial(study, trial, state, values)
