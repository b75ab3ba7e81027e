"""A study's trials as a report: filtered, sorted best first, with the columns derived once.

Every output (terminal, CSV, JSON, HTML) is rendered from one :class:`Report`, so they
cannot disagree on which trials are in, their order or the best one.

Several objectives and outcome constraints come from the study's own definition: a trial
breaking a constraint is *infeasible* (kept, marked, never ranked or best); a multi-objective
report lists its Pareto front first (the feasible completed trials no other one dominates)
unless ``--metric`` sorts it by one objective.
"""
from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property, lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hpogrid.errors import HpogridError, NotFoundError, NothingYetError, ValidationError
from hpogrid.objectives import Objectives
from hpogrid.study import COMPLETED, STATES, TrialRecord
from hpogrid.study.standing import Standing, standing, study_objectives
from hpogrid.study.view import flatten

#: ``--extra`` columns (hpogrid 1.3.3 names)
EXTRA_COLUMNS = ("site", "task_time_s", "time_s", "taskid", "jobid")
#: backend name of grid (PanDA) trials; their ``task_id`` is the jeditaskid
GRID_BACKEND = "panda"


@dataclass(frozen=True)
class Filters:
    """Which trials a report keeps; ``None`` means no filter. ``now`` is for tests."""

    limit: Optional[int] = None
    days: Optional[float] = None
    taskname: Optional[str] = None
    task_range: Optional[Tuple[int, int]] = None
    now: Optional[datetime] = None

    def describe(self) -> str:
        parts = [f"--days {self.days:g}" if self.days is not None else "",
                 f"--taskname {self.taskname!r}" if self.taskname else "",
                 f"--range {self.task_range[0]}-{self.task_range[1]}" if self.task_range else "",
                 f"--limit {self.limit}" if self.limit is not None else ""]
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Axis:
    """How one hyperparameter is plotted: ``linear``, ``log`` or ``categorical``."""

    name: str
    kind: str
    categories: Tuple[str, ...] = ()


@dataclass
class Report:
    """Filtered trials sorted best first; ``values[i]`` is ``metric`` of ``trials[i]``.

    ``objectives`` is what the study optimises; ``metric``/``mode`` what the report sorts by
    (the primary objective unless ``--metric`` named another). ``standing`` says, in the same
    order as ``trials``, which are feasible and which are on the Pareto front of the kept
    trials. ``pareto_view``: a multi-objective report in its own order, the front first.
    """

    project: Any  # hpogrid.project.Project
    study: str
    store: str  # printable URL (no password)
    metric: str
    mode: str
    axes: List[Axis]
    metrics: List[str]
    trials: List[TrialRecord]
    values: List[Optional[float]]
    task_time: Dict[str, float]
    total: int
    filters: Filters = field(default_factory=Filters)
    notes: List[str] = field(default_factory=list)
    #: hpo_config ``extra_metrics`` that trials recorded: shown next to the metric everywhere
    extra_metrics: List[str] = field(default_factory=list)
    #: the store URL with its password, for what reads more later (learning curves)
    url: str = field(default="", repr=False)
    objectives: Optional[Objectives] = None
    standing: Optional[Standing] = field(default=None, repr=False)
    pareto_view: bool = False
    #: the study's ``stop_rules`` attribute (:mod:`hpogrid.engine.budget`): None without rules
    stop_rules: Optional[Dict[str, Any]] = None

    def __post_init__(self) -> None:
        if self.objectives is None:
            self.objectives = Objectives.parse(self.metric, self.mode)
        if self.standing is None:
            self.standing = standing(self.objectives, self.trials, front=self.marked)

    @property
    def marked(self) -> bool:
        """Whether feasibility and Pareto membership mean something here (several objectives
        or constraints): outputs then carry ``feasible`` / ``pareto`` columns."""
        return self.objectives.is_multi or bool(self.objectives.constraints)

    @property
    def objective_columns(self) -> List[str]:
        """The other objectives, shown next to the sorting metric."""
        return [m for m in self.objectives.metrics if m != self.metric] if self.objectives.is_multi else []

    @property
    def front(self) -> List[int]:
        """Positions (in report order) of the trials on the Pareto front."""
        return self.standing.front

    @property
    def infeasible(self) -> int:
        """COMPLETED trials that break a constraint."""
        return self.standing.infeasible

    @property
    def listed(self) -> int:
        """How many leading trials the terminal table lists: the front of a Pareto view (it
        comes first), else every trial."""
        return len(self.front) if self.pareto_view else len(self.trials)

    @property
    def counts(self) -> Dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for t in self.trials:
            out[t.state] = out.get(t.state, 0) + 1
        return out

    @cached_property
    def ranked(self) -> int:
        """How many leading trials are ranked: COMPLETED, feasible and with a value (of every
        objective in a Pareto view); they come first."""
        n = 0
        for i, (t, v) in enumerate(zip(self.trials, self.values)):
            if not _rankable(t, v, self.standing, i, self.pareto_view):
                break
            n += 1
        return n

    @property
    def best(self) -> Optional[TrialRecord]:
        """The first ranked trial; None in a Pareto view (several objectives have a front,
        :attr:`front`, not one best trial)."""
        return self.trials[0] if self.ranked and not self.pareto_view else None


