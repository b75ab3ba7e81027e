"""hpogrid studies to and from optuna storages, so nothing is locked in.

Export (:func:`export_optuna`) creates an optuna study with the hpogrid study's objectives as
directions (and metric names), each parameter's distribution mapped from the search space
(a parameter the space does not bound - normal, lognormal - gets the range of its values),
the primary metric's per-iteration values as intermediate values, annotations as user
attributes and states mapped (PENDING->WAITING, COMPLETED->COMPLETE, FAILED/INTERRUPTED->FAIL).
The complete hpogrid record rides along in system attributes, so importing the study back
gives the same trials, values and best. A failed export deletes the optuna study it started.

Import (:func:`import_optuna`) reads any optuna study: the space is derived from the trials'
distributions (one a hpogrid space cannot express is an error naming the parameter), values
become metrics named after the study's metric names. optuna is imported only here, lazily.
"""
from __future__ import annotations

import warnings
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from hpogrid.errors import AlreadyExistsError, MissingDependencyError, NotFoundError, StudyError, ValidationError
from hpogrid.objectives import objectives_of
from hpogrid.study.engine import first_line, redact_text, safe_url
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, PENDING, RUNNING, StudyInfo, TrialRecord
from hpogrid.study.standing import objective_values, study_objectives
from hpogrid.study.transfer import StudyDump
from hpogrid.study.values import clean_json, finite_or_none, utcnow

#: system attribute holding a trial's (and the study user attribute holding a study's) hpogrid record
ATTR = "hpogrid"
_TRIAL_KEEP = ("uid", "state", "metrics", "value", "intermediate", "error", "backend", "host", "job_id",
               "task_id", "site", "created_at", "started_at", "finished_at", "heartbeat_at")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError("optuna is not installed: pip install optuna") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _storage(optuna, url: str):
    _refuse_hpogrid_store(url)
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # noqa: BLE001 - any failure to open is one line, password masked
        raise StudyError(f"cannot open optuna storage {safe_url(url)}: {redact_text(first_line(exc))}") from None


def _refuse_hpogrid_store(url: str) -> None:
    """optuna's tables are also named ``studies`` and ``trials``: a database holding hpogrid's
    would confuse both, so it is refused before optuna touches it."""
    from sqlalchemy import create_engine, inspect

    try:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - optuna reports an unreachable storage itself
        return
    if {"studies", "trials"} <= tables and "version_info" not in tables:
        raise StudyError(f"{safe_url(url)} holds hpogrid's study tables; optuna names its tables the same: "
                         "give optuna another database (or PostgreSQL schema)")


# -- export -------------------------------------------------------------------------------

def _space_distribution(d, spec: Any):
    """The optuna distribution of one search-space entry, None when it has none."""
    if not isinstance(spec, dict):
        return None
    method, dim = spec.get("method"), spec.get("dimension") or {}
    if method == "categorical":
        return d.CategoricalDistribution(list(dim["categories"]))
    if method == "fixed":
        return d.CategoricalDistribution([dim["value"]])
    if method == "uniformint":
        return d.IntDistribution(dim["low"], dim["high"])
    if method in ("uniform", "quniform", "loguniform", "qloguniform"):
        return d.FloatDistribution(dim["low"], dim["high"], log=method.endswith("loguniform"))
    return None


def _observed_distribution(d, name: str, values: List[Any]):
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return d.IntDistribution(min(values), max(values)) if min(values) < max(values) else d.CategoricalDistribution([values[0]])
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        lo, hi = float(min(values)), float(max(values))
        return d.FloatDistribution(lo, hi) if lo < hi else d.CategoricalDistribution([values[0]])
    distinct: List[Any] = []
    for v in values:
        if v is not None and not isinstance(v, (bool, int, float, str)):
            raise ValidationError(f"parameter {name}", f"optuna cannot store the value {v!r} "
                                  "(only None, bool, int, float and str)")
        if v not in distinct:
            distinct.append(v)
    return d.CategoricalDistribution(distinct)


def _distributions(optuna, dump: StudyDump) -> Dict[str, Any]:
    d = optuna.distributions
    space = dump.info.attrs.get("search_space")
    space = space if isinstance(space, dict) else {}
    seen: Dict[str, List[Any]] = {}
    for t in dump.trials:
        for k, v in t.params.items():
            seen.setdefault(k, []).append(v)
    out = {}
    for name, values in seen.items():
        try:
            dist = _space_distribution(d, space.get(name))
        except (TypeError, ValueError, KeyError):
            dist = None
        if dist is None or not all(_contains(dist, v) for v in values):
            dist = _observed_distribution(d, name, values)
        out[name] = dist
    return out


