"""Run ONE trial outside Ray Tune and write its result next to its spec.

    python -m hpogrid.objective.standalone TRIAL_DIR

reads ``TRIAL_DIR/trial.json`` (written by the run engine: scripts folder, model, the merged
and decoded config, metric, stop criteria), runs the objective with the same semantics as
under Ray Tune and writes ``TRIAL_DIR/result.json`` (status, last metrics, per-iteration
history, error text). Each iteration is also appended to ``progress.jsonl`` at once, so a
trial that is killed (a Slurm time limit, scancel) still leaves what it reached. It is the
payload of every Slurm job, and the fake backend calls :func:`run_trial` in-process (one
thread per trial). It needs no network service: no Ray cluster, no database. The trial is
the current one of :mod:`hpogrid.trial` while it runs (``annotate`` works).

Objectives:

* a function ``model(config)`` returning a number or a dict of metrics, or calling
  ``ray.tune.report(metrics)`` per iteration. Outside a Tune session Ray 2.60's
  ``tune.report`` only warns and drops the metrics (it looks up a module-level session), so
  :class:`_Session` stands in for that session: it is put in place the moment Ray's session
  module is imported (or at once if it already is), records each report and ends the
  function when the ``stop`` criteria are met, as Tune would;
* a ``ray.tune.Trainable`` subclass, instantiated standalone (no Ray runtime needed) and
  trained with ``train()`` until ``stop`` (any ``result[key] >= value``) or ``done``;
* a program (``model_config.command``), run through :mod:`hpogrid.objective.program`;
* a define-by-run function ``model(trial)`` or ``model(trial, config)``: ``trial`` is a
  :class:`~hpogrid.objective._define_by_run.DefineByRunTrial` over the values the driver sent,
  and ``result.json`` carries the ``params`` it used with their ``distributions``.
"""
import importlib.abc
import importlib.machinery
import json
import threading
import math
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

TRIAL_FILE = "trial.json"
RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.jsonl"
#: the job's stdout / stderr (sbatch --output / --error)
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"
_RAY_SESSION = "ray.train._internal.session"


class _Stop(BaseException):
    """Raised out of ``tune.report`` once the stop criteria are met (not an error)."""


class _Terminated(BaseException):
    """SIGTERM from Slurm (scancel, time limit): unwind so child programs are killed too."""


