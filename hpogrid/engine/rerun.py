"""What a resumed run is asked to do again: ``--rerun``, ``--rerun-failed``, ``--no-backup``.

Apart from :mod:`hpogrid.engine.resume` (which settles the study) so that the run options can
name these values without importing the engine that acts on them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet, Tuple

from hpogrid.errors import ValidationError
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, TrialState

#: states ``--rerun`` may name (RUNNING/PENDING trials of a dead run become INTERRUPTED first)
RERUN_STATES = (FAILED, INTERRUPTED, COMPLETED)


@dataclass(frozen=True)
class RerunSelection:
    """Which finished trials a resumed run runs again: every trial in ``states``, and the
    trials ``uids`` whatever their state (helios' ``failed_states``, plus chosen trials)."""

    states: FrozenSet[TrialState] = frozenset()
    uids: Tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, field: str = "--rerun") -> "RerunSelection":
        """``FAILED,INTERRUPTED`` / ``COMPLETED`` / ``uid1,uid2`` (mixed allowed). A word of
        letters only is a state (any case); anything else is a trial uid."""
        states, uids = set(), []
        items = [item.strip() for item in text.split(",")]
        if not any(items):
            raise ValidationError(field, f"name states ({', '.join(RERUN_STATES)}) or trial uids, "
                                         "separated by commas")
        if "" in items:  # "FAILED,,uid": one line, never a silent drop
            raise ValidationError(field, f"an empty entry in {text!r}; name states or trial uids, "
                                         "separated by single commas")
        for item in items:
            if re.fullmatch(r"[A-Za-z]+", item):
                state = item.upper()
                if state not in RERUN_STATES:
                    raise ValidationError(field, f"{item!r} is not a state trials can be re-run from; choose "
                                          f"from {', '.join(RERUN_STATES)}, or give trial uids")
                states.add(TrialState(state))
            else:
                uids.append(item)
        return cls(frozenset(states), tuple(dict.fromkeys(uids)))

    def __or__(self, other: "RerunSelection") -> "RerunSelection":
        return RerunSelection(self.states | other.states, tuple(dict.fromkeys(self.uids + other.uids)))

    def __bool__(self) -> bool:
        return bool(self.states or self.uids)


@dataclass(frozen=True)
class ResumeRequest:
    """What ``--resume`` asks of the study: the finished trials to run again, and whether the
    study is copied to a backup first (:meth:`hpogrid.engine.options.RunOptions.resume_request`)."""

    rerun: RerunSelection = RerunSelection()
    backup: bool = True
