"""Import the user's model (function or Trainable class) from the project's scripts."""
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from hpogrid.errors import ValidationError


def load_module(scripts_dir: str, script: str) -> Any:
    """The user's script as a module, imported once per process.

    The module is imported under its file stem with ``scripts_dir`` first on ``sys.path``, so
    helper modules next to the script import as they would when running it directly, and Ray
    workers (which get the same path through ``PYTHONPATH``) can unpickle what it defines.
    """
    path = Path(scripts_dir) / script
    if not path.is_file():
        raise ValidationError("model_config.script", f"{script!r} not found in {scripts_dir}")
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    module = sys.modules.get(name)
    stamp = _stamp(path)  # a script changed since it was imported (a project updated) is imported again
    if module is None or Path(getattr(module, "__file__", "") or "").resolve() != path.resolve() \
            or getattr(module, "__hpogrid_stamp__", stamp) != stamp:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # (not a Python file: nothing imports it)
            raise ValidationError("model_config.script", f"{script!r} is not a Python script Python can import")
        module = importlib.util.module_from_spec(spec)
        module.__hpogrid_stamp__ = stamp  # type: ignore[attr-defined]
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise ValidationError("model_config.script",
                                  f"importing {script} failed: {type(exc).__name__}: {exc}") from None
    return module


def _stamp(path: Path) -> tuple:
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


def load_model(scripts_dir: str, script: str, model: str) -> Any:
    """The function or class ``model`` defined in ``scripts_dir/script``."""
    module = load_module(scripts_dir, script)
    name = module.__name__
    obj = getattr(module, model, None)
    if obj is None or not callable(obj):
        found = sorted(n for n, v in vars(module).items()
                       if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == name)
        raise ValidationError("model_config.model", f"{model!r} is not a function or class in {script} "
                              f"(found: {', '.join(found) or 'none'})")
    return obj


def is_trainable_class(obj: Any) -> bool:
    if not inspect.isclass(obj):
        return False
    from ray.tune import Trainable

    return issubclass(obj, Trainable)