def write_json(path: Path, data: Any) -> None:
    """Atomic write: the driver never reads half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=_default, allow_nan=False))
    os.replace(tmp, path)


def read_result(trial_dir: Path) -> Optional[Dict[str, Any]]:
    """``result.json`` of a finished job, ``None`` if the job ended before writing it."""
    try:
        return json.loads((trial_dir / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return None


def read_progress(trial_dir: Path) -> List[Dict[str, Any]]:
    """The iterations a job reported before it ended (a torn last line is skipped)."""
    try:
        lines = (trial_dir / PROGRESS_FILE).read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def _default(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def _scalars(result: Dict[str, Any]) -> Dict[str, Any]:
    """JSON-safe scalar metrics (non-finite floats become None, other types are dropped)."""
    out = {}
    for key, value in result.items():
        if not isinstance(key, str):
            continue
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
    return out


class _Runner:
    """One trial: keeps the history, applies the stop criteria, writes progress lines."""

    def __init__(self, trial_dir: Path, spec: Dict[str, Any]):
        self.dir = trial_dir
        self.spec = spec
        self.metric = spec["metric"]
        #: every objective (a multi-objective run's program prints a RESULT line for each)
        self.objective_metrics = list(spec.get("metrics") or [self.metric])
        self.stop = dict(spec.get("stop") or {})
        self.history: List[Dict[str, Any]] = []
        self.started = time.monotonic()
        #: the define-by-run trial object, when the model takes one
        self.trial: Any = None
        self._progress = open(trial_dir / PROGRESS_FILE, "a")

    def record(self, metrics: Dict[str, Any], auto: bool = True) -> bool:
        """Add one iteration; True when the stop criteria are met."""
        item = _scalars(metrics)
        if auto:  # what Tune adds to each reported result
            item["training_iteration"] = len(self.history) + 1
            item["time_total_s"] = time.monotonic() - self.started
        self.history.append(item)
        self._progress.write(json.dumps(item, allow_nan=False) + "\n")
        self._progress.flush()
        return any(isinstance(item.get(k), (int, float)) and item[k] >= v for k, v in self.stop.items())

    def run(self) -> None:
        spec = self.spec
        if spec.get("command"):
            return self._run_program()
        from hpogrid.objective._loader import is_trainable_class, load_model

        _install_session()
        _RUNNERS.current = self
        obj = load_model(spec["scripts_dir"], spec["script"], spec["model"])
        if spec.get("define_by_run") is not None:
            return self._run_define_by_run(obj)
        if is_trainable_class(obj):
            return self._run_trainable(obj)
        return self._run_function(obj)

    def _run_define_by_run(self, fn) -> None:
        from hpogrid.objective._define_by_run import DefineByRunTrial, is_define_by_run, wants_config

        if not is_define_by_run(fn):
            raise TypeError(f"{self.spec['model']}() does not take a trial (its first parameter is not named "
                            "'trial') but the run searches it define-by-run")
        dbr = self.spec["define_by_run"]
        self.trial = DefineByRunTrial(dbr.get("values") or {}, dbr.get("distributions") or {}, int(dbr["seed"]),
                                      uid=self.spec.get("uid", ""), reporter=report_metric)
        args = (self.trial, dict(self.spec.get("config") or {})) if wants_config(fn) else (self.trial,)
        self._run_function(fn, args)

    def _run_function(self, fn, args=None) -> None:
        from hpogrid.objective._wrap import as_metrics

        result = fn(*(args or (dict(self.spec["config"]),)))
        if result is None:
            if not self.history:
                raise TypeError(f"{self.spec['model']}() returned None and reported nothing; return a "
                                "number, a dict of metrics, or report them with ray.tune.report")
            return
        metrics = as_metrics(result, self.metric, self.spec["model"])
        value = metrics.get(self.metric)
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{self.spec['model']}() returned NaN for metric '{self.metric}'")
        self.record(metrics)

    def _run_trainable(self, cls) -> None:
        workdir = self.dir / "trainable"

        class InTrialDir(cls):
            # Trainable's default log folder is ~/ray_results/<date>: keep it in the trial folder
            def _setup_logdir(self):
                workdir.mkdir(exist_ok=True)
                self._logdir = str(workdir)

        InTrialDir.__name__ = cls.__name__
        trainable = InTrialDir(config=dict(self.spec["config"]))
        try:
            while True:
                result = trainable.train()
                if self.record(result, auto=False) or result.get("done"):
                    return
        finally:
            trainable.stop()

    def _run_program(self) -> None:
        from hpogrid.objective import program

        spec = self.spec
        # a Slurm job's own stdout.log / stderr.log stay apart from the program's
        workdir = self.dir / "program" if spec.get("program_subdir") else self.dir
        argv = program.build_argv(program.parse_command(spec["command"]), spec["values"], spec["order"],
                                  workdir, Path(spec["scripts_dir"]))
        # the trial folder (where annotate() writes and the engine reads) and its config, as under Ray
        env = program.environment(spec["values"], self.dir, Path(spec["scripts_dir"]))
        env["HPOGRID_TRIAL_UID"] = spec.get("uid") or self.dir.name
        env["HPOGRID_CONFIG"] = json.dumps(spec.get("program_config") or {})
        try:
            metrics = program.run_program(argv, env, workdir, spec.get("timeout"),
                                          spec.get("result_prefix", "RESULT"), self.objective_metrics)
        except program.TrialFailed as exc:
            raise RuntimeError(str(exc)) from None
        self.record(metrics)

    def close(self) -> None:
        self._progress.close()


#: the trial each thread runs (the fake backend runs several trials of one process in threads)
_RUNNERS = threading.local()


class _Session:
    """Stands in for Ray Tune's function session (``tune.report`` & co.) of the thread's trial."""

    loaded_checkpoint = None
    trial_resources = None
    world_rank = None  # as in a Tune session (Ray tells Tune and Train sessions apart by it)
    world_size, local_rank, local_world_size, node_rank = 1, 0, 1, 0
    metadata: Dict[str, Any] = {}

    @property
    def _runner(self) -> "_Runner":
        return _RUNNERS.current

    @property
    def trial_id(self) -> str:
        return self._runner.spec.get("uid", "")

    trial_name = trial_id

    @property
    def experiment_name(self) -> str:
        return self._runner.spec.get("study", "")

    run_id = experiment_name

    @property
    def trial_dir(self) -> str:
        return str(self._runner.dir)

    def report(self, metrics: Dict[str, Any], checkpoint: Any = None) -> None:
        if not isinstance(metrics, dict):
            raise TypeError(f"tune.report expects a dict of metrics (got {type(metrics).__name__})")
        if self._runner.record(metrics):
            raise _Stop()


class _SessionHook(importlib.abc.MetaPathFinder):
    """Puts :class:`_Session` into Ray's session module right after Python imports it."""

    def __init__(self, session: _Session):
        self.session = session

    def find_spec(self, name, path, target=None):
        if name != _RAY_SESSION:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        session, run = self.session, spec.loader.exec_module

        def exec_module(module):
            run(module)
            module._session = session

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]  # (wraps the loader of Ray's module)
        return spec


