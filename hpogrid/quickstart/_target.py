"""What ``hpogrid optimize TARGET`` runs: a Python entry point or a program command.

``train.py:objective`` is a model_config with ``script``/``model``; anything else is a program
(``python train.py --lr ($lr)``), a model_config ``command``. The project's scripts are the
script (or the one file of the current folder the command names), or ``--scripts PATH``.
"""
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from hpogrid.errors import ValidationError

_ENTRY = re.compile(r"(?P<file>[^\s:]+\.py):(?P<entry>[A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Target:
    """A model_config, the scripts to copy (None: none) and the name the configs get."""

    model_config: Dict[str, Any]
    scripts_path: Optional[str]
    name: str


def _clean(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")
    return name or "optimize"


def parse_target(target: str, scripts: Optional[str] = None) -> Target:
    """``train.py:objective`` or a program command; a mistake is one line naming TARGET."""
    m = _ENTRY.fullmatch(target.strip())
    if m:
        return _python(Path(m["file"]), m["entry"], scripts)
    if re.fullmatch(r"[^\s]+\.py", target.strip()):
        raise ValidationError("TARGET", f"{target!r} names no entry point: write {target.strip()}:FUNCTION "
                              "(a function or Trainable class in it), or a command such as 'python "
                              f"{target.strip()} --lr ($lr)'")
    try:
        argv = shlex.split(target)
    except ValueError as exc:
        raise ValidationError("TARGET", f"cannot split {target!r} into arguments: {exc}") from None
    if not argv:
        raise ValidationError("TARGET", "is empty: give train.py:FUNCTION or a command such as "
                              "'python train.py --lr ($lr)'")
    named = [a for a in argv if "/" not in a and "$" not in a and Path(a).is_file()]
    if scripts is not None:
        _exists(scripts)
    path = scripts if scripts is not None else (named[0] if named else None)
    stem = Path(named[0]).stem if named else Path(argv[0]).name
    return Target({"command": target}, path, _clean(stem))


def _exists(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ValidationError("--scripts", f"{path!r} does not exist")
    return p


def _python(file: Path, entry: str, scripts: Optional[str]) -> Target:
    if not file.is_file():
        raise ValidationError("TARGET", f"{str(file)!r} is not a file (write PATH.py:FUNCTION)")
    script = file.name
    if scripts is not None:
        folder = _exists(scripts).resolve()
        try:
            script = str(file.resolve().relative_to(folder if folder.is_dir() else folder.parent))
        except ValueError:
            raise ValidationError("--scripts", f"{scripts!r} does not hold {str(file)!r}") from None
    return Target({"script": script, "model": entry}, scripts or str(file), _clean(f"{file.stem}_{entry}"))
