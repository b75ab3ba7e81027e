"""Projects with a slurm_config, and what Slurm and the study store say about them."""
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

from hpogrid import paths
from hpogrid.errors import NotFoundError
from hpogrid.study import StudyStore, sqlite_url
from tests.projects import UNI, make_project

SLURM_CMD = "hpogrid.cli.runs:slurm_run"
#: ``python -c CLI_CODE slurm_run ...``: the hpogrid CLI with slurm_run registered, in its own process
CLI_CODE = ("import sys; from hpogrid.cli import cli; cli.lazy.setdefault('slurm_run', "
            f"{SLURM_CMD!r}); cli.main(sys.argv[1:], prog_name='hpogrid')")
#: small jobs so several run at once on the test node; quick polling keeps the tests short
FAST = {"mem": "200M", "time": "5", "workers": 4, "poll_interval": 0.2}
#: a trial per behaviour: a grid over the categorical "kind" gives each exactly once (algorithm tune)
KINDS_SCRIPT = """
import os, sys, time
from ray import tune

def objective(config):
    kind = config["kind"]
    if kind == "raise":
        raise ValueError("boom from the objective")
    if kind == "exit":
        sys.stderr.write("about to exit with 3\\n")
        sys.stderr.flush()
        os._exit(3)
    if kind.startswith("sleep"):
        tune.report({"loss": 5.0})
        time.sleep(int(kind[5:] or 300))
    return {"loss": float(len(kind))}
"""


def grid_of_kinds(*names) -> dict:
    return {"kind": {"method": "categorical", "dimension": {"categories": list(names), "grid_search": 1}}}


def make_slurm_project(tmp_path: Path, script: str, space: dict, slurm: Optional[dict] = None,
                       model: Optional[dict] = None, files: Optional[Dict[str, str]] = None, **hpo) -> str:
    """A project whose script ``train.py`` is ``script`` (dedented), with a slurm_config."""
    return make_project(tmp_path, script, space, prefix="s", model=model, files=files,
                        slurm={**FAST, **(slurm or {})}, **{"scheduler": "fifo", **hpo})


def trials(project: str, study: Optional[str] = None, states=None):
    db = paths.study_db(project)
    if not db.exists():
        return []
    try:
        return StudyStore(sqlite_url(db)).trials(study or project, states=states)
    except NotFoundError:  # the driver has created the file but not the study yet
        return []


def in_squeue(job_ids: List[str]) -> List[str]:
    """Those of ``job_ids`` that squeue still lists as pending, running or completing (array tasks one by one)."""
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True).stdout.split()
    return [j for j in job_ids if j in out]


def job_state(job_id: str) -> str:
    """Slurm's state of an ended job, found as the driver finds it: scontrol forgets a job
    MinJobAge (300 s) after it ended, so then sacct or the jobcomp log (a test whose check comes
    later, in random order, still gets the real state)."""
    from hpogrid.backends.slurm import SlurmClient

    record = SlurmClient().final(job_id)
    return record.state if record is not None else "UNKNOWN"
