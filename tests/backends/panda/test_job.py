"""The grid job's payload, run outside any container: sandbox in, trials out as job metadata."""
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from hpogrid.backends.panda._sandbox import CONFIG_FOLDER, pack_project
from hpogrid.configs import NamedStore
from hpogrid.project import create_project, load_project

SCRIPT = """
from pathlib import Path

def objective(config):
    # the input dataset is staged next to the scripts, in the job's working directory
    offset = float((Path(__file__).parent / "input.txt").read_text())
    return {"loss": (config["x"] - offset) ** 2}
"""
SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def grid_project(tmp_path: Path, name: str = "gp", script: str = SCRIPT, trials: int = 3) -> str:
    scripts = tmp_path / f"scripts-{name}"
    scripts.mkdir()
    (scripts / "train.py").write_text(textwrap.dedent(script))
    (scripts / "__pycache__").mkdir()
    (scripts / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"junk")
    NamedStore("model_config").create(name, {"script": "train.py", "model": "objective"})
    NamedStore("search_space").create(name, SPACE)
    NamedStore("hpo_config").create(name, {"algorithm": "random", "metric": "loss", "mode": "min",
                                           "trials": trials, "scheduler": "fifo"})
    NamedStore("grid_config").create(name, {"site": "ANALY_TEST_GPU", "container": "docker://hpogrid:test"})
    create_project(name, str(scripts), {"model_config": name, "search_space": name, "hpo_config": name,
                                        "grid_config": name})
    return name


def unpack_sandbox(name: str, tmp_path: Path) -> Path:
    sandbox = pack_project(load_project(name), tmp_path / "upload")
    work = tmp_path / f"job-{sandbox.stem}"
    work.mkdir()
    with tarfile.open(sandbox) as tar:
        tar.extractall(work, filter="data")
    (work / "input.txt").write_text("0.25")
    return work


def run_job(work: Path, name: str, *args: str, home: Path):
    env = {**os.environ, "HPOGRID_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "hpogrid", "run", name, "--mode", "grid", *args], cwd=work,
                          env=env, capture_output=True, text=True, timeout=300)


def test_sandbox_holds_scripts_and_config_only(tmp_path):
    name = grid_project(tmp_path)
    project = load_project(name)
    (project.path / "study.db").write_text("not packed")
    sandbox = pack_project(project, tmp_path / "upload")
    with tarfile.open(sandbox) as tar:
        names = sorted(tar.getnames())
    # besides: the job's bootstrap and this hpogrid's own package (tests/backends/panda/test_bootstrap.py)
    own = [n for n in names if n == f"{CONFIG_FOLDER}/bootstrap.py" or n.startswith(f"{CONFIG_FOLDER}/lib/hpogrid/")]
    assert sorted(set(names) - set(own)) == [f"{CONFIG_FOLDER}/config.json", "train.py"]


@pytest.mark.slow
def test_grid_job_runs_the_hpo_and_writes_metadata_and_outputs(tmp_path):
    name = grid_project(tmp_path)
    outer = tmp_path / "outer-home"
    work = unpack_sandbox(name, tmp_path)
    r = run_job(work, name, "--seed", "7", home=outer)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Grid job of gp: 3 completed, 0 failed trials (seed 7)" in r.stdout
    meta = json.loads((work / "userJobMetadata.json").read_text())
    assert meta["project"] == name and meta["seed"] == 7 and meta["metric"] == "loss" and meta["mode"] == "min"
    assert [t["state"] for t in meta["trials"]] == ["COMPLETED"] * 3
    for t in meta["trials"]:  # the staged input reached the objective
        assert t["value"] == pytest.approx((t["params"]["x"] - 0.25) ** 2)
    assert meta["best"]["value"] == min(t["value"] for t in meta["trials"])
    assert json.loads((work / "hpo_result.json").read_text()) == meta
    with tarfile.open(work / "hpogrid_trials.tgz") as tar:
        assert f"{name}/study.db" in tar.getnames()
    assert not outer.exists()  # the job keeps its store in its working directory

    again = unpack_sandbox(name, tmp_path)  # the same seed repeats the points, another seed does not
    assert run_job(again, name, "--seed", "7", home=outer).returncode == 0
    other = unpack_sandbox(name, tmp_path)
    assert run_job(other, name, "--seed", "8", home=outer).returncode == 0

    def xs(folder):
        return sorted(t["params"]["x"] for t in json.loads((folder / "userJobMetadata.json").read_text())["trials"])
    assert xs(again) == xs(work) and not set(xs(other)) & set(xs(work))


@pytest.mark.slow
def test_grid_job_whose_trials_all_fail_exits_nonzero_with_the_errors_in_metadata(tmp_path):
    name = grid_project(tmp_path, script="def objective(config):\n    raise RuntimeError('no GPU here')\n",
                        trials=2)
    work = unpack_sandbox(name, tmp_path)
    r = run_job(work, name, "--seed", "1", home=tmp_path / "outer")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "Error: no trial completed (2 failed)"
    meta = json.loads((work / "userJobMetadata.json").read_text())
    assert [t["state"] for t in meta["trials"]] == ["FAILED", "FAILED"]
    assert all("no GPU here" in t["error"] for t in meta["trials"]) and meta["best"] is None


