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
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    scripts = tmp_path / f"scripts-{name}"
    scripts.mkdir()
    (scripts / "train.py").write_text("def objective(config):\n    return {'loss': 0.0}\n")
    NamedStore("model_config").create(name, {"script": "train.py", "model": "objective"})
    NamedStore("search_space").create(name, space or SPACE)
    NamedStore("hpo_config").create(name, {"metric": metric, "mode": mode})
    create_project(name, str(scripts), {"model_config": name, "search_space": name, "hpo_config": name})
    return name


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
