"""The PanDA backend: submit a project as one grid task of independent searches, or drive one
central search across grid jobs (:class:`CentralGridBackend`); run it inside the job; sync results."""
from hpogrid.backends.panda._central import CentralGridBackend, CentralOptions
from hpogrid.backends.panda._job import OUTPUTS, GridJobResult, run_grid_job
from hpogrid.backends.panda._records import Submission, load_submissions, record_submission
from hpogrid.backends.panda._submit import (GridRunOptions, dry_run, output_containers, resolve_out_ds,
                                            submit_project)
from hpogrid.backends.panda._sync import SyncResult, grid_states, sync_for_report, sync_project
from hpogrid.backends.panda._tasks import TaskQuery, show_tasks

__all__ = ["CentralGridBackend", "CentralOptions", "OUTPUTS", "GridJobResult", "GridRunOptions", "Submission",
           "SyncResult", "TaskQuery", "dry_run", "grid_states",
           "load_submissions", "output_containers", "record_submission", "resolve_out_ds", "run_grid_job",
           "show_tasks", "submit_project", "sync_for_report", "sync_project"]
