"""Typed values between the CLI, the engine and the backends.

:class:`RunOptions` is what a command line asks for (the same on every backend; a backend's
own knobs live in ``extra``-style subclasses such as the Slurm backend's). :class:`RunSpec` is
the project's hpo_config with those overrides applied, frozen: the one place that says what a
run optimises and when it stops. :class:`RunSummary` is what a run returns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple

from hpogrid.budgets import FIELDS as RULE_FIELDS, StopRules, merged
from hpogrid.errors import ValidationError
from hpogrid.objectives import Objectives
from hpogrid.settings import Settings

if TYPE_CHECKING:
    from hpogrid.engine.rerun import RerunSelection, ResumeRequest


@dataclass
class RunOptions:
    """Command-line overrides of the project's hpo_config, shared by every backend."""

    trials: Optional[int] = None
    algorithm: Optional[str] = None
    #: trials running at once (overrides hpo_config scheduler_param max_concurrent)
    n_jobs: Optional[int] = None
    seed: Optional[int] = None
    #: Ray cluster address (the Ray backend only)
    address: Optional[str] = None
    study_url: Optional[str] = None
    study: Optional[str] = None
    #: failed trials tolerated before the run stops (overrides hpo_config max_failures)
    max_failures: Optional[int] = None
    #: times a lost trial runs again in the run (overrides hpo_config max_retries)
    max_retries: Optional[int] = None
    progress: bool = True
    resume: bool = False
    rerun_failed: bool = False
    #: with ``resume``: finished trials to run again (states and/or uids; ``--rerun``)
    rerun: Optional["RerunSelection"] = None
    backup: bool = True
    #: a study (of this run's store) or a project whose completed trials the searcher is told
    #: before it proposes anything (``--warm-start``)
    warm_start: Optional[str] = None
    #: the HPOGRID_* settings, read once at the CLI edge (None: read them now)
    settings: Optional[Settings] = None
    #: evaluate exactly these (uid, values) and ask the searcher nothing (a grid job of a
    #: central search evaluates the points the driver sent with its task)
    points: Optional[List[Tuple[str, Dict[str, Any]]]] = None
    # -- budgets and stop rules (README "Budgets and stop rules"), over the hpo_config's --
    #: no new trial after this wall clock of the run (``90m``, ``12h``, ``2d``)
    timeout: Optional[str] = None
    #: at the timeout: ``drain`` (running trials finish) or ``stop`` them
    timeout_action: Optional[str] = None
    #: CPU-/GPU-hours of the whole study (``200gpu-h``, ``10cpu-h,200gpu-h``)
    max_cost: Optional[str] = None
    #: a value to reach (several objectives: a reference point to dominate, ``0.1,0.5``)
    target: Optional[str] = None
    #: completed trials without an improvement of the best by more than ``min_delta``
    patience: Optional[int] = None
    min_delta: Optional[float] = None
    #: the clock the stop rules read (seconds; default ``time.monotonic``): tests inject one
    clock: Optional[Callable[[], float]] = None

    def resolved_settings(self) -> Settings:
        return self.settings or Settings.from_env()

    def resume_request(self) -> ResumeRequest:
        """``--rerun`` and ``--rerun-failed`` (every FAILED trial) as one selection; ``--no-backup``."""
        from hpogrid.engine.rerun import RerunSelection, ResumeRequest
        from hpogrid.study.records import FAILED

        failed = RerunSelection(frozenset({FAILED}) if self.rerun_failed else frozenset())
        return ResumeRequest((self.rerun or RerunSelection()) | failed, self.backup)


