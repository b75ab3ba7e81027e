"""The PanDA backend: submit a project as one grid task, run it inside the job, sync results."""
from hpogrid.backends.panda._job import OUTPUTS, GridJobResult, run_grid_job
from hpogrid.backends.panda._records import Submission, load_submissions, record_submission
from hpogrid.backends.panda._submit import GridRunOptions, dry_run, resolve_out_ds, submit_project
from hpogrid.backends.panda._sync import SyncResult, sync_for_report, sync_project

__all__ = ["OUTPUTS", "GridJobResult", "GridRunOptions", "Submission", "SyncResult", "dry_run",
           "load_submissions", "record_submission", "resolve_out_ds", "run_grid_job", "submit_project",
           "sync_for_report", "sync_project"]
