"""Resume on the fake backend (the engine's logic; every backend's real kill -9 + resume is in
test_backend_contract): nothing completed lost or repeated, interrupted trials re-run once with
their values, the searcher told the history."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.project import load_project
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.helpers import ECHO, make_project, trials_so_far
from tests.conftest import REPO


def run_fake(project, options):
    return get_backend("fake").run(project, options)

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def _store(name):
    return StudyStore(sqlite_url(paths.study_db(name)))


def _seed_study(name, store):
    """A study as a crashed run leaves it: 2 completed, 1 failed, 2 still 'running'."""
    store.get_or_create_study(name, metric="loss", mode="min")
    for uid, state, x in [("c1", "COMPLETED", 0.1), ("c2", "COMPLETED", 0.2), ("f1", "FAILED", 0.3),
                          ("r1", "RUNNING", 0.123456789), ("r2", "RUNNING", 0.987654321)]:
        store.upsert_trial(name, uid, state=state, params={"x": x},
                           metrics={"loss": x} if state == "COMPLETED" else {})


@pytest.mark.parametrize("rerun_failed, algorithm", [(False, "optuna"), (True, "optuna"), (False, "hyperopt"),
                                                     (False, "bayesian")])
def test_resume_reruns_interrupted_with_same_uid_and_values(tmp_path, rerun_failed, algorithm):
    name = make_project(tmp_path, ECHO, UNI, algorithm=algorithm, trials=7, scheduler="fifo")
    store = _store(name)
    _seed_study(name, store)
    summary = run_fake(load_project(name), RunOptions(resume=True, rerun_failed=rerun_failed, seed=1,
                                                       progress=False))
    trials = {t.uid: t for t in store.trials(name)}
    assert len(trials) == 7 and all(t.state == "COMPLETED" for t in trials.values() if t.uid != "f1" or rerun_failed)
    for uid, x in [("r1", 0.123456789), ("r2", 0.987654321)] + ([("f1", 0.3)] if rerun_failed else []):
        t = trials[uid]
        assert t.state == "COMPLETED" and t.params == {"x": x}
        assert __import__("json").loads(t.metrics["echo"])["x"] == x  # the objective got the exact value
    assert trials["c1"].value == 0.1 and trials["c2"].value == 0.2  # kept, not re-run
    assert trials["f1"].state == ("COMPLETED" if rerun_failed else "FAILED")
    backup = [s.name for s in store.list_studies() if s.name.startswith(f"{name}_backup-")]
    assert backup == [f"{name}_backup-1"]
    assert {t.uid: t.state for t in store.trials(backup[0])}["r1"] == "RUNNING"  # the study as it was
    assert any("searcher told 2 earlier trials" in n for n in summary.notes)
    assert summary.counts["COMPLETED"] == (5 if rerun_failed else 4)


def test_resume_without_backup_and_nothing_left_to_do(tmp_path):
    name = make_project(tmp_path, ECHO, UNI, trials=2, scheduler="fifo")
    run_fake(load_project(name), RunOptions(progress=False))
    summary = run_fake(load_project(name), RunOptions(resume=True, backup=False, progress=False))
    store = _store(name)
    assert len(store.trials(name)) == 2 and [s.name for s in store.list_studies()] == [name]
    assert any("2 trials kept, 0 to re-run, 0 new" in n for n in summary.notes)


SLOW = """
import time
def objective(config):
    time.sleep(0.1)
    return config["x"]
