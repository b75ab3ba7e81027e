"""The dashboard's JSON API through Flask's test client: read only, same figures as the report."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from hpogrid.dashboard import Source, create_app
from tests.report.helpers import make_project, write_trials


def _known(tmp_path):
    from hpogrid import paths
    from hpogrid.study import sqlite_url

    name = make_project(tmp_path)
    url = sqlite_url(paths.study_db(name))
    write_trials(url, name, datetime.now(timezone.utc).replace(microsecond=0))
    return name, url


def test_snapshot_has_the_reports_figures_and_rows(tmp_path):
    from hpogrid.report import build_figures, build_report

    name, _ = _known(tmp_path)
    client = create_app(Source(name)).test_client()
    snap = client.get("/api/snapshot").get_json()
    assert snap["counts"]["COMPLETED"] == 6 and snap["table"]["total"] == 8
    # best first (completed by loss), then the running trial with a value, then the failed one
    assert [r[1] for r in snap["table"]["rows"]] == [5, 1, 3, 7, 0, 4, 6, 2]
    expected = build_figures(build_report(name, settle=False))
    assert [p["key"] for p in snap["panels"]] == [p.key for p in expected.panels]
    assert snap["figures"]["pcp"] == json.loads(json.dumps(expected.as_dict()["pcp"]))
    again = client.get("/api/snapshot").get_json()
    assert again["fingerprint"] == snap["fingerprint"]


def test_the_dashboard_never_writes_the_study(tmp_path, monkeypatch):
    """A trial of a dead run (stale heartbeat) stays as recorded: only `report` settles it."""
    from hpogrid.study import StudyStore

    name, url = _known(tmp_path)
    store = StudyStore(url)
    old = datetime.now(timezone.utc) - timedelta(days=2)
    store.upsert_trial(name, "l3", heartbeat_at=old)
    before = [(t.uid, t.state, t.heartbeat_at) for t in store.trials(name)]
    monkeypatch.setenv("HPOGRID_STALE_AFTER_S", "60")
    client = create_app(Source(name)).test_client()
    assert client.get("/api/snapshot").status_code == 200
    assert [(t.uid, t.state, t.heartbeat_at) for t in store.trials(name)] == before
    assert dict((t.uid, t.state) for t in store.trials(name))["l3"] == "RUNNING"


def test_sync_needs_the_button_header_and_reports_the_outcome(tmp_path):
    name, _ = _known(tmp_path)
    calls = []
    fake = lambda s: calls.append(s) or "2 trials from 1 of 1 tasks synced"  # noqa: E731
    client = create_app(Source(name), sync=fake).test_client()
    r = client.post("/api/sync")
    assert r.status_code == 403 and calls == []  # another site's form cannot trigger it
    r = client.post("/api/sync", headers={"X-Hpogrid": "sync"})
    assert r.status_code == 200 and r.get_json() == {"message": "2 trials from 1 of 1 tasks synced"}
    assert calls == [Source(name)]


def test_a_project_without_grid_tasks_says_so_on_sync(tmp_path):
    name, _ = _known(tmp_path)
    r = create_app(Source(name)).test_client().post("/api/sync", headers={"X-Hpogrid": "sync"})
    assert r.get_json() == {"message": "this project has no grid tasks"}


def test_waiting_before_the_first_trial_and_security_headers(tmp_path):
    name = make_project(tmp_path, "empty")
    client = create_app(Source(name)).test_client()
    r = client.get("/api/snapshot")
    assert r.status_code == 200 and "has no study yet" in r.get_json()["waiting"]
    page = client.get("/")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/static/plotly.min.js").status_code == 200


def test_a_named_study_a_run_has_not_created_yet_is_waited_for(tmp_path):
    """--study exp2 on a project whose store holds other studies: the page waits, no error."""
    name, _ = _known(tmp_path)
    client = create_app(Source(name, study="exp2")).test_client()
    r = client.get("/api/snapshot")
    assert r.status_code == 200 and "'exp2' not found" in r.get_json()["waiting"]


def test_loopback_refuses_other_host_names(tmp_path):
    name, _ = _known(tmp_path)
    client = create_app(Source(name), host="127.0.0.1").test_client()
    assert client.get("/api/snapshot", headers={"Host": "evil.example:8080"}).status_code == 400
    assert client.get("/api/snapshot", headers={"Host": "127.0.0.1:8080"}).status_code == 200
    assert client.get("/api/snapshot", headers={"Host": "localhost:8080"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8080"}).status_code == 200


def test_any_address_still_refuses_names_of_other_machines(tmp_path):
    """--host 0.0.0.0 listens on loopback too: a DNS-rebinding page (its own name pointed at
    this machine) must not read the study or start a sync; this machine's names and IP
    addresses still work."""
    import socket

    name, _ = _known(tmp_path)
    client = create_app(Source(name), host="0.0.0.0").test_client()
    assert client.get("/api/snapshot", headers={"Host": "rebind.evil.example"}).status_code == 400
    assert client.post("/api/sync", headers={"Host": "rebind.evil.example", "X-Hpogrid": "sync"}).status_code == 400
    for host in ("10.1.2.3:8080", f"{socket.gethostname()}:8080", "127.0.0.1"):
        assert client.get("/api/snapshot", headers={"Host": host}).status_code == 200, host


def test_the_page_runs_no_inline_script(tmp_path):
    """The CSP forbids inline script: the page's code is a file of its own."""
    import re

    name, _ = _known(tmp_path)
    client = create_app(Source(name)).test_client()
    page = client.get("/")
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.get_data(as_text=True), re.S)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs, _ in scripts), scripts
    assert "fingerprint" in client.get("/static/dashboard.js").get_data(as_text=True)


