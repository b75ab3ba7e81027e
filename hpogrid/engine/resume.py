"""Resume a study: nothing completed is lost or repeated, nothing interrupted is forgotten.

Before touching the study it is copied to ``<study>_backup-<n>``. Trials left RUNNING or
PENDING by a run that died (kill -9, node failure) become INTERRUPTED; those (and the trials
a :class:`RerunSelection` chooses: every FAILED one, chosen trials by uid, ...) are re-run
with their stored values and keep their uid, so a training script can pick up its own
checkpoint in its trial folder. Completed trials that are not re-run are told to the
searcher where the library allows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from hpogrid.engine.rerun import RERUN_STATES, RerunSelection, ResumeRequest  # noqa: F401 (RerunSelection: its old home)
from hpogrid.errors import ValidationError
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, PENDING, RUNNING, TrialState

if TYPE_CHECKING:
    from hpogrid.engine.plan import SearchPlan
    from hpogrid.study import StudyStore

@dataclass(frozen=True)
class Adopted:
    """A trial of a dead run that still runs where the backend can follow it (a grid task):
    the resumed run takes it over as its own live trial instead of running it again."""

    uid: str
    values: Dict[str, Any]
    state: TrialState  # PENDING or RUNNING
    fields: Dict[str, Any] = field(default_factory=dict)  # what the backend needs to follow it


@dataclass
class Workload:
    """What a run has to do: follow ``adopted`` trials, re-runs first (uid, stored values),
    then ``new_trials``."""

    new_trials: int
    reruns: List[Tuple[str, Dict[str, Any]]] = field(default_factory=list)
    adopted: List[Adopted] = field(default_factory=list)
    #: uids among ``reruns`` that are points the user enqueued (their results are told to the
    #: searcher, which did not propose them)
    enqueued: List[str] = field(default_factory=list)
    backup: str = ""
    finished: int = 0
    told: int = 0
    #: completed trials of another study told before the run (``--warm-start``)
    warm_told: int = 0
    #: the searcher was given the search space already (Tune must then pass none)
    space_in_searcher: bool = False
    notes: List[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.adopted) + len(self.reruns) + self.new_trials


def backup_name(store, study: str) -> str:
    taken = {s.name for s in store.list_studies()}
    n = 1
    while f"{study}_backup-{n}" in taken:
        n += 1
    return f"{study}_backup-{n}"


def prepare_resume(store: StudyStore, study: str, plan: SearchPlan, request: ResumeRequest = ResumeRequest(),
                   settle: Optional[Callable[[], List[str]]] = None,
                   adopt: Optional[Callable[[], List[Adopted]]] = None) -> Workload:
    """What a resumed run of ``study`` has to do, for the search ``plan`` (its trials, and the
    searcher that is told the kept trials). ``settle`` (a backend's) runs after the backup,
    before unfinished trials are marked: it records what the dead run's trials did meanwhile
    (and stops those still alive); it returns notes. ``adopt`` then names the trials still
    alive that this run takes over. ``request.rerun`` chooses finished trials to run again."""
    rerun = request.rerun
    # a study of 100,000 trials: read only the trials this needs (counts, the ones re-run, the
    # history a learning searcher is told), never every trial
    known = {t.uid for t in store.trials(study, uids=rerun.uids)} if rerun.uids else set()
    unknown = [uid for uid in rerun.uids if uid not in known]
    if unknown:  # before the backup: a typo costs nothing
        raise ValidationError("--rerun", f"study {study!r} has no trial {', '.join(map(repr, unknown))}; give "
                              f"uids that 'hpogrid report' lists, or states ({', '.join(RERUN_STATES)})")
    searcher, codec, spec = plan.searcher, plan.codec, plan.spec
    work = Workload(new_trials=0)
    if request.backup:
        work.backup = backup_name(store, study)
        store.copy_study(study, work.backup)
    if settle is not None:
        work.notes += settle()
    if adopt is not None:
        work.adopted = list(adopt())
    kept = {a.uid for a in work.adopted}
    for t in store.trials(study, states=[RUNNING, PENDING]):
        if t.uid not in kept:
            store.upsert_trial(study, t.uid, state=INTERRUPTED,
                               error="its run ended before it finished (found on resume)")
    again = {INTERRUPTED} | set(rerun.states)
    chosen = set(rerun.uids)
    picked = {t.uid: t for t in store.trials(study, states=sorted(again))}
    if chosen:
        picked.update((t.uid, t) for t in store.trials(study, uids=chosen))
    again_trials = sorted((t for t in picked.values() if t.uid not in kept), key=lambda t: t.number)
    work.reruns = [(t.uid, t.params) for t in again_trials]
    rerun_uids = {uid for uid, _ in work.reruns}
    counts = store.counts(study)
    done_count = counts.get(COMPLETED, 0) + counts.get(FAILED, 0) \
        - sum(1 for t in again_trials if t.state in (COMPLETED, FAILED))
    work.finished = done_count
    work.new_trials = max(0, spec.trials - work.finished - len(work.reruns) - len(work.adopted))
    history = [] if _learns_nothing(searcher) else \
        [t for t in store.trials(study, states=[COMPLETED]) if t.uid not in rerun_uids and t.value is not None]
    work.told, work.space_in_searcher = tell_history(searcher, codec, history, spec.metric, spec.mode)
    if work.told == 0 and done_count and not _learns_nothing(searcher):
        work.notes.append(f"{type(searcher).__name__} cannot be told earlier trials: it searches afresh")
    work.notes.append(f"resuming study {study!r}: {work.finished} trials kept, "
                      + (f"{len(work.adopted)} still running taken over, " if work.adopted else "")
                      + f"{len(work.reruns)} to re-run, {work.new_trials} new"
                      + (f"; backup in study {work.backup!r}" if work.backup else "")
                      + (f"; searcher told {work.told} earlier trials" if work.told else ""))
    return work


def _learns_nothing(searcher) -> bool:
    from hpogrid.search import learns

    return not learns(searcher)


def tell_history(searcher, codec, completed, metric: str, mode: str) -> Tuple[int, bool]:
    """Give the searcher the completed trials (Optuna, skopt): (how many, space given to it).
    Searchers of several objectives or constraints get every metric of a trial.

    Searchers need their space before they can be told anything, so it is set here; Tune
    then gets no param_space for this searcher.
    """
    if _learns_nothing(searcher) or not completed:
        return 0, False
    from hpogrid.search import as_core

    if as_core(searcher).native:  # its own ask/tell: the space is the codec's already
        space_set = False
    else:
        space_set = bool(searcher.set_search_properties(metric, mode, codec.param_space()))
    from hpogrid.search.asktell import evaluated_metrics

    told = 0
    define_by_run = getattr(codec, "define_by_run", False)
    for t in completed:
        try:
            if define_by_run:  # how each parameter was asked for is in the trial's annotations
                from hpogrid.search.define_by_run import DISTRIBUTIONS_ANNOTATION

                dists = (t.annotations or {}).get(DISTRIBUTIONS_ANNOTATION)
                searcher.add_evaluated_point(dict(t.params), t.value, distributions=dists or None)
            else:
                searcher.add_evaluated_point(codec.encode(t.params), t.value, **evaluated_metrics(searcher, t.metrics))
        except NotImplementedError:
            break
        except (KeyError, ValueError):  # the space changed since: skip that trial
            continue
        told += 1
    return told, space_set


def continued_seed(options, target) -> Tuple[Any, List[str]]:
    """A seeded run of a study that already holds trials (``--resume``, or more trials added)
    searches from a seed derived from the user's and the study's size: the user's seed alone
    would make a random searcher propose the very points of the study's first trials again.
    The same seed and the same study still give the same points. Returns (options, notes)."""
    if options.seed is None or options.points is not None:
        return options, []
    n = _existing_trials(target)
    if not n:
        return options, []
    import dataclasses
    import hashlib

    digest = hashlib.sha256(f"{options.seed}:{n}".encode()).digest()
    seed = int.from_bytes(digest[:4], "big") % 2**31
    return dataclasses.replace(options, seed=seed), [
        f"seed {options.seed} continues study {target.name!r} after its {n} trials: the searcher starts "
        f"from seed {seed} (derived from both, so it does not propose the first trials' points again)"]


def _existing_trials(target) -> int:
    """How many trials the run's study holds already (0: no store or study yet)."""
    from hpogrid.errors import NotFoundError, StudyError

    try:
        store, info = target.open_read_only()
    except (NotFoundError, StudyError):
        return 0
    try:
        return sum(store.counts(info).values())
    finally:
        store.close()
