"""Slurm through its own commands: sbatch argv from a ``SlurmConfig``, job states, scancel.

Every call is ``subprocess.run`` with an argv list (never a shell), so paths and user flags
cannot be reinterpreted. Trials started together are one job array (:func:`array_argv`; a
task is named ``<array id>_<index>``). Job states come from Slurm itself: ``squeue -t all``
for the jobs in flight (one call per poll, whatever their number), then ``scontrol show job``
(one call per array) for the final record of a job that has ended (exit code, run time,
node; kept ``MinJobAge`` seconds). A job Slurm has already forgotten is looked up with
``sacct`` where accounting runs, else in the ``jobcomp/filetxt`` log, so a finished job is
never mistaken for a running one.
"""
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from hpogrid.errors import SlurmError

#: states after which a job never runs again (Slurm's names; ``CANCELLED by 0`` is cut to the word)
FINISHED = frozenset({"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "PREEMPTED",
                      "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"})
#: a job in these holds resources and runs (or finishes running) the payload
ACTIVE = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "SUSPENDED", "STOPPED", "RESIZING"})
#: seconds any one Slurm command may take before it is called failed
COMMAND_TIMEOUT_S = 60

_FIELD = re.compile(r"(?:^|\s)([A-Za-z][\w:/]*)=(\S*)")


@dataclass(frozen=True)
class JobState:
    """What Slurm says about one job."""

    job_id: str
    state: str                        # PENDING, RUNNING, COMPLETED, TIMEOUT, ..., UNKNOWN
    node: Optional[str] = None
    reason: Optional[str] = None
    exit_code: Optional[str] = None   # "1:0" (code:signal)
    run_time: Optional[str] = None    # "00:01:02"
    time_limit: Optional[str] = None
    start: Optional[datetime] = None
    end: Optional[datetime] = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def running(self) -> bool:
        return self.state in ACTIVE


def require(command: str) -> str:
    """Path of a Slurm command, or :class:`SlurmError` saying Slurm is not here."""
    path = shutil.which(command)
    if path is None:
        raise SlurmError(f"Slurm is not available here: {command!r} not found in PATH")
    return path


def sbatch_argv(slurm: Dict, *, job_name: str, workdir: Path, script: Path, args: Sequence[str],
                exclude: Sequence[str] = ()) -> List[str]:
    """``sbatch`` for one trial: the SlurmConfig options, then the user's own ``sbatch_args``.
    ``exclude``: nodes a failure rule (``exclude_node``) took out of the run.

    The payload is ``script args...``; output goes to ``workdir/stdout.log`` / ``stderr.log``.
    ``sbatch_args`` come last so a site-specific flag can override ours.
    """
    from hpogrid.objective.standalone import STDERR_FILE, STDOUT_FILE

    logs = str(workdir).replace("%", "%%")  # sbatch expands %j, %x... in --output / --error
    argv = [require("sbatch"), "--parsable", f"--job-name={job_name}", f"--chdir={workdir}",
            f"--output={logs}/{STDOUT_FILE}", f"--error={logs}/{STDERR_FILE}"]
    return argv + _resources(slurm, exclude) + [str(script), *map(str, args)]


def array_argv(slurm: Dict, *, job_name: str, tasks_dir: Path, size: int, limit: int, script: Path,
               args: Sequence[str], exclude: Sequence[str] = ()) -> List[str]:
    """``sbatch --array=0-(size-1)%limit`` for ``size`` trials at once: task N runs in
    ``tasks_dir/N`` (a link to its trial folder) and writes its stdout.log / stderr.log there."""
    from hpogrid.objective.standalone import STDERR_FILE, STDOUT_FILE

    logs = str(tasks_dir).replace("%", "%%")
    argv = [require("sbatch"), "--parsable", f"--array=0-{size - 1}%{max(1, limit)}", f"--job-name={job_name}",
            f"--chdir={tasks_dir}", f"--output={logs}/%a/{STDOUT_FILE}", f"--error={logs}/%a/{STDERR_FILE}"]
    return argv + _resources(slurm, exclude) + [str(script), *map(str, args)]


