"""The environment of the processes that run trials, built in one place.

Ray workers, Slurm jobs, the local trial processes and grid jobs all need hpogrid importable
(also from a source checkout), the project's scripts importable by name, and Ray kept quiet.
:func:`worker_environment` builds that mapping; :func:`scoped_environ` applies it to this
process only while a run needs it (Ray's local workers inherit the driver's environment), and
restores the caller's environment afterwards: no call leaves ``os.environ`` changed.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional

#: Ray kept quiet and local: no usage stats, no new console output, no auth prompts
RAY_QUIET = {"RAY_AIR_NEW_OUTPUT": "0", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
             "RAY_DEDUP_LOGS": "0", "TUNE_DISABLE_SIGINT_HANDLER": "1",
             # hpogrid records into its own study store: Tune's CSV/JSON/TensorBoard files (and the
             # torch import of its TensorBoard logger) are never read
             "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}


def hpogrid_root() -> str:
    import hpogrid

    return str(Path(hpogrid.__file__).resolve().parents[1])


def _prepend(paths: str, *first: str) -> str:
    have = [p for p in paths.split(os.pathsep) if p]
    return os.pathsep.join([p for p in first if p not in have] + have)


def worker_environment(scripts_dir: Optional[Path] = None, base: Optional[Mapping[str, str]] = None,
                       extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``base`` (default: this process's environment) with hpogrid and the project's scripts on
    PYTHONPATH, Ray's quiet settings (unless the user set them) and ``extra``."""
    env = dict(os.environ if base is None else base)
    first = [hpogrid_root()] + ([str(scripts_dir)] if scripts_dir else [])
    env["PYTHONPATH"] = _prepend(env.get("PYTHONPATH", ""), *first)
    for key, value in RAY_QUIET.items():
        env.setdefault(key, value)
    env.update(extra or {})
    return env


@contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``values`` while the block runs, then restored exactly."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
