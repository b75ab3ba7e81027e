"""hpogrid's environment variables, read once into one typed object.

The CLI builds :class:`Settings` at its edge (``Settings.from_env()``) and hands it down;
library code reads fields of that object instead of ``os.environ``, so a test (or a second
run in the same process) can give other settings without touching the process environment.
This module imports nothing of hpogrid but the error tree.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from hpogrid.errors import ValidationError

#: seconds between heartbeats of a live run
HEARTBEAT_S = 10.0
#: a trial silent this long (12 missed heartbeats) belongs to a dead run
STALE_AFTER_S = 120.0


@dataclass(frozen=True)
class Settings:
    """Every ``HPOGRID_*`` variable a run reads (README: "Environment")."""

    #: ``$HPOGRID_HOME``: the config and project store
    home: Path
    #: ``$HPOGRID_STUDY_URL``: a shared study store for every run (None: SQLite per project)
    study_url: Optional[str] = None
    #: ``$HPOGRID_STALE_AFTER_S``: silence after which a trial belongs to a dead run
    stale_after_s: float = STALE_AFTER_S
    #: ``$HPOGRID_DEBUG``: tracebacks instead of one-line errors
    debug: bool = False
    #: ``$HPOGRID_GRID_SYNC_TIMEOUT_S``: how long ``report`` waits for PanDA
    grid_sync_timeout_s: float = 60.0
    #: ``$HPOGRID_RSE``: the Rucio storage element datasets are uploaded to
    rse: Optional[str] = None
    #: ``$HPOGRID_CRIC_URL``: the CRIC query ``hpogrid sites`` asks
    cric_url: Optional[str] = None
    #: ``$HPOGRID_WORKDIR``: a grid job's working directory (default: the current one)
    workdir: Optional[Path] = None
    #: ``$HPOGRID_GRID_POLL_S``: seconds between a central grid search's questions to PanDA
    grid_poll_s: float = 30.0

    @property
    def heartbeat_s(self) -> float:
        """Seconds between heartbeats: shorter when the stale timeout is set below 4 beats,
        so a live run is never mistaken for a dead one."""
        return min(HEARTBEAT_S, self.stale_after_s / 4)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        env = os.environ if environ is None else environ
        home = env.get("HPOGRID_HOME")
        root = Path(home).expanduser() if home else Path.home() / ".hpogrid"
        if root.exists() and not root.is_dir():  # (else every listing says "none yet")
            raise ValidationError("HPOGRID_HOME", f"{root} is not a folder; point HPOGRID_HOME at a folder "
                                  "(it is created if missing)")
        return cls(home=root,
                   study_url=env.get("HPOGRID_STUDY_URL") or None,
                   stale_after_s=_seconds(env, "HPOGRID_STALE_AFTER_S", STALE_AFTER_S),
                   debug=env.get("HPOGRID_DEBUG", "") not in ("", "0"),
                   grid_sync_timeout_s=_seconds(env, "HPOGRID_GRID_SYNC_TIMEOUT_S", 60.0),
                   rse=env.get("HPOGRID_RSE") or None, cric_url=env.get("HPOGRID_CRIC_URL") or None,
                   workdir=Path(env["HPOGRID_WORKDIR"]) if env.get("HPOGRID_WORKDIR") else None,
                   grid_poll_s=_seconds(env, "HPOGRID_GRID_POLL_S", 30.0))


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValidationError(name, f"expected a number of seconds > 0, got {text!r}")
    return value
