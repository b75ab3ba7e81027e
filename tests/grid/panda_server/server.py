"""A PanDA REST test server that speaks panda-client 2.2's wire protocol and executes jobs.

In-process (a threaded ``http.server`` on 127.0.0.1, random port) so tests can inspect and
manipulate its state. It answers the ``/api/v1/`` endpoints the way PanDA server's
``pandaserver/api/v1/{task,job,file_server}_api.py`` do (``{"success","message","data"}``,
datetimes as ``{"__datetime__": iso}``), and stands in for JEDI + pilot + runGen: a task is
split into ``nEvents / nEventsPerJob`` jobs, each job's argument string is built from the
task's ``jobParameters`` (``${SURL}``, ``$JEDITASKID``, ``${SN}``, ``${SN/P}``,
``${SEQNUMBER}`` = offset + serial, hidden items left out, ``padding``), split like the
pilot's shell would, and interpreted like runGen (``-a`` sandbox, ``-r`` run dir, ``-o``
output map, ``-p`` URL-quoted exec string). The exec string runs WITHOUT a shell in a fresh
job directory; ``userJobMetadata.json`` becomes the job's metadata (wrapped as runGen does: the job
report with it under ``user_job_metadata``, dropped above 1 MB) and declared outputs are
copied to ``root/outds/<outDS>/<LFN>``.

Deviations, on purpose: plain http is accepted (the real server wants https for nearly
everything) and the caller is ``user`` (no DN); the container image is recorded, not used, unless
``job_container`` is set (``container.PodmanJobs``: each payload runs in the task's image);
commands (kill, retry, finish) take effect at once instead of "in a few minutes"; a task
without ``maxAttempt`` gets one attempt per job; a retried job keeps its serial number (so
its seed) and gets a new PandaID with attemptNr + 1, like JEDI.

Like the pilot, every ended job leaves its log: the job's working directory less its declared
outputs, as ``tarball_PandaJob_<PandaID>_<site>/...`` in ``<logLFN>`` (attempt n > 1:
``<logLFN>.n``) in the task's log container, handed to ``output_hooks`` too. ``kill_job``
stands in for the pilot killing a running payload (lost heartbeat, preemption, wall time):
SIGTERM to its process group, SIGKILL after a grace; the job fails with the pilot's error and
is retried when it has attempts left. ``pilot_failures`` fails chosen attempts of jobs before
their payload (a retry test); ``payload`` runs payloads in-process (a benchmark of the client).
"""
from __future__ import annotations

import argparse
import ast
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlparse

TERMINAL_TASK = {"done", "finished", "failed", "aborted", "broken", "exhausted"}
FINAL_JOB = {"finished", "failed", "cancelled", "closed"}
# from pandaserver/api/v1/common.py and file_server_api.py
MESSAGE_TASK_OWNER = "not the task owner or no production role"
ERROR_OVERWRITE = "ERROR: cannot overwrite file"
ERROR_SIZE_LIMIT = "ERROR: upload failure. Exceeded size limit"
MB = 1024 * 1024
#: runGen drops a userJobMetadata.json larger than this instead of attaching it
USER_METADATA_LIMIT = MB
FIRST_TASK_ID = 10 ** 7 + 1
FIRST_PANDA_ID = 4 * 10 ** 9
#: each server of a process takes the next block of ids: a real server's task ids and PandaIDs never
#: repeat, and the output LFNs made of them (in the Rucio test server one session shares) must not
_ID_BLOCKS = itertools.count()


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _encode(obj):
    if isinstance(obj, datetime):
        return {"__datetime__": obj.isoformat()}
    raise TypeError(type(obj))


