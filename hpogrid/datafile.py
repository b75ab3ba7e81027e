"""Config files in JSON or YAML, read under one set of limits.

Every file a user hands hpogrid as data (``--file``, ``--param-file``, the workflow file) is
read here: ``.yaml``/``.yml`` as YAML (:mod:`hpogrid.yamltext`), anything else as JSON
(:mod:`hpogrid.jsontext`), so the same content in either language gives the same value. The
size is checked before the file is read; errors are one line naming the field and the file.
"""
from pathlib import Path
from typing import Any, Union

from hpogrid.errors import ValidationError
from hpogrid.jsontext import MAX_BYTES, decode, loads as json_loads
from hpogrid.yamltext import YAML_SUFFIXES, loads as yaml_loads


def is_yaml(path: Union[str, Path]) -> bool:
    return Path(path).suffix.lower() in YAML_SUFFIXES


def read_file(path: Union[str, Path], field: str) -> Any:
    """Parse the JSON or YAML file ``path`` given for ``field``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ValidationError(field, f"{path} is not a regular file")
        if size > MAX_BYTES:
            raise ValidationError(field, f"{path} is {size / 2 ** 20:.1f} MB; at most {MAX_BYTES // 2 ** 20} MB "
                                         "is read")
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(field, f"cannot read {path}: {exc.strerror}") from None
    text = decode(data, field, what=str(path))
    if is_yaml(path):
        return yaml_loads(text, field, source=str(path))
    try:
        return json_loads(text, field)
    except ValidationError as exc:  # name the file: the field alone does not say which one
        raise ValidationError(exc.field, exc.message.replace("invalid JSON:", f"invalid JSON in {path}:", 1)) from None


def read_mapping(path: Union[str, Path], field: str) -> dict:
    """:func:`read_file` for files that must hold one object (a config, a model's params)."""
    data = read_file(path, field)
    if not isinstance(data, dict):
        kind = "nothing" if data is None else f"a {type(data).__name__}"
        raise ValidationError(field, f"{path} must hold a mapping of keys to values (it holds {kind})")
    return data
