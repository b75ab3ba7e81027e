"""The catalogue: each algorithm's facts written once, every list and adapter derived from it,
a forgotten fact an error, and no searcher library loaded to read it."""
import dataclasses
import subprocess
import sys

import pytest

from hpogrid.search import ADAPTERS, SearcherAdapter
from hpogrid.search import names
from hpogrid.search.catalogue import CATALOGUE, Algorithm, entry


def test_the_lists_config_validation_uses_are_the_catalogues():
    assert names.ALGORITHMS == tuple(a.name for a in CATALOGUE) == tuple(a.name for a in ADAPTERS)
    assert names.GRID_ALGORITHMS == ("random", "tune", "auto")
    assert names.MULTI_OBJECTIVE_ALGORITHMS == ("random", "tune", "ax", "optuna", "auto")
    assert names.ALGORITHM_PARAMS == {a.name: a.params for a in CATALOGUE}


@pytest.mark.parametrize("algorithm", CATALOGUE, ids=lambda a: a.name)
def test_each_adapter_carries_its_entrys_facts(algorithm):
    adapter = next(a for a in ADAPTERS if a.name == algorithm.name)
    assert type(adapter).__name__ == algorithm.adapter
    assert adapter.algorithm is algorithm
    assert (adapter.library, adapter.summary, adapter.honours_grid, adapter.multi_objective,
            adapter.uses_objectives) == (algorithm.library, algorithm.summary, algorithm.honours_grid,
                                         algorithm.multi_objective, algorithm.uses_objectives)


def test_a_forgotten_capability_is_an_error_not_a_default():
    facts = {f.name: getattr(entry("hyperopt"), f.name) for f in dataclasses.fields(Algorithm)}
    del facts["multi_objective"]
    with pytest.raises(TypeError, match="multi_objective"):
        Algorithm(**facts)
    with pytest.raises(TypeError, match="honours_grid must be a bool"):
        Algorithm(**{**facts, "multi_objective": False, "honours_grid": "yes"})


def test_an_adapter_without_an_entry_or_with_its_own_facts_is_an_error():
    with pytest.raises(TypeError, match="'simplex' has no entry in hpogrid.search.catalogue"):
        class Simplex(SearcherAdapter):  # noqa: F841
            name = "simplex"

            def make(self, *args, **kwargs):
                return None

    with pytest.raises(TypeError, match="sets library, honours_grid: the facts of algorithm 'hyperopt' live in"):
        class Again(SearcherAdapter):  # noqa: F841
            name = "hyperopt"
            library = "hyperopt"
            honours_grid = True

            def make(self, *args, **kwargs):
                return None


def test_reading_the_catalogue_and_names_loads_no_searcher_library():
    code = ("import sys, hpogrid.search.names, hpogrid.search.catalogue, hpogrid.configs; "
            "heavy = [m for m in ('ray', 'numpy', 'optuna', 'hyperopt', 'ax', 'torch', 'skopt', 'nevergrad') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
