"""Artifacts of grid trials: packed in the job's output, fetched from Rucio by the report's sync.

End to end: the loopback PanDA server runs the job (``hpogrid grid_job``), whose trials call
``save_artifact``; each output the job leaves is registered, as the pilot would, in a real
Rucio test server under the task's output container; ``report`` syncs the trials and brings
their artifacts into the project's trial folders, where ``report --artifacts`` lists them.
"""
import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from hpogrid import paths
from hpogrid.study import StudyStore, sqlite_url
from tests.grid.test_grid_run import make, submit

SCRIPT = """
from hpogrid.trial import save_artifact, trial_dir

def objective(config):
    path = trial_dir() / "scratch.txt"
    path.write_text(f"x={config['x']!r}")
    save_artifact(path, name="model.txt")
    return {"loss": (config["x"] - 0.5) ** 2}
"""


def register_in_rucio(server, held=None):
    """What the pilot does with an output: upload it to an RSE in a dataset of the output container.
    ``held``: (predicate on the container, list) -- a matching output is uploaded but its dataset is
    not attached to the container yet (Rucio does not have it for the task); ``attach`` it later."""
    from rucio.client import Client
    from rucio.client.uploadclient import UploadClient

    def hook(container: str, panda_id: int, path: Path) -> None:
        from rucio.common.config import clean_cached_config

        clean_cached_config()  # rucio caches the parsed config: an earlier test's may still be there
        client = Client()
        scope, container = server.scope, container.rstrip("/")
        dataset = f"{container}.{panda_id}"
        UploadClient(_client=client).upload([{"path": str(path), "rse": server.rse, "did_scope": scope,
                                              "did_name": path.name, "dataset_scope": scope,
                                              "dataset_name": dataset, "register_after_upload": True}])
        if held is not None and held[0](container):
            held[1].append((container, dataset))
        else:
            attach(server, container, dataset)

    return hook


def attach(server, container: str, dataset: str) -> None:
    from rucio.client import Client
    from rucio.common.config import clean_cached_config
    from rucio.common.exception import DataIdentifierAlreadyExists

    clean_cached_config()
    client = Client()
    try:
        client.add_container(server.scope, container)
    except DataIdentifierAlreadyExists:
        pass
    client.attach_dids(server.scope, container, [{"scope": server.scope, "name": dataset}])


@pytest.mark.slow
def test_grid_artifacts_come_home_with_the_report(panda_server, rucio_client_env, run_cli, tmp_path,
                                                  monkeypatch):
    monkeypatch.setenv("RUCIO_ACCOUNT", rucio_client_env.account)
    panda_server.output_hooks.append(register_in_rucio(rucio_client_env))
    from tests.grid import test_grid_run

    monkeypatch.setattr(test_grid_run, "SCRIPT", SCRIPT)  # the project's train.py
    make(run_cli, tmp_path, "ga", trials=2)
    task_id = submit(run_cli, "ga", "--n_jobs", "1")
    assert panda_server.wait_task(task_id, timeout=240) == "done"

    config = Path(str(rucio_client_env.client_cfg))
    monkeypatch.setenv("RUCIO_CONFIG", str(tmp_path / "no-such.cfg"))  # Rucio out of reach: trials, a note
    r = run_cli("report", "ga", "--artifacts")
    assert r.exit_code == 0, r.output
    assert f"artifacts of task {task_id} not fetched" in r.output and "the next sync tries again" in r.output

    monkeypatch.setenv("RUCIO_CONFIG", str(config))  # the next report fetches them
    r = run_cli("report", "ga", "--artifacts", "--top", "0")
    assert r.exit_code == 0, r.output
    assert "not fetched" not in r.output
    with StudyStore(sqlite_url(paths.study_db("ga"))) as store:
        trials = store.trials("ga")
    assert len(trials) == 2
    for t in trials:
        art = t.annotations["artifacts"]["model.txt"]
        local = Path(art["file"])
        assert local == paths.project_dir("ga") / "trials" / "ga" / t.uid / "artifacts" / "model.txt"
        data = local.read_bytes()
        assert data == f"x={t.params['x']!r}".encode()  # each trial's own file, in its own folder
        assert hashlib.sha256(data).hexdigest() == art["sha256"] and len(data) == art["size"]
        assert any(t.uid in line and "model.txt" in line and art["sha256"][:12] in line
                   for line in r.output.splitlines()), r.output
    shown = json.loads(run_cli("study", "show", "ga", "--trial", trials[0].uid).output)
    assert [a["exists"] for a in shown["artifacts"]] == [True]
    from hpogrid.dashboard import Source, create_app

    served = create_app(Source("ga")).test_client().get(f"/api/artifact?trial={trials[0].uid}&name=model.txt")
    assert served.status_code == 200 and served.data == f"x={trials[0].params['x']!r}".encode()


