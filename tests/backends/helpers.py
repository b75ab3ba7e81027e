"""Build real projects (configs + scripts) in the test's store for end-to-end runs."""
from pathlib import Path

from tests.projects import make_project as _make


def make_project(tmp_path: Path, script: str, space: dict, model: str = "objective",
                 param: dict = None, **hpo) -> str:
    """A project whose single script is ``script`` (dedented); returns its name."""
    return _make(tmp_path, script, space, model={"script": "train.py", "model": model, "param": param or {}}, **hpo)


ECHO = """
import json

def objective(config):
    # echo what arrived so tests can compare it with what the study store recorded
    return {"loss": float(len(json.dumps(config, sort_keys=True))), "echo": json.dumps(config, sort_keys=True)}
"""


#: a define-by-run model with a parameter that exists only for one value of another
DEFINE_BY_RUN = """
def objective(trial):
    act = trial.suggest_categorical("act", ["relu", "tanh"])
    x = trial.suggest_float("x", 0.0, 1.0)
    if act == "relu":
        x += trial.suggest_int("n", 1, 3)
    return x
"""


def trials_so_far(project: str, states=None) -> list:
    """Trials recorded so far by a run in another process; [] before its study exists.

    The database file appears a moment before the study row, so a poll that lands in
    between must not fail.
    """
    from hpogrid import paths
    from hpogrid.errors import NotFoundError
    from hpogrid.study import StudyStore, sqlite_url

    if not paths.study_db(project).exists():
        return []
    try:
        return StudyStore(sqlite_url(paths.study_db(project))).trials(project, states=states)
    except NotFoundError:
        return []


#: trials that meet: each waits until ``config["n"]`` trials are live at once (or every one of
#: ``config["total"]`` has started) and reports the most it saw live, ``peak``. It proves
#: parallelism by what the trials see, not by timestamps, and ``peak`` never exceeds the limit
#: the backend enforces. ``config["dir"]`` is a folder every trial can reach.
BARRIER = """
import time
from pathlib import Path
from hpogrid.trial import trial_uid

def objective(config):
    live, started = Path(config["dir"]) / "live", Path(config["dir"]) / "started"
    live.mkdir(exist_ok=True)
    started.mkdir(exist_ok=True)
    me = live / trial_uid()
    me.write_text("")
    (started / trial_uid()).write_text("")
    peak = len(list(live.iterdir()))
    deadline = time.time() + 180
    while peak < config["n"] and len(list(started.iterdir())) < config["total"] and time.time() < deadline:
        time.sleep(0.02)
        peak = max(peak, len(list(live.iterdir())))
    extra = {}
    import sys
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():  # a Ray worker: which node
        extra["node"] = ray.get_runtime_context().get_node_id()
    me.unlink()
    return {"loss": config["x"], "peak": peak, **extra}
"""
