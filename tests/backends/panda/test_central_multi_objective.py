"""Several objectives in a central grid search (``run --search central``): the real panda-client
and the loopback PanDA server executing each job; the central study records every objective and
the multi-objective searcher is told them."""
import json
import textwrap
import threading
import time

import pytest

from hpogrid import paths
from hpogrid.study import StudyStore, sqlite_url

pytestmark = pytest.mark.slow
SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
SCRIPT = """
def objective(config):
    return {"f1": config["x"], "f2": (1 - config["x"]) ** 2}
"""


def test_several_objectives_across_grid_jobs(panda_server, monkeypatch, run_cli, tmp_path):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    for cmd in [("model_config", "create", "m", "--script", "train.py", "--model", "objective"),
                ("search_space", "create", "s", json.dumps(SPACE)),
                ("hpo_config", "create", "h", "--algorithm", "optuna", "--metric", "f1,f2", "--mode", "min,min"),
                ("grid_config", "create", "g", "--site", "ANALY_TEST", "--container", "docker://hpogrid:test"),
                ("project", "create", "mo", "--scripts_path", tmp_path / "train.py", "--model_config", "m",
                 "--search_space", "s", "--hpo_config", "h", "--grid_config", "g")]:
        r = run_cli(*cmd)
        assert r.exit_code == 0, r.output
    # the first wave's two jobs end together: their endings are held in PanDA until both
    # payloads have exited, so the driver's next poll sees both results before it asks again
    panda_server.hold_endings = True

    def release():
        deadline = time.monotonic() + 300
        while panda_server.exited_payloads() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        panda_server.hold_endings = False

    threading.Thread(target=release, daemon=True).start()
    r = run_cli("run", "mo", "--search", "central", "--trials", "4", "--n_jobs", "2", "--trials_per_job", "1",
                "--seed", "2")
    assert r.exit_code == 0, r.output
    with StudyStore(sqlite_url(paths.study_db("mo"))) as store:
        got = sorted(store.trials("mo"), key=lambda t: t.number)
    assert [t.state for t in got] == ["COMPLETED"] * 4, [t.error for t in got]
    for t in got:
        assert t.metrics["f1"] == pytest.approx(t.params["x"]) and t.backend == "panda"
        assert t.metrics["f2"] == pytest.approx((1 - t.params["x"]) ** 2)
    # the last two points were asked of a searcher told the first wave's two results
    assert [t.annotations["searcher_told"] for t in got] == [0, 0, 2, 2]
    r = run_cli("project", "list")
    assert r.exit_code == 0 and "f1,f2" in r.output and "min,min" in r.output, r.output
