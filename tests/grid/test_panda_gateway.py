"""PandaGateway driven through the REAL panda-client 2.2 against the PanDA REST test server."""
import os
import tarfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hpogrid.errors import CredentialsError, NotFoundError, PandaError
from hpogrid.grid.panda import PandaGateway, TaskSpec, task_params

# writes its seed and attempt into userJobMetadata.json and an output file;
# "--fail-if FILE": exit 1 while FILE exists; "--fail-once DIR": exit 1 on the first run only;
# "--sleep S": write its pid to pids/<seed> and sleep
PAYLOAD = """\
import json, os, sys, time
args = sys.argv[1:]
seed = int(args[0])
opts = dict(zip(args[1::2], args[2::2]))
if "--sleep" in opts:
    os.makedirs(opts["--pids"], exist_ok=True)
    with open(os.path.join(opts["--pids"], str(seed)), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(float(opts["--sleep"]))
json.dump({"seed": seed, "pandaid": os.environ["PandaID"]}, open("userJobMetadata.json", "w"))
with open("result.txt", "w") as f:
    f.write(str(seed))
if "--fail-if" in opts and os.path.exists(opts["--fail-if"]) and seed == int(opts["--seed-to-fail"]):
    sys.exit(1)
if "--fail-once" in opts:
    marker = os.path.join(opts["--fail-once"], str(seed))
    if not os.path.exists(marker):
        open(marker, "w").close()
        sys.exit(1)
"""


@pytest.fixture
def sandbox(tmp_path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "payload.py").write_text(PAYLOAD)
    archive = tmp_path / "sandbox.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(project, arcname=".")
    return archive


def make_spec(sandbox, name="user.tester.hpo.t1", *extra, n_jobs=3, **kwargs) -> TaskSpec:
    return TaskSpec(taskname=name, exec_args=("python", "payload.py", "%RNDM:100", *extra), sandbox=sandbox,
                    n_jobs=n_jobs, out_ds=name, outputs=("result.txt",), **kwargs)


@pytest.fixture
def gateway(panda_server):
    return PandaGateway(wait_max=0.05)


def test_submit_runs_every_job_with_its_own_seed(panda_server, gateway, sandbox, capfd):
    task_id = gateway.submit(make_spec(sandbox))

    assert task_id >= 10 ** 7
    assert panda_server.wait_task(task_id, 120) == "done"
    assert gateway.status(task_id) == "done"
    jobs = gateway.job_metadata(task_id)
    assert [j["jobstatus"] for j in jobs] == ["finished"] * 3
    assert sorted(j["metadata"]["seed"] for j in jobs) == [101, 102, 103]
    assert all(j["metadata"]["pandaid"] == str(j["pandaid"]) for j in jobs)
    assert all(j["attemptnr"] == 1 and j["computingsite"] and j["starttime"] and j["endtime"] for j in jobs)
    out_dir = panda_server.root / "outds" / "user.tester.hpo.t1"
    outputs = sorted(p.name for p in out_dir.iterdir())
    assert outputs == [f"user.tester.{task_id}._00000{k}.result.txt" for k in (1, 2, 3)]
    assert sorted((out_dir / name).read_text() for name in outputs) == ["101", "102", "103"]
    assert panda_server.request_counts["task/submit"] == 1
    assert panda_server.request_counts["file_server/upload_cache_file"] == 1
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""  # panda-client kept quiet


