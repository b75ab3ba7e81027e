"""The algorithms hpogrid offers, in the order ``--help`` lists them."""
from typing import Tuple

from hpogrid.errors import ValidationError
from hpogrid.search._adapters import (
    AxAdapter, BayesOptAdapter, BohbAdapter, HeboAdapter, HyperOptAdapter, NevergradAdapter,
    OptunaAdapter, RandomSearch, SkoptAdapter, TuneSearch,
)
from hpogrid.search._auto import AutoAdapter
from hpogrid.search._base import SearcherAdapter

ADAPTERS: Tuple[SearcherAdapter, ...] = (
    RandomSearch(), TuneSearch(), HyperOptAdapter(), SkoptAdapter(), BohbAdapter(), AxAdapter(),
    BayesOptAdapter(), OptunaAdapter(), HeboAdapter(), NevergradAdapter(), AutoAdapter(),
)


def get_adapter(name: str) -> SearcherAdapter:
    for adapter in ADAPTERS:
        if adapter.name == name:
            return adapter
    raise ValidationError("hpo_config.algorithm", f"{name!r} is not allowed; choose one of: "
                          + ", ".join(a.name for a in ADAPTERS))
