"""The PanDA backend: submit a project as one grid task of independent searches, or drive one
central search across grid jobs (:class:`CentralGridBackend`); run it inside the job; sync results.

Lazy (PEP 562): importing the package (for ``hpogrid run --help``, which reads
:mod:`.options`) loads neither the engine nor the PanDA client.
"""
from typing import TYPE_CHECKING

from hpogrid.lazy import lazy_exports

if TYPE_CHECKING:  # what a type checker reads (the same names the table below loads lazily)
    from hpogrid.backends.panda._central import CentralGridBackend
    from hpogrid.backends.panda._job import OUTPUTS, GridJobResult, run_grid_job
    from hpogrid.backends.panda._records import Submission, load_submissions, record_submission
    from hpogrid.backends.panda._submit import (GridRunOptions, dry_run, output_containers, resolve_out_ds,
                                                submit_project)
    from hpogrid.backends.panda._sync import SyncResult, grid_states, sync_for_report, sync_project
    from hpogrid.backends.panda._tasks import TaskQuery, show_tasks
    from hpogrid.backends.panda.options import CentralOptions, GridCommandOptions

_EXPORTS = {
    "CentralGridBackend": "hpogrid.backends.panda._central",
    "CentralOptions": "hpogrid.backends.panda.options",
    "GridCommandOptions": "hpogrid.backends.panda.options",
    "OUTPUTS": "hpogrid.backends.panda._job",
    "GridJobResult": "hpogrid.backends.panda._job",
    "run_grid_job": "hpogrid.backends.panda._job",
    "Submission": "hpogrid.backends.panda._records",
    "load_submissions": "hpogrid.backends.panda._records",
    "record_submission": "hpogrid.backends.panda._records",
    "GridRunOptions": "hpogrid.backends.panda._submit",
    "dry_run": "hpogrid.backends.panda._submit",
    "output_containers": "hpogrid.backends.panda._submit",
    "resolve_out_ds": "hpogrid.backends.panda._submit",
    "submit_project": "hpogrid.backends.panda._submit",
    "SyncResult": "hpogrid.backends.panda._sync",
    "grid_states": "hpogrid.backends.panda._sync",
    "sync_for_report": "hpogrid.backends.panda._sync",
    "sync_project": "hpogrid.backends.panda._sync",
    "TaskQuery": "hpogrid.backends.panda._tasks",
    "show_tasks": "hpogrid.backends.panda._tasks",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
