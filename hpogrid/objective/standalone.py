"""Run ONE trial outside Ray Tune and write its result next to its spec.

    python -m hpogrid.objective.standalone TRIAL_DIR

reads the :class:`~hpogrid.objective.trial_spec.TrialSpec` in ``TRIAL_DIR/trial.json``, runs
it with the one trial runner (:mod:`hpogrid.objective.runner`) reporting to the trial folder
(:mod:`hpogrid.objective.trial_folder`: ``progress.jsonl`` at once, ``result.json`` at the
end), with the same semantics as under Ray Tune. It is the payload of every Slurm job; the
pool's workers and the fake backend call :func:`run_trial`. It needs no network service: no
Ray cluster, no database. ``ray.tune.report`` works (:mod:`hpogrid.objective._session`),
and ``annotate`` does (the trial is the current one of :mod:`hpogrid.trial`).
"""
import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, List, Optional

# the trial-folder protocol, where callers have always found it
from hpogrid.objective.trial_folder import (PROGRESS_FILE, RESULT_FILE, STDERR_FILE, STDOUT_FILE, TRIAL_FILE,
                                            FolderReporter, TrialResult, clear_decision, clear_result, read_progress,
                                            read_result, read_spec, write_json, write_result)

__all__ = ["PROGRESS_FILE", "RESULT_FILE", "STDERR_FILE", "STDOUT_FILE", "TRIAL_FILE", "clear_decision",
           "clear_result", "main", "read_progress", "read_result", "run_trial", "write_json"]


class _Terminated(BaseException):
    """SIGTERM from Slurm (scancel, time limit): unwind so child programs are killed too."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def run_trial(trial_dir: Path, notify: Optional[Callable[[], None]] = None, workdir: bool = True) -> int:
    """Run the trial of ``trial_dir``; 0 when it completed, 1 when it failed. ``notify``: called
    after each report of a trial that awaits the engine's decision (a pool worker's pipe).
    ``workdir``: the trial runs with ``trial_dir`` as the working directory, the caller's is
    restored after it (False: the fake backend's threads, which share the driver's)."""
    from hpogrid.errors import HpogridError
    from hpogrid.objective._session import serve
    from hpogrid.objective.program import TrialFailed
    from hpogrid.objective.runner import TrialRunner

    trial_dir = Path(os.path.abspath(trial_dir))
    started = time.monotonic()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    reporter = FolderReporter(trial_dir, notify=notify)
    runner: Optional[TrialRunner] = None
    status, error, terminated = "completed", None, False
    try:
        spec = read_spec(trial_dir)
        reporter.awaits = spec.awaits_decision
        scripts = str(spec.model.scripts_dir)
        if scripts not in sys.path:
            sys.path.insert(0, scripts)
        runner = TrialRunner(spec, reporter, workdir=workdir)
        serve(runner)
        runner.run()
    except _Terminated:
        status, error, terminated = "failed", "terminated by SIGTERM (Slurm cancelled the job or it ran out of time)", True
    except TrialFailed as exc:  # a program: the reason is one line
        status, error = "failed", str(exc)
    except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything, SystemExit too
        status = "failed"
        error = str(exc) if isinstance(exc, HpogridError) else traceback.format_exc().strip()
    finally:
        reporter.close()
    trial = runner.trial if runner is not None else None
    write_result(trial_dir, TrialResult(
        status, history=runner.history if runner is not None else [], error=error, host=socket.gethostname(),
        job_id=os.environ.get("SLURM_JOB_ID"), seconds=time.monotonic() - started,
        # define-by-run: what the model used (also when it failed)
        params=trial.params if trial is not None else None,
        distributions=trial.distributions if trial is not None else None, terminated=terminated))
    return 0 if status == "completed" else 1


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m hpogrid.objective.standalone TRIAL_DIR\n")
        return 2
    return run_trial(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