"""


def test_kill_minus_9_ten_times_then_resume(tmp_path, hpogrid_home):
    """SIGKILL the driver at random points 10 times; resuming always converges exactly.
    (Each kill costs a driver start, about 1.5 s: ten random points, 0 to 3 trials apart, cover
    a kill at start-up, between trials and with trials running as twenty did.)"""
    rng = random.Random(20261123)
    trials = 20
    name = make_project(tmp_path, SLOW, UNI, trials=trials, scheduler="fifo")
    env = {**os.environ, "HPOGRID_HOME": str(hpogrid_home),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    completed = {}
    for i in range(10):
        args = [sys.executable, "-m", "tests.engine.runner", "fake", name, "--n_jobs", "2"] + (["--resume"] if i else [])
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = len(completed)
        deadline = time.monotonic() + 60
        # kill once the run made progress (a random number of new trials), whatever the machine's speed
        wanted = before + rng.randint(0, 3)
        while len(trials_so_far(name, states=["COMPLETED"])) < wanted and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = {t.uid: (t.params, t.value) for t in trials_so_far(name, states=["COMPLETED"])}
        lost = {uid for uid in completed if now.get(uid) != completed[uid]}
        assert not lost, f"kill {i}: completed trials lost or changed: {lost}"
        completed = now
        if len(completed) >= trials:
            break
    r = subprocess.run([sys.executable, "-m", "tests.engine.runner", "fake", name, "--resume"],
                       env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    final = _store(name).trials(name)
    assert len(final) == trials and {t.state for t in final} == {"COMPLETED"}, \
        {t.state for t in final}  # each interrupted trial was re-run in place, none added twice
    assert all(final_t.params == completed[final_t.uid][0] for final_t in final if final_t.uid in completed)


def test_rerun_chosen_states_and_uids_with_their_values(tmp_path):
    """--rerun FAILED,<uid of a completed trial>: those run again under their uids with their
    stored values; the other completed trial is kept (and told to the searcher)."""
    from hpogrid.engine import RerunSelection

    name = make_project(tmp_path, ECHO, UNI, algorithm="optuna", trials=5, scheduler="fifo")
    store = _store(name)
    _seed_study(name, store)
    before = {t.uid: t for t in store.trials(name)}
    rerun = RerunSelection.parse("failed,c2")
    summary = run_fake(load_project(name), RunOptions(resume=True, rerun=rerun, seed=1, progress=False))
    trials = {t.uid: t for t in store.trials(name)}
    assert len(trials) == 5 and all(t.state == "COMPLETED" for t in trials.values())
    again = {uid for uid, t in trials.items() if "echo" in t.metrics}  # what this run's objective wrote
    assert again == {"f1", "c2", "r1", "r2"}  # interrupted ones always re-run
    for uid in again:
        assert json.loads(trials[uid].metrics["echo"])["x"] == before[uid].params["x"]
    assert trials["c1"].metrics == before["c1"].metrics
    assert any("1 trials kept, 4 to re-run, 0 new" in n and "searcher told 1 earlier trials" in n
               for n in summary.notes), summary.notes


#: an objective that appends each evaluation to a file: a re-run is counted, not inferred from the clock
COUNTED = """
def objective(config):
    with open(config["log"], "a") as fh:
        fh.write(repr(config["x"]) + "\\n")
    return {"loss": config["x"]}
