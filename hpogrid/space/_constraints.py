"""Parameter constraints: ``"constraints": ["x + y <= 1", "layers * units <= 4096"]``.

A constraint compares two sums of products of numeric parameters and numbers with one of
``<=``, ``>=``, ``<``, ``>``: ``2*x - 0.5*y + 3 <= z``, ``a * b <= 4096``, ``(x + y) / 2 < 1``.
The text is parsed by :mod:`hpogrid.space._constraint_parser` into the :class:`Constraint` kept
here (nothing is ever evaluated by Python). A parameter whose name is not a Python identifier (``model/lr``,
``lambda``) is written in backquotes: ```model/lr` * 2 <= 1``.

Constraints are checked on the values the model receives (decoded values: after log scales and
rounding to ``q``). A constraint naming a conditional parameter holds trivially while that
parameter is inactive (absent from the values). Only the numeric methods may appear
(:data:`NUMERIC`): a categorical or fixed parameter is refused.
"""
from __future__ import annotations

import math
import operator
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from hpogrid.space._params import Uniform, UniformInt

#: methods a constraint may name: those whose values are numbers on a numeric scale
NUMERIC = ("uniform", "uniformint", "quniform", "loguniform", "qloguniform",
           "normal", "qnormal", "lognormal", "qlognormal")
#: comparison operators, as written, and what they compute
COMPARISONS: Dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}

FIELD = "search_space.constraints"

#: a polynomial: monomial (sorted tuple of parameter names, () for the constant) -> coefficient
Poly = Dict[Tuple[str, ...], Any]
#: an expression tree: ("num", value) | ("name", name) | ("neg", x) | (op, left, right), op + - * /
Tree = Tuple[Any, ...]


@dataclass(frozen=True, eq=False)
class Constraint:
    """One parsed constraint. ``text`` is kept exactly as given (``to_dict`` writes it back)."""

    text: str
    #: ``search_space.constraints[i]``: where it came from (error messages)
    field: str
    #: ``<=``, ``>=``, ``<`` or ``>``
    op: str
    left: Tree = dataclasses.field(repr=False)
    right: Tree = dataclasses.field(repr=False)
    #: ``left - right`` multiplied out (for linearity and Ax)
    poly: Mapping[Tuple[str, ...], Any] = dataclasses.field(repr=False)
    #: the parameters it names, in order of first appearance
    names: Tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Constraint) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    @property
    def linear(self) -> bool:
        """Whether every term names at most one parameter, once (``2*x - y <= 3``)."""
        return all(len(monomial) <= 1 for monomial in self.poly)

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the constraint holds for the decoded values of the ACTIVE parameters (what a
        model receives): true when one of its parameters is absent (inactive)."""
        if any(name not in values for name in self.names):
            return True
        try:
            left, right = _evaluate(self.left, values), _evaluate(self.right, values)
        except OverflowError:  # exact integers too large for a float coefficient: compare in floats
            floats = {n: _float(values[n]) for n in self.names}
            left, right = _evaluate(self.left, floats), _evaluate(self.right, floats)
        except (TypeError, ValueError, ZeroDivisionError):  # not numbers: not a point of this space
            return False
        return COMPARISONS[self.op](left, right)

    def slack(self, values: Mapping[str, Any]) -> float:
        """How far ``values`` are from the bound: <= 0 when the constraint holds with ``<=``/``>=``
        (``left - right`` for ``<=``/``<``, ``right - left`` otherwise; 0 for an inactive one;
        optuna's ``constraints_func`` convention, as :meth:`OutcomeConstraint.slack`)."""
        if any(name not in values for name in self.names):
            return 0.0
        floats = {n: _float(values[n]) for n in self.names}
        diff = float(_evaluate(self.left, floats)) - float(_evaluate(self.right, floats))
        return diff if self.op in ("<=", "<") else -diff

    def ax_expression(self, codec: Any) -> Optional[str]:
        """Ax's parameter-constraint string (``"2.0*x + -1.0*y <= 3.0"``), or None when Ax cannot
        take this constraint natively.

        Ax takes linear constraints on range parameters searched on their own scale, so this is
        None unless the constraint is linear and every parameter in it is ``uniform`` or
        ``uniformint``, unconditional, encoded by ``codec`` as its own value (the encoding maps
        the bounds and the midpoint to themselves: not a log scale, an index or a probability),
        and named without spaces or ``*`` (Ax splits its strings there). ``<``/``>`` become
        ``<=``/``>=`` (a boundary of measure zero for floats): keep checking proposals with
        :func:`hpogrid.search._constrained.constrain`, which also catches Ax's rounding.
        """
        if not self.linear:
            return None
        space = codec.space
        for name in self.names:
            param = space[name]
            if not isinstance(param, (Uniform, UniformInt)) or type(param) not in (Uniform, UniformInt) \
                    or space.when(name) \
                    or not _plain_encoding(codec.encodings.get(name), param) \
                    or not name or any(c.isspace() or c == "*" for c in name):
                return None
        sign = 1 if self.op in ("<=", "<") else -1
        terms = [(monomial[0], sign * coef) for monomial, coef in self.poly.items() if monomial and coef != 0]
        if not terms:
            return None
        bound = -sign * self.poly.get((), 0)
        parts = []
        for i, (name, coef) in enumerate(terms):
            coef = float(coef)
            if i == 0:
                parts.append(f"{_num(coef)}*{name}")
            else:
                parts.append(f"{'-' if coef < 0 else '+'} {_num(abs(coef))}*{name}")
        return f"{' '.join(parts)} <= {_num(float(bound))}"



def _float(value: Any) -> float:
    """``float(value)``; +-inf for an integer beyond float range."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _num(value: float) -> str:
    return repr(value + 0.0)  # -0.0 -> 0.0


def _plain_encoding(enc: Any, param: Union[Uniform, UniformInt]) -> bool:
    """Whether ``enc`` shows ``param`` to the searcher as its own value (checked on the bounds
    and the midpoint; any error means no)."""
    if enc is None:
        return False
    probes = [param.low, param.high, (param.low + param.high) / 2]
    if isinstance(param, UniformInt):
        probes[2] = (param.low + param.high) // 2
    try:
        return all(enc.to_latent(v) == v and enc.from_latent(v) == v and param.decode(v) == v for v in probes)
    except Exception:
        return False


def _evaluate(tree: Tree, values: Mapping[str, Any]) -> Any:
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "name":
        value = values[tree[1]]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{tree[1]} is not a number")
        return value
    if kind == "neg":
        return -_evaluate(tree[1], values)
    left, right = _evaluate(tree[1], values), _evaluate(tree[2], values)
    if kind == "+":
        return left + right
    if kind == "-":
        return left - right
    if kind == "*":
        return left * right
    return left / right


def constraint_texts(constraints: Iterable[Constraint]) -> List[str]:
    """The texts, as given (what ``to_dict`` writes)."""
    return [c.text for c in constraints]
