"""Detached drivers: a run that outlives the terminal (``--detach``), ``hpogrid status`` and ``hpogrid stop``.

A detached driver is the run command itself (``local_run``, ``slurm_run``, ``run --search
central``), started in the background on this machine or as a small Slurm job that resubmits
itself with ``--resume`` when Slurm ends it (time limit, preemption, ``scancel``) until the
study is done. Each keeps one small JSON record in the project folder (``drivers/ID.json``),
the only thing ``status`` and ``stop`` read besides the study and the batch system.
"""
from hpogrid.drivers._launch import check_driver_time, check_log_dir, detach, slurm_available
from hpogrid.drivers._record import FINAL_STATES, DriverRecord, records
from hpogrid.drivers._status import DriverStatus, resume_command, statuses, stop
from hpogrid.drivers._supervise import begin, end, supervise

__all__ = ["DriverRecord", "DriverStatus", "FINAL_STATES", "begin", "check_driver_time", "check_log_dir", "detach",
           "end", "records", "resume_command", "slurm_available", "statuses", "stop", "supervise"]