def test_a_costly_study_is_read_at_most_once_per_three_read_times(tmp_path, monkeypatch):
    """Polls faster than the study can be read get the last snapshot (a fake clock: each read
    'costs' 10 s), so a huge study never keeps a core busy."""
    from hpogrid.dashboard import Snapshots
    from hpogrid.dashboard import _snapshot

    name, _ = _known(tmp_path)
    now = [0.0]
    reads = []
    real_read = _snapshot._read

    def read(source):
        reads.append(now[0])
        now[0] += 10.0  # this read took 10 s
        return real_read(source)
    monkeypatch.setattr(_snapshot, "_read", read)
    snaps = Snapshots(Source(name), clock=lambda: now[0])
    first = snaps.get()
    now[0] = 39.0
    assert snaps.get() is first and reads == [0.0]  # 10 s read, next one not before 10 + 30 s
    now[0] = 40.0
    snaps.get()
    assert reads == [0.0, 40.0]


def test_new_grid_states_alone_change_the_page(tmp_path, monkeypatch):
    """A sync (the button, or `report` in another terminal) may change only the tasks' and jobs'
    states: the page must still be redrawn."""
    from hpogrid.dashboard import _snapshot

    name, _ = _known(tmp_path)
    grid = {"tasks": [{"task_id": 7, "status": "running", "jobs": []}]}
    monkeypatch.setattr(_snapshot, "_grid", lambda path, trials: grid)
    snapshots = _snapshot.Snapshots(Source(name))
    first = snapshots.get()
    assert first["grid"]["tasks"][0]["status"] == "running"
    grid = {"tasks": [{"task_id": 7, "status": "done", "jobs": []}]}  # the trials are unchanged
    snapshots._next_read = 0.0  # noqa: SLF001 - no waiting for the read throttle in this test
    second = snapshots.get()
    assert second["fingerprint"] != first["fingerprint"]
    assert second["grid"]["tasks"][0]["status"] == "done"


@pytest.mark.parametrize("url", ["postgresql+psycopg2://postgres@127.0.0.1:5432/test",
                                 "mysql+pymysql://root@127.0.0.1:3306/test"], ids=["postgresql", "mariadb"])
