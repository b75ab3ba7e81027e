"""PanDA gateway: one hpogrid HPO run = ONE PanDA task of N jobs, through the real panda-client.

Why a gateway: panda-client reads its server URLs once at import, prints to stdout,
exits the process on some configuration errors and answers with ``(status, output)``
tuples. This module re-applies the URLs from the environment for every gateway, keeps
panda-client quiet, retries transport failures and HTTP 5xx (tenacity) and turns every
answer into a value or one :mod:`hpogrid.errors` exception with a one-line message that
never contains a token or proxy.

Endpoints used (panda-client 2.2 -> PanDA REST ``/api/v1/``):
``file_server/upload_cache_file`` (putFile), ``task/submit`` (insertTaskParams),
``task/get_tasks_detailed_info_since`` (list_tasks, status, the duplicate check of submit),
``task/get_job_descriptions`` (job_metadata: every job with its status, site, times,
attemptNr and userJobMetadata; ``job/get_metadata_for_analysis_jobs`` only returns the
metadata of finished jobs, keyed by PandaID, so it cannot say which jobs failed),
``task/kill`` and ``task/retry``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple
from urllib.parse import urlparse

from hpogrid.errors import CredentialsError, NotFoundError, PandaError
from hpogrid.grid import _panda_params
from hpogrid.grid._panda_params import DEFAULT_ARCHITECTURE  # noqa: F401  (documented default)

DEFAULT_URL = "http://pandaserver.cern.ch:25080/server/panda"
DEFAULT_URL_SSL = _panda_params.DEFAULT_URL_SSL
DEFAULT_CACHE_URL = _panda_params.DEFAULT_CACHE_URL
# the real server answers "not the task owner" for unknown ids too (ownership is checked first)
_NOT_OWNER = "not the task owner or no production role"
# how many tasks to scan when a filter is applied after the server's n_tasks cut
_SCAN_TASKS = 10000


@dataclass(frozen=True)
class TaskSpec:
    """What to submit: one task of ``n_jobs`` jobs running ``exec_args`` in the unpacked sandbox.

    ``exec_args`` may contain ``%RNDM:<base>``: job k (k = 1..n_jobs) gets ``base + k``; a
    retried job keeps its k. ``architecture=None`` asks for an NVIDIA GPU queue
    (``&nvidia``), ``""`` asks for nothing. ``workdir`` is where the README promises the
    project inside the container; with ALRB containers (prun's default) the pilot unpacks the
    sandbox in the job's working directory, which is the container's working directory.
    """

    taskname: str
    exec_args: Tuple[str, ...]
    sandbox: Path
    n_jobs: int
    out_ds: str
    outputs: Tuple[str, ...]
    container: Optional[str] = None
    site: Optional[str] = None
    in_ds: Optional[str] = None
    max_attempt: Optional[int] = None
    architecture: Optional[str] = None
    workdir: str = "/hpogrid/project"
    #: further task parameters (grid_config ``extra``, checked against the keys prun sets)
    extra: Tuple[Tuple[str, Any], ...] = ()


def task_params(spec: TaskSpec, *, sandbox_name: str = "<uploaded sandbox name>") -> dict:
    """The exact taskParamMap ``submit`` sends (prun-equivalent); no network, no panda-client import."""
    return _panda_params.build_task_params(spec, sandbox_name, dict(os.environ))


class _Transient(Exception):
    """A request that may succeed when repeated: network error, HTTP 5xx, unreadable answer."""


class _LogCapture(logging.Handler):
    """Collects panda-client's log lines instead of letting it print them."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _plain(record: dict) -> dict:
    """Lower-cased keys and ISO-string times, as hpogrid's tables and study store expect."""
    return {str(k).lower(): _iso(v) for k, v in record.items()}


def _wildcard_regex(pattern: str) -> str:
    return "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + "$"


def _parse_metadata(raw):
    """The job's userJobMetadata.json as a dict. On the grid runGen merges it into the job
    report under ``user_job_metadata``, which is what PanDA stores; hand back the user's part."""
    value = raw
    if isinstance(raw, str) and raw.strip():
        try:
            value = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    inner = value.get("user_job_metadata")
    return inner if isinstance(inner, dict) else value


def _pinned(url: str) -> str:
    """``url`` with its host replaced by one machine behind the alias, as panda-client does at
    import: the cache servers behind an alias do not share files, so the upload and the jobs'
    download must name the same one. ``PANDA_BEHIND_REAL_LB`` keeps the alias."""
    import random
    import socket

    if "PANDA_BEHIND_REAL_LB" in os.environ:
        return url
    parsed = urlparse(url)
    try:
        host = socket.getfqdn(str(random.choice(socket.getaddrinfo(parsed.hostname, parsed.port))[-1][0]))
    except (OSError, IndexError) as exc:
        raise PandaError(f"cannot resolve the PanDA cache server {parsed.hostname} ({exc}); set PANDACACHE_URL "
                         "or PANDA_BEHIND_REAL_LB=1") from None
    return parsed._replace(netloc=f"{host}:{parsed.port}" if parsed.port else host).geturl()


def _discard(*_args, **_kwargs) -> None:
    """Stands in for ``print`` inside panda-client's Client module (see ``_import_client``)."""


class PandaGateway:
    """Talks to one PanDA server (from ``PANDA_URL``/``PANDA_URL_SSL``/``PANDACACHE_URL``).

    Not thread safe: panda-client keeps its server URLs in module globals.
    """

    def __init__(self, *, retries: int = 4, wait_max: float = 8.0):
        self.retries = max(1, int(retries))
        self.wait_max = float(wait_max)
        self.url_ssl = os.environ.get("PANDA_URL_SSL") or DEFAULT_URL_SSL
        self._client: Any = None  # (panda-client's Client module, configured for this gateway)
        self._last_log: List[str] = []
        self._configure_client()

    # -- panda-client plumbing -------------------------------------------------------
    def _configure_client(self) -> None:
        """Point panda-client's module globals at the URLs of the current environment."""
        client = self._import_client()
        url = os.environ.get("PANDA_URL") or DEFAULT_URL
        url_ssl = self.url_ssl
        cache = os.environ.get("PANDACACHE_URL") or os.environ.get("PANDA_CACHE_URL")
        client.baseURL = url
        client.server_base_path = _api_base(url)
        client.baseURLSSL = url_ssl
        client.server_base_path_ssl = _api_base(url_ssl)
        client.baseURLCSRVSSL = cache or (url_ssl if "PANDA_URL_SSL" in os.environ else DEFAULT_CACHE_URL)
        client.cache_base_path_ssl = _api_base(client.baseURLCSRVSSL)
        # a custom server without a cache URL keeps the sandbox itself (prun: ATLAS uses pandacache)
        self._use_cache_server = bool(cache) or "PANDA_URL_SSL" not in os.environ
        self._client = client

    @staticmethod
    def _import_client():
        logger = logging.getLogger("panda-client")
        if not logger.handlers:  # keep PLogger from adding its stdout handler
            logger.addHandler(logging.NullHandler())
        logger.propagate = False
        try:
            from pandaclient import Client
            # Client prints raw server answers and tracebacks on errors (its verbose=False
            # notwithstanding): a module-level name shadows the builtin there and only there,
            # which, unlike swapping sys.stdout, is safe with threads and leaves the OIDC
            # login prompt (printed by openidc_utils) visible
            Client.print = _discard
        except ImportError as exc:
            raise PandaError("panda-client is not installed: pip install 'panda-client==2.2.0'") from exc
        except OSError as exc:  # it resolves the cache server's host name at import
            raise PandaError(
                f"panda-client cannot resolve the PanDA cache server ({exc.__class__.__name__}); "
                "set PANDACACHE_URL or PANDA_BEHIND_REAL_LB=1") from None
        return Client

    def _quiet(self, func: Callable, *args, **kwargs):
        """Call panda-client with its prints and log lines captured; SystemExit becomes an error."""
        capture = _LogCapture()
        logger = logging.getLogger("panda-client")
        logger.addHandler(capture)
        try:
            return func(*args, **kwargs)
        except SystemExit:
            raise CredentialsError(self._credentials_problem() or "panda-client refused its configuration") from None
        finally:
            logger.removeHandler(capture)
            self._last_log = capture.lines

    def _request(self, endpoint: str, func: Callable, *args, **kwargs):
        """One request; a non-zero transport status raises _Transient (retried by callers)."""
        status, output = self._quiet(func, *args, **kwargs)
        if status != 0:
            raise _Transient(endpoint)
        return output

    def _retrying(self, endpoint: str, attempt: Callable[[int], object]):
        """Run ``attempt(n)`` until it does not raise _Transient, with exponential backoff."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        retrying = Retrying(
            stop=stop_after_attempt(self.retries),
            wait=wait_exponential(multiplier=self.wait_max / 16, max=self.wait_max),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            for state in retrying:
                with state:
                    return attempt(state.retry_state.attempt_number)
        except _Transient:
            raise PandaError(
                f"PanDA server {_netloc(self.url_ssl)} did not answer {endpoint} after {self.retries} attempts "
                "(unreachable or server error)") from None

    # -- credentials --------------------------------------------------------------------
    def _credentials_problem(self) -> Optional[str]:
        if not self.url_ssl.startswith("https://"):
            return None
        if os.environ.get("PANDA_AUTH") == "oidc":
            if not (os.environ.get("PANDA_AUTH_VO") or os.environ.get("OIDC_AUTH_VO")):
                return "PANDA_AUTH=oidc needs PANDA_AUTH_VO (e.g. export PANDA_AUTH_VO=atlas)"
            token_file = os.environ.get("OIDC_AUTH_TOKEN_FILE")
            cached = Path(os.path.expanduser(os.environ.get("PANDA_CONFIG_ROOT", "."))) / ".token"
            if os.environ.get("PANDA_AUTH_ID_TOKEN") or os.environ.get("OIDC_AUTH_ID_TOKEN") \
                    or (token_file and os.path.isfile(token_file)) or cached.is_file():
                return None
            return ("PANDA_AUTH=oidc but no token found: log in once with pbook, or set "
                    "PANDA_AUTH_ID_TOKEN or OIDC_AUTH_TOKEN_FILE")
        proxy = os.environ.get("X509_USER_PROXY") or f"/tmp/x509up_u{os.getuid()}"
        if os.path.isfile(proxy) and os.access(proxy, os.R_OK):
            return None
        where = "X509_USER_PROXY points to a missing file" if os.environ.get("X509_USER_PROXY") \
            else f"no grid proxy at /tmp/x509up_u{os.getuid()}"
        return (f"{where}: run voms-proxy-init -voms atlas (or set X509_USER_PROXY), "
                "or use tokens with PANDA_AUTH=oidc and PANDA_AUTH_VO")

    def check_configuration(self) -> None:
        """Raise CredentialsError (one line, what to set) when an https server has no credentials."""
        problem = self._credentials_problem()
        if problem:
            raise CredentialsError(problem)

    # -- submission ---------------------------------------------------------------------
    def submit(self, spec: TaskSpec) -> int:
        """Upload the sandbox, insert the task, return its jediTaskID; never submits twice."""
        self.check_configuration()
        if not Path(spec.sandbox).is_file():
            raise PandaError(f"sandbox: {spec.sandbox} is not a file")
        sandbox_name = f"jobO.{uuid.uuid4()}.tar.gz"  # prun --noBuild naming, unique per submission
        params = task_params(spec, sandbox_name=sandbox_name)
        client = self._client
        if self._use_cache_server:
            client.baseURLCSRVSSL = _pinned(client.baseURLCSRVSSL)
            client.cache_base_path_ssl = _api_base(client.baseURLCSRVSSL)
        # jobs fetch the sandbox from the very host it is uploaded to (prun does the same)
        uploaded_to = client.baseURLCSRVSSL if self._use_cache_server else client.baseURLSSL
        params["sourceURL"] = "{0.scheme}://{0.netloc}".format(urlparse(uploaded_to))
        with tempfile.TemporaryDirectory(prefix="hpogrid-sandbox-") as tmp:
            upload = Path(tmp) / sandbox_name
            shutil.copyfile(spec.sandbox, upload)
            self._upload(upload)
        return self._insert_task(params, sandbox_name)

    def _upload(self, path: Path) -> None:
        client = self._client

        def attempt(n: int):
            status, message = self._quiet(client.putFile, str(path), verbose=False,
                                          useCacheSrv=self._use_cache_server, reuseSandbox=False)
            if status == client.EC_Failed:  # refused by panda-client itself (size limit)
                detail = self._last_log[-1] if self._last_log else str(message)
                raise PandaError(f"sandbox upload refused: {_one_line(detail)}")
            if status != 0:
                raise _Transient("file_server/upload_cache_file")
            if message == "True" or (n > 1 and "cannot overwrite" in str(message)):
                return  # (an earlier attempt stored it: the name is unique to this submission)
            raise PandaError(f"sandbox upload refused: {_one_line(message)}")

        self._retrying("file_server/upload_cache_file", attempt)

    def _insert_task(self, params: dict, sandbox_name: str) -> int:
        client = self._client
        name = params["taskName"]

        def attempt(n: int) -> int:
            if n > 1:  # the failed attempt may have created the task: look before re-submitting
                existing = self._find_submitted(name, sandbox_name)
                if existing is not None:
                    return existing
            output = self._request("task/submit", client.insertTaskParams, params, verbose=False,
                                   properErrorCode=True)
            if not isinstance(output, tuple):
                raise _Transient("task/submit")
            code, message = output
            found = re.search(r"jediTaskID=(\d+)", str(message))
            if code in (0, 3) and found:
                return int(found.group(1))
            if n > 1 and code in (1, 2) and found:  # duplicate of the task our failed attempt created
                return int(found.group(1))
            raise PandaError(f"task {name}: not allowed: {_one_line(message)}")

        return self._retrying("task/submit", attempt)

    def _find_submitted(self, name: str, sandbox_name: str) -> Optional[int]:
        """The task of this submission (same name and same unique sandbox), if the server has it."""
        output = self._request("task/get_tasks_detailed_info_since",
                               self._client.get_tasks_detailed_info_since,
                               since=None, filters={"taskName": name}, n_tasks=100, verbose=False)
        for task in output or []:
            text = json.dumps(task.get("raw_task_params") or task.get("job_execution_params") or "", default=str)
            if sandbox_name in text:
                return int(task["jediTaskID"])
        return None

    # -- queries ------------------------------------------------------------------------
    def list_tasks(self, *, username=None, days=30, limit=1000, taskname=None, task_id=None,
                   id_range=None, status=None) -> List[dict]:
        """Tasks of ``username`` (default: the caller) in ONE request, newest first.

        ``taskname`` with ``*``/``?`` is sent as an anchored regex (the server applies regex
        filters with ``re.search`` after its ``n_tasks`` cut, so then up to 10000 tasks are
        scanned) and re-checked here; ``id_range=(a, b)`` is inclusive and applied here;
        ``days=None`` or a ``task_id`` removes the time window.
        """
        filters = {}
        client_side: List[Callable[[Dict[str, Any]], bool]] = []
        if username:
            filters["userName"] = username
        if task_id is not None:
            filters["jediTaskID"] = str(int(task_id))
        if status:
            filters["status"] = status
        if taskname:
            if any(c in taskname for c in "*?"):
                regex = _wildcard_regex(taskname)
                filters["taskName"] = regex
                pattern = re.compile(regex)
                client_side.append(lambda t: bool(pattern.search(str(t.get("taskname")))))
            else:
                filters["taskName"] = taskname
        if id_range is not None:
            low, high = int(id_range[0]), int(id_range[1])
            client_side.append(lambda t: low <= int(t["jeditaskid"]) <= high)
        since = None
        if days is not None and task_id is None:
            since = (datetime.now(timezone.utc) - timedelta(days=float(days))).strftime("%Y-%m-%d %H:%M:%S")
        n_tasks = max(int(limit), _SCAN_TASKS) if client_side else int(limit)
        output = self._retrying("task/get_tasks_detailed_info_since", lambda n: self._request(
            "task/get_tasks_detailed_info_since", self._client.get_tasks_detailed_info_since,
            since=since, filters=filters or None, n_tasks=n_tasks, verbose=False))
        tasks = []
        for raw in output or []:
            task = _plain(raw)
            task["jeditaskid"] = int(task["jeditaskid"])
            task.setdefault("computingsite", task.get("site"))
            if all(check(task) for check in client_side):
                tasks.append(task)
        tasks.sort(key=lambda t: t["jeditaskid"], reverse=True)
        return tasks[: int(limit)]

    def status(self, task_id: int) -> str:
        """Task status (``registered``, ``running``, ``done``, ``finished``, ``failed``, ``aborted`` ...)."""
        tasks = self.list_tasks(task_id=task_id, limit=1, days=None)
        if not tasks:
            raise NotFoundError(f"task {task_id} not found")
        return str(tasks[0]["status"])

    def job_metadata(self, task_id: int) -> List[dict]:
        """Every job (each attempt is its own PandaID) with its parsed userJobMetadata.json or None."""
        output = self._retrying("task/get_job_descriptions", lambda n: self._request(
            "task/get_job_descriptions", self._client.get_job_descriptions, int(task_id), verbose=False))
        jobs = []
        for raw in output or []:
            job = _plain({k: v for k, v in raw.items() if k != "Files"})
            job["metadata"] = _parse_metadata(raw.get("metadata"))
            job["pandaid"] = int(job["pandaid"])
            jobs.append(job)
        jobs.sort(key=lambda j: j["pandaid"])
        return jobs

    def jobs_of_tasks(self, task_ids, since: datetime, chunk: int = 5000,
                      known: Optional[Dict[int, dict]] = None) -> Dict[int, List[dict]]:
        """Every job of ``task_ids`` (records as :meth:`job_metadata` gives them) in bulk: one
        ``task/get_tasks_modified_since`` for the PandaIDs of the caller's tasks modified since
        ``since``, then ``job/get_description_incl_archive`` per ``chunk`` PandaIDs. A task whose
        finished jobs come back without metadata is asked again with :meth:`job_metadata`.

        ``known``: PandaID -> the record of a job in a final state the caller already holds (a
        driver following its tasks): not asked again, handed back as it is; a task none of whose
        jobs PanDA lists yet (JEDI has not split it) is then left without jobs instead of being
        asked on its own, so a poll costs the same few requests however many tasks and jobs."""
        wanted = {int(t) for t in task_ids}
        stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if since.tzinfo else \
            since.strftime("%Y-%m-%d %H:%M:%S")
        id_map = self._retrying("task/get_tasks_modified_since", lambda n: self._request(
            "task/get_tasks_modified_since", self._client.getJobIDsJediTasksInTimeRange, stamp, verbose=False)) or {}
        panda_ids = [int(p) for tid, ids in id_map.items() if int(tid) in wanted for p in ids]
        jobs: Dict[int, List[dict]] = {t: [] for t in wanted}
        if known is not None:
            for pid in panda_ids:
                if pid in known:
                    jobs.setdefault(int(known[pid]["jeditaskid"]), []).append(known[pid])
            panda_ids = [p for p in panda_ids if p not in known]
        for start in range(0, len(panda_ids), chunk):
            part = panda_ids[start:start + chunk]
            specs = self._retrying("job/get_description_incl_archive", lambda n: self._request(
                "job/get_description_incl_archive", self._client.getFullJobStatus, part, verbose=False)) or []
            for spec in specs:
                if spec is None:
                    continue
                job = _plain({slot: getattr(spec, slot, None) for slot in spec.__slots__ if slot != "Files"})
                job["metadata"] = _parse_metadata(job.get("metadata"))
                job["pandaid"] = int(job["pandaid"])
                jobs.setdefault(int(job["jeditaskid"]), []).append(job)
        for task_id, found in jobs.items():
            if (not found and known is None) or any(j["metadata"] is None and j.get("jobstatus") == "finished" for j in found):
                jobs[task_id] = self.job_metadata(task_id)  # a server that leaves metadata out here
            else:
                found.sort(key=lambda j: j["pandaid"])
        return jobs

    # -- commands -----------------------------------------------------------------------
    def kill(self, task_id: int) -> str:
        """Abort the task (its running jobs are killed)."""
        task_id = int(task_id)

        def attempt(n: int) -> str:
            output = self._request("task/kill", self._client.killTask, task_id, verbose=False)
            ok, data = output
            if ok:
                return f"command=kill is registered for task ID {task_id}"
            message = str(data)
            if n > 1 and re.search(r"in (toabort|aborting|aborted|broken) status", message):
                return f"command=kill is registered for task ID {task_id}"  # our earlier attempt did it
            self._raise_refusal(task_id, message)

        return self._retrying("task/kill", attempt)

    def retry(self, task_id: int) -> str:
        """Re-run the failed jobs of a finished/failed task (a running one: its failed jobs)."""
        task_id = int(task_id)

        def attempt(n: int) -> str:
            output = self._request("task/retry", self._client.retryTask, task_id, verbose=False,
                                   properErrorCode=True)
            code, message = output
            if code == 0:
                return _one_line(message)
            if n > 1 and code == 4 and re.search(r"in (running|ready|pending|scouting) status", str(message)):
                return f"retry of task {task_id} registered"  # our earlier attempt did it
            self._raise_refusal(task_id, str(message))

        return self._retrying("task/retry", attempt)

    def _raise_refusal(self, task_id: int, message: str) -> NoReturn:
        if "not found" in message:
            raise NotFoundError(f"task {task_id} not found")
        if _NOT_OWNER in message and not self.list_tasks(task_id=task_id, limit=1, days=None):
            raise NotFoundError(f"task {task_id} not found")
        raise PandaError(f"task {task_id}: not allowed: {_one_line(message)}")


def _api_base(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}/api/v1"


def _netloc(url: str) -> str:
    return urlparse(url).netloc or url


def _one_line(text) -> str:
    return " ".join(str(text).split())
