"""Early stopping on the real single-node Slurm: the driver reads each job's progress.jsonl,
records the steps in the study and answers in decision.json; a stopped trial's job returns and
its allocation is freed (one job per trial), or its ``--pool`` worker takes the next trial.

Three configurations run one after another (a grid, one Slurm job or worker at a time); each
reports ``loss(step) = final * (1 + a / step)`` for up to 100 steps, its stop criterion at 9.
The first one has nobody to compare with and runs to 9; the second is far worse at step 1 and
is stopped there by ASHA. (Which trials a scheduler stops is the engine's rule, the same for
every backend: tests/engine/test_scheduler_contract.py; here, what a stop does to a Slurm job.)
"""
import os
import sys

import pytest

from hpogrid.backends.slurm import SlurmOptions, run_slurm
from hpogrid.project import load_project
from tests.backends.slurm.helpers import in_squeue, job_state, make_slurm_project, trials

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]

CURVES = """
from hpogrid.trial import report

CURVES = {0: (0.3, 1.0), 1: (2.0, 0.5), 2: (0.4, 1.0)}

def objective(config):
    final, a = CURVES[config["c"]]
    for step in range(1, 101):
        if report(step, loss=final * (1 + a / step)):
            return
"""
GRID = {"c": {"method": "categorical", "dimension": {"categories": [0, 1, 2], "grid_search": 1}}}
#: each report waits for the driver's answer (a poll): few steps keep the jobs short
PLANNED = 9
SCHEDULERS = {"asynchyperband": {"max_t": PLANNED, "grace_period": 1, "reduction_factor": 3}}


def _run(tmp_path, scheduler, slurm):
    name = make_slurm_project(tmp_path, CURVES, GRID, algorithm="tune", trials=3, scheduler=scheduler,
                              scheduler_param=SCHEDULERS[scheduler], stop={"training_iteration": PLANNED},
                              slurm={"workers": 1, **slurm})
    summary = run_slurm(load_project(name), SlurmOptions(progress=False))
    got = trials(name)
    assert summary.scheduler == scheduler
    assert [t.state for t in got] == ["COMPLETED"] * 3, [t.error for t in got]
    return {t.params["c"]: t for t in got}


def test_a_stopped_trial_ends_its_slurm_job(tmp_path):
    scheduler = "asynchyperband"
    by_c = _run(tmp_path, scheduler, {})
    first, hopeless = by_c[0], by_c[1]
    assert "stopped_early" not in first.annotations and len(first.intermediate) == PLANNED
    note = hopeless.annotations["stopped_early"]
    assert note["by"] == scheduler and note["at"] == 1
    # the study has the one step it reported; its job ran no further and ended on its own
    assert [m["step"] for m in hopeless.intermediate] == [1]
    assert hopeless.value == pytest.approx(3.0)
    assert len({t.job_id for t in by_c.values()}) == 3
    assert job_state(hopeless.job_id) == "COMPLETED" and not in_squeue([hopeless.job_id])


def test_a_pool_worker_that_stopped_a_trial_takes_the_next(tmp_path):
    by_c = _run(tmp_path, "asynchyperband", {"pool": 1})
    assert by_c[1].annotations["stopped_early"]["at"] == 1 and len(by_c[1].intermediate) == 1
    # one worker job ran all three: after the stopped trial it went on with the next one
    assert {t.backend for t in by_c.values()} == {"slurm-pool"}
    assert len({t.job_id for t in by_c.values()}) == 1
    assert by_c[2].intermediate and by_c[2].intermediate[0]["step"] == 1


PROGRAM = """
import os, signal, sys, time
c = int(sys.argv[1])
if c == 1:
    signal.signal(signal.SIGTERM, lambda *_: open("got-sigterm", "w").close())
    print("RESULT step=1: 10.0", flush=True)
    while True:  # ignores the SIGTERM: only SIGKILL ends it (else the job would run to its time limit)
        time.sleep(0.05)
for step in range(1, 10):
    print(f"RESULT step={step}: {1.0 + 1.0 / step}", flush=True)
"""


def test_a_stopped_program_is_killed_after_its_grace_and_its_job_ends(tmp_path):
    grid = {"c": {"method": "categorical", "dimension": {"categories": [0, 1], "grid_search": 1}}}
    name = make_slurm_project(tmp_path, "", grid, algorithm="tune", trials=2, scheduler="asynchyperband",
                              scheduler_param={"max_t": 9, "grace_period": 1, "reduction_factor": 3},
                              stop={"training_iteration": 9}, slurm={"workers": 1}, files={"prog.py": PROGRAM},
                              model={"command": f"{sys.executable} prog.py {{c}}", "stop_grace": 1})
    run_slurm(load_project(name), SlurmOptions(progress=False))
    by_c = {t.params["c"]: t for t in trials(name)}
    assert [by_c[c].state for c in (0, 1)] == ["COMPLETED"] * 2, [t.error for t in by_c.values()]
    stopped = by_c[1]
    assert stopped.annotations["stopped_early"]["at"] == 1 and stopped.value == 10.0
    assert [m["step"] for m in stopped.intermediate] == [1]
    assert os.path.exists(os.path.join(stopped.annotations["trial_dir"], "program", "got-sigterm"))
    assert job_state(stopped.job_id) == "COMPLETED"
    assert [m["step"] for m in by_c[0].intermediate] == list(range(1, 10))
