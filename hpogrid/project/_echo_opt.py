"""echo-opt's files as an hpogrid project: ``hpogrid import echo-opt hyperparameters.yml [model.yml]``.

echo-opt (NCAR's optuna wrapper) keeps a run in ``hyperparameters.yml`` (sections ``log``,
``slurm``, ``optuna``) and the model's own configuration in a second file. They map onto
hpogrid's configs, each stored under the project's name:

* ``optuna.parameters: {key: {type, settings}}`` -> search_space ``key`` (a ``a:b`` key is a
  path into the model configuration, as in echo-opt; one the model configuration lacks is
  searched under its ``settings.name``);
* ``optuna.metric``/``direction``/``n_trials``/``sampler`` -> hpo_config (algorithm optuna);
* ``optuna.objective`` -> model_config (its ``Objective`` class, from the objective's folder,
  which becomes the project's scripts); the model configuration (with echo-opt's ``optuna``
  section copied in, as echo-opt does) -> model_config ``param``;
* ``slurm.jobs``/``batch`` -> slurm_config.

What has no hpogrid counterpart is one line each (the import goes on); an unknown key or a
bad value is a one-line error and nothing is written.
"""
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from hpogrid.errors import ValidationError

SECTIONS = ("log", "slurm", "pbs", "optuna")
OPTUNA_KEYS = ("name", "reload", "objective", "metric", "direction", "n_trials", "gpu", "save_path", "sampler",
               "parameters")
SLURM_KEYS = ("jobs", "kernel", "batch")
#: echo-opt's sampler ``type`` (optuna's class) -> hpogrid's optuna ``algorithm_param`` sampler
SAMPLERS = {"TPESampler": "tpe", "RandomSampler": "random", "CmaEsSampler": "cmaes", "NSGAIISampler": "nsga2",
            "GPSampler": "gp", "QMCSampler": "qmc"}
#: echo-opt parameter ``type`` -> the ``settings`` keys it takes (besides ``name``)
TYPES = {"categorical": ("choices",), "discrete_uniform": ("low", "high", "q"), "float": ("low", "high", "step", "log"),
         "int": ("low", "high", "step", "log"), "loguniform": ("low", "high"), "uniform": ("low", "high")}
#: sbatch options of ``slurm.batch`` with a slurm_config key of their own
BATCH = {"account": "account", "A": "account", "gres": "gres", "mem": "mem", "partition": "partition",
         "p": "partition", "qos": "qos", "q": "qos", "t": "time", "time": "time", "c": "cpus",
         "cpus-per-task": "cpus"}
#: sbatch options hpogrid sets itself for each trial's job
BATCH_OWN = ("J", "job-name", "o", "output", "e", "error")


def echo_opt_configs(hyper: Any, model: Any, hyper_path: Path) -> Tuple[Dict[str, Dict[str, Any]], Path, List[str]]:
    """(configs by kind, the scripts folder, one note per thing not mapped) of echo-opt's
    ``hyperparameters.yml`` (``hyper``) and model configuration (``model``; None without one)."""
    notes: List[str] = []
    top = _mapping(hyper, "hyperparameters", SECTIONS)
    optuna = _mapping(top.get("optuna"), "optuna", OPTUNA_KEYS)
    if model is not None and not isinstance(model, Mapping):
        raise ValidationError("model_config", f"must be a mapping (got {type(model).__name__})")
    base = dict(model or {})
    log = top.get("log")
    for key in (log if isinstance(log, Mapping) else [None] if log is not None else []):
        notes.append(f"{'log.' + str(key) if key is not None else 'log'}: not mapped (hpogrid keeps each run's log "
                     "and progress in the project)")
    if "pbs" in top:
        notes.append("pbs: not mapped (hpogrid runs on this machine, Slurm or the grid; see slurm)")
    space, base = _space(optuna.get("parameters"), base, notes)
    hpo = _hpo(optuna, notes)
    script, folder = _objective(optuna.get("objective"), hyper_path)
    source = (folder / script).read_text(errors="replace")
    for found in re.finditer(r"^\s*(?:from|import)\s+((?:aimlutils\.hyper_opt|echo\.src|echo)\b[\w.]*)", source, re.M):
        notes.append(f"optuna.objective: {script} imports {found.group(1)} (echo-opt's own package): import "
                     "BaseObjective from hpogrid.echo instead")
    for key, why in (("reload", "running the project again continues its study; --resume after an interruption"),
                     ("save_path", "trials are kept in the project's study and trial folders"),
                     ("gpu", "ask for GPUs with hpo_config resource or slurm gres")):
        if key in optuna:
            notes.append(f"optuna.{key}: not mapped ({why})")
    configs: Dict[str, Dict[str, Any]] = {
        "model_config": {"script": script, "model": "Objective", "param": {**base, "optuna": dict(optuna)}},
        "search_space": space, "hpo_config": hpo}
    if top.get("slurm") is not None:
        configs["slurm_config"] = _slurm(top["slurm"], notes)
    return configs, folder, notes


