"""Every trial runs in its own trial folder: relative files of trials running at once never
meet, nothing lands where the run was started, and the project's files stay reachable."""
import os
from pathlib import Path

import pytest

from hpogrid import paths
from tests.projects import make_project

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}

#: the project's sibling module and data file, reached from a trial that runs elsewhere
FILES = {"helper.py": "def tag(uid):\n    return 'from-' + uid\n", "data.txt": "project data\n"}

#: each trial waits until both have started (marker files in a shared folder), then writes the
#: same relative file name: with one working directory for both they would clobber each other
MEET = """
import os
import time
from pathlib import Path
from hpogrid.trial import scripts_dir, trial_dir, trial_uid
import helper

def objective(config):
    started = Path(config["dir"])
    (started / trial_uid()).write_text("")
    deadline = time.time() + 120  # (a guard against a hang, not an order)
    while len(list(started.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.02)
    both = len(list(started.iterdir())) >= 2
    Path("artifact.txt").write_text(helper.tag(trial_uid()))
    assert Path.cwd() == trial_dir(), (Path.cwd(), trial_dir())
    assert (scripts_dir() / "data.txt").read_text() == "project data\\n"
    assert os.environ["HPOGRID_SCRIPTS_DIR"] == str(scripts_dir())
    return {"loss": config["x"], "both": float(both)}
"""


def _artifacts(project: str):
    """``artifact.txt`` of every trial folder: {folder name: content}."""
    return {p.parent.name: p.read_text() for p in (paths.projects_dir() / project).rglob("artifact.txt")}


@pytest.fixture
def caller(tmp_path, monkeypatch):
    """The directory the run is started from (it must stay empty)."""
    folder = tmp_path / "caller"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_two_parallel_pool_trials_write_the_same_relative_file_into_their_own_folders(run_cli, tmp_path, caller):
    from hpogrid.study import load

    meet = tmp_path / "meet"
    meet.mkdir()
    name = make_project(tmp_path, MEET, UNI, param={"dir": str(meet)}, files=FILES, trials=2)
    r = run_cli("local_run", name, "--n_jobs", "2", "--seed", "1")
    assert r.exit_code == 0, r.output
    trials = load(name).trials
    assert [t.state for t in trials] == ["COMPLETED"] * 2, [t.error for t in trials]
    assert all(t.metrics["both"] == 1.0 for t in trials)  # they did run at once
    assert _artifacts(name) == {t.uid: f"from-{t.uid}" for t in trials}
    assert list(caller.iterdir()) == []  # nothing in the caller's directory
    assert Path.cwd() == caller


DEFINE_BY_RUN = """
from pathlib import Path
from hpogrid.trial import scripts_dir, trial_dir, trial_uid
import helper

def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    Path("artifact.txt").write_text(helper.tag(trial_uid()))
    assert Path.cwd() == trial_dir() and (scripts_dir() / "data.txt").is_file()
    return x
"""

TRAINABLE = """
from pathlib import Path
from ray import tune
from hpogrid.trial import trial_dir, trial_uid
import helper

class Net(tune.Trainable):
    def setup(self, config):
        self.x = config["x"]

    def step(self):
        Path("artifact.txt").write_text(helper.tag(trial_uid()))
        assert Path.cwd() == trial_dir()
        return {"loss": self.x, "done": True}

    def save_checkpoint(self, checkpoint_dir):  # (Ray Tune asks for one)
        return {}

    def load_checkpoint(self, checkpoint):
        pass
"""


@pytest.mark.parametrize("kind", ["define_by_run", "trainable"])
def test_define_by_run_and_trainable_trials_on_the_pool_run_in_their_folders(run_cli, tmp_path, caller, kind):
    from hpogrid.study import load

    if kind == "define_by_run":
        name = make_project(tmp_path, DEFINE_BY_RUN, None, files=FILES, trials=2, algorithm="optuna")
    else:
        name = make_project(tmp_path, TRAINABLE, UNI, files=FILES, trials=2,
                            model={"script": "train.py", "model": "Net"})
    r = run_cli("local_run", name, "--n_jobs", "1", "--seed", "1")
    assert r.exit_code == 0, r.output
    trials = load(name).trials
    assert [t.state for t in trials] == ["COMPLETED"] * 2, [t.error for t in trials]
    # one worker ran both: the second trial did not start in the first one's folder
    assert _artifacts(name) == {t.uid: f"from-{t.uid}" for t in trials}
    assert list(caller.iterdir()) == []


def test_run_trial_restores_the_working_directory_for_the_next_trial(tmp_path, caller):
    """A pool worker lives on: after a trial (completed or failed) it is back where it was."""
    from hpogrid.objective import standalone

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "train.py").write_text(
        "from pathlib import Path\n"
        "def objective(config):\n"
        "    Path('artifact.txt').write_text('here')\n"
        "    if config['fail']:\n"
        "        raise RuntimeError('boom')\n"
        "    return 1.0\n")
    for uid, fail in (("ok", False), ("bad", True)):
        trial = tmp_path / uid
        trial.mkdir()
        standalone.write_json(trial / standalone.TRIAL_FILE, {
            "uid": uid, "study": "s", "scripts_dir": str(scripts), "script": "train.py", "model": "objective",
            "metric": "loss", "mode": "min", "stop": {}, "config": {"fail": fail}})
        before = os.environ.get("HPOGRID_SCRIPTS_DIR")
        assert standalone.run_trial(trial) == (1 if fail else 0)
        assert Path.cwd() == caller and os.environ.get("HPOGRID_SCRIPTS_DIR") == before
        assert (trial / "artifact.txt").read_text() == "here"
    assert list(caller.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["function", "trainable"])
def test_a_ray_tune_trial_runs_in_its_hpogrid_trial_folder(run_cli, tmp_path, caller, kind):
    """Tune changes into its own trial directory (under log_dir); hpogrid's folder wins."""
    from hpogrid.study import load

    if kind == "function":
        script = MEET.replace('len(list(started.iterdir())) < 2', 'len(list(started.iterdir())) < 1')
        meet = tmp_path / "meet"
        meet.mkdir()
        name = make_project(tmp_path, script, UNI, param={"dir": str(meet)}, files=FILES, trials=1)
    else:
        name = make_project(tmp_path, TRAINABLE, UNI, files=FILES, trials=1,
                            model={"script": "train.py", "model": "Net"})
    r = run_cli("local_run", name, "--ray", "--seed", "1")
    assert r.exit_code == 0, r.output
    trials = load(name).trials
    assert [t.state for t in trials] == ["COMPLETED"], [t.error for t in trials]
    assert _artifacts(name) == {trials[0].uid: f"from-{trials[0].uid}"}
    assert list(caller.iterdir()) == []


def test_fake_backend_trials_keep_the_drivers_directory_and_find_the_scripts(tmp_path, caller):
    """The documented exception: the fake backend's trials are threads of the driver's process."""
    from hpogrid.backends import RunOptions, get_backend
    from hpogrid.project import load_project
    from hpogrid.study import load

    script = """
    import os
    from hpogrid.trial import scripts_dir

    def objective(config):
        assert (scripts_dir() / "data.txt").is_file()
        return {"loss": config["x"], "same": float(os.getcwd() == config["caller"])}
    """
    name = make_project(tmp_path, script, UNI, param={"caller": str(caller)}, files=FILES, trials=2)
    get_backend("fake").run(load_project(name), RunOptions(seed=1, progress=False))
    trials = load(name).trials
    assert [t.state for t in trials] == ["COMPLETED"] * 2, [t.error for t in trials]
    assert all(t.metrics["same"] == 1.0 for t in trials) and Path.cwd() == caller
