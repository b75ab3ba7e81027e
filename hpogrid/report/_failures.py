"""What failed where: a study's failures and lost attempts grouped by place and by error class.

Two kinds of event are counted: a trial that ended FAILED (where it last ran: its grid site,
else its Slurm node, else its host) and an attempt lost before the trial finished (the
annotation ``attempts``: one entry per attempt the engine retried, with its reason and where
it ran). An error's class is its first line (a traceback's last line, the exception) with
what differs between occurrences of the same fault replaced: the trial's uid, uuids, paths,
hex ids and numbers, so "CUDA out of memory on /scratch/job123/..." on two nodes is one class.

The terminal table (``hpogrid report --failures``), its JSON, the HTML report and the
dashboard all render :func:`failure_digest`'s one value.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from hpogrid.study import FAILED, TrialRecord
from hpogrid.study.records import ATTEMPTS

#: characters of an error class at most
CLASS_CHARS = 160
_KINDS = ("site", "node", "host")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_PATH = re.compile(r"(?<![\w.:/])(?:~|\.{1,2})?/[^\s'\"`,;()\[\]{}<>]+")
_HEX = re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I)
_NUMBER = re.compile(r"(?<![A-Za-z_<])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.I)
_SPACES = re.compile(r"\s+")


def error_class(text: Optional[str], uid: Optional[str] = None) -> str:
    """The normalised first line of ``text`` (a traceback: its last line, the exception)."""
    from hpogrid.engine import clean_error

    lines = [ln.strip() for ln in (clean_error(text) or "").splitlines() if ln.strip()]
    if not lines:
        return "(no error text)"
    line = lines[-1] if lines[0].startswith("Traceback (most recent call last)") else lines[0]
    line = _PATH.sub("<path>", line)
    if uid:
        line = line.replace(uid, "<uid>")
    line = _UUID.sub("<uid>", line)
    line = _HEX.sub("<hex>", line)
    line = _NUMBER.sub("<n>", line)
    line = _SPACES.sub(" ", line).strip()
    return line if len(line) <= CLASS_CHARS else line[:CLASS_CHARS - 3] + "..."


def _place(where: Any) -> Tuple[str, str]:
    """(kind, name) of an attempt's ``where`` ({"site"|"node"|"host": name})."""
    if isinstance(where, dict):
        for kind in _KINDS:
            if where.get(kind):
                return kind, str(where[kind])
    return "host", "(unknown)"


def _trial_place(t: TrialRecord) -> Tuple[str, str]:
    if t.site:
        return "site", t.site
    if t.host:
        return ("node" if t.backend == "slurm" else "host"), t.host
    return "host", "(unknown)"


@dataclass(frozen=True)
class Event:
    """One failure: a trial that ended FAILED (``lost`` False) or one lost attempt of it."""

    number: int
    kind: str
    where: str
    error: str
    lost: bool


def events(trials: Iterable[TrialRecord]) -> List[Event]:
    out: List[Event] = []
    for t in trials:
        for a in (t.annotations or {}).get(ATTEMPTS) or []:
            # the attempt a trial ended with is the trial's own failure (counted below), not a lost one
            if isinstance(a, dict) and not a.get("final"):
                kind, where = _place(a.get("where"))
                text = a.get("error") or a.get("reason")
                out.append(Event(t.number, kind, where, error_class(text if isinstance(text, str) else None, t.uid),
                                 True))
        if t.state == FAILED:
            kind, where = _trial_place(t)
            out.append(Event(t.number, kind, where, error_class(t.error, t.uid), False))
    return out


@dataclass
class Group:
    """Events sharing a place (``key`` "site ANALY_X") or an error class."""

    key: str
    failed: int = 0
    lost_attempts: int = 0
    trials: List[int] = field(default_factory=list)
    #: the other grouping's keys seen in this group (the places of a class, the classes of a place)
    seen: List[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.failed + self.lost_attempts


@dataclass
class Digest:
    """A study's failures by place and by error class, most frequent first."""

    by_place: List[Group]
    by_error: List[Group]
    failed: int
    lost_attempts: int

    @property
    def empty(self) -> bool:
        return not (self.failed or self.lost_attempts)

    def as_dict(self) -> Dict[str, Any]:
        def rows(groups: Sequence[Group], key: str, other: str) -> List[Dict[str, Any]]:
            out = []
            for g in groups:
                row = asdict(g)
                row[key] = row.pop("key")
                row[other] = row.pop("seen")
                out.append(row)
            return out
        return {"failed": self.failed, "lost_attempts": self.lost_attempts,
                "by_place": rows(self.by_place, "where", "errors"),
                "by_error": rows(self.by_error, "error", "where")}


def _group(evs: Sequence[Event], key, other) -> List[Group]:
    groups: Dict[str, Group] = {}
    for ev in evs:
        g = groups.setdefault(key(ev), Group(key(ev)))
        if ev.lost:
            g.lost_attempts += 1
        else:
            g.failed += 1
        if ev.number not in g.trials:
            g.trials.append(ev.number)
        if other(ev) not in g.seen:
            g.seen.append(other(ev))
    for g in groups.values():
        g.trials.sort()
    return sorted(groups.values(), key=lambda g: (-g.total, g.key))


def failure_digest(trials: Iterable[TrialRecord]) -> Digest:
    evs = events(trials)
    place = lambda ev: f"{ev.kind} {ev.where}"  # noqa: E731
    error = lambda ev: ev.error  # noqa: E731
    return Digest(by_place=_group(evs, place, error), by_error=_group(evs, error, place),
                  failed=sum(not ev.lost for ev in evs), lost_attempts=sum(ev.lost for ev in evs))


def numbers_text(numbers: Sequence[int], most: int = 20) -> str:
    """``1-3, 7, 9`` (runs of consecutive trial numbers joined; ``...`` past ``most`` runs)."""
    runs: List[List[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:most])
    return text + (", ..." if len(runs) > most else "")


#: the two tables' headers (terminal, HTML and dashboard)
PLACE_HEADERS = ["where", "failed", "lost attempts", "trials", "error classes"]
ERROR_HEADERS = ["error class", "failed", "lost attempts", "trials", "where"]


def digest_tables(digest: Digest) -> Tuple[List[List[Any]], List[List[Any]]]:
    """(rows by place, rows by error class), in :data:`PLACE_HEADERS` / :data:`ERROR_HEADERS` order."""
    def rows(groups: Sequence[Group]) -> List[List[Any]]:
        return [[g.key, g.failed, g.lost_attempts, numbers_text(g.trials),
                 "; ".join(g.seen[:3]) + (f"; +{len(g.seen) - 3} more" if len(g.seen) > 3 else "")]
                for g in groups]
    return rows(digest.by_place), rows(digest.by_error)