def test_grid_mode_outside_a_sandbox_is_one_line_error(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run_cli("run", "gp", "--mode", "grid", "--seed", "1")
    assert r.exit_code == 1
    assert r.output.startswith(f"Error: no project sandbox in {tmp_path} ({CONFIG_FOLDER}/config.json is missing)")
    assert len(r.output.strip().splitlines()) == 1


def test_metadata_stays_under_the_size_pilots_attach():
    from hpogrid.backends.panda._job import fit_metadata

    trials = [{"uid": f"t{i}", "state": "FAILED" if i % 2 else "COMPLETED", "params": {"x": i},
               "metrics": {"loss": float(i)}, "value": None if i % 2 else float(i), "error": "E" * 2000 if i % 2 else None,
               "started_at": None, "finished_at": None} for i in range(3000)]
    meta = {"project": "p", "mode": "min", "metric": "loss", "best": trials[0], "trials": trials}
    text = fit_metadata(meta, limit=100_000)
    assert len(text.encode()) <= 100_000
    kept = json.loads(text)
    assert kept["best"] == trials[0] and kept["trials"][0]["uid"] == "t0"  # the best trials stay
    assert kept["left_out"] == 3000 - len(kept["trials"]) > 0
    small = {**meta, "trials": trials[:3]}
    assert json.loads(fit_metadata(small)) == small  # nothing changes below the limit


@pytest.mark.slow
def test_sigterm_from_the_pilot_still_hands_back_finished_trials(tmp_path):
    import signal
    import time

    from hpogrid.study import StudyStore, sqlite_url

    first = tmp_path / "first-trial"  # one trial completes; every later one runs until the SIGTERM
    script = ("import os, time\n\ndef objective(config):\n    try:\n"
              f"        os.close(os.open({str(first)!r}, os.O_CREAT | os.O_EXCL))\n"
              "    except FileExistsError:\n        while True:\n            time.sleep(0.1)\n"
              "    return config['x']\n")
    name = grid_project(tmp_path, script=script, trials=40)
    work = unpack_sandbox(name, tmp_path)
    env = {**os.environ, "HPOGRID_HOME": str(tmp_path / "outer")}
    proc = subprocess.Popen([sys.executable, "-m", "hpogrid", "grid_job", name, "--seed", "3"],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = work / ".hpogrid-job" / "projects" / name / "study.db"
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.1)
        try:
            if db.is_file() and StudyStore(sqlite_url(db)).trials(name, states=["COMPLETED"]):
                break
        except Exception:  # noqa: BLE001 - the study row may not exist yet
            pass
    else:
        pytest.fail("no trial completed within 120 s")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    meta = json.loads((work / "userJobMetadata.json").read_text())
    states = [t["state"] for t in meta["trials"]]
    assert states.count("COMPLETED") == 1 and "RUNNING" not in states and len(states) < 40
    assert meta["error"].startswith("interrupted (SIGTERM from the pilot"), meta["error"]
    assert meta["best"] is not None and proc.returncode == 130
    assert (work / "hpogrid_trials.tgz").is_file()


def test_handed_back_best_skips_infeasible_and_several_objectives_name_their_front(tmp_path):
    """The job's "best" is by the primary objective among feasible trials; with several
    objectives the metadata also lists the Pareto-optimal uids (mode given as a list)."""
    from types import SimpleNamespace

    from hpogrid.backends.panda._job import _hand_back
    from hpogrid.objectives import Objectives
    from hpogrid.study import StudyStore, sqlite_url

    project = tmp_path / "proj"
    project.mkdir()
    hpo = {"metric": ["loss", "acc"], "mode": ["min", "max"], "constraints": {"latency": ["<=", 20]}}
    store = StudyStore(sqlite_url(project / "study.db"))
    store.create_study("p", "loss", "min", attrs=Objectives.parse(hpo["metric"], hpo["mode"],
                                                                  hpo["constraints"]).to_attrs())
    for uid, loss, acc, latency in (("cheat", 0.0, 1.0, 99), ("a", 0.2, 0.7, 1), ("b", 0.3, 0.9, 1),
                                    ("c", 0.4, 0.6, 1)):
        store.upsert_trial("p", uid, state="COMPLETED", metrics={"loss": loss, "acc": acc, "latency": latency})
    store.close()
    work = tmp_path / "work"
    work.mkdir()
    result = _hand_back(SimpleNamespace(hpo_config=hpo, path=project, name="p"), work, "p", 1, "random", None)
    assert result.metadata["best"]["uid"] == "a"
    assert result.metadata["pareto"] == ["a", "b"]
    from hpogrid.backends.panda._job import fit_metadata

    max_first = {**result.metadata, "mode": ["max", "min"]}  # the primary mode orders what is kept
    kept = json.loads(fit_metadata(max_first, limit=1200))
    assert kept["trials"][0]["uid"] == "c"


@pytest.mark.slow
def test_grid_job_trials_run_in_their_folders_and_find_the_input_in_the_scripts_folder(tmp_path):
    script = """
    import os
    from pathlib import Path
    from hpogrid.trial import scripts_dir, trial_dir, trial_uid

    def objective(config):
        # the staged input is in the job's working directory, the project's scripts folder there
        offset = float((scripts_dir() / "input.txt").read_text())
        assert Path(os.environ["HPOGRID_SCRIPTS_DIR"]) == scripts_dir()
        Path("artifact.txt").write_text(trial_uid())  # relative: into this trial's folder
        assert Path.cwd() == trial_dir()
        return {"loss": (config["x"] - offset) ** 2}
    """
    name = grid_project(tmp_path, script=script, trials=2)
    work = unpack_sandbox(name, tmp_path)
    r = run_job(work, name, "--seed", "7", home=tmp_path / "outer-home")
    assert r.returncode == 0, r.stderr[-3000:]
    meta = json.loads((work / "userJobMetadata.json").read_text())
    assert [t["state"] for t in meta["trials"]] == ["COMPLETED"] * 2, [t.get("error") for t in meta["trials"]]
    assert not (work / "artifact.txt").exists()
    found = {p.parent.name: p.read_text() for p in work.rglob("artifact.txt")}
    assert found == {t["uid"]: t["uid"] for t in meta["trials"]}