def _contains(dist, value) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except Exception:  # noqa: BLE001 - a value of the wrong kind is simply not contained
        return False


def _iso(value: Optional[datetime]) -> Optional[str]:
    return None if value is None else value.isoformat()


def _local(value: Optional[datetime]) -> Optional[datetime]:
    """optuna keeps naive local times."""
    return None if value is None else value.astimezone().replace(tzinfo=None)


def _frozen(optuna, dump: StudyDump, t: TrialRecord, dists: Dict[str, Any]):
    objectives = study_objectives(dump.info)
    values = objective_values(objectives, t) if t.state == COMPLETED else None
    to_optuna: Dict[str, str] = {PENDING: "WAITING", RUNNING: "RUNNING", COMPLETED: "COMPLETE"}
    state = to_optuna.get(t.state, "FAIL")
    if state == "COMPLETE" and values is None:
        state = "FAIL"  # optuna's COMPLETE needs every objective's value
    steps = {}
    for i, report in enumerate(t.intermediate):
        v = finite_or_none(report.get(objectives.metric))
        if v is not None:
            steps[i] = v
    record = {k: getattr(t, k) for k in _TRIAL_KEEP}
    record.update(state=str(t.state), **{k: _iso(getattr(t, k)) for k in
                                         ("created_at", "started_at", "finished_at", "heartbeat_at")})
    trial = optuna.trial.create_trial(
        state=getattr(optuna.trial.TrialState, state), values=list(values) if state == "COMPLETE" and values is not None else None,
        params=dict(t.params), distributions={k: dists[k] for k in t.params}, user_attrs=dict(t.annotations),
        system_attrs={ATTR: clean_json(record)}, intermediate_values=steps)
    trial.datetime_start = _local(t.started_at) if state != "WAITING" else None
    if state in ("COMPLETE", "FAIL"):
        trial.datetime_complete = _local(t.finished_at or t.started_at or t.created_at)
        trial.datetime_start = trial.datetime_start or trial.datetime_complete
    return trial


