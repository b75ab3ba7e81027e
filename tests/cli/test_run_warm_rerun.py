"""``--rerun`` and ``--warm-start`` through the real run commands: one-line errors that change
nothing, and real runs on the local worker pool and on Ray Tune (Slurm: tests/backends/slurm)."""
import json

import pytest

from hpogrid import paths
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.helpers import ECHO, make_project
from tests.conftest import tree_snapshot

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "n": {"method": "uniformint", "dimension": {"low": 1, "high": 4}}}


def _trials(name, study=None):
    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        return sorted(store.trials(study or name), key=lambda t: t.number)


@pytest.mark.parametrize("command", ["local_run", "slurm_run"])
def test_bad_rerun_values_are_one_line_and_change_nothing(tmp_path, run_cli, hpogrid_home, command):
    name = make_project(tmp_path, ECHO, SPACE, trials=2, scheduler="fifo")
    before = tree_snapshot(hpogrid_home)
    r = run_cli(command, name, "--resume", "--rerun", "FAILED,ERROR")
    assert r.exit_code == 1
    assert r.output.strip() == ("Error: --rerun: 'ERROR' is not a state trials can be re-run from; choose from "
                                "FAILED, INTERRUPTED, COMPLETED, or give trial uids")
    r = run_cli(command, name, "--rerun", "FAILED")
    assert r.exit_code == 2 and "--rerun-failed, --rerun and --no-backup go with --resume" in r.output
    assert tree_snapshot(hpogrid_home) == before


def test_run_central_only_options_are_refused_for_independent_search(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, SPACE, trials=2, scheduler="fifo")
    r = run_cli("run", name, "--warm-start", "other", "--resume", "--rerun", "c1")
    assert r.exit_code == 2 and "--resume, --rerun, --warm-start go with --search central" in r.output


#: ECHO that also appends each evaluation to a file: a re-run is counted, not read off the clock
COUNTED_ECHO = """
import json

def objective(config):
    point = {k: config[k] for k in ("n", "x")}
    with open(config["log"], "a") as fh:
        fh.write(json.dumps(point, sort_keys=True) + "\\n")
    return {"loss": float(point["x"]), "echo": json.dumps(point, sort_keys=True)}
"""


@pytest.mark.slow
def test_local_run_warm_start_and_rerun_end_to_end(tmp_path, run_cli):
    source = make_project(tmp_path, ECHO, SPACE, algorithm="random", trials=11, scheduler="fifo")
    r = run_cli("local_run", source, "--seed", "2", "--n_jobs", "2")
    assert r.exit_code == 0, r.output
    log = tmp_path / "evaluations.txt"
    name = make_project(tmp_path, COUNTED_ECHO, SPACE, algorithm="optuna", trials=3, scheduler="fifo",
                        param={"log": str(log)})
    r = run_cli("local_run", name, "--seed", "2", "--n_jobs", "1", "--warm-start", source)
    assert r.exit_code == 0, r.output
    assert f"Note: warm start: searcher told 11 completed trials of project '{source}'" in r.output
    first = _trials(name)
    assert [t.annotations["searcher_told"] for t in first] == [11, 12, 13]
    # re-run a completed trial by uid: same uid, same values, run again
    uid = first[1].uid
    r = run_cli("local_run", name, "--resume", "--rerun", uid, "--n_jobs", "1")
    assert r.exit_code == 0, r.output
    assert "2 trials kept, 1 to re-run, 0 new" in r.output
    after = {t.uid: t for t in _trials(name)}
    assert len(after) == 3
    assert json.loads(after[uid].metrics["echo"]) == {k: first[1].params[k] for k in sorted(first[1].params)}
    evaluations = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(evaluations) == 4 and evaluations.count(json.loads(after[uid].metrics["echo"])) == 2


@pytest.mark.slow
def test_warm_start_under_ray_tune(tmp_path, run_cli):
    source = make_project(tmp_path, ECHO, SPACE, algorithm="random", trials=4, scheduler="fifo")
    assert run_cli("local_run", source, "--seed", "2").exit_code == 0
    name = make_project(tmp_path, ECHO, SPACE, algorithm="optuna", trials=2, scheduler="fifo")
    r = run_cli("local_run", name, "--ray", "--seed", "2", "--warm-start", source)
    assert r.exit_code == 0, r.output
    assert f"Note: warm start: searcher told 4 completed trials of project '{source}'" in r.output
    assert [t.state for t in _trials(name)] == ["COMPLETED", "COMPLETED"]
