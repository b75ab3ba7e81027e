"""``slurm_run``'s options: :class:`SlurmOptions` declares them (:mod:`hpogrid.backends.declared`).

Kept apart from the backend so ``hpogrid slurm_run --help`` imports neither the engine nor
SQLAlchemy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from hpogrid.backends.declared import RunCommand, option
from hpogrid.engine.options import RunOptions


@dataclass
class SlurmOptions(RunOptions, RunCommand):
    """``RunOptions`` plus command-line overrides of the project's slurm_config."""

    backend: ClassVar[str] = "slurm"
    command: ClassVar[str] = "slurm_run"
    n_jobs_help: ClassVar[str] = "Trials (jobs) in Slurm at the same time (overrides the slurm_config workers)."
    #: ``--n_jobs`` sets the slurm_config ``workers`` override
    n_jobs_field: ClassVar[str] = "workers"
    help: ClassVar[str] = """Run the HPO of PROJECT on Slurm: each trial is one job (sbatch) running hpogrid.

    Job options come from the project's slurm_config (partition, account, qos, gres, cpus,
    mem, time, sbatch_args, workers, poll_interval; defaults without one); the trials
    started together are one job array (scancel ARRAY_INDEX cancels one trial). This process
    asks the search algorithm for each configuration, keeps at most --n_jobs (slurm_config
    workers) jobs in Slurm and records every trial in the project's study, as local_run
    does; a job Slurm ends (time limit, scancel, node failure) becomes a failed or
    interrupted trial with Slurm's reason. Trial folders (trial.json, result.json,
    stdout.log, stderr.log) are under the hpo_config log_dir, in slurm/.

    With --pool K, K long-lived worker jobs run the trials instead: each takes the next
    trial this process queued in the study store, so a trial waits in no Slurm queue (a
    worker that dies leaves its trial to be run once more; lost workers are replaced).

    {signals} Stopping scancels the run's jobs. If this process is killed (-9), its
    jobs are found and cancelled by the next 'slurm_run --resume'."""

    workers: Optional[int] = option(None, "--workers", kind="int", low=1, hidden=True,
                                    help="Jobs in Slurm at the same time (the same as --n_jobs).")
    #: long-lived worker jobs (overrides slurm_config pool; 0: one job per trial)
    pool: Optional[int] = option(None, "--pool", kind="int", low=0, help=(
        "Run the trials in K long-lived worker jobs that each take trial after trial from the study (no Slurm "
        "queue per trial; overrides slurm_config pool; 0: one job per trial)."))
    poll_interval: Optional[float] = option(None, "--poll_interval", "--poll-interval", kind="float", low=0.05,
                                            high=600, help="Seconds between Slurm state checks (overrides the "
                                            "slurm_config).")