def test_a_shared_study_on_a_database_server_is_followed(tmp_path, url):
    """--study-url of a PostgreSQL/MariaDB store that workers write: a trial written after the
    first snapshot is in the next one."""
    import uuid

    from hpogrid.study import StudyStore

    try:
        StudyStore(url).list_studies()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"{url.split(':')[0]} server on 127.0.0.1 unreachable: {exc}")
    name = make_project(tmp_path, f"dash{uuid.uuid4().hex[:6]}")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    write_trials(url, name, now)
    store = StudyStore(url)
    try:
        from hpogrid.dashboard import Snapshots

        snapshots = Snapshots(Source(name, study_url=url))
        first = snapshots.get()
        assert first["table"]["total"] == 8 and first["store"].startswith(url.split(":")[0])
        store.upsert_trial(name, "late", state="COMPLETED", params={"lr": 0.02, "layers": 2, "act": "relu"},
                           metrics={"loss": 0.01}, started_at=now, finished_at=now)
        snapshots._next_read = 0.0  # noqa: SLF001 - no waiting for the read throttle in this test
        second = snapshots.get()
        assert second["table"]["total"] == 9 and second["best"]["value"] == 0.01
    finally:
        store.delete_study(name)
        store.close()


def test_a_multi_objective_study_shows_its_pareto_front(tmp_path):
    """The table marks Pareto membership and feasibility, the header names the front, and the
    report's Pareto-front and hypervolume figures come first."""
    from hpogrid import paths
    from hpogrid.objectives import Objectives
    from hpogrid.report import build_figures, build_report
    from hpogrid.study import sqlite_url
    from tests.report.helpers import make_mo_project, write_mo_study

    constraints = {"latency": ["<=", 20]}
    name = make_mo_project(tmp_path, constraints=constraints)
    rows = [("a", "COMPLETED", {"loss": 0.2, "acc": 0.7, "latency": 10}),
            ("b", "COMPLETED", {"loss": 0.3, "acc": 0.9, "latency": 15}),
            ("c", "COMPLETED", {"loss": 0.4, "acc": 0.6, "latency": 5}),
            ("cheat", "COMPLETED", {"loss": 0.1, "acc": 0.95, "latency": 50}),
            ("r", "RUNNING", {"loss": 0.5})]
    write_mo_study(sqlite_url(paths.study_db(name)), name,
                   Objectives.parse(["loss", "acc"], ["min", "max"], constraints), rows)
    snap = create_app(Source(name)).test_client().get("/api/snapshot").get_json()
    table = snap["table"]
    assert table["columns"][:7] == ["rank", "trial", "state", "loss", "acc", "pareto", "feasible"]
    assert [r[:7] for r in table["rows"]] == [
        [1, 0, "COMPLETED", 0.2, 0.7, "yes", "yes"], [2, 1, "COMPLETED", 0.3, 0.9, "yes", "yes"],
        [3, 2, "COMPLETED", 0.4, 0.6, "no", "yes"], [None, 3, "COMPLETED", 0.1, 0.95, "no", "no"],
        [None, 4, "RUNNING", 0.5, None, "no", None]]
    assert snap["pareto_front"] == [0, 1] and snap["best"] is None and snap["infeasible"] == 1
    assert snap["objectives"] == "loss (min), acc (max)" and snap["constraints"] == ["latency <= 20"]
    assert [p["key"] for p in snap["panels"]][:2] == ["pareto", "hypervolume"]
    expected = build_figures(build_report(name, settle=False)).as_dict()
    assert snap["figures"]["pareto"] == json.loads(json.dumps(expected["pareto"]))