def export_optuna(dump: StudyDump, url: str, name: Optional[str] = None) -> str:
    """Write ``dump`` as optuna study ``name`` (default: its own) in the optuna storage ``url``;
    returns the storage URL, password masked. An existing optuna study of that name is an
    :class:`AlreadyExistsError` and is left alone."""
    optuna = _optuna()
    name = name or dump.info.name
    storage = _storage(optuna, url)
    dists = _distributions(optuna, dump)
    objectives = study_objectives(dump.info)
    directions = ["minimize" if o.mode == "min" else "maximize" for o in objectives]
    try:
        study = optuna.create_study(storage=storage, study_name=name, directions=directions)
    except optuna.exceptions.DuplicatedStudyError:
        raise AlreadyExistsError(f"optuna study {name!r} already exists in {safe_url(url)}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # set_metric_names is "experimental"
            study.set_metric_names(list(objectives.metrics))
        study.set_user_attr(ATTR, clean_json({"metric": dump.info.metric, "mode": dump.info.mode,
                                              "attrs": dump.info.attrs, "created_at": _iso(dump.info.created_at)}))
        study.add_trials([_frozen(optuna, dump, t, dists) for t in dump.trials])
    except BaseException as exc:
        optuna.delete_study(study_name=name, storage=storage)
        if isinstance(exc, Exception) and not isinstance(exc, ValidationError):
            raise StudyError(f"export to optuna study {name!r} in {safe_url(url)} failed: "
                             f"{redact_text(first_line(exc))}") from None
        raise
    return safe_url(url)


# -- import -------------------------------------------------------------------------------

def _space_entry(name: str, dist) -> dict:
    kind = type(dist).__name__

    def on_grid(low, q) -> bool:
        return abs(low / q - round(low / q)) < 1e-9

    if kind == "CategoricalDistribution":
        return {"method": "categorical", "dimension": {"categories": list(dist.choices)}}
    if kind in ("FloatDistribution", "IntDistribution") and dist.low == dist.high:
        return {"method": "fixed", "dimension": {"value": dist.low}}
    if kind == "FloatDistribution":
        if dist.step is None:
            return {"method": "loguniform" if dist.log else "uniform", "dimension": {"low": dist.low, "high": dist.high}}
        if on_grid(dist.low, dist.step):
            return {"method": "quniform", "dimension": {"low": dist.low, "high": dist.high, "q": dist.step}}
        raise ValidationError(f"parameter {name}", f"optuna's grid low={dist.low:g} + k*{dist.step:g} is not "
                              "a multiple of its step, which a hpogrid quniform needs")
    if kind == "IntDistribution":
        if dist.log:
            return {"method": "qloguniform", "dimension": {"low": dist.low, "high": dist.high, "q": 1}}
        if dist.step == 1:
            return {"method": "uniformint", "dimension": {"low": dist.low, "high": dist.high}}
        if dist.low % dist.step == 0:
            return {"method": "quniform", "dimension": {"low": dist.low, "high": dist.high, "q": dist.step}}
        raise ValidationError(f"parameter {name}", f"optuna's grid low={dist.low} + k*{dist.step} is not a "
                              "multiple of its step, which a hpogrid quniform needs")
    raise ValidationError(f"parameter {name}", f"hpogrid has no search-space method for optuna's {kind}")


def _derived_space(trials) -> dict:
    dists: Dict[str, Any] = {}
    for t in trials:
        for k, dist in t.distributions.items():
            if k in dists and dists[k] != dist:
                raise ValidationError(f"parameter {k}", f"optuna trials give it different distributions "
                                      f"({dists[k]} and {dist}), which one hpogrid space cannot express")
            dists[k] = dist
    return {k: _space_entry(k, dist) for k, dist in dists.items()}


def _utc(value: Optional[datetime]) -> Optional[datetime]:
    return None if value is None else value.astimezone(timezone.utc)


def _time(value: Optional[str]) -> Optional[datetime]:
    return None if value is None else datetime.fromisoformat(value)


def _trial(t, metrics_names: List[str], study: str) -> TrialRecord:
    kept = t.system_attrs.get(ATTR)
    if isinstance(kept, dict) and "uid" in kept:
        return TrialRecord(study=study, number=t.number, params=dict(t.params), annotations=dict(t.user_attrs),
                           **{**kept, **{k: _time(kept.get(k)) for k in
                                         ("created_at", "started_at", "finished_at", "heartbeat_at")}})
    state = {"COMPLETE": COMPLETED, "FAIL": FAILED, "PRUNED": INTERRUPTED, "WAITING": PENDING,
             "RUNNING": RUNNING}[t.state.name]
    metrics = dict(zip(metrics_names, t.values)) if t.values else {}
    intermediate = [{metrics_names[0]: v, "step": step} for step, v in sorted(t.intermediate_values.items())]
    started = _utc(t.datetime_start)
    return TrialRecord(
        study=study, uid=f"optuna-{t.number}", number=t.number, state=state, params=dict(t.params),
        metrics=clean_json(metrics, numeric=True), value=finite_or_none(t.values[0]) if t.values else None,
        intermediate=clean_json(intermediate, numeric=True), annotations=clean_json(dict(t.user_attrs)),
        error=t.system_attrs.get("fail_reason") if state == FAILED else None,
        created_at=started or utcnow(), started_at=started, finished_at=_utc(t.datetime_complete))


def import_optuna(url: str, name: str) -> StudyDump:
    """The optuna study ``name`` in storage ``url`` as a :class:`StudyDump` (nothing written)."""
    optuna = _optuna()
    storage = _storage(optuna, url)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        known = ", ".join(s.study_name for s in optuna.get_all_study_summaries(storage)) or "none"
        raise NotFoundError(f"optuna study {name!r} not found in {safe_url(url)} (studies there: {known})") from None
    trials = study.get_trials(deepcopy=False)
    kept = study.user_attrs.get(ATTR)
    directions = ["min" if d.name == "MINIMIZE" else "max" for d in study.directions]
    names = list(study.metric_names or (["value"] if len(directions) == 1 else
                                        [f"value_{i}" for i in range(len(directions))]))
    if isinstance(kept, dict) and {"metric", "mode", "attrs"} <= set(kept):
        info = StudyInfo(id=0, name=name, metric=kept["metric"], mode=kept["mode"], attrs=dict(kept["attrs"]),
                         created_at=_time(kept.get("created_at")))
    else:
        objectives = objectives_of(zip(names, directions))
        attrs = {**objectives.to_attrs(), "search_space": _derived_space(trials), "imported_from": "optuna"}
        info = StudyInfo(id=0, name=name, metric=objectives.metric, mode=objectives.mode, attrs=attrs,
                         created_at=_utc(trials[0].datetime_start) if trials and trials[0].datetime_start else None)
    return StudyDump(info, tuple(_trial(t, names, name) for t in trials))
