"""The in-trial object of a define-by-run model: pre-suggested values are used exactly when the
name and distribution match; anything else is sampled from the trial's seed, inside the bounds."""
import pytest

from hpogrid.errors import ValidationError
from hpogrid.objective import DefineByRunTrial
from hpogrid.search.define_by_run import float_distribution, int_distribution


def test_presuggested_values_are_used_when_name_and_distribution_match():
    given = {"lr": 0.003, "layers": 3, "act": "tanh"}
    dists = {"lr": float_distribution(1e-5, 1e-1, log=True), "layers": int_distribution(1, 4),
             "act": {"type": "categorical", "choices": ["relu", "tanh"]}}
    trial = DefineByRunTrial(given, dists, seed=1)
    assert trial.suggest_float("lr", 1e-5, 1e-1, log=True) == 0.003
    assert trial.suggest_int("layers", 1, 4) == 3
    assert trial.suggest_categorical("act", ["relu", "tanh"]) == "tanh"
    assert trial.params == given and trial.distributions == dists


def test_a_changed_distribution_or_a_new_name_is_sampled_from_the_trial_seed():
    given = {"lr": 0.003}
    dists = {"lr": float_distribution(1e-5, 1e-1, log=True)}
    a, b = DefineByRunTrial(given, dists, seed=7), DefineByRunTrial(given, dists, seed=7)
    for trial in (a, b):
        trial.suggest_float("lr", 1e-5, 1e-2, log=True)  # the model narrowed the range: not the given value
        trial.suggest_float("momentum", 0.5, 0.99)        # new to the search
    assert a.params == b.params and a.params["lr"] != 0.003
    assert 1e-5 <= a.params["lr"] <= 1e-2 and 0.5 <= a.params["momentum"] <= 0.99
    assert a.distributions["lr"] == float_distribution(1e-5, 1e-2, log=True)
    other = DefineByRunTrial(given, dists, seed=8)
    other.suggest_float("momentum", 0.5, 0.99)
    assert other.params["momentum"] != a.params["momentum"]


def test_stored_values_without_distributions_are_used_when_they_fit():
    """A re-run or an enqueued point carries values only."""
    trial = DefineByRunTrial({"n": 3, "x": 7.5, "c": "b"}, {}, seed=0)
    assert trial.suggest_int("n", 1, 4) == 3
    assert trial.suggest_float("x", 0, 5) != 7.5  # does not fit: sampled
    assert trial.suggest_categorical("c", ["a", "b"]) == "b"


def test_samples_respect_log_step_and_int_over_many_trials():
    lrs, steps, ints, logints = [], [], [], []
    for seed in range(400):
        t = DefineByRunTrial({}, {}, seed=seed)
        lrs.append(t.suggest_float("lr", 1e-5, 1e-1, log=True))
        steps.append(t.suggest_float("drop", 0.0, 0.5, step=0.1))
        ints.append(t.suggest_int("n", 2, 10, step=4))
        logints.append(t.suggest_int("units", 8, 512, log=True))
    assert all(1e-5 <= v <= 1e-1 for v in lrs)
    below = sum(v < 1e-3 for v in lrs) / len(lrs)
    assert 0.35 < below < 0.65  # log-uniform: half the draws in the lower half of the exponents
    assert set(steps) == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}
    assert set(ints) == {2, 6, 10}
    assert all(isinstance(v, int) and 8 <= v <= 512 for v in logints) and min(logints) < 16 < 256 < max(logints)


def test_asking_twice_gives_the_same_value_and_bad_arguments_are_one_line():
    t = DefineByRunTrial({}, {}, seed=3)
    assert t.suggest_int("n", 1, 9) == t.suggest_int("n", 1, 9)
    with pytest.raises(ValueError, match="was suggested before with another distribution"):
        t.suggest_int("n", 1, 5)
    for call, message in [(lambda: t.suggest_float("a", 1, 0), "trial.suggest('a'): needs low <= high"),
                          (lambda: t.suggest_float("b", 0, 1, log=True), "log=True needs low > 0"),
                          (lambda: t.suggest_float("c", 1, 2, log=True, step=0.5), "step and log=True cannot"),
                          (lambda: t.suggest_categorical("d", []), "choices must not be empty")]:
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call()
