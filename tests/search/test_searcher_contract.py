"""The searcher contract: what every registered search algorithm must do through ask/tell.

Parametrised by walking ``hpogrid.search.ADAPTERS`` (``auto`` is not a searcher: it resolves to
one, which is checked separately), so a new adapter is held to the contract without editing
this file. One scripted session per algorithm, with fixed seeds:

* ``PENDING`` asks before any result (trials running in parallel);
* those trials are told, one of them as a failure (``ok=False``);
* then ask/tell one at a time up to ``TOTAL`` trials: past the 10 random start-up points of
  optuna, skopt and bayes_opt, so their models propose as well: twice, the second time having
  learnt the first proposal's result (hyperopt's 20 start-up points,
  BOHB's dimensions + 1 and Ax's Sobol design are not reached: their models are not run here).

The told loss is a function of the decoded point only, so two sessions that propose the same
points are told the same results. Known contract violations of the libraries are strict
xfails (see ``KNOWN_VIOLATIONS``): they fail this suite the day they are fixed.
"""
import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List

import pytest

from hpogrid.errors import UnsupportedSpaceError
from hpogrid.search import SearcherAdapter, ADAPTERS, NOT_NOW, AskTell, AutoAdapter, Suggestion, get_adapter
from hpogrid.space import METHODS, SearchSpace
from tests.search.spaces import ALL_METHODS

#: every grammar method, plus the awkward cases: a float q (values carry float noise unless
#: rounded), a q-log method that can round to 0 (low < q / 2), categories that are equal in
#: Python but not in JSON (true, 1, 1.0) and a fixed JSON object
CONTRACT_SPACE = {
    **ALL_METHODS,
    "qf": {"method": "quniform", "dimension": {"low": -1, "high": 1, "q": 0.3}},
    "qlf": {"method": "qloguniform", "dimension": {"low": 0.01, "high": 1, "q": 0.05}},
    "num": {"method": "categorical", "dimension": {"categories": [True, 1, 1.0]}},
    "fix": {"method": "fixed", "dimension": {"value": {"a": [1]}}},
}
#: configurations asked before any result is told
PENDING = 4
#: trials in a whole session: the failed one is not counted in a random start of 10, so points
#: 12 and 13 are the models' (each model proposal costs up to a second: no more than needed)
TOTAL = 13
SEED = 7
METRIC, MODE = "loss", "min"

#: algorithms known to break one contract: {contract: {algorithm: measured reason}}
#: (Ray's BayesOptSearch stopped proposing after a failed random-phase trial: hpogrid's
#: BayesOptSearcher gives the failed trial's place back, and this suite keeps it honest)
KNOWN_VIOLATIONS = {}

SEARCHERS = [a for a in ADAPTERS if not isinstance(a, AutoAdapter)]
#: optuna's other samplers (algorithm_param sampler), driven natively
OPTUNA_SAMPLERS = [f"optuna+{s}/native" for s in ("gp", "gp-tpe", "cmaes", "qmc", "nsga2", "random")]
#: searchers hpogrid also drives through the library's own ask/tell, without Ray ("<name>/native")
NATIVE = [a.name for a in SEARCHERS if type(a).make_native is not SearcherAdapter.make_native]


def searchers(contract: str = ""):
    """One pytest param per registered searcher (and per native ask/tell variant), marked where
    the contract is known broken."""
    known = KNOWN_VIOLATIONS.get(contract, {})
    names = [a.name for a in SEARCHERS] + [f"{n}/native" for n in NATIVE] + OPTUNA_SAMPLERS
    return [pytest.param(n, id=n,
                         marks=[pytest.mark.xfail(strict=True, raises=AssertionError, reason=known[n])]
                         if n in known else [])
            for n in names]


def build(name: str, space, seed: int):
    """(searcher, codec) of ``name`` ("optuna" through Ray's searcher, "optuna/native" its own,
    "optuna+gp/native" optuna's GP sampler)."""
    algorithm, _, sampler = name.split("/")[0].partition("+")
    params = {"sampler": sampler} if sampler else {}
    return get_adapter(algorithm).build(space, METRIC, MODE, seed, params, native=name.endswith("/native"))


def space_for(adapter) -> SearchSpace:
    """The contract space less any parameter the adapter refuses (``check``) before a trial."""
    space = SearchSpace.from_dict(CONTRACT_SPACE)
    kept = []
    for param in space.values():
        try:
            adapter.check(SearchSpace([param]))
        except UnsupportedSpaceError:
            continue
        kept.append(param)
    methods = {p.method for p in kept}
    assert {"uniform", "uniformint", "loguniform", "categorical"} <= methods, (
        f"'{adapter.name}' must at least take uniform, uniformint, loguniform and categorical "
        f"(takes {sorted(methods)})")
    return SearchSpace(kept)


