"""The in-trial API: what a model function, Trainable or program may ask of hpogrid.

    from hpogrid.trial import annotate, trial_dir, resolve_path
    annotate("n_params", 12345)       # stored with this trial in the study
    trial_dir()                        # this trial's own folder (checkpoints survive --resume)
    checkpoint_dir()                   # <trial folder>/checkpoint: write the checkpoint here
    last_checkpoint()                  # that folder when it holds a file (a retry resumes), else None
    scripts_dir()                      # the project's scripts folder (the trial runs in trial_dir())
    resolve_path("prepare")            # another workflow stage's folder
    save_artifact("model.pt")          # a file kept with the trial: copied, sized, hashed
    if report(epoch, loss=loss):       # one intermediate result; True: the scheduler stops the trial
        break                          # (should_stop() says the same afterwards)

It works the same in every backend (this machine, a Ray cluster, a Slurm job, a grid job):
whoever runs the trial activates it here (:func:`activated`) in the trial's own process,
and a program started for a trial finds it through ``HPOGRID_TRIAL_DIR``. Annotations go to
``annotations.json`` in the trial folder; the run's engine reads them when the trial ends.
A bottom-level module: it imports nothing heavy and no other part of hpogrid but errors.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

from hpogrid.errors import HpogridError

#: environment of programs and stages: the trial's folder and uid, the workflow folder
TRIAL_DIR_ENV = "HPOGRID_TRIAL_DIR"
TRIAL_UID_ENV = "HPOGRID_TRIAL_UID"
WORKFLOW_DIR_ENV = "HPOGRID_WORKFLOW_DIR"
#: the project's scripts folder (on the grid: the job's working directory, with the input
#: dataset's files): set for programs, and for Python trials that run in their trial folder
SCRIPTS_DIR_ENV = "HPOGRID_SCRIPTS_DIR"
#: the trial's checkpoint folder (:func:`checkpoint_dir`), and "1" when the attempt started from
#: a checkpoint (:func:`restored`): set for programs wherever ``HPOGRID_TRIAL_DIR`` is
CHECKPOINT_DIR_ENV = "HPOGRID_CHECKPOINT_DIR"
RESTORED_ENV = "HPOGRID_RESTORED"
CHECKPOINT_DIR = "checkpoint"
#: set for a program objective (model_config ``command``): its result-line prefix, so that
#: :func:`report` in a Python program prints the per-step line hpogrid reads
RESULT_PREFIX_ENV = "HPOGRID_RESULT_PREFIX"
ANNOTATIONS_FILE = "annotations.json"
#: where :func:`save_artifact` keeps files (in the trial folder) and the annotation listing them
ARTIFACTS_DIR = "artifacts"
ARTIFACTS_KEY = "artifacts"

_local = threading.local()
_lock = threading.Lock()


def _current() -> Optional[tuple]:
    found = getattr(_local, "trial", None)
    if found is not None:
        return found
    folder = os.environ.get(TRIAL_DIR_ENV)
    if folder:
        return os.environ.get(TRIAL_UID_ENV) or Path(folder).name, Path(folder)
    return None


@contextlib.contextmanager
def activated(uid: str, folder: Path, runner: Any = None, scripts: Optional[Path] = None) -> Iterator[Path]:
    """Make ``uid`` (in ``folder``) the current trial of this thread while the block runs.
    ``runner``: what :func:`report` reports to (its ``report(metrics)`` returns a decision
    whose ``value`` is "continue" or "stop"; its ``decision`` is the last one). ``scripts``:
    the project's scripts folder (:func:`scripts_dir`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = (getattr(_local, "trial", None), getattr(_local, "runner", None), getattr(_local, "scripts", None),
                getattr(_local, "restored", None))
    _local.trial, _local.runner, _local.scripts = (uid, folder), runner, scripts
    _local.restored = holds_checkpoint(folder)
    try:
        yield folder
    finally:
        _local.trial, _local.runner, _local.scripts, _local.restored = previous


