"""One trial runner for every model kind and every backend; a small reporter seam to the engine.

:class:`TrialRunner` runs a :class:`~hpogrid.objective.trial_spec.TrialSpec`: it makes the
trial the current one of :mod:`hpogrid.trial`, runs the model's kind (function, Trainable
class, program, define-by-run), records each intermediate result (:meth:`TrialRunner.report`:
history, the spec's stop criteria) and ends with the final result. Where the results go, and
where a decision about the trial comes back from, is the :class:`Reporter`:

* :class:`~hpogrid.objective.trial_folder.FolderReporter`: ``progress.jsonl`` in the trial
  folder (pool workers, Slurm jobs, a grid job's pool, the fake backend);
* the Tune reporter (:mod:`hpogrid.objective._tune`): ``ray.tune.report``; the final result
  is the trainable's return value (a function that returns frees its Ray worker sooner).

A Python model (function, Trainable class, define-by-run) runs with its trial folder as the
working directory (:func:`in_trial_folder`), as a program and a Slurm job do, so relative
files of trials running at once never meet; ``HPOGRID_SCRIPTS_DIR`` (and
:func:`hpogrid.trial.scripts_dir`) say where the project's files are. The one exception is a
runner told not to (``workdir=False``: the fake backend, whose trials are threads of the
driver's process, where the working directory is the whole process's).

Every report returns a :class:`Decision`: STOP when the spec's stop criteria are met or the
reporter says so (the engine's early-stopping scheduler answers through the trial folder:
:class:`~hpogrid.objective.trial_folder.FolderReporter`). A model
learns it as Ray's function API does (``tune.report`` / ``trial.report`` end the model's
function when the trial stops), a Trainable as the end of its ``train()`` loop.
"""
from __future__ import annotations

import contextlib
import enum
import math
import numbers
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from hpogrid.objective.model import ModelKind
from hpogrid.objective.trial_spec import TrialSpec


class Decision(enum.Enum):
    """What a trial does after an intermediate result."""

    CONTINUE = "continue"
    STOP = "stop"


@dataclass(frozen=True)
class Step:
    """One intermediate result of a trial."""

    #: 1, 2, ... (the runner's count of reports)
    iteration: int
    #: what the model reported (JSON-safe scalars)
    metrics: Dict[str, Any]
    #: the history line: ``metrics`` plus what Tune adds to a result (``training_iteration``,
    #: ``time_total_s``) when the model did not say them itself
    record: Dict[str, Any]


class Reporter(ABC):
    """Where a trial's results go, and where the decision about it comes from."""

    #: the model's final result is returned by :meth:`TrialRunner.run` (:meth:`final`), not
    #: reported as one more iteration
    returns_final: bool = False

    def start(self, runner: "TrialRunner") -> None:
        """The trial starts (``runner``: its spec, and a define-by-run trial's ``trial``)."""

    @abstractmethod
    def report(self, step: Step) -> Decision:
        """One intermediate result; the answer says whether the trial goes on."""

    def final(self, runner: "TrialRunner", metrics: Dict[str, Any]) -> Dict[str, Any]:
        """The final result as :meth:`TrialRunner.run` returns it (``returns_final`` only)."""
        return metrics

    def close(self) -> None:
        """The trial is over."""


class StopTrial(BaseException):
    """Raised out of a report in the model's code once the decision is STOP (not an error)."""


