"""Early stopping decided by the engine: ASHA, synchronous Hyperband and median stopping over
the study's learning curves.

Every backend whose trials report through the trial folder (pool, fake) sends each
intermediate result to the engine, which answers continue or stop (:mod:`hpogrid.objective.trial_folder`:
``decision.json``). The rules are pure functions of the recorded learning curves - every
trial's values of the scheduler's metric by ``time_attr`` - which the :class:`EarlyStopper`
loads from the study when the run starts and extends with each report. No rung or bracket is
kept anywhere else, so a ``--resume``d run (or a second driver reading the same study) sees
the same rungs and takes the same decisions.

Why own classes rather than optuna's pruners: optuna's ``SuccessiveHalvingPruner`` keeps its
rungs as system attributes of optuna trials and needs an optuna ``Study`` to write them to,
it decides only at a report whose step equals a rung, and its parameters differ from the
``scheduler_param`` keys users already give for Ray (``grace_period``, ``reduction_factor``,
``max_t``, ``brackets``; median: ``grace_period``, ``min_samples_required``). The rules below
take Ray's keys and follow Ray's ASHA and median stopping rule (so a run moved from Ray to
the pool stops the same trials), but read everything from the curves: deterministic for a
given order of reports, and nothing to persist but what the study already records.

Synchronous Hyperband (:class:`HyperBand`) is the one rule that may not answer at once: a trial
at a rung waits (its report blocks, :class:`Verdict` ``wait``) until the answer is certain.
To never deadlock with fewer workers than a bracket, :class:`Judge` forces the answers when
every live trial waits and no trial started since its last look (all workers held, or nothing
left to start); a forced answer is "among the best ``keep`` of those at the rung so far",
which equals the complete rung's answer whenever that was already certain. Brackets follow
the order trials first started (the study's order), so a resumed run sees the same ones. Ray
Tune (``hpogrid.backends.raytune``) asks the same rules through a Tune ``TrialScheduler``.
"""
from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

#: schedulers the engine applies itself (the others need Ray Tune)
ENGINE_SCHEDULERS = ("asynchyperband", "hyperband", "median")

#: one trial's curve: (time, signed value) in report order; larger is better
Curve = List[Tuple[float, float]]


@dataclass(frozen=True)
class Verdict:
    """The engine's answer to one report. ``early``: stopped by the rule (not at ``max_t``).
    ``wait``: no answer yet (synchronous Hyperband: the trial's rung is not complete); the
    trial waits in its report until the rule decides."""

    stop: bool
    reason: str = ""
    early: bool = False
    wait: bool = False


CONTINUE = Verdict(False)


def percentile(values: List[float], q: float) -> float:
    """numpy's default (linear) percentile, ``q`` in [0, 100], without numpy."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: List[float]) -> float:
    return percentile(values, 50.0)


class Rule(ABC):
    """A stopping rule over every trial's curve."""

    def __init__(self, time_attr: str = "training_iteration"):
        self.time_attr = time_attr

    @abstractmethod
    def decide(self, uid: str, curves: Mapping[str, Curve]) -> Verdict:
        """The verdict for trial ``uid`` after the last point of ``curves[uid]``."""


