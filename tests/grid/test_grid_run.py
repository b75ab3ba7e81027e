"""``run`` -> ``tasks show`` -> ``report`` end to end: the real panda-client, a loopback PanDA
server that executes the jobs (each one runs ``hpogrid run --mode grid``), the study store."""
import json
import textwrap

import pytest

from hpogrid.study import StudyStore, sqlite_url
from hpogrid import paths

pytestmark = pytest.mark.slow
SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
SCRIPT = """
import os
from pathlib import Path

def objective(config):
    flag = config.get("flag")  # model_config param arrives merged into the config
    if flag and not Path(flag).exists():
        raise RuntimeError("flag file missing")
    return {"loss": (config["x"] - 0.5) ** 2}
"""
SECRET = "s3cr3t-token-value"


@pytest.fixture
def grid_env(panda_server, monkeypatch, tmp_path):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("PANDA_AUTH_ID_TOKEN", SECRET)  # must never show up anywhere
    return panda_server


def make(run_cli, tmp_path, name, trials=2, param=None, retry=False, container="docker://hpogrid:test"):
    scripts = tmp_path / f"scripts-{name}"
    scripts.mkdir()
    (scripts / "train.py").write_text(textwrap.dedent(SCRIPT))
    cmds = [("model_config", "create", name, "--script", "train.py", "--model", "objective",
             "--param", json.dumps(param or {})),
            ("search_space", "create", name, json.dumps(SPACE)),
            ("hpo_config", "create", name, "--algorithm", "random", "--metric", "loss", "--mode", "min",
             "--trials", str(trials), "--scheduler", "fifo"),
            ("grid_config", "create", name, "--site", "ANALY_TEST_GPU", "--container", container,
             *(["--retry"] if retry else [])),
            ("project", "create", name, "--scripts_path", scripts, "--model_config", name, "--search_space", name,
             "--hpo_config", name, "--grid_config", name)]
    for cmd in cmds:
        r = run_cli(*cmd)
        assert r.exit_code == 0, r.output


def submit(run_cli, name, *args):
    r = run_cli("run", name, *args)
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("Submitted task ")
    return int(first.split()[2])


def study_trials(name):
    return StudyStore(sqlite_url(paths.study_db(name))).trials(name)


def test_run_three_jobs_then_tasks_show_and_report(grid_env, run_cli, tmp_path, monkeypatch, hpogrid_home):
    server = grid_env
    make(run_cli, tmp_path, "gp")
    task_id = submit(run_cli, "gp", "--n_jobs", "3")
    assert task_id >= 10**7
    assert server.wait_task(task_id, timeout=240) == "done"

    r = run_cli("tasks", "show", "--jeditaskid", str(task_id), "--metadata", "--output", tmp_path / "t.json")
    assert r.exit_code == 0, r.output
    assert str(task_id) in r.output and "done" in r.output and "ANALY_TEST_GPU" in r.output
    (row,) = json.loads((tmp_path / "t.json").read_text())
    assert row["jeditaskid"] == task_id and row["status"] == "done"
    assert row["metastruct"]["jobs"] == 3 and row["metastruct"]["trials"] == 6

    before = dict(server.request_counts)
    r = run_cli("report", "gp", "--extra", "site,taskid,jobid")
    assert r.exit_code == 0, r.output
    trials = study_trials("gp")
    assert len(trials) == 6 and {t.state for t in trials} == {"COMPLETED"}
    assert {t.backend for t in trials} == {"panda"} and {t.task_id for t in trials} == {str(task_id)}
    assert len({t.job_id for t in trials}) == 3 and {t.site for t in trials} == {"ANALY_TEST_GPU"}
    assert len({t.annotations["seed"] for t in trials}) == 3  # each job searched with its own seed
    assert len({t.params["x"] for t in trials}) == 6
    assert "6 completed" in r.output and "ANALY_TEST_GPU" in r.output
    assert all(t.job_id in r.output and t.task_id in r.output for t in trials)
    calls = {k: v - before.get(k, 0) for k, v in server.request_counts.items() if v != before.get(k, 0)}
    assert calls == {"task/get_tasks_detailed_info_since": 1, "task/get_tasks_modified_since": 1,
                     "job/get_description_incl_archive": 1}, calls  # listing, PandaIDs, job records

    before = dict(server.request_counts)
    r = run_cli("report", "gp")  # syncing again: nothing added, nothing asked but the listing
    assert r.exit_code == 0 and len(study_trials("gp")) == 6
    assert sum(v - before.get(k, 0) for k, v in server.request_counts.items()) == 1

    for path in [p for p in hpogrid_home.rglob("*") if p.is_file()] + [tmp_path / "t.json"]:
        assert SECRET.encode() not in path.read_bytes(), path

    for var in ("PANDA_URL", "PANDA_URL_SSL", "PANDACACHE_URL"):  # PanDA out of reach: a note, same trials
        monkeypatch.setenv(var, "http://127.0.0.1:9/server/panda")
    r = run_cli("report", "gp")
    assert r.exit_code == 0, r.output
    assert "Note: grid trials not refreshed (PanDA server 127.0.0.1:9 did not answer" in r.output
    assert "6 completed" in r.output

    import socket  # a server that takes the connection and never answers: the report does not wait

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        for var in ("PANDA_URL", "PANDA_URL_SSL", "PANDACACHE_URL"):
            monkeypatch.setenv(var, f"http://127.0.0.1:{silent.getsockname()[1]}/server/panda")
        monkeypatch.setenv("HPOGRID_GRID_SYNC_TIMEOUT_S", "2")
        r = run_cli("report", "gp")
    assert r.exit_code == 0, r.output
    assert "Note: grid trials not refreshed (PanDA did not answer within 2 s)" in r.output
    assert "6 completed" in r.output


