"""optuna's ``gp-tpe`` sampler (``auto`` up to 200 trials): the GP, and TPE while it is stuck."""
import numpy as np
import pytest

from hpogrid.search import get_adapter
from hpogrid.space import SearchSpace

SPACE = {f"x{i}": {"method": "uniform", "dimension": {"low": 0, "high": 1}} for i in range(2)}


def _study(values, direction="minimize", failed=()):
    import optuna

    from optuna.distributions import FloatDistribution

    study = optuna.create_study(direction=direction)
    for i, value in enumerate(values):
        state = optuna.trial.TrialState.FAIL if i in failed else optuna.trial.TrialState.COMPLETE
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)},
                                                  value=None if i in failed else value, state=state))
    return study


def test_trials_since_improvement_counts_finished_trials_after_the_best():
    from hpogrid.search._stall import trials_since_improvement

    assert trials_since_improvement(_study([])) == 0
    assert trials_since_improvement(_study([5, 4, 4, 6, 3, 7, 7])) == 2
    assert trials_since_improvement(_study([5, 4, 4, 6, 3, 7, 7], "maximize")) == 1  # the second 7 is no better
    assert trials_since_improvement(_study([5, 4, 4, 6, 3, 7, 7, 2], failed={7})) == 3  # a failure does not improve


def _sampler_of(patience):
    searcher, codec = get_adapter("optuna").build(SearchSpace.from_dict(SPACE), "loss", "min", 3,
                                                  {"sampler": "gp-tpe", "patience": patience, "n_startup_trials": 2},
                                                  native=True)
    return searcher, codec


def test_tpe_takes_every_other_trial_only_after_patience_trials_without_a_better_value():
    searcher, _ = _sampler_of(patience=3)
    sampler = searcher.study.sampler
    used = []
    for name, inner in (("gp", sampler.gp), ("tpe", sampler.tpe)):
        original = inner.before_trial
        inner.before_trial = (lambda o, n: lambda study, trial: (used.append(n), o(study, trial)))(original, name)
    told = [10, 9, 8, 8, 8, 8, 8, 8, 8, 1, 5]
    for i, value in enumerate(told):
        config = searcher.suggest(f"t{i}")
        assert set(config) == set(SPACE)
        searcher.on_trial_complete(f"t{i}", {"loss": value})
    # trials 0-5 follow improvements or fewer than 3 trials without one: GP; 6-9 follow 3-6
    # trials without (8 is no better than 8): TPE and GP by turns; 10 follows the new best 1: GP
    assert used == ["gp"] * 6 + ["tpe", "gp", "tpe", "gp"] + ["gp"]


def test_patience_below_one_is_refused_naming_the_field():
    from hpogrid.errors import ValidationError

    with pytest.raises(ValidationError, match="algorithm_param.*patience must be at least 1"):
        _sampler_of(patience=0)


def _rastrigin(shift):
    def f(config):
        z = 6.0 * (np.array([config[f"x{i}"] for i in range(len(shift))]) - shift)
        return float(10 * len(z) + np.sum(z ** 2 - 10 * np.cos(2 * np.pi * z)))
    return f


def _best_after(sampler, f, space, evals, seed):
    from hpogrid.search import AskTell, Suggestion

    searcher, codec = get_adapter("optuna").build(space, "loss", "min", seed, {"sampler": sampler}, native=True)
    asktell, best = AskTell(searcher, codec, "loss", "min"), float("inf")
    for i in range(evals):
        answer = asktell.ask(f"t{i}")
        assert isinstance(answer, Suggestion)
        value = f(codec.decode(answer.config))
        asktell.tell(answer.uid, {"loss": value}, True)
        best = min(best, value)
    return best


#: optuna's plain GP on this shifted 4-D Rastrigin with seed 0 keeps the best value of its third
#: (random) trial, 33.61, for all 40 evaluations; seed 2 stalls at 24.47 from trial 13 (measured)
STALL_SEED = 0
STALL_SHIFT = np.array([0.31, 0.72, 0.64, 0.23])


@pytest.mark.slow
def test_where_the_plain_gp_stalls_gp_tpe_leaves_the_basin():
    """``gp-tpe`` (what ``auto`` runs up to 200 trials) goes below the plain GP's stuck value
    within the same 40 evaluations (measured: 27.63 against 33.61; seed 2: 22.86 against 24.47)."""
    f = _rastrigin(STALL_SHIFT)
    space = SearchSpace.from_dict({f"x{i}": {"method": "uniform", "dimension": {"low": 0, "high": 1}}
                                   for i in range(4)})
    assert _best_after("gp-tpe", f, space, 40, STALL_SEED) < 30.0