def test_task_params_are_what_prun_submits(monkeypatch, tmp_path, sandbox):
    """Same map as prun's own builder (PrunScript.main in dry mode) for the same options."""
    for var in ("PANDA_URL", "PANDA_URL_SSL", "PANDACACHE_URL"):
        monkeypatch.setenv(var, "http://127.0.0.1:9/server/panda")
    monkeypatch.setenv("PANDA_BEHIND_REAL_LB", "1")
    spec = make_spec(sandbox, "user.alice.hpo.p1", "--lr", "0.1 0.2", n_jobs=4, container="docker://img:1",
                     site="ANALY_MANC_GPU_TEST", max_attempt=3)
    mine = task_params(spec, sandbox_name="None")  # prun's dry mode has no sandbox: "-a None"

    from pandaclient import PrunScript

    PandaGateway()  # points panda-client (read by prun for sourceURL) at this environment's URLs
    monkeypatch.chdir(tmp_path)
    prun = PrunScript.main(get_taskparams=True, dry_mode=True, ext_args=[
        "--exec", "python payload.py %RNDM:100 --lr '0.1 0.2'", "--outDS", "user.alice.hpo.p1", "--nJobs", "4",
        "--noBuild", "--containerImage", "docker://img:1", "--useSandbox", "--outputs", "result.txt",
        "--site", "ANALY_MANC_GPU_TEST", "--maxAttempt", "3", "--architecture", "&nvidia"])
    for key in ("cliParams",):
        mine.pop(key), prun.pop(key)
    assert mine == prun
    assert mine["taskName"] == "user.alice.hpo.p1/" and mine["nEvents"] == 4 and mine["nEventsPerJob"] == 1
    assert mine["noInput"] is True and mine["architecture"] == "&nvidia" and mine["maxAttempt"] == 3
    assert mine["container_name"] == "docker://img:1" and mine["site"] == "ANALY_MANC_GPU_TEST"

    # several sites (grid_config site as a list): prun leaves the choice to PanDA among them
    spec = make_spec(sandbox, "user.alice.hpo.p1", "--lr", "0.1 0.2", n_jobs=4, container="docker://img:1",
                     site="ANALY_A,ANALY_B", max_attempt=3)
    mine = task_params(spec, sandbox_name="None")
    prun = PrunScript.main(get_taskparams=True, dry_mode=True, ext_args=[
        "--exec", "python payload.py %RNDM:100 --lr '0.1 0.2'", "--outDS", "user.alice.hpo.p1", "--nJobs", "4",
        "--noBuild", "--containerImage", "docker://img:1", "--useSandbox", "--outputs", "result.txt",
        "--site", "ANALY_A,ANALY_B", "--maxAttempt", "3", "--architecture", "&nvidia"])
    mine.pop("cliParams"), prun.pop("cliParams")
    assert mine == prun and mine["site"] is None and mine["includedSite"] == ["ANALY_A", "ANALY_B"]


def test_task_params_defaults_and_architecture(sandbox):
    plain = task_params(make_spec(sandbox), sandbox_name="jobO.x.tar.gz")
    assert plain["architecture"] == "&nvidia"  # a GPU queue unless told otherwise
    assert plain["site"] is None and "maxAttempt" not in plain and "container_name" not in plain
    assert {"type": "constant", "value": "-a jobO.x.tar.gz"} in plain["jobParameters"]
    seed = [p for p in plain["jobParameters"] if p.get("dataset") == "seq_number"]
    assert seed == [{"type": "template", "value": "${SEQNUMBER}", "param_type": "pseudo_input",
                     "dataset": "seq_number", "offset": 100, "padding": False}]
    assert task_params(make_spec(sandbox, architecture=""))["architecture"] == ""
    assert "--architecture" not in task_params(make_spec(sandbox, architecture=""))["cliParams"]


