"""A define-by-run objective through ``slurm_run`` on a REAL single-node Slurm: each job's
trial records the parameters the model used."""
import pytest

from tests.backends.slurm.helpers import make_slurm_project, trials
from tests.backends.helpers import DEFINE_BY_RUN

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]

DBR = DEFINE_BY_RUN


def test_define_by_run_through_slurm_run(tmp_path, slurm_cli):
    name = make_slurm_project(tmp_path, DBR, {"unused": {"method": "uniform", "dimension": {"low": 0, "high": 1}}},
                              algorithm="optuna", trials=4, slurm={"workers": 2})
    r = slurm_cli("slurm_run", name, "--seed", "3")
    assert r.exit_code == 0, r.output
    assert "This run (optuna, fifo): 4 completed, 0 failed, 0 interrupted" in r.output
    got = trials(name)
    assert len(got) == 4 and {t.backend for t in got} == {"slurm"}
    for t in got:
        assert set(t.params) == ({"act", "x", "n"} if t.params["act"] == "relu" else {"act", "x"})
        assert t.value == pytest.approx(t.params["x"] + t.params.get("n", 0))
