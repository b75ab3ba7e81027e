"""Config commands and --help must not load the heavy ML libraries."""
import os
import subprocess
import sys

HEAVY = ("ray", "torch", "ax", "hyperopt", "skopt", "optuna", "sklearn", "pandas", "plotly", "pandaclient",
         "rucio", "flask", "werkzeug", "rich")

PROBE = """
import sys
from hpogrid.cli import cli
for args in {cmds}:
    try:
        cli.main(args, prog_name="hpogrid")
    except SystemExit:
        pass
print("HEAVY:" + ",".join(sorted(m for m in {heavy} if m in sys.modules)))
"""


def test_config_commands_import_no_ml_library(tmp_path):
    cmds = [["--help"], ["hpo_config", "list"], ["hpo_config", "create", "h", "--trials", "3"],
            ["hpo_config", "show", "h"], ["search_space", "create", "s",
             '{"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}'],
            ["project", "list"], ["hpo_config", "create", "--help"], ["report", "--help"],
            ["local_run", "--help"], ["workflow", "--help"], ["run", "--help"], ["tasks", "show", "--help"],
            ["tasks", "kill", "--help"], ["dataset", "upload", "--help"], ["sites", "--help"],
            ["slurm_run", "--help"], ["dashboard", "--help"], ["import", "--help"],
            ["import", "echo-opt", "--help"], ["workflow", "run", "--help"]]
    code = PROBE.format(cmds=repr(cmds), heavy=repr(HEAVY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"HPOGRID_HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                              # a worktree's checkout first, as in the test run itself
                              **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:", out.stdout[-300:]