def _rankable(t: TrialRecord, v: Optional[float], marks: Standing, i: int, pareto_view: bool) -> bool:
    if pareto_view:
        return marks.eligible[i] and v is not None
    return t.state == COMPLETED and v is not None and marks.feasible[i] is not False


def parse_range(text: str) -> Tuple[int, int]:
    """``"A-B"`` (jeditaskids, A <= B) or a single id ``"A"``."""
    lo, sep, hi = str(text).strip().partition("-")
    try:
        bounds = (int(lo), int(hi) if sep else int(lo))
    except ValueError:
        bounds = None
    if bounds is None or bounds[0] < 0 or bounds[0] > bounds[1]:
        raise ValidationError("--range", f"expected A-B with task ids 0 <= A <= B, got {text!r}")
    return bounds


def parse_extra(text: Optional[str]) -> Tuple[str, ...]:
    """``"site,time_s"`` -> ``("site", "time_s")``, each one of :data:`EXTRA_COLUMNS`."""
    from hpogrid.objectives import split_list

    names = tuple(split_list(text, "--extra")) if text else ()
    for name in names:
        if name not in EXTRA_COLUMNS:
            raise ValidationError("--extra", f"unknown column {name!r}; allowed: {', '.join(EXTRA_COLUMNS)}")
    return tuple(dict.fromkeys(names))


def metric_value(trial: TrialRecord, metric: str) -> Optional[float]:
    """The trial's finite numeric ``metric`` (dotted names reach nested metrics), else None."""
    value = trial.metrics.get(metric)
    if value is None and "." in metric:
        value = flatten(trial.metrics, "").get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def numeric_metrics(trials: Sequence[TrialRecord]) -> List[str]:
    """Names of metrics with a number in at least one trial, in first-seen order."""
    seen: Dict[str, None] = {}
    for t in trials:
        for key, val in flatten(t.metrics, "").items():
            if key not in seen and isinstance(val, (int, float)) and not isinstance(val, bool):
                seen[key] = None
    return list(seen)


def task_times(trials: Sequence[TrialRecord]) -> Dict[str, float]:
    """task id -> last finish minus first start over that task's trials (when both known)."""
    spans: Dict[str, List[Optional[datetime]]] = {}
    for t in trials:
        if t.task_id is None:
            continue
        span = spans.setdefault(t.task_id, [None, None])
        if t.started_at is not None and (span[0] is None or t.started_at < span[0]):
            span[0] = t.started_at
        if t.finished_at is not None and (span[1] is None or t.finished_at > span[1]):
            span[1] = t.finished_at
    return {k: (b - a).total_seconds() for k, (a, b) in spans.items() if a is not None and b is not None}


def _is_grid(t: TrialRecord) -> bool:
    return t.backend == GRID_BACKEND and bool(t.task_id)


def _task_number(t: TrialRecord) -> Optional[int]:
    return int(t.task_id) if _is_grid(t) and t.task_id.isdigit() else None


