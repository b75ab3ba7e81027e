"""The four config types as pydantic models: the single source of option names and defaults.

Field names, defaults and choices follow the hpogrid README tables. Keys written by
hpogrid 1.3.3 (``num_trials``, ``max_concurrent``, ``resource``, ``extra_metrics``,
``extra``, ``None`` for empty dicts) are read unchanged.
"""
import json
import math
import re
from typing import Any, ClassVar, Dict, List, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hpogrid import budgets
from hpogrid.containers import RUNTIMES as CONTAINER_RUNTIMES
from hpogrid.errors import ValidationError as _UserError
from hpogrid.objectives import Objectives, parse_constraints, parse_metrics, parse_modes
from hpogrid.search import names as search_names
from hpogrid.search.names import ALGORITHMS, SCHEDULERS

DEFAULT_CONTAINER = (
    "/cvmfs/unpacked.cern.ch/gitlab-registry.cern.ch/aml/hyperparameter-optimization/"
    "alkaid-qt/hpogrid:latest"
)
#: resolved at submit time: ${RUCIO_ACCOUNT} from the environment, {HPO_PROJECT_NAME} and the
#: timestamp from the submission
DEFAULT_OUTDS = "user.${{RUCIO_ACCOUNT}}.hpogrid.{HPO_PROJECT_NAME}.out.$(date +%Y%m%d%H%M%S)"


#: grid_config ``extra`` keys: task parameters prun itself may set (panda-client's PrunScript)
#: that hpogrid does not; they are merged into the submitted task as given
PANDA_TASK_EXTRA_KEYS = (
    "allowInputLAN", "avoidVP", "coreCount", "cpuTime", "cpuTimeUnit", "currentPriority", "debugMode",
    "disableAutoRetry", "excludedSite", "maxCoreCount", "maxWalltime", "mergeOutput", "nGBPerJob",
    "nMaxFilesPerJob", "noEmail", "noLoopingCheck", "osMatching", "outDiskCount", "outDiskUnit", "ramCount",
    "ramCountUnit", "respectLB", "skipScout", "useLocalIO", "workingGroup")
#: task parameters hpogrid builds itself (from the project, the grid_config and the run options)
PANDA_TASK_OWN_KEYS = (
    "taskName", "uniqueTaskName", "vo", "architecture", "transUses", "transHome", "transPath", "processingType",
    "prodSourceLabel", "site", "includedSite", "nEvents", "nEventsPerJob", "cliParams", "osInfo", "respectSplitRule",
    "sourceURL", "log", "noInput", "maxAttempt", "container_name", "multiStepExec", "jobParameters", "buildSpec")


class ConfigModel(BaseModel):
    """Common behaviour: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    #: command-line name of the config type, e.g. ``hpo_config``
    kind: ClassVar[str]

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json")


def _finite_json(value: Any, field: str) -> Any:
    """Reject NaN/inf anywhere inside a JSON-like value (JSON cannot store them)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{field} must not contain NaN or infinity")
    if isinstance(value, dict):
        for v in value.values():
            _finite_json(v, field)
    elif isinstance(value, list):
        for v in value:
            _finite_json(v, field)
    return value


#: top-level folders a run must never write into (hpo_config log_dir)
_SYSTEM_FOLDERS = frozenset({"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin",
                             "sys", "usr"})