def scalars(result: Mapping[str, Any], notes: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """JSON-safe scalar metrics: other types are dropped; a number that is not a finite float
    (NaN, infinity, an integer beyond a float's range) becomes None, and ``notes`` (when
    given) learns which and why."""
    from hpogrid.study.records import not_a_float

    out = {}
    for key, value in result.items():
        if not isinstance(key, str):
            continue
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:
            value = value.item()
        why = not_a_float(value)
        if why is not None:
            if notes is not None:
                notes[key] = why
            value = None
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
    return out


def as_metrics(result: Any, metric: str, model: str) -> Dict[str, Any]:
    """A model's return value as metrics: a dict as it is, a number as ``{metric: value}``."""
    if isinstance(result, Mapping):
        return dict(result)
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        return {metric: float(result)}
    raise TypeError(f"{model}() returned {type(result).__name__}; return a number, a dict of "
                    "metrics, or report them with ray.tune.report")


def enter_trial_folder(folder: Path, scripts: Path) -> None:
    """Make ``folder`` this process's working directory and tell the trial where the project's
    scripts are (``HPOGRID_SCRIPTS_DIR``). The scripts folder is on ``sys.path`` (put there first), so
    the model's sibling modules import as before."""
    import sys

    from hpogrid.trial import SCRIPTS_DIR_ENV

    scripts = Path(os.path.abspath(scripts))
    if str(scripts) not in sys.path:
        sys.path.insert(0, str(scripts))
    os.environ[SCRIPTS_DIR_ENV] = str(scripts)
    os.chdir(folder)


@contextlib.contextmanager
def in_trial_folder(folder: Path, scripts: Path) -> Iterator[None]:
    """:func:`enter_trial_folder` while the block runs; the working directory and
    ``HPOGRID_SCRIPTS_DIR`` are restored after it (a pool worker takes the next trial)."""
    from hpogrid.trial import SCRIPTS_DIR_ENV

    old_cwd, old_env = os.getcwd(), os.environ.get(SCRIPTS_DIR_ENV)
    enter_trial_folder(folder, scripts)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        if old_env is None:
            os.environ.pop(SCRIPTS_DIR_ENV, None)
        else:
            os.environ[SCRIPTS_DIR_ENV] = old_env


def absolute(spec: TrialSpec) -> TrialSpec:
    """``spec`` with its trial folder and scripts folder as absolute paths."""
    from dataclasses import replace

    model = replace(spec.model, scripts_dir=Path(os.path.abspath(spec.model.scripts_dir)))
    return replace(spec, folder=Path(os.path.abspath(spec.folder)), model=model)


class TrialRunner:
    """Runs one trial (see the module docstring). :meth:`run` raises what the model raised.
    ``workdir``: run a Python model in its trial folder (False only where trials share the
    driver's process: the fake backend)."""

    def __init__(self, spec: TrialSpec, reporter: Reporter, workdir: bool = True):
        if workdir:  # paths that still hold once the working directory is the trial folder
            spec = absolute(spec)
        self.spec, self.reporter, self.workdir = spec, reporter, workdir
        self.history: List[Dict[str, Any]] = []
        self.started = time.monotonic()
        self.decision = Decision.CONTINUE
        #: a define-by-run model's trial object (what it used: ``trial.params``)
        self.trial: Any = None

    def _not_stored(self, dropped: Dict[str, str]) -> None:
        """Note with the trial (annotation ``metrics_not_stored``) the metrics stored empty."""
        from hpogrid.study.records import METRICS_NOT_STORED
        from hpogrid.trial import annotate_folder

        try:
            annotate_folder(self.spec.folder, METRICS_NOT_STORED,
                            lambda old: {**(old if isinstance(old, dict) else {}), **dropped})
        except OSError:
            pass  # (the note is lost, never the trial)

    # -- the per-iteration path -----------------------------------------------------------
    def report(self, metrics: Mapping[str, Any], auto: bool = True) -> Decision:
        """Record one intermediate result; STOP when the reporter says so or the stop
        criteria are met. ``auto``: add Tune's ``training_iteration`` and ``time_total_s``."""
        dropped: Dict[str, str] = {}
        item = scalars(metrics, dropped)
        if dropped:  # the trial says so: the driver stores the note with it
            self._not_stored(dropped)
        step_metrics = dict(item)
        if auto:
            item["training_iteration"] = len(self.history) + 1
            item["time_total_s"] = time.monotonic() - self.started
        self.history.append(item)
        decision = self.reporter.report(Step(len(self.history), step_metrics, item))
        if any(isinstance(item.get(k), (int, float)) and item[k] >= v for k, v in self.spec.stop.items()):
            decision = Decision.STOP
        self.decision = decision
        return decision

    def report_or_stop(self, metrics: Mapping[str, Any]) -> None:
        """:meth:`report` from inside the model's code: ends it (:class:`StopTrial`) on STOP."""
        if self.report(metrics) is Decision.STOP:
            raise StopTrial()

    # -- running ---------------------------------------------------------------------------
    def run(self) -> Optional[Dict[str, Any]]:
        """Run the model; the final result where the reporter ``returns_final`` (else None)."""
        from hpogrid.trial import activated

        spec = self.spec
        with activated(spec.uid, spec.folder, self, scripts=spec.model.scripts_dir) as folder, \
                (in_trial_folder(folder, spec.model.scripts_dir) if self.workdir else contextlib.nullcontext()):
            self.reporter.start(self)
            try:
                kind = spec.model.kind
                if kind is ModelKind.PROGRAM:
                    metrics, final = self._run_program()
                    if not final:  # stopped, or only per-step lines: the last step is the result
                        return self.reporter.final(self, metrics) if self.reporter.returns_final else None
                    return self._finish(metrics)
                if kind is ModelKind.TRAINABLE:
                    self._run_trainable(spec.model.load())
                    return None
                return self._run_function(spec.model.load())
            except StopTrial:
                return None

    def _finish(self, metrics: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        value = metrics.get(self.spec.metric)
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{self.spec.model.name}() returned NaN for metric '{self.spec.metric}'")
        if self.reporter.returns_final:
            return self.reporter.final(self, metrics)
        if self.decision is Decision.STOP and self.history:
            return None  # stopped (hpogrid.trial.report): the last report is the trial's result
        self.report(metrics)
        return None

    def _run_function(self, fn) -> Optional[Dict[str, Any]]:
        spec, name = self.spec, self.spec.model.name
        if spec.model.kind is ModelKind.DEFINE_BY_RUN:
            from hpogrid.objective._define_by_run import DefineByRunTrial, wants_config

            self.trial = DefineByRunTrial(dict(spec.values), dict(spec.distributions), int(spec.seed or 0),
                                          uid=spec.uid, reporter=lambda value: self.report_or_stop({spec.metric: value}),
                                          stopped=lambda: self.decision is Decision.STOP)
            args = (self.trial, dict(spec.config)) if wants_config(fn) else (self.trial,)
        else:
            args = (dict(spec.config),)
        result = fn(*args)
        if result is None:
            if not self.history and not self.reporter.returns_final:
                raise TypeError(f"{name}() returned None and reported nothing; return a number, a dict of "
                                "metrics, or report them with ray.tune.report")
            return None
        return self._finish(as_metrics(result, spec.metric, name))

    def _run_trainable(self, cls) -> None:
        """A Trainable class outside Ray Tune: ``train()`` until STOP or ``done`` (under Tune,
        Tune drives the class: :mod:`hpogrid.objective._tune`)."""
        workdir = self.spec.folder / "trainable"

        class InTrialDir(cls):
            # Trainable's default log folder is ~/ray_results/<date>: keep it in the trial folder
            def _setup_logdir(self):
                workdir.mkdir(exist_ok=True)
                self._logdir = str(workdir)

        InTrialDir.__name__ = cls.__name__
        trainable = InTrialDir(config=dict(self.spec.config))
        try:
            restore_trainable(trainable, self.spec.folder)
            while True:
                result = trainable.train()
                save_trainable(trainable, self.spec.folder)
                if self.report(result, auto=False) is Decision.STOP or result.get("done"):
                    return None
        finally:
            trainable.stop()

    def _run_program(self) -> Tuple[Dict[str, Any], bool]:
        """Run the program; its per-step lines are this trial's reports (a STOP decision ends
        the program: SIGTERM, SIGKILL after model_config ``stop_grace``)."""
        import json

        from hpogrid.objective import program
        from hpogrid.objective.trial_spec import json_default
        from hpogrid.trial import RESULT_PREFIX_ENV, TRIAL_UID_ENV

        spec, model = self.spec, self.spec.model
        # a Slurm job's own stdout.log / stderr.log stay apart from the program's
        workdir = spec.folder / "program" if spec.program_subdir else spec.folder
        argv = program.parse_command(model.command or "")
        args = program.build_argv(argv, spec.values, list(spec.order), workdir, model.scripts_dir)
        # the trial folder (where annotate() writes and the engine reads) and its config
        env = program.environment(spec.values, spec.folder, model.scripts_dir)
        env[TRIAL_UID_ENV] = spec.uid
        env[RESULT_PREFIX_ENV] = model.result_prefix  # hpogrid.trial.report prints its step lines
        env["HPOGRID_CONFIG"] = json.dumps(dict(spec.config), default=json_default)
        return program.run_program(args, env, workdir, model.timeout, model.result_prefix, list(spec.objectives),
                                   on_step=lambda item: self.report(item) is Decision.STOP,
                                   stop_grace=model.stop_grace)


#: a Trainable's ``save_checkpoint`` that returns a dict: it is kept in the checkpoint folder as
TRAINABLE_STATE = "trainable_state.pkl"


def _saves(trainable: Any) -> bool:
    """Does the Trainable class define its own ``save_checkpoint`` (Ray's own saves nothing)?"""
    owner = next((k for k in type(trainable).__mro__ if "save_checkpoint" in vars(k)), None)
    return owner is not None and not owner.__module__.startswith("ray.")


def save_trainable(trainable: Any, trial_folder: Path) -> None:
    """After each step, a Trainable that defines ``save_checkpoint`` saves into the trial's
    checkpoint folder (:func:`hpogrid.trial.checkpoint_dir`); a returned dict is pickled there."""
    if not _saves(trainable):
        return
    import pickle

    from hpogrid.trial import CHECKPOINT_DIR

    folder = Path(trial_folder) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    state = trainable.save_checkpoint(str(folder))
    if isinstance(state, dict):
        tmp = folder / f".{TRAINABLE_STATE}.tmp"
        tmp.write_bytes(pickle.dumps(state))
        os.replace(tmp, folder / TRAINABLE_STATE)


def restore_trainable(trainable: Any, trial_folder: Path) -> None:
    """Before its first step, a Trainable whose trial has a checkpoint (an earlier attempt's)
    loads it (``load_checkpoint`` gets the dict it returned, or the folder)."""
    from hpogrid.trial import CHECKPOINT_DIR, holds_checkpoint

    if not _saves(trainable) or not holds_checkpoint(trial_folder):
        return
    import pickle

    folder = Path(trial_folder) / CHECKPOINT_DIR
    state = folder / TRAINABLE_STATE
    trainable.load_checkpoint(pickle.loads(state.read_bytes()) if state.is_file() else str(folder))