class AsyncHyperBand(Rule):
    """ASHA as Ray's ``ASHAScheduler``: rungs at ``grace_period * reduction_factor**k`` below
    ``max_t``; a trial crossing a rung goes on only when its value is in the best
    ``1/reduction_factor`` of the values other trials of its bracket had at that rung (a
    rung nobody else reached lets it pass). With ``brackets`` > 1 a trial's bracket follows
    from its uid (Ray draws it at random), weighted as Ray weights them."""

    def __init__(self, time_attr: str = "training_iteration", max_t: float = 100, grace_period: float = 1,
                 reduction_factor: float = 4, brackets: int = 1, stop_last_trials: bool = True):
        super().__init__(time_attr)
        self.max_t, self.rf, self.stop_last = max_t, reduction_factor, stop_last_trials
        self.rungs: List[List[float]] = []
        for s in range(brackets):
            n = int(math.log(max_t / grace_period) / math.log(reduction_factor) - s + 1)
            self.rungs.append([grace_period * reduction_factor ** (k + s) for k in range(max(0, n))])
        sizes = [len(r) for r in self.rungs]
        weights = [math.e ** (n - max(sizes)) for n in sizes]
        self._cum = [sum(weights[:i + 1]) / sum(weights) for i in range(len(weights))]

    def bracket(self, uid: str) -> int:
        u = zlib.crc32(uid.encode()) / 2 ** 32
        return next(i for i, c in enumerate(self._cum) if u < c or i == len(self._cum) - 1)

    @staticmethod
    def crossing(curve: Curve, rung: float) -> Optional[Tuple[int, float]]:
        """(index, value) of the report at which ``curve`` first reached ``rung``."""
        for i, (t, v) in enumerate(curve):
            if t >= rung:
                return i, v
        return None

    def decide(self, uid, curves):
        curve = curves[uid]
        t, value = curve[-1]
        verdict = CONTINUE
        if t >= self.max_t and self.stop_last:
            verdict = Verdict(True, f"reached max_t={self.max_t:g}")
        before = curve[-2][0] if len(curve) > 1 else -math.inf
        bracket = self.bracket(uid)
        crossed = [r for r in self.rungs[bracket] if before < r <= t]
        if not crossed:
            return verdict
        rung = max(crossed)  # as Ray: a report jumping several rungs is judged at the highest
        others = []
        for other, c in curves.items():
            if other == uid or not c or self.bracket(other) != bracket:
                continue
            hit = self.crossing(c, rung)
            # the rung counts where the other trial recorded it there (its highest rung crossed)
            if hit is not None and not any(rung < r <= c[hit[0]][0] for r in self.rungs[bracket]):
                others.append(hit[1])
        if others and value < percentile(others, (1 - 1 / self.rf) * 100):
            return Verdict(True, f"below the top 1/{self.rf:g} at rung {rung:g} of {self.time_attr}", early=True)
        return verdict


class MedianStopping(Rule):
    """Ray's median stopping rule: from ``grace_period`` on, a trial whose best value so far is
    worse than the median of the other trials' running means (over ``grace_period``..t) at
    the same ``t`` stops, once at least ``min_samples_required`` other trials reached ``t``."""

    def __init__(self, time_attr: str = "training_iteration", grace_period: float = 60.0,
                 min_samples_required: int = 3, min_time_slice: float = 0, hard_stop: bool = True):
        super().__init__(time_attr)
        self.grace, self.min_samples = grace_period, min_samples_required

    def decide(self, uid, curves):
        curve = curves[uid]
        t = curve[-1][0]
        if t < self.grace:
            return CONTINUE
        means = []
        for other, c in curves.items():
            if other == uid or not c or c[-1][0] < t:
                continue
            scoped = [v for (s, v) in c if self.grace <= s <= t]
            if scoped:
                means.append(sum(scoped) / len(scoped))
        if len(means) < self.min_samples:
            return CONTINUE
        best = max(v for _, v in curve)
        mid = median(means)
        if best < mid:
            return Verdict(True, f"best value below the median of {len(means)} other trials at "
                                 f"{self.time_attr}={t:g}", early=True)
        return CONTINUE


@dataclass(frozen=True)
class Bracket:
    """One Hyperband bracket: the trials started at positions ``start`` .. ``start + size - 1``
    (in the study's start order), their ``rungs`` (the last is ``max_t``) and how many of those
    reaching each halving rung go on (``keep[i]`` at ``rungs[i]``)."""

    start: int
    size: int
    rungs: Tuple[float, ...]
    keep: Tuple[int, ...]