def default_name(hyper: Any, hyper_path: Path) -> str:
    """The project's name: optuna ``name`` without its ``.db``, else the file's stem (made a valid name)."""
    name = str(((hyper or {}).get("optuna") or {}).get("name") or "") if isinstance(hyper, Mapping) else ""
    stem = Path(name).stem if name else hyper_path.stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).lstrip(".") or "echo_opt"


def _mapping(value: Any, field: str, allowed: Tuple[str, ...]) -> Dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"must be a mapping with keys {', '.join(allowed)} (got "
                              f"{type(value).__name__})")
    for key in value:
        if key not in allowed:
            raise ValidationError(f"{field}.{key}", f"unknown key {key!r}; allowed: {', '.join(allowed)}")
    return dict(value)


def _space(parameters: Any, base: Dict[str, Any], notes: List[str]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValidationError("optuna.parameters", "must map each parameter to {type, settings}")
    space: Dict[str, Any] = {}
    for key, spec in parameters.items():
        field = f"optuna.parameters.{key}"
        spec = _mapping(spec, field, ("type", "settings"))
        kind = spec.get("type")
        if kind not in TYPES:
            raise ValidationError(f"{field}.type", f"is {kind!r}; choose one of: {', '.join(TYPES)}")
        settings = _mapping(spec.get("settings") or {}, f"{field}.settings", ("name", *TYPES[kind]))
        name = str(key)
        if ":" in name and not _has_path(base, name.split(":")):
            name = str(settings.get("name") or name.replace(":", "_"))
            notes.append(f"{field}: the model configuration has no {key!r}; searched as {name!r} (train() gets it "
                         "from trial.suggest_*)")
        space[name] = _dimension(kind, settings, field, notes)
    return space, base


def _has_path(base: Mapping[str, Any], keys: List[str]) -> bool:
    node: Any = base
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def _dimension(kind: str, s: Dict[str, Any], field: str, notes: List[str]) -> Dict[str, Any]:
    def need(*keys: str) -> Dict[str, Any]:
        missing = [k for k in keys if k not in s]
        if missing:
            raise ValidationError(f"{field}.settings", f"type {kind} needs {', '.join(keys)} (missing: "
                                  f"{', '.join(missing)})")
        return {k: s[k] for k in keys}

    if kind == "categorical":
        return {"method": "categorical", "dimension": {"categories": need("choices")["choices"]}}
    if kind == "discrete_uniform":
        return {"method": "quniform", "dimension": need("low", "high", "q")}
    if kind in ("uniform", "loguniform"):
        return {"method": kind, "dimension": need("low", "high")}
    bounds = need("low", "high")
    step, log = s.get("step"), bool(s.get("log"))
    if kind == "int":
        if log or step not in (None, 1):
            notes.append(f"{field}.settings: an int's log/step not mapped; searched as uniformint over "
                         f"[{bounds['low']}, {bounds['high']}]")
        return {"method": "uniformint", "dimension": bounds}
    if step is not None:
        return {"method": "qloguniform" if log else "quniform", "dimension": {**bounds, "q": step}}
    return {"method": "loguniform" if log else "uniform", "dimension": bounds}


def _hpo(optuna: Dict[str, Any], notes: List[str]) -> Dict[str, Any]:
    def mode(direction: Any) -> str:
        modes = {"minimize": "min", "maximize": "max", "min": "min", "max": "max"}
        if direction not in modes:
            raise ValidationError("optuna.direction", f"is {direction!r}; choose minimize or maximize")
        return modes[direction]

    direction = optuna.get("direction", "minimize")
    hpo: Dict[str, Any] = {
        "metric": optuna.get("metric", "val_loss"),
        "mode": [mode(d) for d in direction] if isinstance(direction, list) else mode(direction),
        "algorithm": "optuna", "scheduler": "fifo", "stop": {}}
    if "n_trials" in optuna:
        hpo["trials"] = optuna["n_trials"]
    sampler = optuna.get("sampler")
    if sampler is not None:
        sampler = dict(sampler) if isinstance(sampler, Mapping) else {"type": sampler}
        kind = sampler.pop("type", "TPESampler")
        if kind in SAMPLERS:
            hpo["algorithm_param"] = {"sampler": SAMPLERS[kind], **sampler}
        else:
            notes.append(f"optuna.sampler.type: {kind!r} not mapped (hpogrid runs optuna's "
                         f"{', '.join(SAMPLERS)}); searched with TPESampler")
    return hpo


def _objective(objective: Any, hyper_path: Path) -> Tuple[str, Path]:
    """(the script's name, its folder: the project's scripts) of optuna ``objective``, relative
    to the hyperparameters file's folder (else the working directory, as echo-opt ran)."""
    if not isinstance(objective, str) or not objective.endswith(".py"):
        raise ValidationError("optuna.objective", f"must be the path of the objective's .py file (got {objective!r})")
    for root in (hyper_path.resolve().parent, Path.cwd()):
        path = (root / objective).expanduser()
        if path.is_file():
            return path.name, path.resolve().parent
    raise ValidationError("optuna.objective", f"{objective!r} not found next to {hyper_path} or in {Path.cwd()}")


def _slurm(section: Any, notes: List[str]) -> Dict[str, Any]:
    slurm = _mapping(section, "slurm", SLURM_KEYS)
    out: Dict[str, Any] = {}
    if "jobs" in slurm:
        out["workers"] = slurm["jobs"]
    if "kernel" in slurm:
        notes.append("slurm.kernel: not mapped (prepare the environment in the job with slurm_config sbatch_args "
                     "or before 'hpogrid slurm_run')")
    batch = slurm.get("batch") or {}
    if not isinstance(batch, Mapping):
        raise ValidationError("slurm.batch", f"must be a mapping of sbatch options (got {type(batch).__name__})")
    args: List[str] = []
    for key, value in batch.items():
        if key in BATCH:
            out[BATCH[key]] = value
        elif key in BATCH_OWN:
            notes.append(f"slurm.batch.{key}: not mapped (hpogrid names each trial's job and its output files)")
        else:
            args.append(f"-{key}{value}" if len(str(key)) == 1 else f"--{key}={value}")
    if args:
        out["sbatch_args"] = args
    return out


def import_echo_opt(hyper_file: str, model_file: Optional[str] = None, name: Optional[str] = None):
    """Create the project (and its configs) from echo-opt's files; returns (project, notes)."""
    from hpogrid.datafile import read_file
    from hpogrid.project._bundle import create_bundle

    hyper_path = Path(hyper_file)
    hyper = read_file(hyper_path, "hyperparameters")
    model = read_file(Path(model_file), "model_config") if model_file else None
    configs, folder, notes = echo_opt_configs(hyper, model, hyper_path)
    project, lines = create_bundle(name or default_name(hyper, hyper_path), str(folder), configs)
    return project, notes, lines