@pytest.mark.slow
def test_central_search_artifacts_come_home_with_the_driver_and_the_report(panda_server, rucio_client_env, run_cli,
                                                                          tmp_path, monkeypatch):
    """A central search's points keep the driver's trial folders: the driver fetches each task's
    archive as its job ends, notes one Rucio does not have yet and fetches it at a later poll;
    one still missing as the driver ends is noted, and the report's sync fetches it (Rucio out
    of reach: a note, the next report)."""
    from hpogrid.backends.panda import _central
    from hpogrid.backends.panda._job import TRIALS_ARCHIVE

    monkeypatch.setenv("RUCIO_ACCOUNT", rucio_client_env.account)
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    monkeypatch.setattr(_central, "FETCH_RETRY_S", 0.0)  # the driver tries again at its next poll
    held: list = []  # each task's trial archive: in Rucio, not in its output container yet
    register = register_in_rucio(rucio_client_env, (lambda c: c.endswith(f"_{TRIALS_ARCHIVE}"), held))

    def hook(container: str, panda_id: int, path: Path) -> None:
        if ".c0002_" in container:  # the second job ends: Rucio has the first one's output by now
            for item in [h for h in held if ".c0001_" in h[0]]:
                held.remove(item)
                attach(rucio_client_env, *item)
        register(container, panda_id, path)  # (the second's: only after the driver has ended)

    panda_server.output_hooks.append(hook)
    from tests.grid import test_grid_run

    monkeypatch.setattr(test_grid_run, "SCRIPT", SCRIPT)
    make(run_cli, tmp_path, "gc", trials=2)
    r = run_cli("run", "gc", "--search", "central", "--trials", "2", "--n_jobs", "1", "--trials_per_job", "1")
    assert r.exit_code == 0, r.output
    assert "not fetched" in r.output  # the first task's: noted, fetched at a later poll; the second's ...
    assert "are not here yet: 'hpogrid report gc' fetches them" in r.output  # ... still missing as it ends

    def trials():
        with StudyStore(sqlite_url(paths.study_db("gc"))) as store:
            return sorted(store.trials("gc"), key=lambda t: t.annotations["taskname"])

    def artifact(t) -> Path:
        art = t.annotations["artifacts"]["model.txt"]
        local = Path(art["file"])
        assert local == paths.project_dir("gc") / "trials" / "gc" / t.uid / "artifacts" / "model.txt"
        data = local.read_bytes()
        assert data == f"x={t.params['x']!r}".encode()  # the point's own file, in the driver's trial folder
        assert hashlib.sha256(data).hexdigest() == art["sha256"] and len(data) == art["size"]
        return local

    first, second = trials()
    assert [t.state for t in (first, second)] == ["COMPLETED"] * 2
    assert (first.annotations["searcher_told"], second.annotations["searcher_told"]) == (0, 1)  # the driver's
    artifact(first)  # came with the driver at a later poll
    lost = paths.project_dir("gc") / "trials" / "gc" / second.uid / "artifacts" / "model.txt"
    assert not lost.exists()  # listed, not here
    assert [a["exists"] for a in json.loads(run_cli("study", "show", "gc", "--trial", second.uid).output)[
        "artifacts"]] == [False]
    assert len(held) == 1 and ".c0002_" in held[0][0]
    attach(rucio_client_env, *held.pop())  # Rucio has it now

    config = Path(str(rucio_client_env.client_cfg))
    monkeypatch.setenv("RUCIO_CONFIG", str(tmp_path / "no-such.cfg"))  # Rucio out of reach: a note
    r = run_cli("report", "gc")
    assert r.exit_code == 0, r.output
    assert f"artifacts of task {second.task_id} not fetched" in r.output and "the next sync tries again" in r.output
    shown = json.loads(run_cli("study", "show", "gc", "--trial", second.uid).output)
    assert [a["exists"] for a in shown["artifacts"]] == [False]

    monkeypatch.setenv("RUCIO_CONFIG", str(config))  # the next report fetches it
    r = run_cli("report", "gc", "--artifacts", "--top", "0")
    assert r.exit_code == 0, r.output
    assert "not fetched" not in r.output
    for t in trials():
        art = t.annotations["artifacts"]["model.txt"]
        assert artifact(t).is_file() and any(t.uid in line and "model.txt" in line and art["sha256"][:12] in line
                                             for line in r.output.splitlines()), r.output
    shown = json.loads(run_cli("study", "show", "gc", "--trial", second.uid).output)
    assert [a["exists"] for a in shown["artifacts"]] == [True]


