"""The dashboard's cheap answers on big studies: a poll ``since`` its cursor gets only the
trials written since (the page merges them), and a big study's first answer is partial."""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from hpogrid.dashboard import Source, create_app
from tests.dashboard.conftest import DEADLINE_S, wait_for
from tests.report.helpers import make_project, write_trials


def _old_study(tmp_path, name="up"):
    """The helper's 8 trials, every one last written two hours ago (then unchanged)."""
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    make_project(tmp_path, name)
    url = sqlite_url(paths.study_db(name))
    old = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    write_trials(url, name, old)
    store = StudyStore(url)
    for t in store.trials(name):
        store.upsert_trial(name, t.uid, heartbeat_at=old)
    return name, store


@pytest.fixture
def no_rereads(monkeypatch):
    """A study that is never read in full again (as a study of 100,000 trials between reads)."""
    monkeypatch.setattr("hpogrid.dashboard._snapshot.BUSY_FACTOR", 1e9)
    monkeypatch.setattr("hpogrid.dashboard._snapshot.INLINE_READ_S", 0.0)


def test_an_update_carries_only_the_new_and_changed_trials(tmp_path, no_rereads):
    name, store = _old_study(tmp_path)
    client = create_app(Source(name)).test_client()
    snap = client.get("/api/snapshot").get_json()
    ask = {"since": snap["cursor"], "base": snap["fingerprint"]}
    quiet = client.get("/api/snapshot", query_string=ask).get_json()
    assert quiet["delta"] and quiet["rows"] == [] and quiet["counts"] == snap["counts"]

    store.upsert_trial(name, "l3", state="COMPLETED", metrics={"loss": 0.01, "accuracy": 0.99})  # changed
    store.upsert_trial(name, "new", state="COMPLETED", params={"lr": 0.5}, metrics={"loss": 0.02})  # new
    upd = client.get("/api/snapshot", query_string=ask).get_json()
    assert upd["delta"] and upd["fingerprint"] == snap["fingerprint"]
    columns = snap["table"]["columns"]
    rows = {r[columns.index("trial")]: r for r in upd["rows"]}
    numbers = {t.uid: t.number for t in store.trials(name)}
    assert set(rows) == {numbers["l3"], numbers["new"]}
    assert rows[numbers["l3"]][columns.index("state")] == "COMPLETED"
    assert rows[numbers["new"]][columns.index("loss")] == 0.02
    assert upd["counts"]["COMPLETED"] == snap["counts"]["COMPLETED"] + 2 and upd["counts"]["RUNNING"] == 0
    assert upd["total"] == snap["table"]["total"] + 1 and upd["best"]["number"] == numbers["l3"]
    # a page with an older full snapshot gets the full one, not a delta
    assert "delta" not in client.get("/api/snapshot", query_string={**ask, "base": "old"}).get_json()


def test_a_big_studys_first_answer_is_partial_then_the_full_one(tmp_path, monkeypatch):
    monkeypatch.setattr("hpogrid.dashboard._updates.PARTIAL_ABOVE", 3)  # 8 trials: "big"
    name, store = _old_study(tmp_path)
    client = create_app(Source(name)).test_client()
    first = client.get("/api/snapshot?quick=1").get_json()
    assert first["partial"] and first["counts"]["COMPLETED"] == 6
    numbers = {t.uid: t.number for t in store.trials(name)}
    assert [r[1] for r in first["table"]["rows"]] == [numbers[u] for u in ("g2", "l1", "g0", "l4", "l0", "g1")]
    full = first
    deadline = time.monotonic() + DEADLINE_S  # the full read runs in the background: poll as the page does
    while full.get("partial") and time.monotonic() < deadline:
        time.sleep(0.1)
        full = client.get("/api/snapshot", query_string={"since": first["cursor"], "base": "partial"}).get_json()
    assert full["figures"] and full["table"]["total"] == 8 and not full.get("partial")


@pytest.mark.slow
def test_the_page_merges_an_update_without_a_full_snapshot(tmp_path, no_rereads, browser):
    from werkzeug.serving import make_server

    name, store = _old_study(tmp_path)
    server = make_server("127.0.0.1", 0, create_app(Source(name), interval_s=0.3), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{server.server_port}/")
        wait_for(browser, lambda d: len(d.find_elements("css selector", "#trials-body tr")) == 8, "the 8 trials")
        browser.execute_script("window.hpogridSamePage = 'yes';")
        numbers = {t.uid: t.number for t in store.trials(name)}
        store.upsert_trial(name, "l3", state="COMPLETED", metrics={"loss": 0.01, "accuracy": 0.99})
        store.upsert_trial(name, "new", state="COMPLETED", params={"lr": 0.5}, metrics={"loss": 0.02})

        def merged(d):
            rows = d.execute_script(
                "return Array.prototype.map.call(document.querySelectorAll('#trials-body tr'),"
                " function(tr){ return [tr.cells[1].textContent, tr.cells[2].textContent]; });")
            return rows if len(rows) == 9 and [str(numbers["l3"]), "COMPLETED"] in rows else None

        rows = wait_for(browser, merged, "the changed and the new trial")
        assert sorted(int(n) for n, _ in rows) == sorted([*numbers.values(), store.trial(name, "new").number])
        wait_for(browser, lambda d: "8 completed" in d.find_element("id", "counts").text, "the counts")
        assert "best loss = 0.01" in browser.find_element("id", "best").text
        assert browser.execute_script("return window.hpogridSamePage;") == "yes"
    finally:
        server.shutdown()
        store.close()


@pytest.mark.slow
def test_polls_of_an_unchanged_multi_objective_study_do_not_redraw_its_table(tmp_path, no_rereads, browser):
    """A delta cannot know ranks and Pareto marks: the rows it brings again unchanged (every trial
    touched by a heartbeat) keep the page's marks instead of redrawing the table on every poll."""
    from werkzeug.serving import make_server

    from hpogrid.study import StudyStore, sqlite_url
    from hpogrid import paths
    from tests.report.helpers import mo_project

    name = mo_project(tmp_path)
    store = StudyStore(sqlite_url(paths.study_db(name)))
    server = make_server("127.0.0.1", 0, create_app(Source(name), interval_s=0.3), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{server.server_port}/")
        wait_for(browser, lambda d: len(d.find_elements("css selector", "#trials-body tr")) == 9, "the 9 trials")
        browser.execute_script("""
            document.querySelector('#trials-body tr').setAttribute('data-seen', 'yes');
            window.hpogridPolls = 0; var f = window.fetch;
            window.fetch = function(){ return f.apply(this, arguments).then(function(r){
              window.hpogridPolls++; return r; }); };""")
        for t in store.trials(name):  # written again, unchanged
            store.upsert_trial(name, t.uid, heartbeat_at=datetime.now(timezone.utc))
        wait_for(browser, lambda d: d.execute_script("return window.hpogridPolls;") >= 4, "four polls")
        assert browser.execute_script(
            "return document.querySelector('#trials-body tr').getAttribute('data-seen');") == "yes"
        marks = browser.execute_script(
            "return Array.prototype.map.call(document.querySelectorAll('#trials-body tr'),"
            " function(tr){ return tr.cells[5].textContent; });")
        assert marks.count("yes") == 4  # the front is still marked
    finally:
        server.shutdown()
        store.close()
