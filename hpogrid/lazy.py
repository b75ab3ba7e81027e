"""PEP 562 lazy exports: a package names what it offers, and a name's module loads on first use.

    _EXPORTS = {"Backend": "hpogrid.engine.backend", ...}
    __getattr__ = lazy_exports(__name__, _EXPORTS)

so importing a package (for ``--help``, a config command, a Slurm job's payload) loads none of
its heavy modules.
"""
import importlib
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    # (Any: a type checker reads a name it cannot see as Any; packages that want their names
    # checked import them under ``if TYPE_CHECKING:`` as well)
    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