def test_artifacts_over_the_job_limit_stay_out_of_its_output(tmp_path):
    """Up to ARTIFACTS_LIMIT per job travels; the rest is left out, marked so, with a note."""
    from hpogrid.backends.panda._job import JOB_MARKER, _artifacts_over_limit, _pack_trials

    project = type("P", (), {"name": "pl", "path": tmp_path / "home" / "pl"})()
    entries = []
    for uid, size in (("a", 60), ("b", 30), ("c", 50)):
        folder = project.path / "trials" / "pl" / uid / "artifacts"
        folder.mkdir(parents=True)
        (folder / "m.bin").write_bytes(b"x" * size)
        entries.append({"uid": uid, "annotations": {"artifacts": {"m.bin": {
            "path": "artifacts/m.bin", "file": str(folder / "m.bin"), "size": size, "sha256": "-"}}}})
    over = _artifacts_over_limit(entries, limit=100)
    assert [p.parent.parent.name for p in over] == ["c"]  # first come, first kept: 60 + 30 fit, +50 does not
    assert ["left_out" in e["annotations"]["artifacts"]["m.bin"] for e in entries] == [False, False, True]
    assert "over the grid job's artifact limit" in entries[2]["annotations"]["artifacts"]["m.bin"]["left_out"]
    _pack_trials(project, tmp_path, over)
    with tarfile.open(tmp_path / "hpogrid_trials.tgz") as tar:
        names = set(tar.getnames())
    assert {"pl/trials/pl/a/artifacts/m.bin", "pl/trials/pl/b/artifacts/m.bin", JOB_MARKER} <= names
    assert "pl/trials/pl/c/artifacts/m.bin" not in names


def test_report_keeps_the_artifact_of_the_task_that_last_ran_a_central_point(tmp_path):
    """A multi-fidelity wave runs a promoted point again in a later task, whose file the driver
    fetched: the report's sync leaves it, never fetching the earlier task's (other SHA-256)."""
    import io
    from types import SimpleNamespace

    from hpogrid.backends.panda._job import JOB_MARKER
    from hpogrid.backends.panda._records import Submission, record_submission
    from hpogrid.backends.panda._sync import sync_project

    project = SimpleNamespace(path=tmp_path / "wp", hpo_config={"metric": "loss", "mode": "min"})
    data = {1: b"rung 0", 2: b"rung 1"}  # task id -> what its job's point saved
    jobs, archives = {}, {}
    for task_id, content in data.items():
        record_submission(project.path, Submission(task_id, f"t.c000{task_id}", "2026-12-07T10:00:00+00:00", None,
                                                   f"t.c000{task_id}", 1, extra={"central": True, "study": "wp",
                                                                                 "uids": ["p"]}))
        art = {"path": "artifacts/m.txt", "file": "/job/m.txt", "size": len(content),
               "sha256": hashlib.sha256(content).hexdigest()}
        jobs[task_id] = [{"pandaid": 100 + task_id, "jobstatus": "finished", "attemptnr": 1, "maxattempt": 1,
                          "metadata": {"trials": [{"uid": "p", "state": "COMPLETED", "metrics": {"loss": 1.0},
                                                   "params": {}, "annotations": {"artifacts": {"m.txt": art}}}]}}]
        path = tmp_path / f"{task_id}.tgz"
        with tarfile.open(path, "w:gz") as tar:
            for name, blob in ((JOB_MARKER, json.dumps({"pandaid": 100 + task_id}).encode()),
                               ("wp/trials/wp/p/artifacts/m.txt", content)):
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        archives[task_id] = [path]
    gateway = SimpleNamespace(
        list_tasks=lambda **kw: [{"jeditaskid": t, "status": "done", "modificationtime": "2026-12-07T11:00:00"}
                                 for t in data],
        jobs_of_tasks=lambda ids, since: {t: jobs[t] for t in ids})
    with StudyStore(sqlite_url(tmp_path / "s.db")) as store:
        store.create_study("wp", "loss", "min")
        store.upsert_trial("wp", "p", state="COMPLETED", metrics={"loss": 1.0}, task_id="2", backend="panda",
                           annotations={"artifacts": {"m.txt": {**jobs[2][0]["metadata"]["trials"][0]["annotations"][
                               "artifacts"]["m.txt"], "file": str(project.path / "trials/wp/p/artifacts/m.txt")}}})
        local = project.path / "trials" / "wp" / "p" / "artifacts" / "m.txt"
        local.parent.mkdir(parents=True)
        local.write_bytes(data[2])
        asked = []
        result = sync_project(project, store, "wp", gateway=gateway,
                              fetcher=lambda sub, dest: asked.append(sub.task_id) or archives[sub.task_id])
    assert result.notes == [] and asked == []
    assert local.read_bytes() == b"rung 1"
