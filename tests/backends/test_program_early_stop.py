"""A program objective under early stopping, through the CLI on the pool backend: its
``RESULT step=N: value`` lines are the trial's reports, and a program the scheduler stops gets
SIGTERM, then SIGKILL after model_config ``stop_grace`` when it ignores the first.

Three configurations run one after another: c=0 and c=2 improve step by step (c=2 more) and
end on their own; c=1 reports 10.0 at step 1, far worse than c=0 there, and ASHA stops it. It
catches SIGTERM, notes it, and carries on (it would never end by itself).
"""
import json
import os
import sys

import pytest

from hpogrid.study import load

PROGRAM = """
import os, signal, sys, time
c = int(sys.argv[1])
if c == 1:
    def noted(signum, frame):
        open("got-sigterm", "w").close()
    signal.signal(signal.SIGTERM, noted)
    open("pid", "w").write(str(os.getpid()))
    print("RESULT step=1: 10.0", flush=True)
    while True:  # ignores the SIGTERM; only SIGKILL ends it
        time.sleep(0.05)
best = {0: 1.0, 2: 0.5}[c]
for step in range(1, 10):
    print(f"RESULT step={step}: " + '{"loss": %r, "acc": %r}' % (best + 1.0 / step, 1.0 / step), flush=True)
print(f"RESULT: {best + 1.0 / 9}")
"""
GRID = {"c": {"method": "categorical", "dimension": {"categories": [0, 1, 2], "grid_search": 1}}}


def test_a_program_stopped_by_the_scheduler_gets_sigterm_then_sigkill(run_cli, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "prog.py").write_text(PROGRAM)
    r = run_cli("model_config", "create", "m", "--command", f"{sys.executable} prog.py {{c}}", "--stop_grace", "1")
    assert r.exit_code == 0, r.output
    assert run_cli("search_space", "create", "s", json.dumps(GRID)).exit_code == 0
    r = run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--algorithm", "tune",
                "--trials", "3", "--scheduler", "asynchyperband", "--stop", '{"training_iteration": 9}',
                "--scheduler_param", '{"max_t": 9, "grace_period": 1, "reduction_factor": 3}')
    assert r.exit_code == 0, r.output
    r = run_cli("project", "create", "prog", "--scripts_path", tmp_path / "src", "--model_config", "m",
                "--search_space", "s", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    r = run_cli("local_run", "prog", "--n_jobs", "1")
    assert r.exit_code == 0, r.output
    assert "(tune, asynchyperband)" in r.output
    by_c = {t.params["c"]: t for t in load("prog").trials}
    assert [by_c[c].state for c in (0, 1, 2)] == ["COMPLETED"] * 3, [t.error for t in by_c.values()]
    stopped = by_c[1]
    assert stopped.annotations["stopped_early"]["at"] == 1 and stopped.value == 10.0
    assert [(m["step"], m["loss"]) for m in stopped.intermediate] == [(1, 10.0)]
    folder = stopped.annotations["trial_dir"]
    assert os.path.exists(os.path.join(folder, "got-sigterm"))  # it was asked first ...
    pid = int(open(os.path.join(folder, "pid")).read())
    with pytest.raises(ProcessLookupError):  # ... and killed after the grace period
        os.kill(pid, 0)
    for c in (0, 2):  # every step was recorded, with both metrics
        steps = by_c[c].intermediate[:9]
        assert [m["step"] for m in steps] == list(range(1, 10)) and all("acc" in m for m in steps)
        assert "stopped_early" not in by_c[c].annotations
        assert by_c[c].value == pytest.approx({0: 1.0, 2: 0.5}[c] + 1.0 / 9)
