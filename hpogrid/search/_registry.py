"""The algorithms hpogrid offers, built from the catalogue in the order ``--help`` lists them."""
import importlib
from typing import Tuple

from hpogrid.errors import ValidationError
from hpogrid.search._base import SearcherAdapter
from hpogrid.search.catalogue import CATALOGUE, Algorithm


def _adapter(algorithm: Algorithm) -> SearcherAdapter:
    """The adapter ``algorithm.adapter`` names; it must be a SearcherAdapter of that name."""
    module, _, cls = algorithm.adapter.partition(":")
    adapter = getattr(importlib.import_module(module), cls)()
    if not isinstance(adapter, SearcherAdapter) or adapter.name != algorithm.name:
        raise TypeError(f"catalogue entry {algorithm.name!r}: {algorithm.adapter} is not its SearcherAdapter")
    return adapter


ADAPTERS: Tuple[SearcherAdapter, ...] = tuple(_adapter(a) for a in CATALOGUE)


def get_adapter(name: str) -> SearcherAdapter:
    for adapter in ADAPTERS:
        if adapter.name == name:
            return adapter
    raise ValidationError("hpo_config.algorithm", f"{name!r} is not allowed; choose one of: "
                          + ", ".join(a.name for a in ADAPTERS))