def test_study_picker_and_comparison(tmp_path, monkeypatch):
    """The page's picker lists the store's studies; a picked study is served as its own
    snapshot, ``compare`` adds studies side by side, and only studies of the store are read."""
    from hpogrid.dashboard import _snapshot
    from hpogrid.objectives import Objectives

    monkeypatch.setattr(_snapshot, "BUSY_FACTOR", 0.0)  # every poll reads: no waiting for the throttle
    from hpogrid.study import StudyStore
    from tests.report.test_compare import B_TRIALS

    name, url = _known(tmp_path)
    write_trials(url, "rp_b", datetime.now(timezone.utc).replace(microsecond=0), B_TRIALS)
    client = create_app(Source(name)).test_client()
    assert client.get("/api/studies").get_json() == {"studies": ["rp", "rp_b"], "default": "rp"}
    assert '"study": "rp"' in client.get("/").get_data(as_text=True)
    picked = client.get("/api/snapshot?study=rp_b").get_json()
    assert picked["study"] == "rp_b" and picked["table"]["total"] == 3 and picked["best"]["number"] == 1
    assert client.get("/api/snapshot").get_json()["study"] == "rp"
    both = client.get("/api/snapshot?study=rp&compare=rp_b").get_json()
    cmp = both["comparison"]
    assert both["study"] == "rp" and cmp["studies"] == ["rp", "rp_b"]
    assert [(r[0], r[5], r[6]) for r in cmp["rows"]] == [("rp", 0.1, 5), ("rp_b", 0.15, 1)]
    assert [p["key"] for p in cmp["panels"]] == ["best", "params"] and len(set(cmp["colours"])) == 2
    again = client.get("/api/snapshot?study=rp&compare=rp_b").get_json()
    assert again["fingerprint"] == both["fingerprint"]
    store = StudyStore(url)  # a new trial of the compared study changes what the page is sent
    store.upsert_trial("rp_b", "b3", state="COMPLETED", params={"lr": 0.01}, metrics={"loss": 0.01})
    later = client.get("/api/snapshot?study=rp&compare=rp_b").get_json()
    assert later["fingerprint"] != both["fingerprint"] and later["comparison"]["rows"][1][5] == 0.01
    # studies that optimise other objectives: the comparison says why, the study is still shown
    store.create_study("two", "loss", "min", attrs=Objectives.parse(["loss", "accuracy"], ["min", "max"]).to_attrs())
    store.upsert_trial("two", "t", state="COMPLETED", metrics={"loss": 0.3, "accuracy": 0.5})
    store.close()
    mixed = client.get("/api/snapshot?compare=two").get_json()
    assert mixed["study"] == "rp" and "compare them by one metric" in mixed["comparison"]["error"]
    for query in ("study=nope", "study=../../etc", "compare=rp_b,nope"):
        r = client.get(f"/api/snapshot?{query}")
        assert r.status_code == 404 and "no study" in r.get_json()["error"], query


def test_artifacts_are_listed_and_served_only_from_the_project_folder(tmp_path):
    """A trial's kept file downloads; a study naming a file outside the project (directly or
    through a symbolic link in the trial folder) gets nothing of it."""
    import os

    from hpogrid import paths
    from hpogrid.study import StudyStore
    from hpogrid.trial import activated, read_annotations, save_artifact

    name, url = _known(tmp_path)
    src = tmp_path / "model.bin"
    src.write_bytes(b"\x00weights\xff")
    with activated("l1", paths.project_dir(name) / "trials" / name / "l1") as folder:
        save_artifact(src)
    notes = read_annotations(folder)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    os.symlink(secret, folder / "artifacts" / "link.txt")
    listed = dict(notes["artifacts"])
    listed["outside"] = {**listed["model.bin"], "file": str(secret)}
    listed["link.txt"] = {**listed["model.bin"], "file": str(folder / "artifacts" / "link.txt")}
    listed["dotdot"] = {**listed["model.bin"], "file": str(folder / os.path.relpath(secret, folder))}
    assert ".." in listed["dotdot"]["file"] and os.path.isfile(listed["dotdot"]["file"])
    store = StudyStore(url)
    store.upsert_trial(name, "l1", annotations={"artifacts": listed})
    store.close()
    client = create_app(Source(name)).test_client()
    snap = client.get("/api/snapshot").get_json()
    assert {(a["number"], a["name"]) for a in snap["artifacts"]} == {
        (1, "model.bin"), (1, "outside"), (1, "link.txt"), (1, "dotdot")}
    r = client.get("/api/artifact?trial=l1&name=model.bin")
    assert r.status_code == 200 and r.data == b"\x00weights\xff"
    assert r.headers["Content-Disposition"].startswith("attachment") and "model.bin" in r.headers["Content-Disposition"]
    for query in ("trial=l1&name=outside", "trial=l1&name=link.txt", "trial=l1&name=dotdot",
                  "trial=l1&name=nope", "trial=zz&name=model.bin", "study=other&trial=l1&name=model.bin"):
        r = client.get(f"/api/artifact?{query}")
        assert r.status_code == 404 and b"do not serve" not in r.data, query
        assert r.get_json()["error"], query
