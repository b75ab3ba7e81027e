"""``slurm_run --warm-start`` and ``--rerun`` on a REAL single-node Slurm (the engine's rules are
tested on the fake backend in tests/engine; this is the one real run of the Slurm backend)."""
import json

import pytest

from tests.backends.helpers import ECHO
from tests.backends.slurm.helpers import UNI, make_slurm_project, trials

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]


def test_warm_start_then_rerun_a_completed_trial(tmp_path, slurm_cli):
    source = make_slurm_project(tmp_path, ECHO, UNI, algorithm="random", trials=3, slurm={"workers": 3})
    r = slurm_cli("slurm_run", source, "--seed", "1")
    assert r.exit_code == 0, r.output
    name = make_slurm_project(tmp_path, ECHO, UNI, algorithm="optuna", trials=2, slurm={"workers": 1})
    r = slurm_cli("slurm_run", name, "--seed", "1", "--warm-start", source)
    assert r.exit_code == 0, r.output
    assert f"Note: warm start: searcher told 3 completed trials of project '{source}'" in r.output
    first = sorted(trials(name), key=lambda t: t.number)
    assert [t.annotations["searcher_told"] for t in first] == [3, 4]
    r = slurm_cli("slurm_run", name, "--resume", "--rerun", first[0].uid)
    assert r.exit_code == 0, r.output
    assert "1 trials kept, 1 to re-run, 0 new" in r.output
    again = {t.uid: t for t in trials(name)}[first[0].uid]
    assert again.state == "COMPLETED" and again.job_id != first[0].job_id
    assert json.loads(again.metrics["echo"]) == {k: first[0].params[k] for k in sorted(first[0].params)}