class HyperBand(Rule):
    """Synchronous Hyperband with Ray's ``HyperBandScheduler`` parameters and bracket sizes:
    ``s_max + 1 = round(log(max_t) / log(reduction_factor)) + 1`` brackets per band, bracket
    ``s`` (0 first, as Ray fills them) takes ``ceil((s_max + 1) / (s + 1) * eta**s)`` trials,
    starting at ``int(max_t * eta**-s)`` and multiplying by ``eta`` (at most ``max_t``) ``s``
    times; at each rung the best ``ceil(n / eta)`` of its ``n`` go on, and the bracket's last
    rung ends its trials (not early). Trials join brackets in the order they
    first start (their position in the study), so a resumed run sees the same brackets.

    Synchronous: a trial reaching a rung gets its answer once the answer cannot change - the
    rung is complete (every member of its bracket reached it or ended), or enough members
    already beat it (stop), or too few could (go on). Otherwise it waits (:class:`Verdict`
    ``wait``). The caller may ``force`` an answer when nobody else can arrive (every worker
    holds a waiting trial, or no trial is left to start): then the trial goes on when it is
    among the best ``keep`` of those that reached the rung so far, as Ray does with a bracket
    it cannot fill. A forced answer is the one the complete rung would give whenever that was
    already certain, so a run with one worker decides exactly as a run with many would have,
    given the same order of reports."""

    def __init__(self, time_attr: str = "training_iteration", max_t: float = 81, reduction_factor: float = 3,
                 stop_last_trials: bool = True):
        super().__init__(time_attr)
        self.max_t, self.eta, self.stop_last = max_t, reduction_factor, stop_last_trials
        s_max_1 = int(round(math.log(max_t) / math.log(reduction_factor))) + 1
        self.band: List[Bracket] = []
        start = 0
        for s in range(s_max_1):
            r0 = int(max_t * reduction_factor ** (-s))
            if r0 == 0:  # as Ray: a bracket too small to exist
                continue
            n = int(math.ceil(s_max_1 / (s + 1) * reduction_factor ** s))
            rungs, keep, r, left = [float(r0)], [], r0, n
            for _ in range(s):
                left = int(math.ceil(left / reduction_factor))
                keep.append(left)
                r = int(min(r * reduction_factor, max_t))
                rungs.append(float(r))
            self.band.append(Bracket(start, n, tuple(rungs), tuple(keep)))
            start += n
        self.band_size = start

    def bracket_of(self, position: int) -> Bracket:
        """The bracket of the trial started at ``position`` (bands repeat)."""
        band, at = divmod(position, self.band_size)
        b = next(b for b in self.band if b.start <= at < b.start + b.size)
        return Bracket(band * self.band_size + b.start, b.size, b.rungs, b.keep)

    def decide(self, uid, curves, order: Optional[Mapping[str, int]] = None, ended=frozenset(), force: bool = True):
        """``order``: uid -> the trial's start position (default: the order of ``curves``);
        ``ended``: trials that will report no more; ``force``: answer now (no waiting)."""
        if order is None:
            order = {u: i for i, u in enumerate(curves)}
        curve = curves[uid]
        t, value = curve[-1]
        bracket = self.bracket_of(order[uid])
        if t >= bracket.rungs[-1] and self.stop_last:  # as Ray: its bracket is done (max_t, or below it)
            return Verdict(True, f"reached {self.time_attr}={bracket.rungs[-1]:g}, its bracket's end")
        before = curve[-2][0] if len(curve) > 1 else -math.inf
        crossed = [i for i, r in enumerate(bracket.rungs[:-1]) if before < r <= t]
        if not crossed:
            return CONTINUE
        i = max(crossed)
        rung, keep, me = bracket.rungs[i], bracket.keep[i], order[uid]
        at = {p: u for u, p in order.items() if bracket.start <= p < bracket.start + bracket.size}
        better, missing = 0, bracket.size - len(at)
        for p, other in at.items():
            if other == uid:
                continue
            hit = AsyncHyperBand.crossing(curves.get(other) or [], rung)
            if hit is None:
                missing += other not in ended
            elif hit[1] > value or (hit[1] == value and p < me):
                better += 1
        if better >= keep:
            return Verdict(True, f"not in the best {keep} of its bracket at rung {rung:g} of {self.time_attr}",
                           early=True)
        if force or better + missing < keep:
            return CONTINUE
        return Verdict(False, f"waits for its bracket at rung {rung:g}", wait=True)


def applies(spec) -> bool:
    """Does the engine stop trials of a run with this ``RunSpec`` early? Only with one of its
    schedulers, and only when trials report more than once (the default stop,
    ``{"training_iteration": 1}``, leaves nothing to act on)."""
    return spec.scheduler in ENGINE_SCHEDULERS and dict(spec.stop) != {"training_iteration": 1}