def test_list_tasks_filters_each_in_one_request(panda_server, gateway):
    mine = panda_server.add_fake_tasks(5, name_prefix="user.tester.alpha")
    others = panda_server.add_fake_tasks(3, name_prefix="user.other.alpha", user="Other User")
    beta = panda_server.add_fake_tasks(2, name_prefix="user.tester.beta", status="failed")
    old = panda_server.add_fake_tasks(1, name_prefix="user.tester.old", age=timedelta(days=40))

    def ids(**kwargs):
        panda_server.request_counts.clear()
        tasks = gateway.list_tasks(**kwargs)
        assert dict(panda_server.request_counts) == {"task/get_tasks_detailed_info_since": 1}
        return [t["jeditaskid"] for t in tasks]

    assert ids() == sorted(mine + beta, reverse=True)  # own tasks of the last 30 days, newest first
    assert ids(days=None) == sorted(mine + beta + old, reverse=True)
    assert ids(username="Other User") == sorted(others, reverse=True)
    assert ids(taskname="user.tester.alpha.*") == sorted(mine, reverse=True)
    assert ids(taskname="user.tester.*.00000?/") == sorted(mine + beta, reverse=True)
    assert ids(taskname="user.tester.beta.000001/") == [beta[1]]
    assert ids(id_range=(mine[1], mine[3])) == [mine[3], mine[2], mine[1]]
    assert ids(task_id=old[0]) == old
    assert ids(status="failed") == sorted(beta, reverse=True)
    assert ids(limit=2) == sorted(mine + beta, reverse=True)[:2]
    task = gateway.list_tasks(task_id=mine[0])[0]
    assert task["taskname"] == "user.tester.alpha.000000/" and task["status"] == "done"
    assert task["username"] == "Test User" and task["computingsite"] == "ANALY_TEST_GPU"
    assert isinstance(task["creationdate"], str) and isinstance(task["modificationtime"], str)


def test_kill_running_task_stops_its_processes(panda_server, gateway, sandbox, tmp_path):
    pids_dir = tmp_path / "pids"
    task_id = gateway.submit(make_spec(sandbox, "user.tester.hpo.kill", "--sleep", "60", "--pids", str(pids_dir),
                                       n_jobs=2))
    panda_server.wait_jobs(task_id, "running", 2, timeout=120)
    deadline = time.monotonic() + 120
    while not (len(list(pids_dir.glob("*"))) == 2 and all(p.read_text() for p in pids_dir.iterdir())):
        assert time.monotonic() < deadline, "the two jobs never wrote their pids"
        time.sleep(0.02)
    pids = [int(p.read_text()) for p in pids_dir.iterdir()]

    assert "kill" in gateway.kill(task_id)

    assert gateway.status(task_id) == "aborted"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert {j["jobstatus"] for j in gateway.job_metadata(task_id)} == {"cancelled"}
    with pytest.raises(PandaError, match=rf"^task {task_id}: not allowed: .*kill command .* aborted status$"):
        gateway.kill(task_id)


def test_retry_reruns_only_the_failed_job(panda_server, gateway, sandbox, tmp_path):
    flag = tmp_path / "fail-now"
    flag.touch()
    task_id = gateway.submit(make_spec(sandbox, "user.tester.hpo.retry", "--fail-if", str(flag),
                                       "--seed-to-fail", "102"))
    assert panda_server.wait_task(task_id, 120) == "finished"  # some jobs failed
    first = gateway.job_metadata(task_id)
    assert sorted((j["metadata"]["seed"], j["jobstatus"]) for j in first) == [
        (101, "finished"), (102, "failed"), (103, "finished")]
    flag.unlink()

    assert "retry" in gateway.retry(task_id)

    assert panda_server.wait_task(task_id, 120) == "done"
    jobs = gateway.job_metadata(task_id)
    assert len(jobs) == 4
    rerun = [j for j in jobs if j["attemptnr"] == 2]
    assert len(rerun) == 1 and rerun[0]["metadata"]["seed"] == 102 and rerun[0]["jobstatus"] == "finished"
    assert {j["pandaid"] for j in first} < {j["pandaid"] for j in jobs}
    with pytest.raises(PandaError, match=rf"^task {task_id}: not allowed: .*retry command .* done status$"):
        gateway.retry(task_id)


