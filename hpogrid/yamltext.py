"""The one reader of YAML a user hands hpogrid (config files, ``--param-file``, ``workflow.yaml``).

Users of echo-opt and o2tuner keep their configs in YAML. A YAML file must give exactly what
the same content written as JSON gives, under the limits of :mod:`hpogrid.jsontext`: at most
:data:`~hpogrid.jsontext.MAX_BYTES`, nested at most :data:`~hpogrid.jsontext.MAX_DEPTH`
levels, no duplicate keys, no ``.nan``/``.inf``, UTF-8 (a byte-order mark is accepted).
Anything else is one :class:`ValidationError` line naming the field, the file and the line.

What YAML has and JSON lacks is mapped or refused, never passed on silently: dates stay the
text they were written as (JSON has no dates); keys that are numbers, booleans or null become
the text JSON would write for them; anchors and aliases (``<<: *defaults``) are expanded, with
the expanded size bounded by number of values and by characters, each no more than a JSON
file could hold (a "billion laughs" file, or one long string aliased many times, is refused);
binary data and sets are refused. PyYAML is imported only when a YAML text is read.
"""
import math
from typing import Any, List, Optional, Tuple

from hpogrid.errors import ValidationError
from hpogrid.jsontext import MAX_BYTES, MAX_DEPTH

#: values (scalars, lists, mappings) a YAML document may expand to; aliases repeat a node
#: without repeating its text, so the text size alone does not bound it
MAX_NODES = 1_000_000
#: characters a YAML document may expand to (strings and keys; every other value counts as
#: one): the most a JSON file could hold, so an alias of an alias of a long string cannot
#: turn a small file into a config of gigabytes
MAX_EXPANDED_CHARS = MAX_BYTES
#: the most digits Python converts between an integer and its text (JSON writes decimal)
_MAX_DIGITS = 4300
#: file name endings read as YAML (everything else is read as JSON)
YAML_SUFFIXES = (".yaml", ".yml")


class _Refused(ValueError):
    """Something JSON could not hold; the message says what and where."""


def _loader_class():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that refuses duplicate keys and keeps dates as the text written."""

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                    except TypeError:  # a list or mapping as a key
                        raise _Refused(f"a key must be text or a number (line {key_node.start_mark.line + 1})")
                    if duplicate:
                        raise _Refused(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_timestamp(self, node):
            return self.construct_scalar(node)

        def construct_core_int(self, node):
            text = self.construct_scalar(node)
            try:
                if text[:2] in ("0x", "0o") or text[1:3] in ("0x", "0o"):
                    value = int(text, 0)
                    str(value)  # JSON writes it in decimal: that must be possible
                    return value
                return int(text, 10)  # "012" is twelve, as in JSON-minded YAML 1.2, not YAML 1.1's octal ten
            except ValueError:  # more digits than Python converts (4300)
                raise _Refused(f"the integer on line {node.start_mark.line + 1} has more than "
                               f"{_MAX_DIGITS} digits; write it as text") from None

        def refuse(self, node):
            raise _Refused(f"{node.tag.rsplit(':', 1)[-1]} values are not JSON (line {node.start_mark.line + 1})")

    Loader.add_constructor("tag:yaml.org,2002:timestamp", Loader.construct_yaml_timestamp)
    Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_core_int)
    _core_schema_scalars(Loader)
    for tag in ("binary", "set", "omap", "pairs"):
        Loader.add_constructor(f"tag:yaml.org,2002:{tag}", Loader.refuse)
    return Loader


#: YAML 1.2's core schema for plain scalars. PyYAML implements YAML 1.1, where ``1e-3`` is text
#: (an exponent needs a dot there), ``012`` is octal and ``on``/``no``/``y`` are booleans: a
#: value written as a JSON user would write it must mean what it means in JSON.
_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|[-+]?0o[0-7]+|[-+]?0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
)


def _core_schema_scalars(loader) -> None:
    """Replace the loader's YAML 1.1 bool/int/float resolvers with YAML 1.2 core-schema ones."""
    import re

    replaced = {tag for tag, _, _ in _CORE_RESOLVERS}
    resolvers = {}
    for first, entries in loader.yaml_implicit_resolvers.items():
        kept = [(tag, regexp) for tag, regexp in entries if tag not in replaced]
        if kept:
            resolvers[first] = kept
    loader.yaml_implicit_resolvers = resolvers
    for tag, pattern, first in _CORE_RESOLVERS:  # int before float: "1" is an int
        loader.add_implicit_resolver(tag, re.compile(pattern), list(first))


