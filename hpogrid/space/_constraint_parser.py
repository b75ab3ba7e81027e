"""Parsing the text of a parameter constraint (``"2*x - y <= 3"``) into a
:class:`~hpogrid.space._constraints.Constraint`.

The text is parsed with :mod:`ast` and every node is checked against a short whitelist (numbers,
names, ``+ - *``, ``/`` by a number, unary ``+``/``-``, parentheses, one comparison): nothing is
ever evaluated by Python. Each refusal is one line naming ``search_space.constraints[i]``. The
walk builds two things: the expression tree the constraint evaluates, and the comparison
multiplied out into a polynomial (linearity, Ax's native constraints).
"""
from __future__ import annotations

import ast
import math
import re
from typing import Any, Dict, List, Mapping, Tuple

from hpogrid.space._check import fail, show
from hpogrid.space._constraints import FIELD, NUMERIC, Constraint, Poly, Tree
from hpogrid.space._params import Param

#: at most this many constraints per space, this many characters per constraint, and this
#: many terms once the products are multiplied out (``(a+b)*(c+d)`` has 4)
MAX_CONSTRAINTS, MAX_LENGTH, MAX_TERMS = 100, 1000, 1000
#: the deepest expression accepted (``- - - x``, ``((x))``, ``x + x + ... + x``): the walk
#: here, the evaluation of every trial and the search adapters recurse once per level
MAX_NESTING = 200

_ALLOWED = ("allowed: numbers, numeric parameters, + - *, / by a number, parentheses and one of "
            "<=, >=, <, >")
