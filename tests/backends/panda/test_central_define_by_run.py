"""A define-by-run model in a central grid search (``run --search central``): the real
panda-client and the loopback PanDA server executing each job. The central study records what
each grid job's model used, with the distributions it asked for, and the searcher learns it."""
import pytest

from hpogrid import paths
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.helpers import DEFINE_BY_RUN

pytestmark = pytest.mark.slow
DBR = DEFINE_BY_RUN


@pytest.fixture
def central_env(panda_server, monkeypatch):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    return panda_server


def test_define_by_run_across_grid_jobs(central_env, run_cli, tmp_path):
    (tmp_path / "train.py").write_text(DBR)
    for cmd in [("model_config", "create", "m", "--script", "train.py", "--model", "objective"),
                ("hpo_config", "create", "h", "--algorithm", "optuna", "--metric", "loss", "--mode", "min",
                 "--scheduler", "fifo"),
                ("grid_config", "create", "g", "--site", "ANALY_TEST", "--container", "docker://hpogrid:test"),
                ("project", "create", "gd", "--scripts_path", tmp_path / "train.py", "--model_config", "m",
                 "--hpo_config", "h", "--grid_config", "g")]:
        r = run_cli(*cmd)
        assert r.exit_code == 0, r.output
    r = run_cli("run", "gd", "--search", "central", "--trials", "4", "--n_jobs", "1", "--seed", "2")
    assert r.exit_code == 0, r.output
    with StudyStore(sqlite_url(paths.study_db("gd"))) as store:
        got = sorted(store.trials("gd"), key=lambda t: t.number)
    assert [t.state for t in got] == ["COMPLETED"] * 4, [t.error for t in got]
    for t in got:
        assert set(t.params) == ({"act", "x", "n"} if t.params["act"] == "relu" else {"act", "x"})
        assert t.value == pytest.approx(t.params["x"] + t.params.get("n", 0))
        assert set(t.annotations["distributions"]) == set(t.params)
    assert [t.annotations["searcher_told"] for t in got] == [0, 1, 2, 3]