class Job:
    def __init__(self, panda_id: int, task: "Task", serial: int, attempt_nr: int):
        self.panda_id = panda_id
        self.task = task
        self.serial = serial
        self.attempt_nr = attempt_nr
        self.status = "activated"
        self.creation_time = self.modification_time = utcnow()
        self.start_time: Optional[datetime] = None
        self.end_time: Optional[datetime] = None
        self.metadata: Optional[str] = None
        self.exit_code: Optional[int] = None
        self.error_diag = ""
        self.job_parameters = ""
        self.workdir: Optional[Path] = None
        self.proc: Optional[subprocess.Popen] = None
        self.outputs: List[dict] = []

    def describe(self) -> dict:
        """A JobSpec.to_dict_advanced(add_extra_info=True)-like record (task/get_job_descriptions)."""
        duration = (self.end_time - self.start_time).total_seconds() if self.start_time and self.end_time else None
        return {
            "PandaID": self.panda_id, "jediTaskID": self.task.task_id, "jobsetID": self.task.task_id,
            "jobDefinitionID": self.task.task_id, "jobName": f"{self.task.name}.{self.serial}",
            "prodUserName": self.task.user, "prodSourceLabel": "user", "jobStatus": self.status,
            "computingSite": self.task.site, "creationTime": self.creation_time,
            "modificationTime": self.modification_time, "startTime": self.start_time,
            "endTime": self.end_time, "attemptNr": self.attempt_nr, "maxAttempt": self.task.max_attempt,
            "transExitCode": self.exit_code, "pilotErrorCode": 0 if not self.error_diag else 1305,
            "pilotErrorDiag": self.error_diag or None, "metadata": self.metadata,
            "jobParameters": self.job_parameters, "cmtConfig": self.task.params.get("architecture"),
            "container_name": self.task.params.get("container_name"),
            "Files": list(self.outputs), "jobDuration": duration, "extendedProdSourceLabel": "user_normal",
        }


