"""Nested config substitution (colon paths) and its pre-run check."""
import pytest

from hpogrid.errors import ValidationError
from hpogrid.objective import apply_values, check_paths

BASE = {"optimizer": {"learning_rate": 0.1, "type": "adam"}, "model": {"layers": 2}, "epochs": 3}


def test_colon_paths_replace_nested_values_and_base_is_untouched():
    out = apply_values(BASE, {"optimizer:learning_rate": 0.01, "model:layers": 5, "dropout": 0.2})
    assert out == {"optimizer": {"learning_rate": 0.01, "type": "adam"}, "model": {"layers": 5},
                   "epochs": 3, "dropout": 0.2}
    assert BASE["optimizer"]["learning_rate"] == 0.1 and "dropout" not in BASE


@pytest.mark.parametrize("name, message", [
    ("optimizer:lr", "search_space.optimizer:lr: model_config param has no key 'lr' at optimizer (has: learning_rate, type)"),
    ("trainer:epochs", "search_space.trainer:epochs: model_config param has no key 'trainer' at the top level"),
    ("epochs:x", "search_space.epochs:x: model_config param has no key 'x' at epochs (has: a int)"),
])
def test_missing_paths_are_named(name, message):
    with pytest.raises(ValidationError) as err:
        check_paths(BASE, ["plain", name])
    assert str(err.value).startswith(message) and str(err.value).endswith("nested names follow param's keys")
