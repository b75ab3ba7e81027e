"""The algorithms hpogrid offers, built from the catalogue in the order ``--help`` lists them."""
from typing import Tuple

from hpogrid.errors import ValidationError
from hpogrid.search import _adapters, _auto
from hpogrid.search._base import SearcherAdapter
from hpogrid.search.catalogue import CATALOGUE, Algorithm

#: the modules that hold the adapter classes the catalogue names
_MODULES = (_adapters, _auto)


def _adapter(algorithm: Algorithm) -> SearcherAdapter:
    """An instance of the adapter class the entry names; it must be that algorithm's adapter."""
    classes = [vars(m)[algorithm.adapter] for m in _MODULES
               if algorithm.adapter in vars(m) and vars(m)[algorithm.adapter].__module__ == m.__name__]
    if len(classes) != 1 or not issubclass(classes[0], SearcherAdapter) or classes[0].name != algorithm.name:
        raise TypeError(f"catalogue entry {algorithm.name!r}: {algorithm.adapter} is not one SearcherAdapter "
                        f"named {algorithm.name!r} in {', '.join(m.__name__ for m in _MODULES)}")
    return classes[0]()


ADAPTERS: Tuple[SearcherAdapter, ...] = tuple(_adapter(a) for a in CATALOGUE)


def get_adapter(name: str) -> SearcherAdapter:
    for adapter in ADAPTERS:
        if adapter.name == name:
            return adapter
    raise ValidationError("hpo_config.algorithm", f"{name!r} is not allowed; choose one of: "
                          + ", ".join(a.name for a in ADAPTERS))
