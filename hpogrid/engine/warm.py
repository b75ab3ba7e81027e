"""``--warm-start STUDY_OR_PROJECT``: tell this run's searcher what another study found.

A new study of a changed model, or the same search on another backend, need not start from
nothing: the completed trials of a compatible study are told to the searcher before it
proposes anything, by the same rule that tells a resumed study's history
(:func:`hpogrid.engine.resume.tell_history`), so it works on every backend, Ray Tune too.

The source is a study of this run's study store, else a project (its own study, where that
project keeps it). It must optimise the same metric, and its space must have the same
parameter names and methods as this run's (bounds may differ: a trial whose values fall
outside this space is skipped). Anything else is one line listing the differences.
Searchers that learn nothing from results (random, grid) are told nothing; searchers that
cannot be told points they did not propose say so in a note and search afresh.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hpogrid.errors import NothingYetError, NotFoundError, ValidationError

FIELD = "--warm-start"


@dataclass(frozen=True)
class WarmSource:
    """The study a run is warm-started from, and the search space it searched (None: unknown)."""

    study: str
    url: str
    space: Optional[Dict[str, Any]]
    described: str


def _missing_sqlite(url: str) -> bool:
    """A SQLite store whose file does not exist holds no study (and must not be created)."""
    from pathlib import Path

    return url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists()


def _project_space(name: str) -> Optional[Dict[str, Any]]:
    from hpogrid.project import load_project

    try:
        return dict(load_project(name).search_space or {})
    except NotFoundError:
        return None


def resolve_source(source: str, target, settings) -> WarmSource:
    """A study named ``source`` in this run's store, else the study of project ``source``."""
    from hpogrid.names import check_name
    from hpogrid.project import load_project
    from hpogrid.study import StudyStore, StudyTarget

    check_name(source, FIELD)
    if source == target.name:
        raise ValidationError(FIELD, f"{source!r} is the study this run records into; --resume continues it")
    names = {}
    if not _missing_sqlite(target.url):
        try:  # read-only: a store without study tables (an empty file) holds no study
            with StudyStore(target.url, access="read") as store:
                names = {s.name: s for s in store.list_studies()}
        except NothingYetError:
            pass
    if source in names:
        info = names[source]
        space = info.attrs.get("search_space") if isinstance(info.attrs.get("search_space"), dict) else None
        if space is None and info.attrs.get("project"):
            space = _project_space(str(info.attrs["project"]))
        return WarmSource(source, target.url, space, f"study {source!r}")
    try:
        proj = load_project(source)
    except NotFoundError:
        raise ValidationError(FIELD, f"no study {source!r} in this run's study store and no project {source!r} "
                              f"(studies here: {', '.join(sorted(names)) or 'none'})") from None
    other = StudyTarget.resolve(proj, None, None, settings)
    if _missing_sqlite(other.url):
        raise ValidationError(FIELD, f"project {source!r} has no study yet (run it first)")
    return WarmSource(other.name, other.url, dict(proj.search_space or {}), f"project {source!r}")


def space_differences(there: Dict[str, Any], here: Dict[str, Any]) -> List[str]:
    """What keeps trials of space ``there`` from being told to a searcher of space ``here``
    (search-space JSON objects; their ``constraints`` are not parameters)."""
    from hpogrid.space import SearchSpace

    there, here = SearchSpace.split(there)[0], SearchSpace.split(here)[0]
    out = []
    only_there = [n for n in there if n not in here]
    only_here = [n for n in here if n not in there]
    if only_there:
        out.append(f"only there: {', '.join(only_there)}")
    if only_here:
        out.append(f"only here: {', '.join(only_here)}")
    for name in here:
        if name in there:
            a, b = (there[name] or {}).get("method"), (here[name] or {}).get("method")
            if a != b:
                out.append(f"{name} is {a} there, {b} here")
    return out


@dataclass
class WarmStart:
    """A checked source and its completed trials, ready to be told (:meth:`tell`)."""

    source: WarmSource
    completed: List[Any]

    @classmethod
    def load(cls, source: str, target, settings, plan) -> "WarmStart":
        """Check ``source`` against ``plan`` (before the run touches its study: a bad source
        changes nothing) and read its completed trials."""
        from hpogrid.study import COMPLETED, StudyStore

        found = resolve_source(source, target, settings)
        # a define-by-run model has no space to compare: each trial is told with the distributions
        # its parameters were asked from (trials of other models, without them, are skipped)
        here = plan.space.to_dict() if plan.space is not None else None
        try:  # the source is only read: opening it never creates nor migrates a database
            store = StudyStore(found.url, access="read")
        except NothingYetError:  # a database without study tables, e.g. a zero-length study.db
            raise ValidationError(FIELD, f"{found.described} has no study yet (run it first)") from None
        with store:
            try:
                info = store.get_study(found.study)
            except NotFoundError:
                raise ValidationError(FIELD, f"{found.described} has no study {found.study!r} yet (run it "
                                      "first)") from None
            completed = [t for t in store.trials(found.study, states=[COMPLETED]) if t.value is not None]
        from hpogrid.objectives import Objectives

        theirs = Objectives.from_study(info.metric, info.mode, info.attrs)
        if theirs.metrics != plan.spec.objectives.metrics:
            ours = ", ".join(plan.spec.objectives.metrics)
            raise ValidationError(FIELD, f"{found.described} optimises {', '.join(theirs.metrics)}, this run "
                                  f"{ours}: its results cannot be told to this search")
        if here is None:
            diff = []
        elif found.space is not None:
            diff = space_differences(found.space, here)
        else:  # no space on record: the names its trials carry
            names = {n: {"method": here[n]["method"]} if n in here else {} for t in completed for n in t.params}
            diff = [d for d in space_differences(names, here) if d.startswith("only")]
        if diff:
            raise ValidationError(FIELD, f"{found.described} searched another space ({'; '.join(diff)}); "
                                  "warm-start from a study of the same parameter names and methods")
        return cls(found, completed)

    def tell(self, plan, workload) -> int:
        """Tell ``plan.searcher`` the completed trials; notes go to ``workload``; returns how many."""
        from hpogrid.engine.resume import tell_history
        from hpogrid.search import learns

        described = self.source.described
        if not learns(plan.searcher):
            workload.notes.append(f"warm start: the {plan.algorithm} search learns nothing from results; "
                                  f"{described} told nothing")
            return 0
        inside = [t for t in self.completed if plan.space is None or plan.space.contains(t.params)]
        told, space_set = tell_history(plan.searcher, plan.codec, inside, plan.spec.metric, plan.spec.mode)
        workload.space_in_searcher = workload.space_in_searcher or space_set
        if inside and not told:
            workload.notes.append(f"warm start: {type(plan.searcher).__name__} cannot be told earlier trials; it "
                                  "searches afresh")
            return 0
        workload.warm_told = told
        skipped = len(self.completed) - told
        workload.notes.append(f"warm start: searcher told {told} completed trials of {described}"
                              + (f" ({skipped} outside this space skipped)" if skipped else ""))
        return told
