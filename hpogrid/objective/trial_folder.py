"""The trial-folder protocol: how a driver and a trial process that share only a folder talk.

    trial.json       the :class:`~hpogrid.objective.trial_spec.TrialSpec` (the driver writes it)
    progress.jsonl   one line per reported iteration, appended at once (the trial writes it):
                     a trial killed by a time limit still leaves what it reached
    result.json      status, last metrics, history, error, host (the trial writes it last)
    decision.json    the engine's answer to the last report, ``{"iteration": N, "stop": bool,
                     "reason": ...}`` (the driver writes it; only for a spec that ``awaits_decision``:
                     the trial waits for it after each report, so where a trial stops does not
                     depend on how fast the driver polls)
    stdout.log, stderr.log   a Slurm job's own output

The pool workers, Slurm jobs, the grid job's pool and the fake backend use it; under Ray Tune
the trial talks to Tune instead (:mod:`hpogrid.objective._tune`). :class:`FolderReporter`
is the trial's side of the per-iteration path.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from hpogrid.fileio import AppendedLines
from hpogrid.objective.runner import Decision, Reporter, Step
from hpogrid.objective.trial_spec import TrialSpec, json_default

TRIAL_FILE = "trial.json"
RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.jsonl"
DECISION_FILE = "decision.json"
#: seconds a trial waits for the engine's decision before it goes on as if told to continue
#: (a driver that died; its trials are recorded INTERRUPTED and re-run on --resume)
DECISION_WAIT_S = 600.0
#: the job's stdout / stderr (sbatch --output / --error)
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"


def write_json(path: Path, data: Any) -> None:
    """Atomic write: the driver never reads half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=json_default, allow_nan=False))
    os.replace(tmp, path)


def write_spec(spec: TrialSpec) -> Path:
    """``trial.json`` in the spec's folder (created); returns the folder."""
    spec.folder.mkdir(parents=True, exist_ok=True)
    write_json(spec.folder / TRIAL_FILE, spec.to_json())
    return spec.folder


def read_spec(folder: Path) -> TrialSpec:
    return TrialSpec.from_json(json.loads((Path(folder) / TRIAL_FILE).read_text()), Path(folder))


@dataclass(frozen=True)
class TrialResult:
    """What ``result.json`` holds: how the trial ended and what it reported."""

    status: str  # "completed" or "failed"
    history: List[Dict[str, Any]] = field(default_factory=list)
    error: Optional[str] = None
    host: Optional[str] = None
    job_id: Optional[str] = None
    seconds: float = 0.0
    #: define-by-run: the parameters the model used, with their distributions
    params: Optional[Dict[str, Any]] = None
    distributions: Optional[Dict[str, Any]] = None
    #: ended by SIGTERM (Slurm cancelled or preempted its job): the job's end, not the trial's
    #: own failure, so a backend that can run it again (a pool worker lost) does
    terminated: bool = False

    @property
    def metrics(self) -> Dict[str, Any]:
        return self.history[-1] if self.history else {}

    def to_json(self) -> Dict[str, Any]:
        data = {"status": self.status, "metrics": self.metrics, "history": self.history, "error": self.error,
                "host": self.host, "job_id": self.job_id, "seconds": self.seconds}
        if self.params is not None:
            data.update(params=self.params, distributions=self.distributions)
        if self.terminated:
            data["terminated"] = True
        return data


def write_result(folder: Path, result: TrialResult) -> None:
    write_json(Path(folder) / RESULT_FILE, result.to_json())


def clear_result(folder: Path) -> None:
    """Before a trial runs again: the result of the attempt that was lost must not be read."""
    try:
        (Path(folder) / RESULT_FILE).unlink()
    except FileNotFoundError:
        pass


def read_result(trial_dir: Path) -> Optional[Dict[str, Any]]:
    """``result.json`` of a finished trial, ``None`` if it ended before writing it."""
    try:
        return json.loads((Path(trial_dir) / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return None


def read_progress(trial_dir: Path, since: int = 0) -> List[Dict[str, Any]]:
    """The iterations a trial reported before it ended (a torn last line is skipped);
    ``since``: from that byte on (:func:`progress_size` when an attempt started: its own)."""
    try:
        with open(Path(trial_dir) / PROGRESS_FILE, "rb") as fh:
            fh.seek(since)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    return _records(lines)


def progress_size(trial_dir: Path) -> int:
    """Bytes in ``progress.jsonl`` now: every attempt of a trial appends to it."""
    try:
        return (Path(trial_dir) / PROGRESS_FILE).stat().st_size
    except OSError:
        return 0


def _records(lines: Iterable[Union[str, bytes]]) -> List[Dict[str, Any]]:
    """The JSON objects of ``progress.jsonl`` lines (a torn or foreign line is skipped)."""
    out = []
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def write_decision(folder: Path, iteration: int, stop: bool, reason: str = "") -> None:
    """The engine's answer to report ``iteration`` of the trial in ``folder``.

    Written in place, never renamed over: on NFS a job that opens the same file again sees its
    new content (close-to-open consistency), while a name renamed over (or created anew) can
    resolve to the old file, or to none, for as long as the node caches the folder's entries.
    A reader that meets a half-written answer reads it again (:func:`read_decision`: None)."""
    text = json.dumps({"iteration": iteration, "stop": stop, "reason": reason})
    with open(Path(folder) / DECISION_FILE, "w") as f:
        f.write(text)


def clear_decision(folder: Path) -> None:
    """Before a trial (re)starts: an answer left by an earlier attempt must not be read. The
    file stays, answering nothing yet (iteration 0), so the job finds it from the start."""
    write_decision(folder, 0, False, "")


def read_decision(folder: Path) -> Optional[Dict[str, Any]]:
    try:
        data = json.loads((Path(folder) / DECISION_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class ProgressTail:
    """The driver's side of ``progress.jsonl``: the records a trial appended since the last call."""

    def __init__(self, folder: Path):
        path = Path(folder) / PROGRESS_FILE
        try:  # an earlier attempt's lines (a re-run appends to the same file) are not this one's
            offset = path.stat().st_size
        except OSError:
            offset = 0
        self.lines = AppendedLines(path, offset)

    def new(self) -> List[Dict[str, Any]]:
        return _records(self.lines.new())


class FolderReporter(Reporter):
    """Each iteration goes to ``progress.jsonl`` at once. With ``awaits``, the trial then
    waits for the engine's decision (``decision.json``; ``notify`` tells the driver there is
    a report to judge, e.g. through a pool worker's pipe); otherwise it continues (the spec's
    stop criteria are the runner's)."""

    returns_final = False

    def __init__(self, folder: Path, awaits: bool = False, notify: Optional[Callable[[], None]] = None):
        self.folder = Path(folder)
        self.awaits, self.notify = awaits, notify
        self._progress = open(self.folder / PROGRESS_FILE, "a")
        self._count = 0

    def report(self, step: Step) -> Decision:
        self._progress.write(json.dumps(step.record, allow_nan=False) + "\n")
        self._progress.flush()
        self._count += 1
        if not self.awaits:
            return Decision.CONTINUE
        if self.notify is not None:
            self.notify()
        return self._wait(self._count)

    def _wait(self, count: int) -> Decision:
        deadline = time.monotonic() + DECISION_WAIT_S
        pause = 0.0005
        while time.monotonic() < deadline:
            answer = read_decision(self.folder)
            if answer is not None and isinstance(answer.get("iteration"), int) and answer["iteration"] >= count:
                return Decision.STOP if answer.get("stop") else Decision.CONTINUE
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        return Decision.CONTINUE

    def close(self) -> None:
        self._progress.close()