@dataclass(frozen=True)
class RunSpec:
    """The hpo_config of one run, overrides applied (see README "hpo_config").

    ``objectives`` is what the run optimises; ``metric``/``mode`` are its first (primary)
    objective, which is all there is to a single-objective run.
    """

    algorithm: str
    metric: str
    mode: str
    scheduler: str
    trials: int
    stop: Mapping[str, Any]
    scheduler_param: Mapping[str, Any]
    algorithm_param: Mapping[str, Any]
    resource: Mapping[str, float]
    max_failures: Optional[int]
    log_dir: Optional[str]
    verbose: bool
    max_concurrent: Optional[int]
    objectives: Objectives
    #: budgets and stop rules (:mod:`hpogrid.budgets`)
    rules: StopRules = StopRules()
    #: retries of a trial that did not finish (hpo_config max_retries, retry_on, failure_rules)
    max_retries: int = 0
    retry_on: Tuple[str, ...] = ("lost",)
    failure_rules: Tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_hpo(cls, hpo: Mapping[str, Any], options: RunOptions) -> "RunSpec":
        if options.trials is not None and options.trials < 1:
            raise ValidationError("--trials", f"must be at least 1 (got {options.trials})")
        if options.max_failures is not None and options.max_failures < 0:
            raise ValidationError("--max_failures", f"must be 0 or more (got {options.max_failures})")
        if options.max_retries is not None and options.max_retries < 0:
            raise ValidationError("--max_retries", f"must be 0 or more (got {options.max_retries})")
        scheduler_param = dict(hpo.get("scheduler_param") or {})
        objectives = Objectives.parse(hpo["metric"], hpo["mode"], hpo.get("constraints"))
        values, names = merged(hpo, {key: getattr(options, key, None) for key in RULE_FIELDS})
        rules = StopRules.parse(values, len(objectives), names)
        return cls(
            algorithm=options.algorithm or hpo.get("algorithm") or "auto", objectives=objectives,
            metric=objectives.metric, mode=objectives.mode, scheduler=hpo.get("scheduler") or "fifo",
            trials=options.trials if options.trials is not None else int(hpo["trials"]),
            stop=dict(hpo.get("stop") or {}), scheduler_param=scheduler_param,
            algorithm_param=dict(hpo.get("algorithm_param") or {}),
            resource=dict(hpo.get("resource") or {"cpu": 1}),
            max_failures=options.max_failures if options.max_failures is not None else hpo.get("max_failures"),
            log_dir=hpo.get("log_dir"), verbose=bool(hpo.get("verbose")),
            max_concurrent=options.n_jobs or scheduler_param.get("max_concurrent"), rules=rules,
            max_retries=options.max_retries if options.max_retries is not None else int(hpo.get("max_retries") or 0),
            retry_on=tuple(hpo.get("retry_on") or ("lost",)),
            failure_rules=tuple(dict(r) for r in hpo.get("failure_rules") or ()),
        )

    def log_path(self, project_path: Path) -> Path:
        """The hpo_config ``log_dir`` (a run's own files): relative paths are inside the project."""
        path = Path(self.log_dir or "log").expanduser()
        return (path if path.is_absolute() else project_path / path).resolve()

    def better(self, a: float, b: Optional[float]) -> bool:
        """Is ``a`` better than ``b`` (None: nothing yet) in this run's direction?"""
        return b is None or (a < b if self.mode == "min" else a > b)

    def stop_reached(self, metrics: Mapping[str, Any]) -> bool:
        """The stop criteria (Ray's dict semantics): any ``metrics[key] >= value``."""
        for key, bound in self.stop.items():
            value = metrics.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= bound:
                return True
        return False

    def failures_exceeded(self, failed: int) -> bool:
        """``max_failures`` N: the run stops when more than N trials failed (unset: never)."""
        return self.max_failures is not None and failed > self.max_failures


@dataclass
class RunSummary:
    study: str
    store_url: str
    algorithm: str
    scheduler: str
    counts: Dict[str, int]        # this run's trials by state
    study_counts: Dict[str, int]  # the whole study's (earlier runs included)
    backend: str = "local"
    interrupted: bool = False
    notes: List[str] = field(default_factory=list)
    seconds: float = 0.0
    #: where the backend kept this run's files (Slurm: the trial folders)
    run_dir: Optional[str] = None
    #: the stop rule that ended the run (:data:`hpogrid.budgets.RULES`) and why, None: none did
    stopped_by: Optional[str] = None
    stop_reason: Optional[str] = None