"""


def test_rerun_completed_reruns_every_completed_trial(tmp_path):
    from hpogrid.engine import RerunSelection

    log = tmp_path / "evaluations.txt"
    name = make_project(tmp_path, COUNTED, UNI, algorithm="random", trials=3, scheduler="fifo",
                        param={"log": str(log)})
    run_fake(load_project(name), RunOptions(seed=2, progress=False))
    store = _store(name)
    first = {t.uid: t for t in store.trials(name)}
    summary = run_fake(load_project(name), RunOptions(resume=True, rerun=RerunSelection.parse("COMPLETED"),
                                                       progress=False))
    after = {t.uid: t for t in store.trials(name)}
    assert set(after) == set(first) and summary.counts["COMPLETED"] == 3
    assert all(after[u].params == first[u].params for u in first)
    runs = log.read_text().split()
    assert sorted(runs) == sorted(2 * [repr(t.params["x"]) for t in first.values()])  # each evaluated twice


@pytest.mark.parametrize("text, message", [
    ("FAILED,ERROR", "--rerun: 'ERROR' is not a state trials can be re-run from; choose from FAILED, INTERRUPTED, "
                     "COMPLETED, or give trial uids"),
    (" , ", "--rerun: name states (FAILED, INTERRUPTED, COMPLETED) or trial uids, separated by commas"),
])
def test_rerun_bad_states_are_one_line(text, message):
    from hpogrid.engine import RerunSelection
    from hpogrid.errors import ValidationError

    with pytest.raises(ValidationError) as err:
        RerunSelection.parse(text)
    assert str(err.value) == message


def test_rerun_of_an_unknown_uid_changes_nothing(tmp_path):
    from hpogrid.engine import RerunSelection
    from hpogrid.errors import ValidationError

    name = make_project(tmp_path, ECHO, UNI, trials=5, scheduler="fifo")
    store = _store(name)
    _seed_study(name, store)
    with pytest.raises(ValidationError, match=r"^--rerun: study 'p\w+' has no trial 'c9'; give uids"):
        run_fake(load_project(name), RunOptions(resume=True, rerun=RerunSelection.parse("c1,c9"), progress=False))
    assert [s.name for s in store.list_studies()] == [name]  # no backup made
    assert {t.uid: t.state for t in store.trials(name)}["r1"] == "RUNNING"


def test_a_seeded_search_continued_does_not_propose_its_first_points_again(tmp_path, hpogrid_home):
    """`--seed 5 --trials 3`, then `--resume --trials 6`: the three new trials are new points
    (the seed alone would give a random search the first three again), and the same commands
    on another project give the same six points (still reproducible)."""
    def six_points(project_name):
        project = load_project(project_name)
        run_fake(project, RunOptions(progress=False, n_jobs=1, trials=3, seed=5))
        summary = run_fake(project, RunOptions(progress=False, n_jobs=1, trials=6, seed=5, resume=True, backup=False))
        with _store(project_name) as store:
            trials = sorted(store.trials(project_name), key=lambda t: t.number)
        return [t.params["x"] for t in trials], summary.notes

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, notes = six_points(make_project(tmp_path / "a", ECHO, UNI, algorithm="random", trials=3))
    assert len(first) == 6 and len(set(first)) == 6, first
    assert any("seed 5 continues study" in note for note in notes), notes
    again, _ = six_points(make_project(tmp_path / "b", ECHO, UNI, algorithm="random", trials=3))
    assert again == first


def test_run_counts_stay_right_across_resume_with_a_searcher_that_learns_nothing(tmp_path):
    """The counts a resumed run reports come from counting queries and this run's own trials,
    not from reading the whole study: the same numbers as the trials themselves."""
    from hpogrid.engine import RerunSelection
    from hpogrid.study import best_so_far

    name = make_project(tmp_path, ECHO, UNI, algorithm="random", trials=6, scheduler="fifo")
    store = _store(name)
    _seed_study(name, store)
    summary = run_fake(load_project(name), RunOptions(resume=True, rerun=RerunSelection.parse("c2"), seed=1,
                                                       progress=False))
    assert any("2 trials kept, 3 to re-run, 1 new" in n for n in summary.notes), summary.notes
    trials = store.trials(name)
    by_state = {s: sum(1 for t in trials if t.state == s) for s in summary.study_counts}
    assert summary.study_counts == by_state and by_state["COMPLETED"] == 5 and by_state["FAILED"] == 1
    assert summary.counts["COMPLETED"] == 4 and sum(summary.counts.values()) == 4  # r1, r2, c2 and the new one
    again = run_fake(load_project(name), RunOptions(resume=True, backup=False, seed=1, progress=False))
    assert sum(again.counts.values()) == 0 and again.study_counts == by_state
    url = sqlite_url(paths.study_db(name))
    full, top = best_so_far(url, name), best_so_far(url, name, top=2)
    assert [t.uid for t in top.best] == [t.uid for t in full.best[:2]]
    assert (top.failed, top.last_error) == (full.failed, full.last_error) == (1, full.last_error)