_SESSION = _Session()


def _install_session() -> None:
    module = sys.modules.get(_RAY_SESSION)
    if module is not None:
        setattr(module, "_session", _SESSION)
    elif not any(isinstance(f, _SessionHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _SessionHook(_SESSION))


def report_metric(value: float) -> None:
    """One intermediate value of the study metric from the thread's trial (``trial.report``)."""
    runner = getattr(_RUNNERS, "current", None)
    if runner is not None and runner.record({runner.metric: value}):
        raise _Stop()


def _on_sigterm(signum, frame):
    raise _Terminated()


def run_trial(trial_dir: Path) -> int:
    """Run the trial of ``trial_dir``; 0 when it completed, 1 when it failed."""
    from hpogrid.trial import activated

    trial_dir = Path(trial_dir)
    spec = json.loads((trial_dir / TRIAL_FILE).read_text())
    scripts = spec.get("scripts_dir")
    if scripts and scripts not in sys.path:
        sys.path.insert(0, scripts)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    runner = _Runner(trial_dir, spec)
    status, error = "completed", None
    try:
        with activated(spec.get("uid") or trial_dir.name, Path(spec.get("folder") or trial_dir)):
            runner.run()
    except _Stop:
        pass
    except _Terminated:
        status, error = "failed", "terminated by SIGTERM (Slurm cancelled the job or it ran out of time)"
    except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything, SystemExit too
        from hpogrid.errors import HpogridError

        status = "failed"
        error = str(exc) if isinstance(exc, HpogridError) else traceback.format_exc().strip()
    finally:
        runner.close()
    result = {
        "status": status, "metrics": runner.history[-1] if runner.history else {},
        "history": runner.history, "error": error, "host": socket.gethostname(),
        "job_id": os.environ.get("SLURM_JOB_ID"), "seconds": time.monotonic() - runner.started,
    }
    if runner.trial is not None:  # define-by-run: what the model used (also when it failed)
        result.update(params=runner.trial.params, distributions=runner.trial.distributions)
    write_json(trial_dir / RESULT_FILE, result)
    return 0 if status == "completed" else 1


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m hpogrid.objective.standalone TRIAL_DIR\n")
        return 2
    return run_trial(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())


def write_trial_spec(folder: Path, *, uid: str, study: str, project, codec, metric: str, mode: str,
                     stop: Dict[str, Any], values: Dict[str, Any], config: Optional[Dict[str, Any]],
                     program_subdir: bool = False, metrics: Sequence[str] = ()) -> Path:
    """Write ``folder/trial.json`` for :func:`run_trial`: the project's model with this trial's
    values (``config``: the searcher's latent values; None for a re-run of stored ``values``)."""
    from hpogrid.objective._substitute import apply_values
    from hpogrid.objective._wrap import custom_updates, trial_config
    from hpogrid.search import RERUN_KEY

    model = project.model_config
    folder.mkdir(parents=True, exist_ok=True)
    spec: Dict[str, Any] = {"uid": uid, "study": study, "scripts_dir": str(project.scripts_dir),
                            "metric": metric, "mode": mode, "stop": dict(stop or {}), "values": values,
                            "order": list(codec.encodings), "folder": str(folder)}
    if len(metrics) > 1:
        spec["metrics"] = list(metrics)
    if model.get("command"):
        spec.update(command=model["command"], timeout=model.get("timeout"),
                    result_prefix=model.get("result_prefix") or "RESULT", program_subdir=program_subdir,
                    program_config=json.loads(json.dumps(apply_values(model.get("param") or {}, values),
                                                         default=_default)))
    elif getattr(codec, "define_by_run", False):
        from hpogrid.search.define_by_run import SEED_KEY, trial_seed

        dists = codec.distributions
        seed = trial_seed(uid, (config or {}).get(SEED_KEY))
        spec.update(script=model["script"], model=model["model"], config=dict(model.get("param") or {}),
                    define_by_run={"values": values, "seed": seed,
                                   "distributions": {n: dists[n] for n in values if n in dists}})
    else:
        latent = config if config is not None else {RERUN_KEY: {"uid": uid, "values": values}}
        spec.update(script=model["script"], model=model["model"],
                    config=json.loads(json.dumps(trial_config(
                        model.get("param") or {}, codec, latent,
                        custom_updates(str(project.scripts_dir), model["script"])), default=_default)))
    write_json(folder / TRIAL_FILE, spec)
    return folder