class HpoConfig(ConfigModel):
    kind: ClassVar[str] = "hpo_config"

    algorithm: str = Field("auto", description="Algorithm for hyperparameter optimization ('auto': "
                           "tune for grid search or pbt, bohb for bohbhyperband, random under 10 "
                           "trials, else optuna)",
                           json_schema_extra={"choices": list(ALGORITHMS)})
    metric: Union[str, List[str]] = Field(
        "accuracy", description="Evaluation metric to be optimized; several, comma-separated (loss,latency), "
        "for a multi-objective search")
    mode: Union[str, List[str]] = Field("max", description="Optimization mode, min or max; one per metric "
                                        "(min,max)")
    scheduler: str = Field("fifo", description="Trial scheduling method (bohbhyperband with algorithm bohb; "
                           "early stopping needs a stop that allows more than one iteration)",
                           json_schema_extra={"choices": list(SCHEDULERS)})
    trials: int = Field(100, ge=1, description="Number of trials (search points)")
    log_dir: Optional[str] = Field("./log", description="Logging directory")
    verbose: bool = Field(False, description="Enable verbose output of the HPO library")
    stop: Dict[str, Any] = Field(default_factory=lambda: {"training_iteration": 1},
                                 description='Stopping criteria, e.g. \'{"training_iteration": 1}\'')
    scheduler_param: Dict[str, Any] = Field(
        default_factory=lambda: {"max_concurrent": 4}, validate_default=True,
        description='Extra parameters for the trial scheduler, e.g. \'{"max_concurrent": 4}\'')
    algorithm_param: Dict[str, Any] = Field(
        default_factory=dict,
        description='Extra parameters for the HPO algorithm, e.g. \'{"n_initial_points": 10}\'')
    resource: Optional[Dict[str, float]] = Field(
        None, description='Resources per trial, e.g. \'{"cpu": 1, "gpu": 0}\'')
    extra_metrics: Optional[List[str]] = Field(None, description="Additional metrics to record")
    max_failures: Optional[int] = Field(None, ge=0, description="Failed trials tolerated: the run stops when "
                                        "more fail, on every backend (0: at the first failure; default: never)")
    max_retries: int = Field(0, ge=0, description="Times a lost trial (a node failed, a job preempted, a "
                             "process killed) is run again in the same run, from its checkpoint")
    retry_on: List[str] = Field(default_factory=lambda: ["lost"], description='What is retried: "lost" '
                                '(the infrastructure lost the trial) and/or "error" (the trial\'s own code raised)')
    failure_rules: List[Dict[str, Any]] = Field(
        default_factory=list, description='Rules on a failed trial\'s output, error and exit status, e.g. '
        '\'[{"match": "CUDA out of memory", "action": "retry"}, {"exit_code": 137, "action": "fail"}]\' '
        '(actions: retry, exclude_node, fail)')
    constraints: Optional[Dict[str, List[Any]]] = Field(
        None, description='Outcome constraints: a trial breaking one is recorded as infeasible (kept, never '
        'best), e.g. \'{"latency_ms": ["<=", 20]}\'')
    # -- budgets and stop rules (README "Budgets and stop rules"; grammar: hpogrid.budgets) --
    timeout: Optional[str] = Field(None, description="Wall clock of a run after which no new trial starts, e.g. "
                                   "90m, 12h, 2d (running trials: timeout_action)")
    timeout_action: Optional[str] = Field(None, description="At the timeout, drain (running trials finish; the "
                                          "default) or stop them (recorded interrupted)",
                                          json_schema_extra={"choices": list(budgets.TIMEOUT_ACTIONS)})
    max_cost: Optional[str] = Field(None, description="Budget of the whole study in CPU- and/or GPU-hours (run "
                                    "time x resources of every trial), e.g. 200gpu-h or 10cpu-h,200gpu-h")
    target: Optional[List[float]] = Field(None, description="Stop once a completed trial reaches it: one value, or "
                                          "with several objectives a reference point to dominate (0.1,0.5)")
    patience: Optional[int] = Field(None, ge=1, description="Stop after this many completed trials without an "
                                    "improvement of the best by more than min_delta")
    min_delta: Optional[float] = Field(None, ge=0, description="With patience: the smallest improvement that "
                                       "counts (default 0)")

    @model_validator(mode="before")
    @classmethod
    def _read_legacy(cls, data: Any) -> Any:
        """Map hpogrid 1.3.3 keys onto the current ones."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "num_trials" in data:
            legacy = data.pop("num_trials")
            data.setdefault("trials", legacy)
            resource = data.get("resource")
            if isinstance(resource, dict):  # 1.3.3 wrote {"cpu": 0, "gpu": 0} for "the default"
                data["resource"] = {k: v for k, v in resource.items() if v != 0} or None
        if "max_concurrent" in data:
            legacy = data.pop("max_concurrent")
            param = data.get("scheduler_param")
            param = dict(param) if isinstance(param, dict) else {}
            if legacy is not None:
                param.setdefault("max_concurrent", legacy)
            data["scheduler_param"] = param
        for key in ("scheduler_param", "algorithm_param", "stop"):
            if key in data and data[key] is None:
                data.pop(key)
        return data

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, v: str) -> str:
        return _choice(v, ALGORITHMS)

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, v: str) -> str:
        return _choice(v, SCHEDULERS)

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: Any) -> Union[str, List[str]]:
        metrics = _objective_call(parse_metrics, v, "metric")
        return metrics[0] if len(metrics) == 1 else metrics

    @field_validator("metric")
    @classmethod
    def _algorithm_for_several(cls, v: Union[str, List[str]], info) -> Union[str, List[str]]:
        """Several objectives need an algorithm that optimises several (checked here, not at run time)."""
        algorithm = info.data.get("algorithm")
        if isinstance(v, list) and algorithm is not None and algorithm not in search_names.MULTI_OBJECTIVE_ALGORITHMS:
            raise ValueError(f"{len(v)} objectives ({', '.join(v)}), and algorithm '{algorithm}' optimises one "
                             f"metric; choose one of: {', '.join(search_names.MULTI_OBJECTIVE_ALGORITHMS)}")
        return v

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: Any, info) -> Union[str, List[str]]:
        metric = info.data.get("metric")  # (None: the metric was refused already)
        count = None if metric is None else len(metric) if isinstance(metric, list) else 1
        modes = _objective_call(lambda value, field: parse_modes(value, count, field), v, "mode")
        return modes[0] if len(modes) == 1 else modes

    @field_validator("retry_on")
    @classmethod
    def _retry_on(cls, v: List[str]) -> List[str]:
        from hpogrid.study.attempts import RETRY_ON

        for item in v:
            _choice(item, RETRY_ON)
        return v

    @field_validator("failure_rules")
    @classmethod
    def _failure_rules(cls, v: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        from hpogrid.study.attempts import parse_rules

        parse_rules(v)
        return v

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, v: Optional[Dict[str, List[Any]]]) -> Optional[Dict[str, List[Any]]]:
        parsed = _objective_call(parse_constraints, v, "constraints")
        return {c.metric: c.as_json() for c in parsed} or None

    @model_validator(mode="before")
    @classmethod
    def _fifo_for_several(cls, data: Any) -> Any:
        """Several objectives run FIFO unless a scheduler is asked for: the early-stopping ones
        compare trials on one metric, which must then be named (``scheduler_param.metric``)."""
        if isinstance(data, dict) and "scheduler" not in data:
            metric = data.get("metric")
            several = isinstance(metric, list) and len(metric) > 1 or isinstance(metric, str) and "," in metric
            if several:
                data = {**data, "scheduler": "fifo"}
            elif data.get("algorithm") == "bohb":  # BOHB is defined with its HyperBand
                data = {**data, "scheduler": "bohbhyperband"}
        return data

    @field_validator("scheduler_param")
    @classmethod
    def _scheduler_metric(cls, v: Dict[str, Any], info) -> Dict[str, Any]:
        """An early-stopping scheduler compares trials by one metric: with several objectives it
        must be named (``{"metric": "loss"}``), and a named one must be an objective."""
        metric, scheduler = info.data.get("metric"), info.data.get("scheduler")
        if metric is None or scheduler is None:
            return v
        metrics = metric if isinstance(metric, list) else [metric]
        named = v.get("metric")
        if named is not None and named not in metrics:
            raise ValueError(f"metric {named!r} is not an objective; choose one of: {', '.join(metrics)}")
        if len(metrics) > 1 and scheduler != "fifo" and named is None:
            raise ValueError(f"scheduler '{scheduler}' stops trials by one metric: with {len(metrics)} objectives "
                             f'name it here, e.g. {{"metric": "{metrics[0]}"}}, or use scheduler fifo')
        return v

    def objectives(self) -> Objectives:
        return Objectives.parse(self.metric, self.mode, self.constraints)

    @field_validator("stop")
    @classmethod
    def _stop_can_trigger(cls, v: Dict[str, Any]) -> Dict[str, Any]:
        """A trial stops when ``result[key] >= value``: a value that is not a number (text, a
        list, true, null) never compares, and an empty key names no result."""
        for key, bound in v.items():
            if not key.strip():
                raise ValueError("a key is empty; name a metric the trial reports (or training_iteration, "
                                 "time_total_s)")
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise ValueError(f"{key!r} is {json.dumps(bound)[:60]}; a stop value is a number "
                                 f"(the trial stops when result[{key!r}] >= it)")
        return v

    @field_validator("log_dir")
    @classmethod
    def _log_dir(cls, v: Optional[str]) -> Optional[str]:
        """Runs write here: a relative path stays inside the project, an absolute one is not a
        system folder (checked when written; whether it is writable is known only where it runs)."""
        if v is None:
            return v
        import posixpath

        if not v.strip() or "\0" in v:
            raise ValueError("must be a folder path (relative: inside the project; or absolute)")
        norm = posixpath.normpath(v)
        if not posixpath.isabs(norm) and not norm.startswith("~") and (norm == ".." or norm.startswith("../")):
            raise ValueError(f"{v!r} leaves the project folder; a relative log_dir is inside the project "
                             "(give an absolute path for a folder elsewhere)")
        if posixpath.isabs(norm) and (norm == "/" or norm.split("/")[1] in _SYSTEM_FOLDERS):
            raise ValueError(f"{v!r} is a system folder; choose a folder of your own")
        return v

    @field_validator("verbose", mode="before")
    @classmethod
    def _verbose(cls, v: Any) -> Any:
        # 1.3.3 stored a Ray verbosity level (0-3)
        if isinstance(v, int) and not isinstance(v, bool):
            return v > 0
        return v

    @field_validator("stop", "scheduler_param", "algorithm_param")
    @classmethod
    def _finite(cls, v: Any, info) -> Any:
        return _finite_json(v, info.field_name)

    @field_validator("scheduler_param")
    @classmethod
    def _max_concurrent(cls, v: Dict[str, Any], info) -> Dict[str, Any]:
        mc = v.get("max_concurrent")
        if mc is not None and (isinstance(mc, bool) or not isinstance(mc, int) or mc < 1):
            raise ValueError(f"max_concurrent must be a positive integer (got {mc!r})")
        scheduler = info.data.get("scheduler")
        if scheduler in search_names.SCHEDULER_PARAMS:
            problem = search_names.unknown_key(v, search_names.SCHEDULER_PARAMS[scheduler], scheduler)
            if problem:
                raise ValueError(f"key {problem[0]!r} {problem[1]}")
        _check_rungs(v, scheduler)
        return v

    @field_validator("scheduler")
    @classmethod
    def _scheduler_goes_with_algorithm(cls, v: str, info) -> str:
        algorithm = info.data.get("algorithm")
        able = search_names.SCHEDULER_ALGORITHMS.get(v)
        if able and algorithm and algorithm not in able:
            raise ValueError(f"scheduler '{v}' runs only with algorithm {' or '.join(repr(a) for a in able)} "
                             f"(got algorithm '{algorithm}')")
        return v

    @field_validator("algorithm_param")
    @classmethod
    def _algorithm_param_keys(cls, v: Dict[str, Any], info) -> Dict[str, Any]:
        algorithm = info.data.get("algorithm")
        if algorithm in search_names.ALGORITHM_PARAMS:
            several = isinstance(info.data.get("metric"), list)
            problem = search_names.algorithm_param_problem(algorithm, v, several)
            if problem:
                raise ValueError(f"key {problem[0]!r} {problem[1]}")
            sampler = v.get("sampler")
            if algorithm == "optuna" and several and sampler not in (None, *search_names.OPTUNA_MULTI_OBJECTIVE):
                raise ValueError(f"key 'sampler' is {sampler!r}, which optimises one metric; with several "
                                 f"objectives choose one of: {', '.join(search_names.OPTUNA_MULTI_OBJECTIVE)}")
        return v

    @field_validator("target", mode="before")
    @classmethod
    def _target_list(cls, v: Any) -> Any:
        """A single number (JSON ``0.95``) or ``"0.1,0.5"`` is the list of one value per objective."""
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return [v]
        if isinstance(v, str):
            return [p.strip() for p in v.split(",")]
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            _objective_call(budgets.parse_duration, v, "timeout")
        return v

    @field_validator("max_cost")
    @classmethod
    def _max_cost(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else budgets.format_cost(_objective_call(budgets.parse_cost, v, "max_cost"))

    @field_validator("timeout_action")
    @classmethod
    def _timeout_action(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else _choice(v, budgets.TIMEOUT_ACTIONS)

    @model_validator(mode="after")
    def _rules_fit(self) -> "HpoConfig":
        """A target has one value per objective (several: a reference point); min_delta goes with patience."""
        if self.target is not None:
            count = len(self.metric) if isinstance(self.metric, list) else 1
            try:
                budgets.parse_target(self.target, count, "target")
            except _UserError as exc:
                raise ValueError(f"target: {exc.message}") from None
        if self.min_delta is not None and self.patience is None:
            raise ValueError("min_delta goes with patience (no improvement by more than min_delta in patience "
                             "completed trials)")
        return self

    @field_validator("resource")
    @classmethod
    def _resource(cls, v: Optional[Dict[str, float]]) -> Optional[Dict[str, float]]:
        for key, amount in (v or {}).items():
            custom = key.startswith(search_names.CUSTOM_RESOURCE_PREFIX) \
                and len(key) > len(search_names.CUSTOM_RESOURCE_PREFIX)
            if key not in search_names.RESOURCE_KEYS and not custom:
                raise ValueError(f"unknown resource {key!r}; allowed: cpu, gpu, or custom:NAME for a custom "
                                 "resource your Ray cluster declares")
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"{key} must be a number >= 0 (got {amount!r})")
            if key == "cpu" and amount == 0:  # (Ray would then start every trial at once)
                raise ValueError("cpu must be > 0: a trial runs on some CPU (a fraction such as 0.5 shares one)")
        return v


class GridConfig(ConfigModel):
    kind: ClassVar[str] = "grid_config"

    site: Union[str, List[str], None] = Field("ANALY_MANC_GPU_TEST",
                                              description="Grid site(s) where the jobs are submitted")
    container: str = Field(DEFAULT_CONTAINER, min_length=1,
                           description="Docker or singularity container in which the jobs run")
    retry: bool = Field(False, description="Retry failed jobs")
    inDS: Optional[str] = Field(None, description="Name of the input (rucio) dataset")
    outDS: str = Field(DEFAULT_OUTDS, min_length=1, description="Name of the output dataset")
    checkpoint_limit_mb: float = Field(50.0, ge=0, allow_inf_nan=False,
                                       description="Largest trial checkpoint (MB) a grid job keeps in its output; a "
                                       "larger one is left out with a warning")
    extra: Dict[str, Any] = Field(default_factory=dict, description="Extra PanDA task parameters, merged into "
                                  "the submitted task, e.g. '{\"ramCount\": 4000, \"maxWalltime\": 3600}'")

    @field_validator("site")
    @classmethod
    def _site(cls, v: Union[str, List[str], None]) -> Union[str, List[str], None]:
        """A site is a PanDA queue name: an empty one (``--site ''``, ``A,,B``) submits nowhere."""
        if v is None:
            return v
        names = [v] if isinstance(v, str) else v
        if not names or any(not n.strip() or n != n.strip() or "," in n for n in names):
            raise ValueError(f"give grid site names, comma-separated, none empty (got {v!r}; "
                             "'hpogrid sites' lists them)")
        return v

    @field_validator("retry", mode="before")
    @classmethod
    def _retry(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return v > 0
        return v

    @field_validator("inDS")
    @classmethod
    def _dataset(cls, v: Optional[str]) -> Optional[str]:
        # outDS is a template (``$(date ...)``) resolved at submit time and checked there
        if v is not None and re.search(r"[\s\x00]", v):
            raise ValueError("dataset names must not contain whitespace")
        return v

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: Dict[str, Any]) -> Dict[str, Any]:
        for key, value in v.items():
            if key not in PANDA_TASK_EXTRA_KEYS:
                owned = " (hpogrid sets it)" if key in PANDA_TASK_OWN_KEYS else ""
                raise ValueError(f"{key!r} is not a PanDA task parameter hpogrid passes on{owned}; allowed: "
                                 + ", ".join(PANDA_TASK_EXTRA_KEYS))
            if isinstance(value, dict):
                raise ValueError(f"{key} must be a number, a string, true/false or a list (got an object)")
        return _finite_json(v, "extra")


class ModelConfig(ConfigModel):
    """Either a Python model (``script`` + ``model``) or a program (``command``)."""

    kind: ClassVar[str] = "model_config"

    script: Optional[str] = Field(None, min_length=1, description="Training script that defines the model")
    model: Optional[str] = Field(None, min_length=1,
                                 description="Function or class in the script that trains the model")
    param: Dict[str, Any] = Field(default_factory=dict,
                                  description="Extra parameters passed to the training model")
    command: Optional[str] = Field(
        None, min_length=1,
        description="A program to run per trial instead of a Python model, e.g. "
                    "'python train.py --lr {lr}' ({name}, ($name), $x_0 and ($x_0) placeholders); it must print "
                    "'RESULT: <number>'")
    result_prefix: str = Field("RESULT", min_length=1, description="Prefix of the program's result lines")
    timeout: Optional[float] = Field(None, gt=0, description="Seconds a program may run per trial")
    stop_grace: float = Field(10.0, gt=0, le=3600, description="Seconds a program the scheduler stops has "
                              "between SIGTERM and SIGKILL")

    @model_validator(mode="before")
    @classmethod
    def _read_legacy(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("param", 0) is None:
            data = {**data, "param": {}}
        return data

    @model_validator(mode="after")
    def _one_kind_of_model(self) -> "ModelConfig":
        if self.command is not None:
            if self.script is not None or self.model is not None:
                raise ValueError("give either command, or script and model, not both")
            from hpogrid.objective.program import parse_command

            parse_command(self.command)
        elif self.script is None or self.model is None:
            missing = "script" if self.script is None else "model"
            raise ValueError(f"{missing} is required (or give command for a program)")
        return self

    @field_validator("script")
    @classmethod
    def _script(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        parts = v.replace("\\", "/").split("/")
        if v.startswith("/") or ".." in parts or "\x00" in v:
            raise ValueError("script must be a path relative to the project's scripts, without '..'")
        return v

    @field_validator("model")
    @classmethod
    def _model(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not v.isidentifier():
            raise ValueError(f"model must be a Python identifier (got {v!r})")
        return v

    @field_validator("param")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        return _finite_json(v, "param")


class SlurmConfig(ConfigModel):
    """How each trial becomes a Slurm job (``hpogrid slurm_run``); options map onto sbatch's."""

    kind: ClassVar[str] = "slurm_config"

    partition: Optional[str] = Field(None, description="Partition (sbatch --partition)")
    account: Optional[str] = Field(None, description="Account to charge (sbatch --account)")
    qos: Optional[str] = Field(None, description="Quality of service (sbatch --qos)")
    gres: Optional[str] = Field(None, description="Generic resources per trial, e.g. gpu:1 (sbatch --gres)")
    cpus: int = Field(1, ge=1, description="CPUs per trial (sbatch --cpus-per-task)")
    mem: str = Field("1000M", description="Memory per trial, e.g. 1000M or 4G (sbatch --mem)")
    time: str = Field("01:00:00", description="Time limit per trial, e.g. 30 or 01:00:00 (sbatch --time)")
    sbatch_args: List[str] = Field(default_factory=list,
                                   description="Extra sbatch flags, e.g. --constraint=a100")
    workers: int = Field(4, ge=1, description="Trials (jobs) in Slurm at the same time")
    poll_interval: float = Field(2.0, gt=0, le=600, description="Seconds between Slurm state checks")
    pool: int = Field(0, ge=0, description="Long-lived worker jobs that each run trial after trial (0: one job "
                      "per trial)")
    container: Optional[str] = Field(None, description="Image the trials run in: a .sif path, a folder or an "
                                     "image reference such as docker://registry/image:tag (none: no container)")
    container_runtime: Optional[str] = Field(
        None, description="apptainer, singularity or podman (default: the first of them installed here)",
        json_schema_extra={"choices": list(CONTAINER_RUNTIMES)})
    container_args: List[str] = Field(default_factory=list, description="Extra arguments of the runtime, e.g. "
                                      "--bind /data (apptainer) or -v /data:/data (podman)")
    setup: List[str] = Field(default_factory=list, description="Shell lines each job runs before its payload, "
                             "e.g. module load apptainer")

    @field_validator("container_runtime")
    @classmethod
    def _runtime(cls, v: Optional[str]) -> Optional[str]:
        return v if v is None else _choice(v, CONTAINER_RUNTIMES)

    @field_validator("container")
    @classmethod
    def _container(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (not v.strip() or any(c in v for c in "\n\x00")):
            raise ValueError(f"container must be an image reference or a path on one line (got {v!r})")
        return v

    @field_validator("container_args", "setup")
    @classmethod
    def _lines(cls, v: List[str]) -> List[str]:
        for item in v:
            if "\n" in item or "\x00" in item:
                raise ValueError(f"items must be single lines (got {item!r})")
        return v

    @model_validator(mode="before")
    @classmethod
    def _read_legacy(cls, data: Any) -> Any:
        """slurm_config files of hpogrid 2.0 carried max_failures: it is hpo_config's now
        (slurm_run says so when it meets one)."""
        if isinstance(data, dict) and "max_failures" in data:
            data = {k: v for k, v in data.items() if k != "max_failures"}
        return data

    @field_validator("mem")
    @classmethod
    def _mem(cls, v: str) -> str:
        if not re.fullmatch(r"\d+[KMGT]?", v):
            raise ValueError(f"mem must be a number with an optional unit K, M, G or T (got {v!r})")
        return v

    @field_validator("time")
    @classmethod
    def _time(cls, v: str) -> str:
        if not budgets.is_slurm_time(v):
            raise ValueError(f"time must look like {budgets.SLURM_TIME_FORMS} (got {v!r})")
        return v

    @field_validator("sbatch_args")
    @classmethod
    def _flags(cls, v: List[str]) -> List[str]:
        for flag in v:
            if not flag.startswith("-") or "\n" in flag or "\x00" in flag:
                raise ValueError(f"sbatch_args items must be single flags starting with '-' (got {flag!r})")
        return v


def _objective_call(fn: Any, value: Any, field: str) -> Any:
    """``fn(value)`` with hpogrid's one-line error turned into pydantic's (which names the field)."""
    try:
        return fn(value, field)
    except _UserError as exc:
        inner = exc.field.partition(f"{field}.")[2]
        raise ValueError(f"{inner}: {exc.message}" if inner else exc.message) from None


def _choice(value: str, allowed: tuple) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not allowed; choose one of: {', '.join(allowed)}")
    return value


def _check_rungs(params: Dict[str, Any], scheduler: Optional[str]) -> None:
    """ASHA's and median stopping's numbers: a rung schedule that exists (Ray's defaults where
    a key is absent: max_t 100, grace_period 1, reduction_factor 4)."""
    def number(key: str, default: float) -> float:
        value = params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{key} must be a positive number (got {value!r})")
        return value

    if scheduler in ("asynchyperband", "hyperband", "bohbhyperband"):
        max_t = number("max_t", 81 if scheduler == "hyperband" else 100)
        rf = number("reduction_factor", 4 if scheduler == "asynchyperband" else 3)
        if rf < 2:
            raise ValueError(f"reduction_factor must be at least 2 (got {rf!r})")
        if scheduler == "hyperband" and max_t < 1:
            raise ValueError(f"max_t must be at least 1 (got {max_t!r})")
        if scheduler == "asynchyperband":
            grace = number("grace_period", 1)
            if grace > max_t:
                raise ValueError(f"grace_period ({grace!r}) must not exceed max_t ({max_t!r})")
        brackets = params.get("brackets", 1)
        if isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1:
            raise ValueError(f"brackets must be a positive integer (got {brackets!r})")
    elif scheduler == "median":
        number("grace_period", 60)
        samples = params.get("min_samples_required", 3)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"min_samples_required must be a positive integer (got {samples!r})")