def loss(point: Dict[str, Any]) -> float:
    """A smooth objective of the decoded values only (same points -> same results)."""
    return ((point["uni"] - 1) ** 2 + (math.log10(point["lu"]) + 3) ** 2 + 0.1 * point["int"]
            + (0.5 if point["cat"] == "relu" else 0.0))


def key(point: Dict[str, Any]) -> str:
    """Exact identity of a point: tells 1, 1.0 and true apart, which ``==`` does not."""
    return json.dumps(point, sort_keys=True)


@dataclass
class Session:
    space: SearchSpace
    #: answers to the asks made before any result
    pending: List[Any] = field(default_factory=list)
    #: answers to the asks made after results, one at a time (the session stops at the first
    #: answer that is not a Suggestion)
    later: List[Any] = field(default_factory=list)
    #: decoded values of every Suggestion, in order
    points: List[Dict[str, Any]] = field(default_factory=list)
    told: int = 0


def run_session(name: str, seed: int, total: int = TOTAL) -> Session:
    space = space_for(get_adapter(name.split("/")[0].split("+")[0]))
    searcher, codec = build(name, space, seed)
    asker = AskTell(searcher, codec, METRIC, MODE)
    s = Session(space)
    for i in range(PENDING):
        answer = asker.ask(f"p{i}")
        s.pending.append(answer)
        if isinstance(answer, Suggestion):
            s.points.append(codec.decode(answer.config))
    running = [a for a in s.pending if isinstance(a, Suggestion)]
    for i, answer in enumerate(running):
        if i == 1:
            asker.tell(answer.uid, {METRIC: 0.0}, ok=False)  # the trial crashed
        else:
            asker.tell(answer.uid, {METRIC: loss(codec.decode(answer.config))}, ok=True)
    i = 0
    while len(s.points) < total:
        answer = asker.ask(f"t{i}")
        i += 1
        s.later.append(answer)
        if not isinstance(answer, Suggestion):
            break
        point = codec.decode(answer.config)
        s.points.append(point)
        asker.tell(answer.uid, {METRIC: loss(point)}, ok=True)
    s.told = asker.told
    assert asker.pending == 0
    return s


@functools.lru_cache(maxsize=None)
def session(name: str) -> Session:
    """The seed-``SEED`` session of ``name``, shared by the tests that only read it."""
    return run_session(name, SEED)


def assert_inside(param, value) -> None:
    """``value`` is a value of ``param``: its method's type, support and q grid."""
    where = f"{param.name}={value!r} ({param.method} {param.to_dimension()})"
    method = param.method
    if method in ("categorical", "fixed"):
        choices = param.categories if method == "categorical" else (param.value,)
        assert any(type(value) is type(c) and key(value) == key(c) for c in choices), where
    elif method in ("uniform", "loguniform"):
        assert type(value) is float and param.low <= value <= param.high, where
    elif method == "uniformint":
        assert type(value) is int and param.low <= value <= param.high, where
    elif method in ("quniform", "qloguniform", "qnormal", "qlognormal"):
        q = param.q
        assert type(value) is (int if isinstance(q, int) else float), where
        assert math.isfinite(value), where
        k = round(value / q)
        assert math.isclose(value, k * q, rel_tol=1e-9, abs_tol=1e-12), f"off the q grid: {where}"
        if method in ("quniform", "qloguniform"):  # the grid points nearest the bounds
            assert round(param.low / q) <= k <= round(param.high / q), f"out of bounds: {where}"
        if method == "qlognormal":
            assert value >= 0, where
    elif method in ("normal", "lognormal"):
        assert type(value) is float and math.isfinite(value), where
        if method == "lognormal":
            assert value > 0, where
    else:
        pytest.fail(f"no contract check for method {method!r}: add one to assert_inside")
    assert param.contains(value), f"the grammar itself rejects {where}"


def test_contract_space_covers_every_grammar_method():
    assert {spec["method"] for spec in CONTRACT_SPACE.values()} == set(METHODS)
    assert {a.name for a in SEARCHERS} == {a.name for a in ADAPTERS} - {"auto"}
    for contract, known in KNOWN_VIOLATIONS.items():  # no stale entry for a renamed algorithm
        assert set(known) <= {a.name for a in SEARCHERS}, contract