def report(step: int, **metrics: Any) -> bool:
    """Record one intermediate result of the current trial (``step``: the epoch, kept as
    ``step``; the scheduler counts ``training_iteration``, the number of reports). Returns
    True when the trial should stop now (an early-stopping scheduler, or the stop criteria):
    end the training loop, save what you want, and return. In a program objective (a Python
    script run by model_config ``command``) it prints the per-step line ``RESULT step=N:
    {...}`` and returns False: a stopped program gets SIGTERM. Outside a trial run by hpogrid
    (the script run by hand) it records nothing and returns False."""
    runner = getattr(_local, "runner", None)
    if runner is None:
        prefix = os.environ.get(RESULT_PREFIX_ENV)
        if prefix and _current() is not None:  # a program objective: the line is the report
            values = {}
            for key, value in metrics.items():
                try:
                    values[str(key)] = float(value)
                except (TypeError, ValueError):
                    continue
            print(f"{prefix} step={int(step)}: {json.dumps(values)}", flush=True)
        return False
    return runner.report({**metrics, "step": step}).value == "stop"


def should_stop() -> bool:
    """Was the current trial told to stop at its last report?"""
    runner = getattr(_local, "runner", None)
    return runner is not None and runner.decision.value == "stop"


def activate(uid: str, folder: Path, scripts: Optional[Path] = None) -> Path:
    """Like :func:`activated`, for runners that cannot wrap the trial in a block (a Ray
    Trainable's life spans several calls); the next activation replaces it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _local.trial, _local.scripts = (uid, folder), scripts
    _local.restored = holds_checkpoint(folder)
    return folder


def trial_uid() -> str:
    found = _current()
    if found is None:
        raise HpogridError("trial_uid() works only inside a trial run by hpogrid")
    return found[0]


def trial_dir() -> Path:
    """The current trial's own folder (a resumed re-run gets the same one)."""
    found = _current()
    if found is None:
        raise HpogridError("trial_dir() works only inside a trial run by hpogrid")
    return found[1]


def checkpoint_dir() -> Path:
    """The current trial's checkpoint folder, ``<trial folder>/checkpoint`` (created): write
    the checkpoint here (e.g. after each epoch, replacing the last one). A retry of a lost
    attempt and a ``--resume`` run in the same trial folder, so they find it again
    (:func:`last_checkpoint`). Programs get it as ``$HPOGRID_CHECKPOINT_DIR``."""
    found = _current()
    if found is None:
        raise HpogridError("checkpoint_dir() works only inside a trial run by hpogrid")
    folder = found[1] / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def holds_checkpoint(trial_folder: Path) -> bool:
    """Does the trial in ``trial_folder`` have a checkpoint (a file in its checkpoint folder)?"""
    folder = Path(trial_folder) / CHECKPOINT_DIR
    try:
        return any(p.is_file() for p in folder.rglob("*"))
    except OSError:
        return False


def last_checkpoint() -> Optional[Path]:
    """The current trial's checkpoint folder when it holds a file (what an earlier attempt
    saved: load it and go on from there), else None (start from scratch)."""
    found = _current()
    if found is None:
        raise HpogridError("last_checkpoint() works only inside a trial run by hpogrid")
    return found[1] / CHECKPOINT_DIR if holds_checkpoint(found[1]) else None


def restored() -> bool:
    """Did this attempt of the current trial start from a checkpoint (one was there when it
    started)? False for a first attempt, or a retry of one that saved nothing."""
    if getattr(_local, "trial", None) is not None and getattr(_local, "restored", None) is not None:
        return bool(_local.restored)
    if _current() is None:
        raise HpogridError("restored() works only inside a trial run by hpogrid")
    flag = os.environ.get(RESTORED_ENV)
    if flag is not None:
        return flag == "1"
    return last_checkpoint() is not None


def scripts_dir() -> Path:
    """The project's scripts folder, where the model's script and its sibling files are (on
    the grid: the job's working directory, where the input dataset's files are too). A
    trial's working directory is its trial folder, so reach the project's files from here."""
    found = getattr(_local, "scripts", None) if getattr(_local, "trial", None) is not None else None
    if found is None and os.environ.get(SCRIPTS_DIR_ENV):
        found = os.environ[SCRIPTS_DIR_ENV]
    if found is None:
        raise HpogridError("scripts_dir() works only inside a trial run by hpogrid")
    return Path(found)


