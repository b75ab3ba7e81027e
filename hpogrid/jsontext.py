"""The one reader of JSON a user hands hpogrid: options (``--param``, ``--stop``, ...),
search-space text and ``--file`` contents.

Whatever arrives, the answer is a value or one :class:`ValidationError` line naming the field:
text larger than :data:`MAX_BYTES`, nesting deeper than :data:`MAX_DEPTH` (the standard
parser would overflow the stack), duplicate keys (JSON would silently keep the last),
``NaN``/``Infinity`` (not JSON), bytes that are not UTF-8. A UTF-8 byte-order mark, which
some editors write, is accepted. JSON has no aliases, so what a JSON text expands to is never
larger than the text itself: :data:`MAX_BYTES` bounds it (YAML, whose aliases repeat text
without writing it again, is bounded to the same size when expanded, see :mod:`hpogrid.yamltext`).
"""
import json
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

from hpogrid.errors import ValidationError

#: the largest JSON text accepted (a search space of 10 000 parameters is ~1 MB)
MAX_BYTES = 4 * 2 ** 20
#: the deepest nesting accepted (configs hpogrid reads are a few levels deep)
MAX_DEPTH = 64


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (use a number or null)")


def _depth(text: str) -> int:
    """Deepest nesting of brackets outside strings (cheap, no recursion)."""
    deepest = depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads(text: Union[str, bytes], field: str) -> Any:
    """Parse JSON ``text`` given for ``field``."""
    if isinstance(text, bytes):
        text = decode(text, field)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ValidationError(field, f"JSON text of {len(text) / 2 ** 20:.1f} MB is larger than the "
                                     f"{MAX_BYTES // 2 ** 20} MB allowed")
    text = text.lstrip("\ufeff")
    if _depth(text) > MAX_DEPTH:
        raise ValidationError(field, f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValidationError(field, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        if message.startswith("Exceeds the limit"):  # Python's int <-> text conversion limit
            message = "an integer has more than 4300 digits; write it as text"
        raise ValidationError(field, f"invalid JSON: {message[:200]}") from None


def decode(data: bytes, field: str, what: str = "the text") -> str:
    """UTF-8 bytes (with or without a byte-order mark) as text, or one line naming the offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(field, f"{what} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                                     f"{exc.start}); save it as UTF-8") from None


def read_file(path: Union[str, Path], field: str) -> Any:
    """Parse the JSON file ``path`` given for ``field`` (size checked before reading)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ValidationError(field, f"{path} is {size / 2 ** 20:.1f} MB; at most {MAX_BYTES // 2 ** 20} MB "
                                         "is read")
        if not path.is_file():
            raise ValidationError(field, f"{path} is not a regular file")
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(field, f"cannot read {path}: {exc.strerror}") from None
    return loads(decode(data, field, what=str(path)), field)