@pytest.mark.parametrize("name", searchers())
def test_every_searcher_proposes_different_points_while_trials_are_pending(name):
    answers = session(name).pending
    # no registered searcher answers NOT_NOW to these first asks with its default settings
    # (bayes_opt would after random_search_steps of them); every answer must be a point
    assert all(isinstance(a, Suggestion) for a in answers), answers
    points = session(name).points[:PENDING]
    assert len({key(p) for p in points}) > 1, f"{PENDING} pending asks gave one point: {points[0]}"


@pytest.mark.parametrize("name", searchers("keeps_proposing"))
def test_every_searcher_keeps_proposing_after_results_and_a_failed_trial(name):
    s = session(name)
    stopped = [a for a in s.later if not isinstance(a, Suggestion)]
    assert not stopped, (f"after {len(s.points)} points ({s.told} told, one of them failed) and nothing "
                         f"pending the searcher answered {stopped[0]}"
                         + (" (it waits for results, but none can come)" if stopped[0] is NOT_NOW else ""))
    assert len(s.points) == TOTAL and s.told == TOTAL
    assert len({key(p) for p in s.points}) > 1


@pytest.mark.parametrize("name", searchers())
def test_every_searcher_proposes_values_of_the_declared_type_inside_the_space(name):
    s = session(name)
    assert len(s.points) >= PENDING
    for point in s.points:
        assert set(point) == set(s.space), point
        for param_name, param in s.space.items():
            assert_inside(param, point[param_name])


@pytest.mark.parametrize("name", searchers())
def test_every_searcher_repeats_its_points_under_the_same_seed(name):
    first, again = session(name), run_session(name, SEED)
    assert len(first.points) >= PENDING
    assert [key(p) for p in again.points] == [key(p) for p in first.points]


@pytest.mark.parametrize("name", searchers())
def test_every_searcher_follows_its_seed(name):
    """The seed reaches the library: another seed, other points (before any result)."""
    other = run_session(name, SEED + 1, total=PENDING)
    assert [key(p) for p in other.points] != [key(p) for p in session(name).points[:PENDING]]


GRID_SPACE = {"b": {"method": "categorical", "dimension": {"categories": ["p", "q", "r"], "grid_search": 1}},
              "x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


@pytest.mark.parametrize("name", searchers())
def test_every_searcher_enumerates_grid_search_or_refuses_it_before_any_trial(name):
    adapter = get_adapter(name.split("/")[0].split("+")[0])
    space = SearchSpace.from_dict(GRID_SPACE)
    if not adapter.honours_grid:
        with pytest.raises(UnsupportedSpaceError, match=r"^search_space\.b: categorical with grid_search"):
            adapter.check(space)
        with pytest.raises(UnsupportedSpaceError):
            build(name, space, SEED)
        return
    searcher, codec = build(name, space, SEED)
    asker = AskTell(searcher, codec, METRIC, MODE)
    answers = [asker.ask(f"g{i}") for i in range(6)]
    assert all(isinstance(a, Suggestion) for a in answers), answers
    points = [codec.decode(a.config) for a in answers]
    # every category once per sample, as Ray's basic variant generator does
    assert sorted(p["b"] for p in points[:3]) == sorted(p["b"] for p in points[3:]) == ["p", "q", "r"]
    for point in points:
        assert_inside(space["x"], point["x"])


@pytest.mark.parametrize("space, trials, scheduler", [
    (CONTRACT_SPACE, 5, "fifo"),
    (CONTRACT_SPACE, 50, "fifo"),
    (GRID_SPACE, 50, "fifo"),
    (CONTRACT_SPACE, 50, "pbt"),
    (CONTRACT_SPACE, 50, "bohbhyperband"),
], ids=["few-trials", "many-trials", "grid", "pbt", "bohbhyperband"])
def test_auto_resolves_to_a_registered_searcher_that_runs_the_space(space, trials, scheduler):
    space = SearchSpace.from_dict(space)
    choice = AutoAdapter.choose(space, trials, scheduler)
    chosen = choice.adapter
    assert chosen.name in {a.name for a in SEARCHERS}
    assert type(chosen) is type(get_adapter(chosen.name))
    searcher, codec = chosen.build(space, METRIC, MODE, SEED, dict(choice.params))  # no UnsupportedSpaceError
    answer = AskTell(searcher, codec, METRIC, MODE).ask("a0")
    assert isinstance(answer, Suggestion), answer
    point = codec.decode(answer.config)
    for name, param in space.items():
        assert_inside(param, point[name])