def _resources(slurm: Dict, exclude: Sequence[str]) -> List[str]:
    argv = [f"--cpus-per-task={slurm['cpus']}", f"--mem={slurm['mem']}", f"--time={slurm['time']}"]
    for key, flag in (("partition", "--partition"), ("account", "--account"), ("qos", "--qos"),
                      ("gres", "--gres")):
        if slurm.get(key):
            argv.append(f"{flag}={slurm[key]}")
    if exclude:
        argv.append(f"--exclude={','.join(exclude)}")
    return argv + list(slurm.get("sbatch_args") or [])


def array_of(job_id: str) -> str:
    """The array job id of a task id ``123_4`` (``123``); a plain job's own id."""
    return str(job_id).partition("_")[0]


def _run(argv: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    try:
        # own session: a Ctrl-C at the terminal reaches the driver only, which then scancels
        # its jobs; it must not kill the squeue/scancel it is running at that moment
        return subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    except FileNotFoundError:
        raise SlurmError(f"Slurm is not available here: {argv[0]!r} not found") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{Path(argv[0]).name} did not answer within {COMMAND_TIMEOUT_S} s") from None


def one_line(text: str) -> str:
    """The last non-empty line of a command's stderr, without the ``sbatch: error:`` prefix."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    if not lines:
        return "no message"
    return re.sub(r"^(\w+: )?(error|fatal): ", "", lines[-1])


def submit(argv: List[str], env: Optional[Dict[str, str]] = None) -> str:
    """Submit (the job inherits ``env``); the job id, or :class:`SlurmError` with sbatch's reason."""
    proc = _run(argv, env)
    if proc.returncode != 0:
        raise SlurmError(f"sbatch rejected the job: {one_line(proc.stderr)}")
    job_id = proc.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise SlurmError(f"sbatch gave no job id (output: {proc.stdout.strip()[:200]!r})")
    return job_id


def cancel(job_ids: Iterable[str]) -> None:
    """scancel the jobs; ones that already ended are not an error."""
    ids = [str(j) for j in job_ids]
    if ids:
        _run([require("scancel"), *ids])


def signal_batch(job_id: str, signal_name: str) -> None:
    """Send ``signal_name`` (``USR2``) to the batch script of a job only, not to its other
    processes; :class:`SlurmError` when Slurm refuses (the job has ended)."""
    proc = _run([require("scancel"), "--batch", f"--signal={signal_name}", str(job_id)])
    if proc.returncode != 0:
        raise SlurmError(f"scancel --signal={signal_name} {job_id}: {one_line(proc.stderr)}")


def _fields(line: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key, value in _FIELD.findall(line):
        out.setdefault(key, value)
    return out


def _task_key(fields: Dict[str, str]) -> Optional[str]:
    """``123_4`` for a task of array 123 (scontrol names it by its own job id), else the job id."""
    array, task = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
    if array and task and task.isdigit():
        return f"{array}_{task}"
    return fields.get("JobId")


def job_order(job_id: str):
    """Job ids in numeric order: by array (or job) id, then task index."""
    array, _, task = str(job_id).partition("_")
    return (int(array) if array.isdigit() else 0, int(task) if task.isdigit() else -1, str(job_id))


def _time(text: Optional[str]) -> Optional[datetime]:
    """Slurm's local ``2026-11-23T13:11:09`` as an aware datetime."""
    if not text or text in ("Unknown", "None", "N/A"):
        return None
    try:
        return datetime.fromisoformat(text).astimezone()
    except ValueError:
        return None


def _state(fields: Dict[str, str], job_id: str) -> JobState:
    node = fields.get("BatchHost") or fields.get("NodeList")
    return JobState(
        job_id=job_id, state=(fields.get("JobState") or fields.get("State") or "UNKNOWN").split()[0].upper(),
        node=None if node in (None, "", "(null)", "None assigned") else node,
        reason=fields.get("Reason"), exit_code=fields.get("ExitCode"),
        run_time=fields.get("RunTime") or fields.get("Elapsed"),
        time_limit=fields.get("TimeLimit") or fields.get("Timelimit"),
        start=_time(fields.get("StartTime") or fields.get("Start")),
        end=_time(fields.get("EndTime") or fields.get("End")))


class SlurmClient:
    """Reads job states; remembers where the jobcomp log is (asked once)."""

    def __init__(self):
        self._jobcomp: Optional[Path] = None
        self._asked_config = False

    def states(self, job_ids: Sequence[str]) -> Dict[str, JobState]:
        """State of every job in ``job_ids`` (``UNKNOWN`` when Slurm has no record at all); an
        array task is named ``<array id>_<index>``, as squeue and scancel name it.

        One ``squeue`` for them all (an array is asked for as a whole: ``--array`` lists its
        tasks one per line), then one ``scontrol`` per array (or plain job) with tasks that
        ended. Raises :class:`SlurmError` when ``squeue`` cannot reach the controller.
        """
        ids = [str(j) for j in job_ids]
        if not ids:
            return {}
        asked = sorted({array_of(j) for j in ids}, key=job_order)
        proc = _run([require("squeue"), "--noheader", "--array", "--states=all", f"--jobs={','.join(asked)}",
                     "--format=%i|%T|%N|%r|%M|%l"])
        wanted = set(ids)
        seen: Dict[str, JobState] = {}
        if proc.returncode == 0:
            for line in proc.stdout.splitlines():
                parts = line.strip().split("|")
                if len(parts) == 6 and parts[0] in wanted:
                    jid, state, node, reason, run_time, limit = parts
                    seen[jid] = JobState(jid, state.split()[0].upper(), node or None, reason, None, run_time, limit)
        elif "Invalid job id" not in proc.stderr:  # all ids unknown: not an error, see below
            raise SlurmError(f"squeue failed: {one_line(proc.stderr)}")
        out = {jid: state for jid, state in seen.items() if not state.finished}
        ended = [jid for jid in ids if jid not in out]
        finals = self._scontrol(sorted({array_of(j) for j in ended}, key=job_order)) if ended else {}
        for jid in ended:  # ended (or forgotten): the full record has the exit code and times
            out[jid] = finals.get(jid) or self._forgotten(jid) or seen.get(jid) or JobState(jid, "UNKNOWN")
        return out

    def final(self, job_id: str) -> Optional[JobState]:
        """The record of an ended job (or array task ``123_4``) from scontrol, sacct or the jobcomp log."""
        return self._scontrol([str(job_id)]).get(str(job_id)) or self._forgotten(str(job_id))

    def _forgotten(self, job_id: str) -> Optional[JobState]:
        return self._from_sacct(job_id) or self._from_jobcomp(job_id)

    def _scontrol(self, job_ids: Sequence[str]) -> Dict[str, JobState]:
        """Records scontrol still holds, by id; ``scontrol show job 123`` lists every task of array 123."""
        out: Dict[str, JobState] = {}
        for job_id in job_ids:
            proc = _run([require("scontrol"), "--oneliner", "show", "job", job_id])
            if proc.returncode != 0:
                continue
            for line in proc.stdout.splitlines():
                fields = _fields(line)
                key = _task_key(fields)
                if key:
                    out[key] = _state(fields, key)
        return out

    def _from_sacct(self, job_id: str) -> Optional[JobState]:
        sacct = shutil.which("sacct")
        if sacct is None:
            return None
        names = ["JobID", "State", "NodeList", "ExitCode", "Elapsed", "Timelimit", "Start", "End"]
        try:
            proc = _run([sacct, "--noheader", "--parsable2", "--allocations", f"--jobs={job_id}",
                         f"--format={','.join(names)}"])
        except SlurmError:
            return None
        if proc.returncode != 0:
            return None
        for line in proc.stdout.splitlines():
            values = line.split("|")
            if len(values) == len(names) and values[0] == job_id:
                return _state(dict(zip(names, values)), job_id)
        return None

    def _from_jobcomp(self, job_id: str) -> Optional[JobState]:
        path = self._jobcomp_log()
        if path is None:
            return None
        array, _, task = job_id.partition("_")
        needle = f" ArrayJobId={array} ArrayTaskId={task} " if task else None
        try:
            with open(path, errors="replace") as fh:
                lines = [ln for ln in fh if (needle in ln if needle else ln.startswith(f"JobId={job_id} "))]
        except OSError:
            return None
        return _state(_fields(lines[-1]), job_id) if lines else None

    def _jobcomp_log(self) -> Optional[Path]:
        if not self._asked_config:
            self._asked_config = True
            proc = _run([require("scontrol"), "show", "config"])
            conf = dict(re.findall(r"^(\w+)\s*=\s*(.*?)\s*$", proc.stdout, re.M)) if proc.returncode == 0 else {}
            if conf.get("JobCompType") == "jobcomp/filetxt" and conf.get("JobCompLoc"):
                self._jobcomp = Path(conf["JobCompLoc"])
        return self._jobcomp