def apply_filters(trials: Sequence[TrialRecord], f: Filters) -> List[TrialRecord]:
    """Keep the trials ``f`` selects; ``--taskname``/``--range`` only ever match grid trials.

    ``--limit`` comes last and counts grid *tasks* (all trials of one jeditaskid) and
    other trials one by one, most recent first.
    """
    kept = list(trials)
    if f.days is not None:
        cutoff = (f.now or datetime.now(timezone.utc)) - timedelta(days=f.days)
        kept = [t for t in kept if (t.started_at or t.created_at) >= cutoff]
    if f.taskname:
        kept = [t for t in kept if _is_grid(t)
                and fnmatch.fnmatchcase(str(t.annotations.get("taskname") or ""), f.taskname)]
    if f.task_range:
        lo, hi = f.task_range
        kept = [t for t in kept if (n := _task_number(t)) is not None and lo <= n <= hi]
    if f.limit is not None:
        kept = _most_recent(kept, f.limit)
    return kept


def _most_recent(trials: List[TrialRecord], limit: int) -> List[TrialRecord]:
    units: Dict[tuple, List[TrialRecord]] = {}
    for t in trials:
        key = ("task", t.task_id) if _is_grid(t) else ("trial", t.uid)
        units.setdefault(key, []).append(t)
    numbers = {k: _task_number(ts[0]) for k, ts in units.items()}
    if all(n is not None for n in numbers.values()):
        # only grid tasks: PanDA hands out increasing jeditaskids, a better clock than sync times
        order = sorted(units, key=lambda k: numbers[k], reverse=True)
    else:
        order = sorted(units, key=lambda k: (min(t.created_at for t in units[k]),
                                             max(t.number for t in units[k])), reverse=True)
    keep = {id(t) for k in order[:limit] for t in units[k]}
    return [t for t in trials if id(t) in keep]


def sort_trials(trials: Sequence[TrialRecord], metric: str, mode: str
                ) -> Tuple[List[TrialRecord], List[Optional[float]]]:
    """Best first: COMPLETED trials with a value, then other trials with a value, then the
    rest by number; ties keep trial-number order."""
    order, values = sort_order(trials, metric, mode)
    return [trials[i] for i in order], [values[i] for i in order]


def sort_order(trials: Sequence[TrialRecord], metric: str, mode: str, marks: Optional[Standing] = None,
               pareto_view: bool = False) -> Tuple[List[int], List[Optional[float]]]:
    """(positions of ``trials`` best first, ``metric`` of each trial in the given order).

    Ranked trials first (COMPLETED, feasible by ``marks``, with a value; in a Pareto view:
    eligible for the front, the front before the rest), by value; then other trials with a
    value (infeasible ones among them), then the rest by number; ties keep number order.
    """
    feasible = marks.feasible if marks is not None else None
    sign = -1.0 if mode == "max" else 1.0
    values = [metric_value(t, metric) for t in trials]
    keys = []
    for i, (t, v) in enumerate(zip(trials, values)):
        if v is None:
            keys.append((2, 0, 0.0, t.number))
            continue
        ranked = (marks.eligible[i] if pareto_view else
                  t.state == COMPLETED and (feasible is None or feasible[i] is not False))
        behind = 0 if not pareto_view or marks.pareto[i] else 1
        keys.append((0 if ranked else 1, behind, sign * v, t.number))
    order = sorted(range(len(trials)), key=keys.__getitem__)
    return order, values


def _reorder(marks: Standing, order: List[int]) -> Standing:
    return Standing(*(tuple(col[i] for i in order) for col in (marks.feasible, marks.eligible, marks.pareto,
                                                              marks.rank)))


def label(value: Any) -> str:
    """A parameter value as category text: strings as they are, anything else as JSON.

    A string that reads as another JSON value (``"1.5"``, ``"null"``, ``"true"``, the empty
    string) is written as JSON, quoted: a categorical mixing ``1.5`` and ``"1.5"`` keeps two
    categories, in plots and in CSV cells that ``enqueue --file`` reads back."""
    if isinstance(value, str):
        return _string_label(value)
    if value is None or isinstance(value, (bool, int, float)):
        return _scalar_label(type(value), value)  # cached: 100k trials repeat few values
    return json.dumps(value, sort_keys=True)


@lru_cache(maxsize=4096)
def _scalar_label(kind: type, value: Any) -> str:
    return json.dumps(value)


