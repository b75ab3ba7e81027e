"""A project whose study holds known trials (local, grid, failed, running, hostile strings).

Trials are written straight into the study store, so no Ray is needed and every value,
timestamp and origin is known exactly.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

XSS = "<script>alert(1)</script>"
IMG_XSS = "<img src=x onerror=alert(2)>"

SPACE = {
    "lr": {"method": "loguniform", "dimension": {"low": 1e-4, "high": 1e-1}},
    "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 4}},
    "act": {"method": "categorical", "dimension": {"categories": ["relu", "tanh", XSS]}},
}


@dataclass
class Known:
    name: str
    now: datetime
    url: str


def make_project(tmp_path, name="rp", space=None, metric="loss", mode="min"):
    from tests.projects import make_project as make

    return make(tmp_path, name=name, space=space or SPACE, metric=metric, mode=mode)


# number: (uid, state, params, metrics, backend, task_id, taskname, site, start offset (h), duration (s), error)
TRIALS = [
    ("l0", "COMPLETED", {"lr": 0.01, "layers": 2, "act": "relu"}, {"loss": 0.5, "accuracy": 0.8},
     "local", None, None, None, -24, 60, None),
    ("l1", "COMPLETED", {"lr": 0.001, "layers": 3, "act": "tanh"}, {"loss": 0.2, "accuracy": 0.9},
     "local", None, None, None, -48, 120, None),
    ("l2", "FAILED", {"lr": 0.1, "layers": 1, "act": "relu"}, {},
     "local", None, None, None, -72, 5, "Traceback (most recent call last):\nValueError: boom " + IMG_XSS),
    ("g0", "COMPLETED", {"lr": 0.0002, "layers": 4, "act": "tanh"}, {"loss": 0.3, "accuracy": 0.85},
     "panda", "10000001", "user.me.hpo.alpha", "CERN", -240, 30, None),
    ("g1", "COMPLETED", {"lr": 0.05, "layers": 1, "act": "relu"}, {"loss": 0.9, "accuracy": 0.6},
     "panda", "10000001", "user.me.hpo.alpha", "CERN", -239, 50, None),
    ("g2", "COMPLETED", {"lr": 0.003, "layers": 2, "act": "tanh"}, {"loss": 0.1, "accuracy": 0.95},
     "panda", "10000002", "user.me.hpo.beta", "BNL", -120, 40, None),
    ("l3", "RUNNING", {"lr": 0.02, "layers": 2, "act": "relu"}, {"loss": 0.05, "accuracy": 0.99},
     "local", None, None, None, -1, None, None),
    ("l4", "COMPLETED", {"lr": 0.004, "layers": 3, "act": XSS}, {"loss": 0.4, "accuracy": 0.82},
     "local", None, None, None, -30, 10, None),
]


def write_trials(url, study, now, trials=TRIALS):
    from hpogrid.study import StudyStore

    store = StudyStore(url)
    store.get_or_create_study(study, metric="loss", mode="min")
    for uid, state, params, metrics, backend, task, taskname, site, start_h, dur, error in trials:
        start = now + timedelta(hours=start_h)
        fields = dict(state=state, params=params, metrics=metrics, backend=backend, task_id=task,
                      site=site, created_at=start - timedelta(seconds=1), started_at=start,
                      finished_at=None if dur is None else start + timedelta(seconds=dur), error=error,
                      annotations={"taskname": taskname} if taskname else {})
        if state == "RUNNING":
            fields.pop("finished_at")
        store.upsert_trial(study, uid, **fields)
    store.close()


def make_mo_project(tmp_path, name="mo", metric=("loss", "acc"), mode=("min", "max"),
                    constraints=None, space=None):
    """A project whose hpo_config has several objectives (and ``constraints``)."""
    from tests.projects import UNI, make_project as make

    hpo = {"metric": list(metric), "mode": list(mode)} if len(metric) > 1 else {"metric": metric[0], "mode": mode[0]}
    if constraints:
        hpo["constraints"] = constraints
    return make(tmp_path, name=name, space=space or UNI, **hpo)


def write_mo_study(url, study, objectives, rows):
    """``rows``: (uid, state, metrics) written in order, with params {"x": position}."""
    from hpogrid.study import StudyStore

    store = StudyStore(url)
    store.create_study(study, objectives.metric, objectives.mode, attrs=objectives.to_attrs())
    for k, (uid, state, metrics) in enumerate(rows):
        store.upsert_trial(study, uid, state=state, params={"x": k / 10}, metrics=metrics)
    store.close()


MO_CONSTRAINTS = {"latency": ["<=", 20]}
# two objectives (loss min, acc max) and a constraint; uid, state, metrics (trial number = position)
MO_ROWS = [
    ("a", "COMPLETED", {"loss": 0.2, "acc": 0.7, "latency": 10}),      # 0 front
    ("b", "COMPLETED", {"loss": 0.3, "acc": 0.9, "latency": 15}),      # 1 front
    ("c", "COMPLETED", {"loss": 0.4, "acc": 0.6, "latency": 5}),       # 2 dominated by a
    ("cheat", "COMPLETED", {"loss": 0.1, "acc": 0.95, "latency": 50}),  # 3 would dominate, infeasible
    ("d", "COMPLETED", {"loss": 0.5, "acc": 0.95, "latency": 12}),     # 4 front
    ("f", "FAILED", {}),                                               # 5
    ("r", "RUNNING", {"loss": 0.05, "acc": 0.99, "latency": 1}),       # 6 not finished
    ("e", "COMPLETED", {"loss": 0.3, "acc": 0.9, "latency": 1}),       # 7 same values as b: front too
    ("m", "COMPLETED", {"loss": 0.25, "latency": 3}),                  # 8 no acc: not comparable
]


def mo_project(tmp_path, name="mo"):
    """Project ``mo`` whose study holds :data:`MO_ROWS` (front: trials 0, 1, 4, 7)."""
    from hpogrid import paths
    from hpogrid.objectives import Objectives
    from hpogrid.study import sqlite_url

    make_mo_project(tmp_path, name, constraints=MO_CONSTRAINTS)
    objectives = Objectives.parse(["loss", "acc"], ["min", "max"], MO_CONSTRAINTS)
    write_mo_study(sqlite_url(paths.study_db(name)), name, objectives, MO_ROWS)
    return name


OOM = "RuntimeError: CUDA out of memory. Tried to allocate {} GiB (GPU {}; {} GiB total)"
HEARTBEAT = "pilot: Lost heartbeat after {} s for job {}"


def _lost(attempt, site, seconds, pandaid):
    return {"attempt": attempt, "reason": "pilot: lost heartbeat", "where": {"site": site},
            "error": HEARTBEAT.format(seconds, pandaid), "ended": "2026-12-01T10:00:00+00:00"}


#: a mixed set of failures: two grid sites and a Slurm node, two error classes (a CUDA
#: out-of-memory in the trial's code, a pilot losing the job), lost attempts of finished trials
#: uid: (state, backend, site, host, error, lost attempts)
FAILURES = {
    "oom-a": ("FAILED", "panda", "ANALY_A", None,
              "Traceback (most recent call last):\n  File \"train.py\", line 3\n" + OOM.format("2.00", 0, "15.78"),
              [_lost(1, "ANALY_B", 1800, 4000000012)]),
    "oom-b": ("FAILED", "panda", "ANALY_A", None, OOM.format("0.50", 1, "15.78"), []),
    "lost-c": ("FAILED", "panda", "ANALY_B", None, HEARTBEAT.format(3600, 4000000077), []),
    "ok-d": ("COMPLETED", "panda", "ANALY_A", None, None,
             [_lost(1, "ANALY_B", 1800, 4000000101), _lost(2, "ANALY_A", 900, 4000000102)]),
    "ok-e": ("COMPLETED", "panda", "ANALY_B", None, None, []),
    "oom-s": ("FAILED", "slurm", None, "node01", OOM.format("1.50", 3, "79.10"), []),
}


def write_failures(url, study):
    """Write :data:`FAILURES` into ``study``; returns uid -> trial number."""
    from hpogrid.study import StudyStore

    store = StudyStore(url)
    store.get_or_create_study(study, metric="loss", mode="min")
    for k, (uid, (state, backend, site, host, error, lost)) in enumerate(FAILURES.items()):
        store.upsert_trial(study, uid, state=state, params={"lr": 0.001 * (k + 1), "layers": 1, "act": "relu"},
                           metrics={"loss": 0.1 * k} if state == "COMPLETED" else {}, backend=backend, site=site,
                           host=host, error=error, annotations={"attempts": lost} if lost else {})
    numbers = {t.uid: t.number for t in store.trials(study)}
    store.close()
    return numbers