def make_rule(name: str, params: Mapping[str, Any]) -> Optional[Rule]:
    """The rule for ``scheduler`` ``name`` and its ``scheduler_param`` (None: FIFO, or a
    scheduler the engine does not apply)."""
    kwargs = {k: v for k, v in params.items() if k not in ("max_concurrent", "metric")}
    if name == "asynchyperband":
        return AsyncHyperBand(**kwargs)
    if name == "median":
        return MedianStopping(**kwargs)
    if name == "hyperband":
        return HyperBand(**kwargs)
    return None


class EarlyStopper:
    """One run's early stopping: the curves of every trial of the study (loaded when the run
    starts, extended with each report) and the rule that judges them."""

    def __init__(self, rule: Rule, metric: str, mode: str, scheduler: str):
        self.rule, self.metric, self.sign, self.scheduler = rule, metric, (1.0 if mode == "max" else -1.0), scheduler
        self.curves: Dict[str, Curve] = {}
        #: trials this run stopped early: uid -> {"by", "at", "why"}
        self.stopped: Dict[str, Dict[str, Any]] = {}
        #: every trial's start position in the study (Hyperband's brackets), kept over re-runs
        self.order: Dict[str, int] = {}
        #: trials that report no more (finished, or of an earlier run and not run again)
        self.ended: set = set()
        #: trials waiting for an answer (synchronous Hyperband): uid -> the report it waits on
        self.waiting: Dict[str, Mapping[str, Any]] = {}

    @classmethod
    def for_plan(cls, plan) -> Optional["EarlyStopper"]:
        """The stopper of a run whose scheduler the engine applies (None: none to apply)."""
        spec = plan.spec
        if not applies(spec):
            return None
        params = dict(spec.scheduler_param)
        metric = params.get("metric") or spec.metric
        mode = next((o.mode for o in spec.objectives if o.metric == metric), spec.mode)
        rule = make_rule(spec.scheduler, params)
        return cls(rule, metric, mode, spec.scheduler) if rule is not None else None

    def load(self, records) -> None:
        """The study's trials (``TrialRecord``s): their recorded intermediate results."""
        for record in records:
            self.order.setdefault(record.uid, len(self.order))
            self.ended.add(record.uid)  # until this run starts it again (:meth:`restart`)
            for item in record.intermediate or []:
                self._add(record.uid, item)

    def _add(self, uid: str, item: Mapping[str, Any]) -> bool:
        t, v = item.get(self.rule.time_attr), item.get(self.metric)
        if not isinstance(t, (int, float)) or not isinstance(v, (int, float)) or isinstance(v, bool) \
                or not math.isfinite(v):
            return False
        curve = self.curves.setdefault(uid, [])
        if curve and t <= curve[-1][0]:  # a trial run again (resume) reports from its start again
            del curve[:]
        curve.append((float(t), self.sign * float(v)))
        return True

    def restart(self, uid: str) -> None:
        """Trial ``uid`` starts (again): its earlier curve no longer counts."""
        self.curves.pop(uid, None)
        self.stopped.pop(uid, None)
        self.waiting.pop(uid, None)
        self.ended.discard(uid)
        self.order.setdefault(uid, len(self.order))

    def finish(self, uid: str) -> None:
        """Trial ``uid`` ended: it reports no more (a rung it did not reach is complete without it)."""
        self.ended.add(uid)
        self.waiting.pop(uid, None)

    def decide(self, uid: str, item: Mapping[str, Any], force: bool = False) -> Verdict:
        """Record one intermediate result of ``uid`` and judge it. ``force``: answer now, even
        where a synchronous rule would wait (a caller that cannot hold the trial)."""
        self.waiting.pop(uid, None)  # a trial that went on without its answer (it waited too long)
        if not self._add(uid, item):
            return CONTINUE
        return self._judge(uid, item, force)

    def _judge(self, uid: str, item: Mapping[str, Any], force: bool) -> Verdict:
        if isinstance(self.rule, HyperBand):
            verdict = self.rule.decide(uid, self.curves, self.order, self.ended, force)
        else:
            verdict = self.rule.decide(uid, self.curves)
        if verdict.wait:
            self.waiting[uid] = item
        if verdict.early:
            self.stopped[uid] = {"by": self.scheduler, "at": item.get(self.rule.time_attr), "why": verdict.reason}
        return verdict

    def pending(self, force: bool = False) -> List[Tuple[str, Verdict]]:
        """The waiting trials' answers that can be given now (all of them with ``force``), in
        start order."""
        out = []
        for uid in sorted(self.waiting, key=lambda u: self.order.get(u, 0)):
            verdict = self._judge(uid, self.waiting.pop(uid), force)
            if not verdict.wait:
                out.append((uid, verdict))
        return out