def test_dry_run_prints_the_task_and_submits_nothing(grid_env, run_cli, tmp_path, hpogrid_home):
    make(run_cli, tmp_path, "dp")
    r = run_cli("run", "dp", "--n_jobs", "4", "--site", "ANALY_OTHER", "--dry-run")
    assert r.exit_code == 0, r.output
    params = json.loads(r.output)
    assert params["taskName"].startswith("user.alice.hpogrid.dp.out.") and params["site"] == "ANALY_OTHER"
    assert params["nEvents"] == 4 and params["container_name"] == "docker://hpogrid:test"
    from hpogrid import __version__

    # the job starts with the sandbox's bootstrap: the image's hpogrid, or this one's if the image's is older
    run = f"python3 .hpogrid-project/bootstrap.py docker://hpogrid:test {__version__} grid_job dp --seed %RNDM="
    assert f"--exec '{run}" in params["cliParams"]
    assert "bootstrap.py%20docker%3A//hpogrid%3Atest%20" in json.dumps(params["jobParameters"])
    again = json.loads(run_cli("run", "dp", "--seed", "500", "--trials", "7", "--dry-run").output)
    assert "--seed %RNDM=500 --trials 7'" in again["cliParams"]  # reproducible seeds: job k gets 500 + k
    from hpogrid.backends.panda._submit import output_containers

    made = {p["dataset"] for p in params["jobParameters"] if p.get("param_type") == "output"}
    made.add(params["log"]["dataset"])
    assert made == set(output_containers(params["taskName"].rstrip("/")))
    assert sum(grid_env.request_counts.values()) == 0
    assert not (hpogrid_home / "projects" / "dp" / "grid").exists()


def test_grid_config_extra_goes_into_the_submitted_task(grid_env, run_cli, tmp_path):
    make(run_cli, tmp_path, "xp")
    r = run_cli("grid_config", "update", "xp", "--extra", '{"ramCount": 4000, "maxWalltime": 3600}')
    assert r.exit_code == 0, r.output
    assert run_cli("project", "update", "xp").exit_code == 0
    params = json.loads(run_cli("run", "xp", "--dry-run").output)
    assert params["ramCount"] == 4000 and params["maxWalltime"] == 3600
    assert params["taskName"].startswith("user.alice.hpogrid.xp.out.")  # hpogrid's own keys untouched


def test_failed_job_is_retried_and_its_trials_arrive(grid_env, run_cli, tmp_path):
    server = grid_env
    flag = tmp_path / "flag"
    make(run_cli, tmp_path, "fp", trials=1, param={"flag": str(flag)})
    task_id = submit(run_cli, "fp")
    assert server.wait_task(task_id, timeout=120) == "failed"
    r = run_cli("report", "fp")
    assert r.exit_code == 0, r.output
    (failed,) = study_trials("fp")
    assert failed.state == "FAILED" and "flag file missing" in failed.error

    flag.write_text("now it works")
    r = run_cli("tasks", "retry", str(task_id))
    assert r.exit_code == 0 and r.output.startswith(f"Task {task_id}: retry requested"), r.output
    assert server.wait_task(task_id, timeout=120) == "done"
    assert run_cli("report", "fp").exit_code == 0
    trials = study_trials("fp")  # the failed attempt stays on record next to the successful one
    assert sorted(t.state for t in trials) == ["COMPLETED", "FAILED"]
    assert len({t.job_id for t in trials}) == 2

    r = run_cli("tasks", "retry", str(task_id))
    assert r.exit_code == 1 and r.output.startswith(f"Error: task {task_id}: not allowed"), r.output


