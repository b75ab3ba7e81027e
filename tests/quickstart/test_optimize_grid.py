"""``hpogrid optimize --on grid``: the one command as a central search across grid jobs, against
the loopback PanDA server that executes every job (``tests/grid/panda_server``)."""
import pytest

from hpogrid.study import load

pytestmark = pytest.mark.slow

SCRIPT = "def objective(config):\n    return (config['x'] - 0.3) ** 2 + config['k']\n"


def test_optimize_on_the_grid(panda_server, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SCRIPT)
    assert run_cli("grid_config", "create", "test", "--site", "ANALY_TEST", "--container",
                   "docker://hpogrid:test").exit_code == 0
    r = run_cli("optimize", "train.py:objective", "-p", "x=uniform:0:1", "-p", "k=int:1:3", "--trials", 2,
                "--n_jobs", 2, "--on", "grid", "--grid_config", "test")
    assert r.exit_code == 0, r.output
    assert "This run (random, fifo): 2 completed, 0 failed" in r.output
    with load("train_objective") as study:
        trials = study.trials
    assert len(trials) == 2 and {t.backend for t in trials} == {"panda"}
    # one wave: one task of two jobs, each job its own trial
    assert len(panda_server.tasks) == 1 and len({t.job_id for t in trials}) == 2
    for t in trials:
        assert t.value == pytest.approx((t.params["x"] - 0.3) ** 2 + t.params["k"])