def test_max_attempt_retries_a_failed_job_automatically(panda_server, gateway, sandbox, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    task_id = gateway.submit(make_spec(sandbox, "user.tester.hpo.auto", "--fail-once", str(markers), n_jobs=2,
                                       max_attempt=2))
    assert panda_server.wait_task(task_id, 120) == "done"
    jobs = gateway.job_metadata(task_id)
    assert sorted((j["metadata"]["seed"], j["attemptnr"], j["jobstatus"]) for j in jobs) == [
        (101, 1, "failed"), (101, 2, "finished"), (102, 1, "failed"), (102, 2, "finished")]


def test_unknown_task_is_not_found(panda_server, gateway):
    other = panda_server.add_fake_tasks(1, user="Other User", status="failed")[0]
    for call in (gateway.kill, gateway.retry, gateway.status):
        with pytest.raises(NotFoundError, match=r"^task 12345 not found$"):
            call(12345)
    with pytest.raises(NotFoundError, match=rf"^task {other} not found$"):  # not the caller's task
        gateway.retry(other)
    assert gateway.job_metadata(12345) == []


def test_submit_answered_500_after_commit_creates_one_task(panda_server, gateway, sandbox):
    panda_server.fail_next("task/submit", after_commit=True)

    task_id = gateway.submit(make_spec(sandbox, "user.tester.hpo.dup", n_jobs=1))

    assert list(panda_server.tasks) == [task_id]
    assert panda_server.request_counts["task/submit"] == 1  # found by name, not submitted again
    assert panda_server.wait_task(task_id, 120) == "done"


def test_submit_retried_after_500_before_commit(panda_server, gateway, sandbox):
    panda_server.fail_next("task/submit", times=2)
    panda_server.fail_next("file_server/upload_cache_file", after_commit=True)

    task_id = gateway.submit(make_spec(sandbox, "user.tester.hpo.flaky", n_jobs=1))

    assert list(panda_server.tasks) == [task_id]
    assert panda_server.request_counts["task/submit"] == 3
    assert panda_server.wait_task(task_id, 120) == "done"


def test_list_tasks_retries_transient_errors_then_gives_up(panda_server, sandbox):
    panda_server.add_fake_tasks(2)
    panda_server.fail_next("task/get_tasks_detailed_info_since", times=2)
    assert len(PandaGateway(wait_max=0.05).list_tasks()) == 2
    assert panda_server.request_counts["task/get_tasks_detailed_info_since"] == 3

    panda_server.fail_next("task/get_tasks_detailed_info_since", times=5)
    with pytest.raises(PandaError, match=r"did not answer task/get_tasks_detailed_info_since after 2 attempts"):
        PandaGateway(retries=2, wait_max=0.05).list_tasks()


def test_unreachable_server_is_one_line_error(panda_server):
    panda_server.stop()
    with pytest.raises(PandaError) as error:
        PandaGateway(retries=2, wait_max=0.01).status(10 ** 7 + 1)
    assert "\n" not in str(error.value) and "127.0.0.1" in str(error.value)


def test_https_without_credentials_says_what_to_set(panda_server, monkeypatch, tmp_path, sandbox):
    https = panda_server.url.replace("http://", "https://")
    monkeypatch.setenv("PANDA_URL_SSL", https)
    monkeypatch.setenv("X509_USER_PROXY", str(tmp_path / "missing-proxy"))
    with pytest.raises(CredentialsError) as error:
        PandaGateway().check_configuration()
    message = str(error.value)
    assert "X509_USER_PROXY" in message and "PANDA_AUTH" in message and "\n" not in message
    with pytest.raises(CredentialsError):
        PandaGateway().submit(make_spec(sandbox, n_jobs=1))
    assert panda_server.request_counts == {}  # refused before any request

    proxy = tmp_path / "x509up"
    proxy.write_text("-----BEGIN CERTIFICATE-----SECRETPROXYCONTENT")
    monkeypatch.setenv("X509_USER_PROXY", str(proxy))
    PandaGateway().check_configuration()  # a proxy file is enough

    monkeypatch.setenv("PANDA_AUTH", "oidc")
    monkeypatch.delenv("PANDA_AUTH_VO", raising=False)
    monkeypatch.delenv("OIDC_AUTH_VO", raising=False)
    with pytest.raises(CredentialsError, match="PANDA_AUTH_VO"):
        PandaGateway().check_configuration()
    monkeypatch.setenv("PANDA_AUTH_VO", "atlas")
    monkeypatch.setenv("PANDA_CONFIG_ROOT", str(tmp_path / "no-token-here"))
    with pytest.raises(CredentialsError) as error:
        PandaGateway().check_configuration()
    assert "token" in str(error.value) and "SECRET" not in str(error.value)
    monkeypatch.setenv("PANDA_AUTH_ID_TOKEN", "SECRETTOKEN")
    PandaGateway().check_configuration()


def test_plain_http_needs_no_credentials(panda_server, monkeypatch, tmp_path):
    monkeypatch.setenv("X509_USER_PROXY", str(tmp_path / "missing-proxy"))
    PandaGateway().check_configuration()


def test_gateway_follows_environment_changes(panda_server, tmp_path, monkeypatch):
    from tests.grid.panda_server.server import PandaTestServer

    second = PandaTestServer(tmp_path / "second").start()
    try:
        second.add_fake_tasks(3)
        panda_server.add_fake_tasks(1)
        assert len(PandaGateway().list_tasks()) == 1
        for var in ("PANDA_URL", "PANDA_URL_SSL", "PANDACACHE_URL"):
            monkeypatch.setenv(var, second.url)
        assert len(PandaGateway().list_tasks()) == 3
    finally:
        second.stop()


@pytest.mark.parametrize("change, field", [({"n_jobs": 0}, "n_jobs"), ({"outputs": ("a/b",)}, "outputs"),
                                           ({"max_attempt": 99}, "max_attempt")])
def test_task_params_rejects_bad_values(sandbox, change, field):
    from dataclasses import replace

    from hpogrid.errors import ValidationError

    with pytest.raises(ValidationError, match=rf"^{field}: "):
        task_params(replace(make_spec(sandbox), **change))


def test_jobs_fetch_the_sandbox_from_the_cache_host_it_was_uploaded_to(panda_server, sandbox, monkeypatch):
    """Behind an alias, panda-client pins one cache machine; sourceURL must name that one."""
    import socket
    from urllib.parse import urlparse

    port = urlparse(panda_server.url).port
    monkeypatch.setenv("PANDACACHE_URL", f"http://127.0.0.1:{port}/server/panda")  # stands for the alias
    monkeypatch.delenv("PANDA_BEHIND_REAL_LB")
    task_id = PandaGateway().submit(make_spec(sandbox))
    assert panda_server.tasks[task_id].params["sourceURL"] == f"http://{socket.getfqdn('127.0.0.1')}:{port}"
    assert panda_server.wait_task(task_id, 120) == "done"


def test_jobs_of_many_tasks_come_in_two_requests_and_match_the_per_task_call(panda_server, gateway):
    ids = panda_server.add_fake_tasks(40, jobs_per_task=2, metadata=lambda i, serial: {"seed": 100 * i + serial})
    panda_server.request_counts.clear()
    bulk = gateway.jobs_of_tasks(ids, datetime.now(timezone.utc) - timedelta(hours=1))
    assert dict(panda_server.request_counts) == {"task/get_tasks_modified_since": 1,
                                                 "job/get_description_incl_archive": 1}
    assert set(bulk) == set(ids)
    for task_id in ids[:3]:
        one = gateway.job_metadata(task_id)
        assert [(j["pandaid"], j["jobstatus"], j["metadata"]) for j in bulk[task_id]] == \
            [(j["pandaid"], j["jobstatus"], j["metadata"]) for j in one]
    assert sorted(j["metadata"]["seed"] for j in bulk[ids[5]]) == [501, 502]
