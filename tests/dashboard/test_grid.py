"""A grid project in the dashboard: tasks and jobs as last synced, and the sync button's request."""
import pytest

from hpogrid.dashboard import Source, create_app
from tests.grid.test_grid_run import make, submit

pytestmark = pytest.mark.slow


@pytest.fixture
def grid_env(panda_server, monkeypatch):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("PANDA_AUTH_ID_TOKEN", "token")
    return panda_server


def test_sync_request_brings_trials_and_panda_states(grid_env, run_cli, tmp_path):
    make(run_cli, tmp_path, "dg")
    task_id = submit(run_cli, "dg", "--n_jobs", "2")
    assert grid_env.wait_task(task_id, timeout=240) == "done"
    client = create_app(Source("dg")).test_client()

    snap = client.get("/api/snapshot").get_json()  # nothing synced yet: waiting, with the task
    assert "waiting" in snap
    (task,) = snap["grid"]["tasks"]
    assert task["task_id"] == task_id and task["status"] == "not synced yet" and task["jobs"] == []

    r = client.post("/api/sync", headers={"X-Hpogrid": "sync"})
    assert r.status_code == 200 and r.get_json()["message"].startswith("4 trials from 1 of 1 tasks synced")
    snap = client.get("/api/snapshot").get_json()
    assert snap["counts"]["COMPLETED"] == 4 and snap["table"]["total"] == 4
    (task,) = snap["grid"]["tasks"]
    assert task["status"] == "done" and task["synced_at"]
    assert len(task["jobs"]) == 2
    for job in task["jobs"]:
        assert job["status"] == "finished" and job["site"] == "ANALY_TEST_GPU"
        assert job["trials"] == {"COMPLETED": 2}


def test_the_sync_button_in_the_browser(grid_env, run_cli, tmp_path, serve_dashboard, browser):
    from tests.dashboard.conftest import wait_for

    make(run_cli, tmp_path, "dgb")
    task_id = submit(run_cli, "dgb", "--n_jobs", "1")
    assert grid_env.wait_task(task_id, timeout=240) == "done"
    served = serve_dashboard("dgb")
    browser.get(served.url)

    def grid_cells(d):
        return d.execute_script("return Array.prototype.map.call(document.querySelectorAll('#grid td'),"
                                " function(c){ return c.textContent; });")
    cells = wait_for(browser, lambda d: grid_cells(d) and grid_cells(d), "the grid task")
    assert cells[0] == str(task_id) and "not synced yet" in cells
    browser.find_element("id", "sync").click()
    wait_for(browser, lambda d: "2 trials from 1 of 1 tasks synced" in d.find_element("id", "sync-result").text,
             "the sync outcome")
    wait_for(browser, lambda d: len(d.find_elements("css selector", "#trials-body tr")) == 2, "2 synced trials")
    cells = wait_for(browser, lambda d: "done" in grid_cells(d) and grid_cells(d), "the task done")
    assert "finished" in cells and "2 completed" in cells
