"""The searcher protocol: every searcher hpogrid builds is a ``SearchCore`` (or a Ray searcher of
Ray's own, seen through the one bridge), its capabilities are declared, nothing probes for them,
and searchers pickled by earlier versions (Ray checkpoints) still load and run."""
import ast
import pickle
import re
from pathlib import Path

import pytest

from hpogrid.search import ADAPTERS, AskTell, AutoAdapter, SearchCore, Suggestion, as_core, get_adapter, unwrap
from hpogrid.search._core import RaySearcherCore
from hpogrid.space import SearchSpace

ROOT = Path(__file__).resolve().parents[2] / "hpogrid"
DATA = Path(__file__).resolve().parent / "data"
SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "y": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
CONSTRAINED = {**SPACE, "constraints": ["x + y <= 0.8"]}
CAPABILITIES = ("native", "learns", "told_metrics", "conditional_native", "budgeted")


@pytest.mark.parametrize("name", [a.name for a in ADAPTERS if not isinstance(a, AutoAdapter)])
def test_every_native_searcher_is_a_search_core_with_declared_capabilities(name):
    pytest.importorskip(get_adapter(name).library.split(".")[0])
    searcher, _ = get_adapter(name).build(SearchSpace.from_dict(SPACE), "loss", "min", 1, {}, native=True)
    core = as_core(searcher)
    if isinstance(core, RaySearcherCore):  # only BOHB has no ask/tell of its own: its Ray searcher
        assert name == "bohb"
    for capability in CAPABILITIES:
        assert isinstance(getattr(core, capability), bool), capability
    assert core.learns is (name not in ("random", "tune"))
    assert core.budgeted is (name in ("random", "tune"))


def test_a_ray_searcher_of_rays_own_is_driven_through_the_bridge():
    pytest.importorskip("ray.tune")
    pytest.importorskip("hyperopt")
    space = SearchSpace.from_dict(SPACE)
    searcher, codec = get_adapter("hyperopt").build(space, "loss", "min", 1, {}, native=False)
    assert not isinstance(searcher, SearchCore)  # Ray's HyperOptSearch
    core = as_core(searcher)
    assert isinstance(core, RaySearcherCore) and unwrap(core) is searcher
    assert (core.native, core.learns, core.told_metrics, core.conditional_native) == (False, True, False, False)
    asker = AskTell(searcher, codec, "loss", "min")  # given the space through set_search_properties
    answer = asker.ask("t0")
    assert isinstance(answer, Suggestion)
    asker.tell("t0", {"loss": 1.0}, ok=True)
    assert asker.told == 1


def test_hpogrids_ray_searchers_declare_their_cores_capabilities():
    pytest.importorskip("ray.tune")
    space = SearchSpace.from_dict(CONSTRAINED)
    from hpogrid.search import constrain

    seeded, codec = get_adapter("random").build(space, "loss", "min", 1, {}, native=False)
    outer = constrain(seeded, codec, ray=True)
    for searcher in (seeded, outer):
        assert isinstance(searcher, SearchCore)
        assert (searcher.native, searcher.learns, searcher.budgeted) == (False, False, True)
    outer.num_samples = 3
    assert seeded.core.num_samples == 3


def _probes(path: Path):
    """``getattr``/``hasattr`` calls on a searcher-like name (searcher, core, inner, library, ...)."""
    pattern = re.compile(r"\b(getattr|hasattr)\(\s*(self\.)?(_?searcher|core|inner|constrained|_library|"
                         r"wrapped|plan\.searcher)\b")
    return [f"{path.relative_to(ROOT.parent)}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
            if pattern.search(line)]


def test_nothing_probes_a_searcher_for_its_capabilities():
    files = [p for d in ("search", "engine", "backends") for p in (ROOT / d).rglob("*.py")]
    assert [probe for path in files for probe in _probes(path)] == []


def test_no_wrapper_forwards_attributes_it_does_not_declare():
    forwarding = []
    for path in (ROOT / "search").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                forwarding += [f"{path.name}:{node.name}.{f.name}" for f in node.body
                               if isinstance(f, ast.FunctionDef) and f.name in ("__getattr__", "__setattr__")]
    assert forwarding == []


# -- pickles written by the version before the protocol (tests/search/data, made by that code) ----
def test_a_seeded_sampler_pickled_before_loads_and_goes_on():
    pytest.importorskip("ray.tune")
    with open(DATA / "seeded_sampler.pkl", "rb") as fh:
        old = pickle.load(fh)
    assert (old.learns, old.budgeted, old.num_samples, old.grid_size) == (False, True, 10, 1)
    answers = [old.suggest(f"s{i}") for i in range(2, 11)]
    assert answers[-1] == "FINISHED" and all(isinstance(a, dict) for a in answers[:-1])


def test_a_constrained_tune_searcher_pickled_before_loads_and_goes_on():
    pytest.importorskip("ray.tune")
    from hpogrid.search._ray_searchers import ConstrainedTuneSearcher

    with open(DATA / "constrained_tune_searcher.pkl", "rb") as fh:
        old = pickle.load(fh)
    assert type(old) is ConstrainedTuneSearcher and old.constrained is old.core
    assert (old.learns, old.budgeted, old.num_samples) == (False, True, 10)
    answers = [old.suggest(f"c{i}") for i in range(3, 11)]
    assert answers[-1] == "FINISHED"
    assert all(a["x"] + a["y"] <= 0.8 for a in answers[:-1])


def test_a_constrained_ray_searcher_pickled_before_loads_and_goes_on():
    pytest.importorskip("ray.tune")
    pytest.importorskip("hyperopt")
    with open(DATA / "constrained_ray_hyperopt.pkl", "rb") as fh:
        old = pickle.load(fh)
    assert isinstance(old.inner, RaySearcherCore) and old.learns and old.metric == "loss"
    config = old.suggest("h3")
    assert config["x"] + config["y"] <= 0.8
    old.on_trial_complete("h3", {"loss": 1.0, "config": config})