class Judge:
    """Early stopping in the loop (:mod:`hpogrid.engine.early_stop`): reads each live trial's new
    reports from its folder, records them in the study as they come, and answers each one."""

    def __init__(self, stopper: "EarlyStopper", sink):
        from hpogrid.objective.trial_folder import ProgressTail

        self.stopper, self.sink = stopper, sink
        self._tail_of = ProgressTail
        self.tails: Dict[str, Any] = {}
        self.counts: Dict[str, int] = {}
        #: the live trials when all were last seen waiting (synchronous Hyperband)
        self._stalled: Optional[frozenset] = None

    @classmethod
    def for_run(cls, backend, plan, sink) -> Optional["Judge"]:
        stopper = EarlyStopper.for_plan(plan) if getattr(backend, "early_stopping", False) else None
        if stopper is None:
            return None
        sink.flush()
        stopper.load(sink.store.trials(sink.study))  # the study's curves: what earlier runs reported
        return cls(stopper, sink)

    def starts(self, trial):
        """Trial ``trial`` (a TrialSpec) starts: it will wait for an answer after each report."""
        from dataclasses import replace

        from hpogrid.objective.trial_folder import clear_decision

        trial.folder.mkdir(parents=True, exist_ok=True)
        clear_decision(trial.folder)
        self.tails[trial.uid] = self._tail_of(trial.folder)
        self.counts[trial.uid] = 0
        self.stopper.restart(trial.uid)
        return replace(trial, awaits_decision=True)

    def step(self, live: Mapping[str, Any]) -> None:
        """``live``: uid -> the executor's run of each live trial (its ``folder``)."""
        from hpogrid.objective.trial_folder import write_decision

        for uid, run in live.items():
            tail = self.tails.get(uid)
            if tail is None:
                continue
            for item in tail.new():
                self.counts[uid] += 1
                self.sink.reported(uid, item)
                verdict = self.stopper.decide(uid, item)
                if not verdict.wait:
                    write_decision(run.folder, self.counts[uid], verdict.stop, verdict.reason)
        if not self.stopper.waiting:
            self._stalled = None
            return
        # every live trial waits and none started since the last look: nobody else can reach
        # their rungs now (all workers held, or nothing left to start) - answer them anyway
        held = frozenset(live) if live and all(uid in self.stopper.waiting for uid in live) else None
        force, self._stalled = held is not None and held == self._stalled, held
        for uid, verdict in self.stopper.pending(force):
            if uid in live:
                write_decision(live[uid].folder, self.counts[uid], verdict.stop, verdict.reason)

    def release(self, live: Mapping[str, Any]) -> None:
        """The run ends with ``live`` trials still running: answer STOP to whatever they wait
        for, so they end now (a thread of the fake backend cannot be killed)."""
        from hpogrid.objective.trial_folder import write_decision

        for uid, run in live.items():
            if uid in self.counts:
                write_decision(run.folder, 1 << 30, True, "the run ended")

    def restarted(self, uid: str, folder) -> None:
        """Trial ``uid`` runs again in ``folder`` by the backend's own doing (a requeued Slurm
        job): its reports count from the new attempt's first one."""
        from hpogrid.objective.trial_folder import clear_decision

        clear_decision(folder)
        self.tails[uid] = self._tail_of(folder)
        self.counts[uid] = 0
        self.stopper.restart(uid)

    def ended(self, uid: str) -> Optional[Dict[str, Any]]:
        self.tails.pop(uid, None)
        self.counts.pop(uid, None)
        self.stopper.finish(uid)
        return self.stopper.stopped.get(uid)