def annotate(key: str, value: Any) -> None:
    """Store ``key: value`` (JSON data) with the current trial; inspectors read it back."""
    found = _current()
    if found is None:
        raise HpogridError("annotate() works only inside a trial run by hpogrid")
    json.dumps(value)  # fail here, in the trial, if it cannot be stored
    annotate_folder(found[1], str(key), lambda old: value)


def annotate_folder(folder: Path, key: str, update: Callable[[Any], Any]) -> None:
    """Set annotation ``key`` of the trial in ``folder`` to ``update(its value or None)``."""
    path = Path(folder) / ANNOTATIONS_FILE
    with _lock:
        data = read_annotations(folder)
        data[key] = update(data.get(key))
        tmp = path.with_name(f".{ANNOTATIONS_FILE}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)


def annotate_trial(trial: Any, key: str, value: Any) -> None:
    """o2tuner's ``annotate_trial(trial, key, value)``: :func:`annotate` for ``trial``, the trial
    object the objective was given (hpogrid knows which trial runs: the object is not read)."""
    annotate(key, value)


def needs_cwd(fn: Callable) -> Callable:
    """o2tuner's ``@needs_cwd``, kept so its objectives import unchanged: every hpogrid trial
    already runs in its own folder (:func:`trial_dir`), so the function is returned as it is."""
    return fn


def save_artifact(path: str | Path, name: Optional[str] = None) -> Path:
    """Keep the file ``path`` (a model, a plot) with the current trial: copied to
    ``<trial folder>/artifacts/<name>`` (default: the file's own name; saving a name again
    replaces it) and listed, with its size and SHA-256, in the trial's ``artifacts``
    annotation, which ``hpogrid study show PROJECT --trial UID`` and ``report --artifacts``
    print. Returns the kept copy's path."""
    import hashlib
    import shutil

    found = _current()
    if found is None:
        raise HpogridError("save_artifact() works only inside a trial run by hpogrid")
    src = Path(path)
    if not src.is_file():
        raise HpogridError(f"save_artifact: {str(src)!r} is not a file")
    name = src.name if name is None else str(name)
    if name in ("", ".", "..") or name.startswith(".") or any(c in name for c in "/\\\x00"):
        raise HpogridError(f"save_artifact: name {name!r} must be a plain file name (no folder, no leading '.')")
    folder = found[1] / ARTIFACTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / name
    if not (dest.exists() and os.path.samefile(src, dest)):
        tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.part"
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    digest = hashlib.sha256()
    with open(dest, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    record = {"path": f"{ARTIFACTS_DIR}/{name}", "file": str(dest.resolve()), "size": dest.stat().st_size,
              "sha256": digest.hexdigest()}
    path = Path(found[1]) / ANNOTATIONS_FILE
    with _lock:  # as annotate() does: one writer at a time, the file replaced whole
        data = read_annotations(found[1])
        listed = data.get(ARTIFACTS_KEY)
        data[ARTIFACTS_KEY] = {**(listed if isinstance(listed, dict) else {}), name: record}
        tmp = path.with_name(f".{ANNOTATIONS_FILE}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    return dest


def artifacts(annotations: Optional[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """name -> {path, file, size, sha256} of the files a trial kept (its ``artifacts``
    annotation; {} when none)."""
    listed = (annotations or {}).get(ARTIFACTS_KEY)
    if not isinstance(listed, dict):
        return {}
    return {str(k): v for k, v in listed.items() if isinstance(v, dict)}


def read_annotations(folder: Path) -> Dict[str, Any]:
    """What the trial in ``folder`` annotated ({} when nothing)."""
    try:
        data = json.loads((Path(folder) / ANNOTATIONS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def resolve_path(stage: str) -> Path:
    """The working folder of workflow stage ``stage`` (o2tuner's ``resolve_path``)."""
    root = os.environ.get(WORKFLOW_DIR_ENV)
    if not root:
        raise HpogridError("resolve_path() works only inside 'hpogrid workflow run'")
    return Path(root) / stage
