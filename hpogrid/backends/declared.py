"""Options a backend declares, from which its run command is built.

A backend's options are a dataclass (a :class:`~hpogrid.engine.RunOptions` subclass) whose
own command-line options are fields made by :func:`option`: the flags, the help text, the
allowed values and the default, in the order ``--help`` lists them. Class attributes say the
rest of the command: its name (``command``), its help (``help``, where ``{signals}`` stands for
what Ctrl-C and SIGQUIT do), the help of ``--n_jobs`` and which field ``--n_jobs`` sets. The
CLI (:mod:`hpogrid.cli.runs`) turns that into a Click command with the options every run
shares, so a new backend needs no CLI module of its own. A search option every run shares
(``--trials``, ``--algorithm``, ``--n_jobs``, ``--seed``, ``--max_failures``: fields of
``RunOptions``) that a class redeclares with :func:`option` is replaced by its declaration, for
a command where it means something else (``hpogrid run``); ``help_order`` then says where
--help lists it. This module imports neither Click nor the engine: ``--help`` stays light.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, List, Optional, Sequence, Tuple

#: how a value is read from the command line
KINDS = ("int", "float", "str", "flag", "choice")


@dataclass(frozen=True)
class OptionSpec:
    """One command-line option of a backend: ``flags`` (the first names it in errors),
    ``help``, ``kind`` (:data:`KINDS`), for numbers an inclusive ``low``/``high``, for a
    ``choice`` its ``choices``; ``default`` is the field's, shown by --help with ``show_default``."""

    flags: Tuple[str, ...]
    help: str
    kind: str = "str"
    low: Optional[float] = None
    high: Optional[float] = None
    metavar: Optional[str] = None
    hidden: bool = False
    choices: Optional[Tuple[str, ...]] = None
    default: Any = None
    show_default: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"option kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"option {self.flags[0] if self.flags else '?'}: choices go with kind 'choice' only")
        if not self.flags or not all(f.startswith("--") for f in self.flags):
            raise ValueError(f"option flags {self.flags!r}: expected one or more --names")


class RunCommand:
    """The class attributes an options dataclass with a run command has (a mixin: no fields)."""

    #: the backend that runs it (:func:`hpogrid.backends.get_backend`)
    backend: ClassVar[str]
    #: the command's name, e.g. ``slurm_run``
    command: ClassVar[str]
    #: the command's help; ``{signals}`` stands for what Ctrl-C and SIGQUIT do
    help: ClassVar[str]
    n_jobs_help: ClassVar[str]
    #: the field ``--n_jobs`` sets
    n_jobs_field: ClassVar[str] = "n_jobs"
    #: fields --help lists first, in this order (the rest follow in declaration order): for a
    #: redeclared ``RunOptions`` field, which a dataclass keeps at the base class's place
    help_order: ClassVar[Tuple[str, ...]] = ()


def option(default: Any, *flags: str, help: str, kind: str = "str", low: Optional[float] = None,
           high: Optional[float] = None, metavar: Optional[str] = None, hidden: bool = False,
           choices: Optional[Sequence[str]] = None, show_default: bool = False) -> Any:
    """A dataclass field that is also a command-line option (see the module docstring)."""
    spec = OptionSpec(tuple(flags), help, kind, low, high, metavar, hidden,
                      tuple(choices) if choices is not None else None, default, show_default)
    return dataclasses.field(default=default, metadata={"option": spec})


def declared_options(options_cls: type) -> List[Tuple[str, OptionSpec]]:
    """(field name, spec) of every option ``options_cls`` declares: those its ``help_order``
    names first, in that order, then the rest in declaration order (a field redeclared from a
    base class keeps the base's place)."""
    found = [(f.name, f.metadata["option"]) for f in dataclasses.fields(options_cls) if "option" in f.metadata]
    order = tuple(getattr(options_cls, "help_order", ()))
    unknown = [name for name in order if name not in dict(found)]
    if unknown:
        raise ValueError(f"{options_cls.__name__}.help_order names no declared option: {', '.join(unknown)}")
    return sorted(found, key=lambda item: order.index(item[0]) if item[0] in order else len(order))