_COMPARE = {ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<", ast.Gt: ">"}
_QUOTED = re.compile(r"`([^`]*)`")
_PLACEHOLDER = "__hpogrid_quoted_{}__"


def parse_constraints(texts: Any, params: Mapping[str, Param]) -> Tuple[Constraint, ...]:
    """Validate the ``constraints`` array against the parameters; one-line SearchSpaceError
    naming ``search_space.constraints[i]`` otherwise."""
    if not isinstance(texts, (list, tuple)):
        fail(FIELD, f'must be an array of constraints such as "x + y <= 1" (got {show(texts)})')
    if len(texts) > MAX_CONSTRAINTS:
        fail(FIELD, f"{len(texts)} constraints; at most {MAX_CONSTRAINTS}")
    seen: Dict[str, int] = {}
    out = []
    for i, text in enumerate(texts):
        path = f"{FIELD}[{i}]"
        constraint = parse_constraint(text, params, path)
        if constraint.text in seen:
            fail(path, f"repeats {FIELD}[{seen[constraint.text]}]")
        seen[constraint.text] = i
        out.append(constraint)
    return tuple(out)


def parse_constraint(text: Any, params: Mapping[str, Param], path: str = f"{FIELD}[0]") -> Constraint:
    """One constraint; ``path`` names it in errors."""
    if isinstance(text, Constraint):
        text = text.text
    if not isinstance(text, str):
        fail(path, f'must be a string such as "x + y <= 1" (got {show(text)})')
    if not text.strip():
        fail(path, 'is empty; write a comparison such as "x + y <= 1"')
    if len(text) > MAX_LENGTH:
        fail(path, f"is {len(text)} characters long; at most {MAX_LENGTH}")
    if not text.isprintable():
        fail(path, "must be one line of printable characters")
    source, quoted = _unquote(text, path)
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        fail(path, f"is not an expression hpogrid can read: {show(text)} ({_ALLOWED}; write a parameter "
                   "whose name is not a Python identifier in backquotes: `model/lr`)")
    if _nesting(tree) > MAX_NESTING:
        fail(path, f"is nested more than {MAX_NESTING} levels deep (signs and operators "
                   "inside one another); write it more simply")
    parser = _Parser(text, path, params, quoted)
    if not isinstance(tree, ast.Compare):
        fail(path, f"must compare two sides with one of <=, >=, <, > (got {show(text)})")
    if len(tree.ops) != 1:
        fail(path, "must have exactly one comparison (write 0 <= x + y <= 1 as two constraints)")
    op = type(tree.ops[0])
    if op not in _COMPARE:
        fail(path, f"compares with {_op_text(tree.ops[0])}; use one of <=, >=, <, >")
    left, left_poly = parser.walk(tree.left)
    right, right_poly = parser.walk(tree.comparators[0])
    poly = _add(left_poly, {m: -c for m, c in right_poly.items()})
    poly = {m: c for m, c in poly.items() if c != 0 or m == ()}
    if not any(poly):
        what = "its parameters cancel out" if parser.names else "compares numbers only"
        fail(path, f"{what} ({show(text)}); a constraint must depend on at least one parameter "
                   f"({_numeric_list(params)})")
    names = tuple(dict.fromkeys(parser.names))
    return Constraint(text, path, _COMPARE[op], left, right, poly, names)


def _unquote(text: str, path: str) -> Tuple[str, Dict[str, str]]:
    """Replace each ```name``` by an identifier; the names it stands for."""
    quoted: Dict[str, str] = {}

    def swap(match: "re.Match[str]") -> str:
        name = match.group(1)
        for key, value in quoted.items():
            if value == name:
                return f" {key} "
        key = _PLACEHOLDER.format(len(quoted))
        quoted[key] = name
        return f" {key} "

    source = _QUOTED.sub(swap, text)
    if "`" in source:
        fail(path, "has an unmatched backquote (write a parameter name as `name`)")
    return source, quoted


def _nesting(tree: ast.AST) -> int:
    """How deeply the expressions of ``tree`` nest, found without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
    return deepest


def _op_text(node: ast.AST) -> str:
    texts: Dict[type, str] = {ast.Eq: "==", ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
                              ast.IsNot: "is not"}
    return texts.get(type(node), type(node).__name__)


def _numeric_list(params: Mapping[str, Param], limit: int = 20) -> str:
    names = [n for n, p in params.items() if p.method in NUMERIC]
    if not names:
        return "this space has no numeric parameter"
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return "numeric parameters: " + ", ".join(names[:limit]) + more


def _add(a: Poly, b: Poly) -> Poly:
    out = dict(a)
    for m, c in b.items():
        out[m] = out.get(m, 0) + c
    return out


class _Parser:
    """Walks the whitelisted AST into an evaluation tree and its multiplied-out polynomial."""

    def __init__(self, text: str, path: str, params: Mapping[str, Param], quoted: Mapping[str, str]):
        self.text, self.path, self.params, self.quoted = text, path, params, quoted
        self.names: List[str] = []

    def refuse(self, what: str) -> None:
        fail(self.path, f"{what} is not allowed in a constraint ({_ALLOWED})")

    def walk(self, node: ast.AST) -> Tuple[Tree, Poly]:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                what = show(value) if not isinstance(value, str) else f"the string {show(value)}"
                fail(self.path, f"{what} is not a number; a constraint compares numbers and numeric "
                                "parameters (a parameter named like that goes in backquotes)")
            if isinstance(value, float) and not math.isfinite(value):
                fail(self.path, f"{show(value)} is not a finite number")
            return ("num", value), {(): value}
        if isinstance(node, ast.Name):
            name = self.quoted.get(node.id, node.id)
            self.check_name(name)
            self.names.append(name)
            return ("name", name), {(name,): 1}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            tree, poly = self.walk(node.operand)
            if isinstance(node.op, ast.UAdd):
                return tree, poly
            return ("neg", tree), {m: -c for m, c in poly.items()}
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            left, lp = self.walk(node.left)
            right, rp = self.walk(node.right)
            if isinstance(node.op, ast.Add):
                return ("+", left, right), _add(lp, rp)
            if isinstance(node.op, ast.Sub):
                return ("-", left, right), _add(lp, {m: -c for m, c in rp.items()})
            if isinstance(node.op, ast.Mult):
                return ("*", left, right), self.multiply(lp, rp)
            if any(m for m in rp) or not rp.get(()):
                fail(self.path, "divides by a parameter or by zero; divide only by a non-zero number "
                                f"({_ALLOWED})")
            divisor = rp[()]
            return ("/", left, right), {m: c / divisor for m, c in lp.items()}
        if isinstance(node, ast.BinOp):
            symbol = {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
                      ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^"}.get(type(node.op), "?")
            self.refuse(f"the operator {symbol} (multiply instead: x * x)" if symbol == "**" else f"the operator {symbol}")
        if isinstance(node, ast.Compare):
            fail(self.path, "must have exactly one comparison (write 0 <= x + y <= 1 as two constraints)")
        if isinstance(node, ast.Call):
            self.refuse("a function call")
        if isinstance(node, ast.Attribute):
            fail(self.path, f"{show(ast.unparse(node))} is not allowed in a constraint; write a parameter "
                            "whose name has a dot in backquotes: `a.b`")
        self.refuse(f"{show(_describe(node))}")
        raise AssertionError  # pragma: no cover - refuse raises

    def multiply(self, a: Poly, b: Poly) -> Poly:
        if len(a) * len(b) > MAX_TERMS:
            fail(self.path, f"has too many terms once multiplied out (at most {MAX_TERMS})")
        out: Poly = {}
        for ma, ca in a.items():
            for mb, cb in b.items():
                m = tuple(sorted(ma + mb))
                out[m] = out.get(m, 0) + ca * cb
        if len(out) > MAX_TERMS:
            fail(self.path, f"has too many terms once multiplied out (at most {MAX_TERMS})")
        return out

    def check_name(self, name: str) -> None:
        param = self.params.get(name)
        if param is None:
            fail(self.path, f"unknown parameter {show(name)} ({_numeric_list(self.params)})")
        if param.method not in NUMERIC:
            fail(self.path, f"{name} is {param.method}; a constraint takes only numeric parameters "
                            f"(methods {', '.join(NUMERIC)})")


def _describe(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast.parse makes
        return type(node).__name__
