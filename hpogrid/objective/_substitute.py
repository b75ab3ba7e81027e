"""Trial values into the model's configuration, including nested paths (echo-opt style).

A search-space parameter named ``optimizer:learning_rate`` replaces
``param["optimizer"]["learning_rate"]``; a plain name sets a top-level key (hyperparameters
win over ``param``). Paths are checked before any trial runs.
"""
import copy
from typing import Any, Dict, Iterable, Mapping

from hpogrid.errors import ValidationError

SEP = ":"


def check_paths(base: Mapping[str, Any], names: Iterable[str]) -> None:
    """Every colon path must lead to an existing key of ``base`` through dicts."""
    for name in names:
        if SEP not in name:
            continue
        node: Any = base
        keys = name.split(SEP)
        for depth, key in enumerate(keys):
            if not isinstance(node, Mapping) or key not in node:
                where = " -> ".join(keys[:depth]) or "the top level"
                have = ", ".join(map(str, node)) if isinstance(node, Mapping) else f"a {type(node).__name__}"
                raise ValidationError(f"search_space.{name}", f"model_config param has no key {key!r} at "
                                      f"{where} (has: {have or 'nothing'}); nested names follow param's keys")
            node = node[key]


def apply_values(base: Mapping[str, Any], values: Mapping[str, Any]) -> Dict[str, Any]:
    """A deep copy of ``base`` with the trial's values put in place."""
    config = copy.deepcopy(dict(base))
    for name, value in values.items():
        if SEP in name:
            *parents, last = name.split(SEP)
            node = config
            for key in parents:
                node = node[key]
            node[last] = value
        else:
            config[name] = value
    return config


def trial_config(param: Mapping[str, Any], codec, config: Dict[str, Any], hook=None) -> Dict[str, Any]:
    """``param`` with the searcher's ``config`` decoded into it, then the script's
    ``custom_updates(trial_config, base_config)`` (``hook``) if it has one."""
    values = apply_values(param, codec.decode(config))
    if hook is not None:
        values = hook(values, apply_values(param, {}))
        if not isinstance(values, Mapping):
            raise TypeError(f"custom_updates() returned {type(values).__name__}, not a dict")
    return dict(values)