def test_kill_stops_the_jobs_and_their_trials_show_interrupted(grid_env, run_cli, tmp_path):
    server = grid_env
    flag = tmp_path / "never"
    make(run_cli, tmp_path, "kp", param={"flag": str(flag)})
    (tmp_path / "scripts-kp" / "train.py").write_text("import time\n\ndef objective(config):\n"
                                                       "    time.sleep(600)\n    return 1.0\n")
    assert run_cli("project", "update", "kp", "--scripts_path", tmp_path / "scripts-kp").exit_code == 0
    task_id = submit(run_cli, "kp", "--n_jobs", "2")
    server.wait_jobs(task_id, "running", count=1, timeout=60)
    r = run_cli("tasks", "kill", str(task_id))
    assert r.exit_code == 0 and r.output.startswith(f"Task {task_id}: kill requested"), r.output
    assert server.wait_task(task_id, timeout=60) in ("aborted", "broken")
    assert run_cli("report", "kp").exit_code == 0
    trials = study_trials("kp")
    assert trials and {t.state for t in trials} == {"INTERRUPTED"}
    r = run_cli("tasks", "kill", str(task_id))
    assert r.exit_code == 1 and r.output.startswith(f"Error: task {task_id}: not allowed"), r.output
    r = run_cli("tasks", "kill", "12345")
    assert r.exit_code == 1 and r.output == "Error: task 12345 not found\n"


def test_server_error_after_submission_makes_no_duplicate_task(grid_env, run_cli, tmp_path):
    server = grid_env
    make(run_cli, tmp_path, "ep")
    server.fail_next("task/submit", after_commit=True)
    task_id = submit(run_cli, "ep")
    assert len(server.tasks) == 1 and task_id in server.tasks
    assert server.wait_task(task_id, timeout=120) == "done"


def test_missing_credentials_and_account_are_one_line_errors(run_cli, tmp_path, monkeypatch, hpogrid_home):
    make(run_cli, tmp_path, "cp")
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("PANDA_URL_SSL", "https://pandaserver.invalid:25443/server/panda")
    monkeypatch.setenv("PANDA_URL", "http://pandaserver.invalid:25080/server/panda")
    monkeypatch.setenv("X509_USER_PROXY", str(tmp_path / "no-proxy"))
    monkeypatch.delenv("PANDA_AUTH", raising=False)
    r = run_cli("run", "cp")
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1 and "X509_USER_PROXY" in r.output
    monkeypatch.delenv("RUCIO_ACCOUNT")
    r = run_cli("run", "cp", "--dry-run")
    assert r.exit_code == 1 and r.output.startswith("Error: RUCIO_ACCOUNT is not set")
    assert not (hpogrid_home / "projects" / "cp" / "grid").exists()


def test_ctrl_c_during_submission_keeps_a_task_panda_already_took(grid_env, run_cli, tmp_path):
    from hpogrid.backends.panda import GridRunOptions, load_submissions, submit_project
    from hpogrid.grid.panda import PandaGateway
    from hpogrid.project import load_project

    class CtrlCAfterServerAccepted(PandaGateway):
        def submit(self, spec):
            super().submit(spec)
            raise KeyboardInterrupt  # the answer never reached us

    class CtrlCBeforeSending(PandaGateway):
        def submit(self, spec):
            raise KeyboardInterrupt

    make(run_cli, tmp_path, "ip")
    project = load_project("ip")
    with pytest.raises(KeyboardInterrupt):
        submit_project(project, GridRunOptions(), gateway=CtrlCBeforeSending())
    assert load_submissions(project.path) == [] and not grid_env.tasks
    with pytest.raises(KeyboardInterrupt, match=r"^task \d+ was submitted before the interruption"):
        submit_project(project, GridRunOptions(), gateway=CtrlCAfterServerAccepted())
    (sub,) = load_submissions(project.path)
    assert list(grid_env.tasks) == [sub.task_id]