@lru_cache(maxsize=4096)
def _string_label(text: str) -> str:
    if text == "":
        return '""'
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return text
    return json.dumps(text, ensure_ascii=False)


def param_axes(space_dict: Any, trials: Sequence[TrialRecord]) -> List[Axis]:
    """One axis per parameter some trial has: search-space order first, then the others.

    Search-space methods decide the kind (``log`` from ``Param.log``); values that do not
    fit (a string in a numeric parameter, a non-positive value on a log axis) downgrade it
    so a plot never drops trials silently.
    """
    from hpogrid.space import SearchSpace

    try:
        space = dict(SearchSpace.from_dict(space_dict))
    except HpogridError:
        space = {}
    seen: Dict[str, List[Any]] = {}
    for t in trials:
        for name, val in t.params.items():
            seen.setdefault(name, []).append(val)
    order = [n for n in space if n in seen] + [n for n in seen if n not in space]
    axes = []
    for name in order:
        values = seen[name]
        param = space.get(name)
        numeric = set(map(type, values)) <= {int, float}  # bool is not numeric here
        if not numeric or (param is not None and param.method in ("categorical", "fixed")):
            known = []
            if param is not None:
                known = [param.value] if param.method == "fixed" else list(getattr(param, "categories", ()))
            axes.append(Axis(name, "categorical", tuple(dict.fromkeys(map(label, known + _distinct(values))))))
        elif param is not None and param.log and (not values or min(values) > 0):
            axes.append(Axis(name, "log"))
        else:
            axes.append(Axis(name, "linear"))
    return axes


def _distinct(values: List[Any]) -> List[Any]:
    """Distinct values in first-seen order; 1, 1.0 and True stay apart (their labels differ)."""
    try:
        return [v for _, v in dict.fromkeys(zip(map(type, values), values))]
    except TypeError:  # lists or dicts among the values
        return list({label(v): v for v in values}.values())


def _not_stored(trials) -> Optional[str]:
    """The note on metrics that trials reported but that are stored empty (NaN, infinity, an
    integer beyond a float's range: the trial's ``metrics_not_stored`` annotation)."""
    from hpogrid.study.records import METRICS_NOT_STORED

    why: Dict[str, str] = {}
    count = 0
    for trial in trials:
        dropped = (trial.annotations or {}).get(METRICS_NOT_STORED)
        if isinstance(dropped, dict) and dropped:
            count += 1
            for name, text in dropped.items():
                why.setdefault(str(name), str(text))
    if not why:
        return None
    listed = "; ".join(f"{name}: {text}" for name, text in sorted(why.items()))
    return f"{count} trial(s) reported metrics that are not finite numbers, stored empty ({listed})"


def _floats_only(trials: List[TrialRecord]) -> List[TrialRecord]:
    """The trials with any integer metric beyond a float's range (stored by an older version,
    which no table, chart or sort can use) made empty and noted, as a run now stores it."""
    import dataclasses

    from hpogrid.study.records import METRICS_NOT_STORED, not_a_float

    out = []
    for trial in trials:
        metrics = trial.metrics or {}
        bad = {k: why for k, v in metrics.items() if type(v) is int and (why := not_a_float(v))}
        if bad:
            notes = dict(trial.annotations or {})
            known = notes.get(METRICS_NOT_STORED)
            notes[METRICS_NOT_STORED] = {**(known if isinstance(known, dict) else {}), **bad}
            trial = dataclasses.replace(trial, metrics={**metrics, **{k: None for k in bad}}, annotations=notes)
        out.append(trial)
    return out


def build_report(project: str, study: Optional[str] = None, study_url: Optional[str] = None,
                 metric: Optional[str] = None, mode: Optional[str] = None,
                 filters: Filters = Filters(), settle: bool = True) -> Report:
    """Load PROJECT's study (``study`` in ``study_url`` to pick another) and build the report.

    ``settle=False`` only reads: trials of dead runs are not marked INTERRUPTED first.

    Raises :class:`NotFoundError` for an unknown project or study and for a study without
    (matching) trials, :class:`ValidationError` for a metric no trial recorded.
    """
    from hpogrid.report._source import gc_paused

    with gc_paused():
        return _build(project, study, study_url, metric, mode, filters, settle)