def _json_key(key: Any) -> str:
    """The text JSON writes for a mapping key that is not text (``1`` -> ``"1"``, ``true``)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, float) and not math.isfinite(key):
        raise _Refused(f"key {key} is not a JSON number")
    if isinstance(key, (int, float)):
        return str(key)
    raise _Refused(f"a key must be text or a number (got {type(key).__name__})")


def _to_json(value: Any) -> Any:
    """A JSON-safe copy (depth, size, finiteness checked) without recursion.

    Aliased nodes are shared, not copied, so the copy is cheap; the budgets count what the
    config would be once written out, each repetition again."""
    budget = MAX_NODES
    chars = MAX_EXPANDED_CHARS
    root: list = [None]
    stack: List[Tuple[Any, Any, Any, int]] = [(value, root, 0, 1)]
    while stack:
        node, parent, slot, depth = stack.pop()
        budget -= 1
        chars -= len(node) if isinstance(node, str) else 1
        if budget < 0:
            raise _Refused(f"expands to more than {MAX_NODES} values (aliases repeating aliases?)")
        if chars < 0:
            raise _Refused(f"expands to more than {MAX_EXPANDED_CHARS // 2 ** 20} MB of text "
                           "(aliases repeating aliases?)")
        if depth > MAX_DEPTH and isinstance(node, (dict, list)):
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            out: Any = {}
            parent[slot] = out
            for k, v in node.items():
                key = _json_key(k)
                chars -= len(key)
                if key in out:
                    raise _Refused(f"keys {k!r} and {key!r} are the same key in JSON")
                out[key] = None
                stack.append((v, out, key, depth + 1))
        elif isinstance(node, list):
            out = [None] * len(node)
            parent[slot] = out
            stack.extend((v, out, i, depth + 1) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise _Refused(f"{node} is not a JSON value (use a number or null)")
        elif node is None or isinstance(node, (str, int, float, bool)):
            parent[slot] = node
        else:
            raise _Refused(f"{type(node).__name__} values are not JSON")
    return root[0]


def loads(text: str, field: str, source: Optional[str] = None) -> Any:
    """Parse YAML ``text`` given for ``field`` (``source``: the file, named in errors) into
    the value the same content written as JSON would give."""
    import yaml

    where = f" in {source}" if source else ""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ValidationError(field, f"YAML text{where} of {len(text) / 2 ** 20:.1f} MB is larger than the "
                                     f"{MAX_BYTES // 2 ** 20} MB allowed")
    text = text.lstrip("\ufeff")
    try:
        data = yaml.load(text, Loader=_loader_class())  # noqa: S506 - a SafeLoader subclass
        return _to_json(data)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        at = f" (line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        began = exc.context_mark if exc.context and exc.problem_mark is not None else None
        if at and began is not None and began.line != mark.line:  # where the unclosed thing began
            at += f"; {' '.join(exc.context.split()).removeprefix('while parsing ')} began on line {began.line + 1}"
        at += ")" if at else ""
        raise ValidationError(field, f"invalid YAML{where}: {problem}{at}") from None
    except yaml.YAMLError as exc:
        raise ValidationError(field, f"invalid YAML{where}: {' '.join(str(exc).split())[:200]}") from None
    except _Refused as exc:
        raise ValidationError(field, f"invalid YAML{where}: {exc}") from None
    except RecursionError:
        raise ValidationError(field, f"invalid YAML{where}: nested more than {MAX_DEPTH} levels deep") from None