class Task:
    def __init__(self, task_id: int, params: dict, user: str):
        self.task_id = task_id
        self.params = params
        self.name = params["taskName"]
        self.user = user
        self.status = "registered"
        self.site = params.get("site") or "ANALY_TEST_GPU"
        self.creation_date = self.modification_time = utcnow()
        self.start_time: Optional[datetime] = None
        self.end_time: Optional[datetime] = None
        self.n_jobs = max(1, int(params.get("nEvents") or 1) // max(1, int(params.get("nEventsPerJob") or 1)))
        self.max_attempt = int(params.get("maxAttempt") or 1)
        self.jobs: List[Job] = []
        self.error_dialog = None

    def touch(self):
        self.modification_time = utcnow()

    def latest_jobs(self) -> Dict[int, Job]:
        latest: Dict[int, Job] = {}
        for job in self.jobs:
            if job.serial not in latest or job.attempt_nr > latest[job.serial].attempt_nr:
                latest[job.serial] = job
        return latest

    def details(self) -> dict:
        """A get_task_details_json-like record (JediTaskSpec attributes + extras)."""
        latest = self.latest_jobs().values()
        return {
            "jediTaskID": self.task_id, "taskName": self.name, "status": self.status,
            "superStatus": self.status, "userName": self.user, "creationDate": self.creation_date,
            "modificationTime": self.modification_time, "startTime": self.start_time, "endTime": self.end_time,
            "prodSourceLabel": self.params.get("prodSourceLabel", "user"), "vo": self.params.get("vo"),
            "taskType": "anal", "processingType": self.params.get("processingType"),
            "architecture": self.params.get("architecture"), "site": self.site, "cloud": None,
            "container_name": self.params.get("container_name"), "errorDialog": self.error_dialog,
            "taskPriority": 1000, "currentPriority": 1000, "reqID": None, "parent_tid": self.task_id,
            "attemptNr": 0, "job_execution_params": " ".join(
                str(p.get("value")) for p in self.params.get("jobParameters", [])),
            "task_creation_arguments": self.params.get("cliParams"), "raw_task_params": self.params,
            "nFiles": self.n_jobs, "nFilesFinished": sum(j.status == "finished" for j in latest),
            "nFilesFailed": sum(j.status in ("failed", "cancelled") for j in latest), "nFilesMissing": 0,
        }


class PandaTestServer:
    """The server and its state; ``url`` goes into PANDA_URL / PANDA_URL_SSL / PANDACACHE_URL."""

    def __init__(self, root: Path, *, user: str = "Test User", max_parallel_jobs: int = 2,
                 site: str = "ANALY_TEST_GPU"):
        self.root = Path(root)
        self.user = user
        self.max_parallel_jobs = max_parallel_jobs
        #: test hook: while True, a payload that exited stays "running" in PanDA (its ending is
        #: held); set it False and every held job ends at once, in one step the clients see whole
        self.hold_endings = False
        self.default_site = site
        self.job_env: Dict[str, str] = {}
        #: None: payloads run as bare processes; a container.PodmanJobs: in the task's image
        self.job_container = None
        #: test hook: called (output container, PandaID, file) for each output of a finished job,
        #: where the pilot would register it in Rucio (a test may upload it to a Rucio test server)
        self.output_hooks: List = []
        self.request_counts: Counter = Counter()
        #: test hook: (job serial, attempt) -> the pilot error that fails that attempt of the job with
        #: this serial number in every task, before its payload runs (JEDI retries it with attempts left)
        self.pilot_failures: Dict[Tuple[int, int], str] = {}
        #: test hook (benchmarks): called (argv, cwd, env) in place of running the payload as a process,
        #: in the scheduler's thread; its return value is the payload's exit code
        self.payload: Optional[Callable[[List[str], Path, Dict[str, str]], int]] = None
        #: test hook (benchmarks): which sandbox members a job unpacks (None: all, as the pilot does)
        self.unpack_only: Optional[Callable[[str], bool]] = None
        #: test hook: endpoint -> called with the request's arguments before the server handles it
        #: (outside the lock; a test holds a request there on an Event)
        self.gates: Dict[str, Callable[[dict], None]] = {}
        #: test hook: endpoint -> called with the arguments once the request took effect, before the
        #: answer is sent (outside the lock; a test holds the answer there)
        self.answer_gates: Dict[str, Callable[[dict], None]] = {}
        #: connections accepted and not yet closed (a client's requests on them included)
        self.in_flight = 0
        self.tasks: Dict[int, Task] = {}
        self.jobs: Dict[int, Job] = {}
        self._lock = threading.RLock()
        self._failures: Dict[str, List] = {}
        block = next(_ID_BLOCKS)
        self._next_task_id = FIRST_TASK_ID + 1000 * block
        self._next_panda_id = FIRST_PANDA_ID + 100_000 * block
        self._stop = threading.Event()
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._threads: List[threading.Thread] = []
        for sub in ("cache", "jobs", "outds", "datasets"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "PandaTestServer":
        server = self

        class Handler(_Handler):
            panda = server

        self._httpd = _CountingServer(("127.0.0.1", 0), Handler)
        self._httpd.panda = self
        self._httpd.daemon_threads = True
        self._threads = [threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
                         threading.Thread(target=self._schedule_loop, daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._lock:
            for job in self.jobs.values():
                self._kill_process(job)
        for thread in self._threads:
            thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/server/panda"

    # -- test hooks ----------------------------------------------------------------------
    def fail_next(self, endpoint: str, times: int = 1, after_commit: bool = False) -> None:
        """Answer HTTP 500 to the next ``times`` calls of ``endpoint`` (e.g. "task/submit");
        with ``after_commit`` the request takes effect first (the duplicate-submission trap)."""
        with self._lock:
            self._failures.setdefault(endpoint, []).extend([after_commit] * times)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until every request that reached the server (a killed client's too) is handled.

        A request of our own first: connections are accepted in order, so once it is answered every
        earlier one is counted in ``in_flight``; then until none is open."""
        from urllib.request import urlopen

        with urlopen(self.url.rsplit("/server/panda", 1)[0] + "/api/v1/system/is_alive", timeout=timeout) as r:
            r.read()
        deadline = time.monotonic() + timeout
        while self.in_flight:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.in_flight} connection(s) still open after {timeout}s")
            time.sleep(0.01)

    def wait_task(self, task_id: int, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                status = self.tasks[task_id].status
            if status in TERMINAL_TASK:
                return status
            time.sleep(0.02)
        raise TimeoutError(f"task {task_id} still {status} after {timeout}s")

    def wait_jobs(self, task_id: int, status: str, count: int = 1, timeout: float = 120.0) -> List[Job]:
        """Wait until ``count`` jobs of the task are in ``status``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [j for j in self.tasks[task_id].jobs if j.status == status]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise TimeoutError(f"task {task_id}: fewer than {count} jobs {status} after {timeout}s")

    def exited_payloads(self) -> int:
        """How many running jobs' payloads have exited (their endings held by ``hold_endings``)."""
        with self._lock:
            return sum(1 for j in self.jobs.values()
                       if j.status == "running" and j.proc is not None and j.proc.poll() is not None)

    def add_fake_tasks(self, n: int, *, status: str = "done", name_prefix: str = "user.test.fake",
                       user: Optional[str] = None, jobs_per_task: int = 1, metadata=None,
                       age: timedelta = timedelta(0)) -> List[int]:
        """Create ``n`` terminal tasks with finished jobs (no processes) quickly, e.g. for a benchmark.

        ``metadata``: a dict, or a callable (task_index, serial) -> dict, stored as userJobMetadata.
        """
        ids = []
        with self._lock:
            for i in range(n):
                params = {"taskName": f"{name_prefix}.{i:06d}/", "nEvents": jobs_per_task, "nEventsPerJob": 1,
                          "noInput": True, "prodSourceLabel": "user", "vo": "atlas",
                          "architecture": "&nvidia", "jobParameters": []}
                task = self._new_task(params, user or self.user)
                task.status = status
                when = utcnow() - age
                task.creation_date = task.start_time = task.end_time = task.modification_time = when
                for serial in range(1, jobs_per_task + 1):
                    job = self._new_job(task, serial, 1)
                    job.status = "finished" if status in ("done", "finished") else "failed"
                    job.start_time = job.end_time = job.modification_time = when
                    meta = metadata(i, serial) if callable(metadata) else metadata
                    job.metadata = json.dumps({"user_job_metadata": meta}) if meta is not None else None
                    job.exit_code = 0
                ids.append(task.task_id)
        return ids

    def kill_job(self, panda_id: int, diag: str = "lost heartbeat", grace: float = 60.0) -> None:
        """The pilot kills a running job: SIGTERM to its payload, SIGKILL after ``grace`` s; the job
        fails with ``pilotErrorDiag`` ``diag`` (retried when it has attempts left)."""
        with self._lock:
            job = self.jobs[panda_id]
            proc = job.proc
            if job.status != "running" or proc is None:
                raise ValueError(f"job {panda_id} is {job.status}, not running a payload")
            job.error_diag = diag
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return

        def hard_kill() -> None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        timer = threading.Timer(grace, hard_kill)
        timer.daemon = True
        timer.start()

    def task(self, task_id: int) -> Task:
        with self._lock:
            return self.tasks[task_id]

    # -- state changes (all under the lock) ------------------------------------------------
    def _new_task(self, params: dict, user: str) -> Task:
        task = Task(self._next_task_id, params, user)
        if not params.get("site"):
            task.site = self.default_site
        self._next_task_id += 1
        self.tasks[task.task_id] = task
        return task

    def _new_job(self, task: Task, serial: int, attempt_nr: int) -> Job:
        job = Job(self._next_panda_id, task, serial, attempt_nr)
        self._next_panda_id += 1
        task.jobs.append(job)
        self.jobs[job.panda_id] = job
        return job

    def _kill_process(self, job: Job) -> None:
        proc = job.proc
        if proc is not None and proc.poll() is None and self.job_container is not None:
            self.job_container.kill(job.panda_id)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=10)

    def _update_task_status(self, task: Task) -> None:
        if task.status in TERMINAL_TASK:
            return
        latest = task.latest_jobs()
        if len(latest) < task.n_jobs or any(j.status not in FINAL_JOB for j in latest.values()):
            return
        n_ok = sum(j.status == "finished" for j in latest.values())
        task.status = "done" if n_ok == len(latest) else "finished" if n_ok else "failed"
        task.end_time = utcnow()
        task.touch()

    # -- the JEDI/pilot part -------------------------------------------------------------------
    def _schedule_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._reap()
                for task in self.tasks.values():
                    if task.status == "registered":
                        for serial in range(1, task.n_jobs + 1):
                            self._new_job(task, serial, 1)
                        task.status = "running"
                        task.start_time = utcnow()
                        task.touch()
                running = sum(1 for j in self.jobs.values() if j.status == "running")
                for job in sorted(self.jobs.values(), key=lambda j: j.panda_id):
                    if running >= self.max_parallel_jobs:
                        break
                    if job.status == "activated":
                        self._start_job(job)
                        running += 1
            self._stop.wait(0.01)

    def _reap(self) -> None:
        if self.hold_endings:
            return
        for job in list(self.jobs.values()):
            if job.status != "running" or job.proc is None or job.proc.poll() is None:
                continue
            job.exit_code = job.proc.returncode
            job.proc = None
            self._finish_job(job)

    def _start_job(self, job: Job) -> None:
        task = job.task
        job.status = "running"
        job.start_time = job.modification_time = utcnow()
        task.touch()
        try:
            argv, cwd, out_map = self._prepare_job(job)
            env = dict(os.environ)
            env.update(self.job_env)
            panda_env = {"PandaID": str(job.panda_id), "PanDA_TaskID": str(task.task_id),
                         "PANDA_ATTEMPT_NR": str(job.attempt_nr), "PanDA_AttemptNr": str(job.attempt_nr),
                         "PANDA_SITE_NAME": task.site}
            env.update(panda_env)
            if self.job_container is not None:  # the pilot's way: the payload in the task's image
                argv = self.job_container.argv(task.params["container_name"], argv, cwd, panda_env, job.panda_id)
            job.outputs = [{"lfn": lfn, "localName": name, "type": "output"} for name, lfn in out_map.items()]
            job.cwd = cwd
            failure = self.pilot_failures.get((job.serial, job.attempt_nr))
            if failure is not None:  # the pilot fails the job before its payload (stage-in, a lost node)
                job.error_diag = failure
                job.exit_code = None
                self._finish_job(job)
                return
            if self.payload is not None:  # in-process, instant: the driver is what is measured
                job.proc = _Done(self.payload(argv, cwd, env))
                return
            with open(job.workdir / "payload.stdout", "wb") as out, open(job.workdir / "payload.stderr", "wb") as err:
                job.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
            job.cwd = cwd
        except Exception as exc:  # a broken job definition fails the job, like a pilot error
            job.error_diag = f"{exc.__class__.__name__}: {exc}"
            job.exit_code = None
            self._finish_job(job)

    def _prepare_job(self, job: Job):
        task = job.task
        job_params = self._job_parameters(job)
        job.job_parameters = job_params
        parser = argparse.ArgumentParser(add_help=False)
        for opt in ("-j", "--sourceURL", "-r", "-a", "-o", "-p", "-i", "--inMap"):
            parser.add_argument(opt)
        options, _ = parser.parse_known_args(shlex.split(job_params))
        job.workdir = self.root / "jobs" / str(task.task_id) / str(job.panda_id)
        job.workdir.mkdir(parents=True)
        run_dir = job.workdir / "work"
        run_dir.mkdir()
        if options.a:
            with tarfile.open(self.root / "cache" / Path(options.a).name) as archive:
                only = self.unpack_only
                members = None if only is None else [m for m in archive.getmembers() if only(m.name)]
                archive.extractall(run_dir, members=members, filter="data")
        cwd = (run_dir / (options.r or ".")).resolve()
        for in_ds in self._input_datasets(task):
            source = self.root / "datasets" / in_ds.rstrip("/")
            if source.is_dir():
                for item in source.iterdir():
                    shutil.copy2(item, cwd / item.name)
        out_map = ast.literal_eval(options.o) if options.o else {}
        if not options.p:
            raise ValueError("no -p exec string in the job parameters")
        argv = shlex.split(unquote(options.p))
        return argv, cwd, out_map

    @staticmethod
    def _output_container(task: Task, local_name: str) -> str:
        """The container (``<outDS>_<file>/``) prun declared for the output ``local_name``."""
        return next(p["dataset"] for p in task.params.get("jobParameters", [])
                    if p.get("param_type") == "output" and str(p.get("value", "")).endswith("." + local_name))

    @staticmethod
    def _input_datasets(task: Task) -> List[str]:
        return [p["dataset"] for p in task.params.get("jobParameters", [])
                if p.get("param_type") == "input" and p.get("dataset")]

    def _job_parameters(self, job: Job) -> str:
        """JEDI's job parameter string for one job: templates filled, hidden items left out."""
        task = job.task
        text = ""
        in_files = []
        for ds in self._input_datasets(task):
            source = self.root / "datasets" / ds.rstrip("/")
            in_files += sorted(p.name for p in source.iterdir()) if source.is_dir() else []
        for item in task.params.get("jobParameters", []):
            if item.get("hidden"):
                continue
            value = str(item.get("value", ""))
            value = value.replace("${SURL}", str(task.params.get("sourceURL", "")))
            value = value.replace("$JEDITASKID", str(task.task_id))
            value = value.replace("${SN/P}", f"{job.serial:06d}").replace("${SN}", str(job.serial))
            if "${SEQNUMBER}" in value:
                value = value.replace("${SEQNUMBER}", str(int(item.get("offset", 0)) + job.serial))
            value = value.replace("${IN/T}", str(in_files)).replace("${IN}", ",".join(in_files))
            text += value + ("" if item.get("padding") is False else " ")
        return text.strip()

    def _finish_job(self, job: Job) -> None:
        task = job.task
        job.end_time = job.modification_time = utcnow()
        cwd = getattr(job, "cwd", None)
        ok = job.exit_code == 0
        if cwd is not None:
            meta = cwd / "userJobMetadata.json"
            if meta.is_file() and meta.stat().st_size <= USER_METADATA_LIMIT:
                # like runGen: the user's file is merged into the job report PanDA stores
                try:
                    job.metadata = json.dumps({"user_job_metadata": json.loads(meta.read_text())})
                except ValueError:
                    pass  # runGen skips a file that is no JSON
            if ok:
                out_dir = self.root / "outds" / task.name.rstrip("/")
                for item in job.outputs:
                    produced = cwd / item["localName"]
                    if not produced.is_file():
                        ok = False
                        job.error_diag = f"missing output file {item['localName']}"
                        break
                    out_dir.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(produced, out_dir / item["lfn"])
                    for hook in self.output_hooks:
                        try:  # a hook that raises fails the job (as a failed stage-out would), never the server
                            hook(self._output_container(task, item["localName"]), job.panda_id, out_dir / item["lfn"])
                        except Exception as exc:  # noqa: BLE001
                            ok = False
                            job.error_diag = f"output hook failed: {type(exc).__name__}: {exc}"
        if job.exit_code not in (0, None) and not job.error_diag:
            job.error_diag = f"payload exited with code {job.exit_code}"
        if job.error_diag:
            ok = False
        if cwd is not None:
            self._stage_out_log(job, cwd)
        job.status = "finished" if ok else "failed"
        if not ok and job.attempt_nr < task.max_attempt and task.status == "running":
            self._new_job(task, job.serial, job.attempt_nr + 1)
        task.touch()
        self._update_task_status(task)

    def _stage_out_log(self, job: Job, cwd: Path) -> None:
        """The job's log, as the pilot leaves it (see the module docstring); a failing hook is ignored
        (the pilot's log stage-out does not change how the job ended)."""
        log = job.task.params.get("log") or {}
        if not log.get("container"):
            return
        lfn = str(log.get("value", "")).replace("$JEDITASKID", str(job.task.task_id)).replace("${SN}", str(job.serial))
        lfn = lfn if job.attempt_nr == 1 else f"{lfn}.{job.attempt_nr}"
        outputs = {item["localName"] for item in job.outputs}
        out_dir = self.root / "outds" / log["container"].rstrip("/")
        out_dir.mkdir(parents=True, exist_ok=True)
        top = f"tarball_PandaJob_{job.panda_id}_{job.task.site}"
        with tarfile.open(out_dir / lfn, "w:gz") as tar:
            for path in sorted(cwd.iterdir()):
                if path.name not in outputs:
                    tar.add(path, arcname=f"{top}/{path.name}")
        for hook in self.output_hooks:
            try:
                hook(log["container"], job.panda_id, out_dir / lfn)
            except Exception:  # noqa: BLE001
                pass

    # -- endpoint implementations -----------------------------------------------------------------
    def _owned(self, task_id) -> Optional[Task]:
        task = self.tasks.get(int(task_id))
        return task if task is not None and task.user == self.user else None

    def api_task_submit(self, args):
        params = args["task_parameters"]
        if isinstance(params, str):
            params = json.loads(params)
        params.setdefault("userName", self.user)
        if params.get("uniqueTaskName"):
            same = [t for t in self.tasks.values() if t.name == params["taskName"] and t.user == self.user]
            if same:
                old = max(same, key=lambda t: t.task_id)
                if old.status not in ("finished", "failed", "aborted", "done", "exhausted"):
                    message = (f"jediTaskID={old.task_id} is in the {old.status} state for outDS={old.name}. "
                               "You can re-submit the task with new parameters for the same or another input "
                               "once it goes into finished/failed/done. ")
                    return False, message, 2
        task = self._new_task(params, self.user)
        return True, f"succeeded. new jediTaskID={task.task_id}", task.task_id

    def api_task_get_status(self, args):
        task = self.tasks.get(int(args["task_id"]))
        if task is None:
            return False, "Task not found", None
        return True, "", task.status

    def api_task_get_details(self, args):
        task = self.tasks.get(int(args["task_id"]))
        if task is None:
            return False, "Task not found or error retrieving the details", None
        return True, "", task.details()

    def api_task_get_task_parameters(self, args):
        task = self.tasks.get(int(args["task_id"]))
        if task is None:
            return False, "Task not found", None
        return True, "", task.params

    def api_task_get_tasks_detailed_info_since(self, args):
        criteria = {"userName": self.user}
        regex = {}
        if args.get("filters"):
            try:
                filters = json.loads(args["filters"])
            except ValueError:
                return False, "filters is not valid JSON", None
            if not isinstance(filters, dict):
                return False, "filters must be a JSON object", None
            for field, pattern in filters.items():
                if any(c in str(pattern) for c in r"^$*+?\|()"):
                    regex[field] = str(pattern)
                else:
                    criteria[field] = pattern
        since = None
        if args.get("since"):
            since = datetime.strptime(args["since"], "%Y-%m-%d %H:%M:%S")
        n_tasks = int(args.get("n_tasks", 500))
        selected = []
        for task in sorted(self.tasks.values(), key=lambda t: t.task_id, reverse=True):
            if since is not None and task.modification_time < since:
                continue
            details = task.details()
            if all(field not in details or str(details[field]) == str(value) for field, value in criteria.items()):
                selected.append(details)
            if len(selected) >= n_tasks:
                break
        result = []
        for details in selected:
            if all(field not in details or re.search(p, str(details[field])) for field, p in regex.items()):
                result.append(details)
        return True, "", result

    def api_task_get_job_ids(self, args):
        task = self.tasks.get(int(args["task_id"]))
        return True, "", [j.panda_id for j in task.jobs] if task else []

    def api_task_get_job_descriptions(self, args):
        task = self.tasks.get(int(args["task_id"]))
        unsuccessful = str(args.get("unsuccessful_only", "False")) == "True"
        jobs = task.jobs if task else []
        if unsuccessful:
            jobs = [j for j in jobs if j.status in ("failed", "cancelled", "closed")]
        return True, "", [j.describe() for j in jobs]

    def api_task_get_tasks_modified_since(self, args):
        """getJobIDsJediTasksInTimeRange: {jediTaskID: [PandaID, ...]} of the caller's tasks."""
        since = datetime.strptime(args["since"], "%Y-%m-%d %H:%M:%S")
        min_id = int(args["min_task_id"]) if str(args.get("min_task_id") or "None") != "None" else 0
        with self._lock:
            data = {task.task_id: [j.panda_id for j in task.jobs] for task in self.tasks.values()
                    if task.user == self.user and task.modification_time >= since and task.task_id > min_id}
        return True, "", data

    def api_job_get_description_incl_archive(self, args):
        """getFullJobStatus: the job records (metadata included) of a list of PandaIDs, None if unknown."""
        ids = args.get("job_ids") or []
        ids = json.loads(ids) if isinstance(ids, str) else ids
        with self._lock:
            jobs = {j.panda_id: j for task in self.tasks.values() for j in task.jobs}
            return True, "", [jobs[int(i)].describe() if int(i) in jobs else None for i in ids]

    def api_job_get_metadata_for_analysis_jobs(self, args):
        task = self.tasks.get(int(args["task_id"]))
        data = {}
        for job in task.jobs if task else []:
            if job.status == "finished" and job.metadata:
                try:
                    data[job.panda_id] = json.loads(job.metadata)
                except ValueError:
                    pass
        if not data:
            return True, "No metadata found", {}
        return True, "", data

    def _command(self, args, command: str):
        task = self._owned(args["task_id"])
        if task is None:
            return False, MESSAGE_TASK_OWNER, None
        allowed = {"kill": lambda s: s not in {"finished", "done", "prepared", "broken", "aborted", "toabort",
                                               "aborting", "failed"},
                   "finish": lambda s: s not in {"finished", "done", "prepared", "broken", "aborted", "toabort",
                                                 "aborting", "failed"},
                   "retry": lambda s: s in {"finished", "failed", "exhausted"}}[command]
        if not allowed(task.status):
            if command == "retry" and task.status in ("running", "scouting", "pending"):
                self._retry_failed(task)
                return True, f"retry has been triggered for failed jobs while the task is still {task.status}", 0
            return None, f"Command rejected: the {command} command is not accepted if the task is in " \
                         f"{task.status} status ", 4
        if command == "kill":
            for job in task.jobs:
                if job.status not in FINAL_JOB:
                    self._kill_process(job)
                    job.proc = None
                    job.status = "cancelled"
                    job.end_time = job.modification_time = utcnow()
            task.status = "aborted"
            task.end_time = utcnow()
        elif command == "finish":
            soft = str(args.get("soft", "False")) == "True"
            for job in task.jobs:
                if job.status == "activated" or (job.status == "running" and not soft):
                    self._kill_process(job)
                    job.proc = None
                    job.status = "cancelled"
                    job.end_time = job.modification_time = utcnow()
            task.n_jobs = len(task.latest_jobs())
            self._update_task_status(task)
        else:
            self._retry_failed(task)
            task.status = "running"
            task.end_time = None
        task.touch()
        return True, f"command={command} is registered for task ID {task.task_id}. will be executed in a few minutes", 0

    def _retry_failed(self, task: Task) -> None:
        for job in task.latest_jobs().values():
            if job.status in ("failed", "cancelled"):
                self._new_job(task, job.serial, job.attempt_nr + 1)

    def api_task_kill(self, args):
        ok, message, data = self._command(args, "kill")
        return bool(ok), message, data

    def api_task_finish(self, args):
        ok, message, data = self._command(args, "finish")
        return bool(ok), message, data

    def api_task_retry(self, args):
        ok, message, data = self._command(args, "retry")
        if ok is False:  # ownership failure: success False like request_validation
            return False, message, None
        return True, message, data  # the real retry always answers success=True with the code in data

    def api_file_server_upload_cache_file(self, args):
        upload = args.get("file")
        if not upload:
            return False, "no file", None
        file_name, content = upload
        name = file_name.split("/")[-1]
        limit = 768 * MB if name.startswith("sources.") else 10 * MB
        if len(content) > limit:
            return False, f"{ERROR_SIZE_LIMIT} {len(content) // MB} MB > {limit // MB} MB.", None
        path = self.root / "cache" / name
        if path.exists():
            return False, ERROR_OVERWRITE, None
        path.write_bytes(content)
        return True, "", None

    def api_system_is_alive(self, args):
        return True, "", "alive=yes"


class _Done:
    """A payload that already ran (:attr:`PandaTestServer.payload`), as the scheduler sees a process."""

    pid = -1

    def __init__(self, returncode: int):
        self.returncode = returncode

    def poll(self) -> int:
        return self.returncode

    def wait(self, timeout=None) -> int:
        return self.returncode


class _CountingServer(ThreadingHTTPServer):
    """Counts a connection from its accept (in the accepting thread) to its close."""

    panda: PandaTestServer

    def process_request(self, request, client_address):
        with self.panda._lock:
            self.panda.in_flight += 1
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.panda._lock:
                self.panda.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    panda: PandaTestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _args(self, method: str) -> dict:
        parsed = urlparse(self.path)
        args = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("application/json"):
                args.update(json.loads(body or b"{}"))
            elif ctype.startswith("multipart/form-data"):
                message = BytesParser(policy=email_policy).parsebytes(
                    b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
                for part in message.iter_parts():
                    field = part.get_param("name", header="content-disposition")
                    args[field] = (part.get_filename() or "", part.get_payload(decode=True))
            else:
                args.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
        return args

    def _dispatch(self, method: str):
        parsed = urlparse(self.path)
        panda = self.panda
        if parsed.path.startswith("/cache/"):
            path = panda.root / "cache" / Path(parsed.path).name
            return self._send(200, path.read_bytes(), "application/octet-stream") if path.is_file() \
                else self._send(404, b"not found", "text/plain")
        if not parsed.path.startswith("/api/v1/"):
            return self._send(404, b"not found", "text/plain")
        endpoint = parsed.path[len("/api/v1/"):]
        handler = getattr(panda, "api_" + endpoint.replace("/", "_"), None)
        try:
            args = self._args(method)
        except Exception:
            return self._send(400, b"bad request", "text/plain")
        gate = panda.gates.get(endpoint)
        if gate is not None:
            gate(args)
        with panda._lock:
            panda.request_counts[endpoint] += 1
            pending = panda._failures.get(endpoint)
            failure = pending.pop(0) if pending else None
            if failure is False:  # fail before doing anything
                return self._send(500, b"Internal Server Error", "text/plain")
            if handler is None:
                return self._send(404, b"not found", "text/plain")
            try:
                success, message, data = handler(args)
            except (KeyError, ValueError, TypeError) as exc:
                success, message, data = False, f"Argument error: {exc}", None
            if failure is True:  # the request took effect; the answer is lost
                return self._send(500, b"Internal Server Error", "text/plain")
            body = json.dumps({"success": success, "message": message, "data": data}, default=_encode)
        answer_gate = panda.answer_gates.get(endpoint)
        if answer_gate is not None:
            answer_gate(args)
        self._send(200, body.encode(), "application/json")

    def _send(self, code: int, body: bytes, ctype: str):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