def _build(project: str, study: Optional[str], study_url: Optional[str], metric: Optional[str],
           mode: Optional[str], filters: Filters, settle: bool = True) -> Report:
    from hpogrid.project import load_project
    from hpogrid.report._source import read_trials
    from hpogrid.settings import Settings
    from hpogrid.study import StudyTarget

    proj = load_project(project)
    settings = Settings.from_env()
    target = StudyTarget.existing(proj.name, study, study_url, settings)
    store, info = target.open_read_only()
    try:
        if settle:  # dead runs' trials become INTERRUPTED: the report shows what really happened
            target.settle(settings.stale_after_s)
        trials = _floats_only(read_trials(store, target.url, info))
    finally:
        store.close()
    if not trials:
        raise NothingYetError(f"study {info.name!r} in {store.url} has no trials yet")
    hpo = proj.hpo_config or {}
    objectives = _objectives(info, hpo)
    pareto_view = objectives.is_multi and metric is None and mode is None
    mode_given = mode is not None
    metric = metric or objectives.metric
    if mode is None:
        mode = objectives.modes[objectives.metrics.index(metric)] if metric in objectives.metrics else objectives.mode
    mode = mode.lower()
    if mode not in ("min", "max"):
        raise ValidationError("--mode", f"expected min or max, got {mode!r}")
    recorded = numeric_metrics(trials)
    if recorded and metric not in recorded:
        raise ValidationError("--metric", f"{metric!r} not recorded; recorded metrics: {', '.join(recorded)}")
    notes = []
    unrecorded = [m for m in objectives.metrics if m not in recorded and m != metric]
    if unrecorded and objectives.is_multi:
        notes.append(f"objective(s) not recorded by any trial: {', '.join(unrecorded)}: no trial can be on the "
                     f"Pareto front (recorded: {', '.join(recorded) or 'none'})")
    wanted = [m for m in (hpo.get("extra_metrics") or []) if m != metric and m not in objectives.metrics]
    extra = [m for m in wanted if m in recorded]
    if len(extra) < len(wanted):
        missing = ", ".join(m for m in wanted if m not in recorded)
        notes.append(f"extra_metrics not recorded by any trial: {missing} (recorded: {', '.join(recorded) or 'none'})")
    if metric not in objectives.metrics and not mode_given:
        notes.append(f"{metric} is sorted by the project's mode ({mode}); use --mode to change it")
    kept = apply_filters(trials, filters)
    if not kept:
        raise NotFoundError(f"no trial of study {info.name!r} matches {filters.describe()} "
                            f"(the study has {len(trials)} trials)")
    # the front matters with several objectives or constraints (a plain study: feasibility only)
    marks = standing(objectives, kept, front=objectives.is_multi or bool(objectives.constraints))
    if marks.infeasible:
        rules = ", ".join(str(c) for c in objectives.constraints)
        notes.append(f"{marks.infeasible} completed trial(s) break a constraint ({rules}): marked infeasible, "
                     "never ranked, best or on the Pareto front")
    not_stored = _not_stored(kept)
    if not_stored:
        notes.append(not_stored)
    order, values = sort_order(kept, metric, mode, marks, pareto_view)
    ordered = [kept[i] for i in order]
    return Report(project=proj, study=info.name, store=store.url, metric=metric, mode=mode,
                  axes=param_axes(proj.search_space, ordered), metrics=recorded, trials=ordered,
                  values=[values[i] for i in order], task_time=task_times(trials), total=len(trials),
                  filters=filters, notes=notes, extra_metrics=extra, url=target.url, objectives=objectives,
                  standing=_reorder(marks, order), pareto_view=pareto_view,
                  stop_rules=(info.attrs or {}).get("stop_rules") or None)


def _objectives(info, hpo: Dict[str, Any]) -> Objectives:
    """The study's objectives and constraints; a plain single-objective study keeps the
    report's old default: the project's metric and mode, else the study's."""
    stored = study_objectives(info)
    if stored.is_multi or stored.constraints:
        return stored
    try:
        project = Objectives.parse(hpo.get("metric") or info.metric, hpo.get("mode") or info.mode)
    except ValidationError:
        return stored
    return project if not project.is_multi else stored
