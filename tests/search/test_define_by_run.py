"""The driver's half of a define-by-run search: it pre-suggests every distribution seen so far
and tells optuna only what each trial used."""
import pytest

from hpogrid.errors import ValidationError
from hpogrid.search.define_by_run import SEED_KEY, build, float_distribution, int_distribution

LR = float_distribution(1e-5, 1e-1, log=True)
N = int_distribution(1, 4)


def test_first_ask_knows_nothing_then_every_distribution_seen_is_presuggested():
    searcher, codec, algorithm = build("auto", "loss", "min", 1, {})
    assert algorithm == "optuna"
    first = searcher.suggest("t0")
    assert set(first) == {SEED_KEY} and codec.decode(first) == {}
    searcher.observe("t0", {"lr": 0.01, "n": 2}, {"lr": LR, "n": N})
    searcher.on_trial_complete("t0", {"loss": 1.0})
    assert [t.params for t in searcher.study.trials if t.state.name == "COMPLETE"] == [{"lr": 0.01, "n": 2}]
    second = codec.decode(searcher.suggest("t1"))
    assert set(second) == {"lr", "n"} and 1e-5 <= second["lr"] <= 1e-1 and second["n"] in (1, 2, 3, 4)
    assert codec.distributions == {"lr": LR, "n": N}


def test_only_the_parameters_a_trial_used_are_told():
    searcher, codec, _ = build("optuna", "loss", "min", 1, {})
    searcher.suggest("t0")
    searcher.observe("t0", {"lr": 0.01, "n": 2}, {"lr": LR, "n": N})
    searcher.on_trial_complete("t0", {"loss": 1.0})
    searcher.suggest("t1")  # pre-suggests lr and n
    searcher.observe("t1", {"lr": 0.02}, {"lr": LR})  # the model used lr only
    searcher.on_trial_complete("t1", {"loss": 0.5})
    searcher.suggest("t2")
    searcher.observe("t2", {"lr": 0.03}, {"lr": LR})
    searcher.on_trial_complete("t2", None, error=True)  # failed: nothing told
    done = [t for t in searcher.study.trials if t.state.name == "COMPLETE"]
    assert [t.params for t in done] == [{"lr": 0.01, "n": 2}, {"lr": 0.02}]
    assert [t.value for t in done] == [1.0, 0.5]


def test_same_seed_same_suggestions_and_random_learns_nothing():
    def run(algorithm):
        searcher, codec, _ = build(algorithm, "loss", "min", 5, {})
        searcher.suggest("t0")
        searcher.observe("t0", {"lr": 0.01}, {"lr": LR})
        searcher.on_trial_complete("t0", {"loss": 1.0})
        return searcher, [searcher.suggest(f"t{i}") for i in range(1, 4)]

    assert run("optuna")[1] == run("optuna")[1]
    searcher, points = run("random")
    assert searcher.learns is False and len({p["lr"] for p in points}) == 3


@pytest.mark.parametrize("algorithm, params, message", [
    ("hyperopt", {}, "hpo_config.algorithm: a define-by-run model (def objective(trial)) runs with optuna or "
                     "random (or auto); got 'hyperopt'"),
    ("random", {"sampler": "tpe"}, "hpo_config.algorithm_param: random search of a define-by-run model takes no "
                                   "algorithm_param (got sampler)"),
])
def test_other_algorithms_are_one_line(algorithm, params, message):
    with pytest.raises(ValidationError) as err:
        build(algorithm, "loss", "min", None, params)
    assert str(err.value) == message


def test_a_parameter_asked_in_an_incompatible_way_is_left_to_the_trials():
    """optuna keeps one kind per name: a model that asks 'x' as a float, then as a category,
    must not break the search; 'x' is no longer pre-suggested nor told."""
    from hpogrid.search.define_by_run import categorical_distribution

    searcher, codec, _ = build("optuna", "loss", "min", 1, {})
    searcher.suggest("a")
    searcher.observe("a", {"x": 0.5, "n": 2}, {"x": float_distribution(0, 1), "n": N})
    searcher.on_trial_complete("a", {"loss": 1.0})
    searcher.suggest("b")
    searcher.observe("b", {"x": "u", "n": 3}, {"x": categorical_distribution(["u", "v"]), "n": N})
    searcher.on_trial_complete("b", {"loss": 2.0})
    assert set(codec.decode(searcher.suggest("c"))) == {"n"}
    done = [t.params for t in searcher.study.trials if t.state.name == "COMPLETE"]
    assert done == [{"x": 0.5, "n": 2}, {"n": 3}]
    # a narrower range of the same kind is fine: it is pre-suggested from then on
    searcher.observe("c", {"n": 2}, {"n": int_distribution(1, 2)})
    searcher.on_trial_complete("c", {"loss": 0.5})
    assert codec.distributions["n"] == int_distribution(1, 2)
    assert codec.decode(searcher.suggest("d"))["n"] in (1, 2)


def test_asktell_tells_a_foreign_point_with_only_what_the_model_used():
    """An enqueued point (adopted) names 'n', but the model used only 'lr': optuna hears lr."""
    from hpogrid.search.asktell import AskTell

    searcher, codec, _ = build("optuna", "loss", "min", 1, {})
    asktell = AskTell(searcher, codec, "loss", "min")
    asktell.adopt("p0", {"lr": 0.01, "n": 3})
    asktell.tell("p0", {"loss": 1.0}, ok=True, used={"lr": 0.01}, distributions={"lr": LR})
    done = [t.params for t in searcher.study.trials if t.state.name == "COMPLETE"]
    assert done == [{"lr": 0.01}] and asktell.told == 1
    assert set(codec.decode(asktell.ask("t1").config)) == {"lr"}
