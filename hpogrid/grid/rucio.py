"""Rucio datasets of a project: upload its input (``inDS``), list, download outputs (``outDS``).

A thin layer over rucio-clients (``Client``, ``UploadClient``, ``DownloadClient``), imported
only inside the functions. Configuration and credentials are rucio's own: the client config
file (``$RUCIO_CONFIG``, else ``$RUCIO_HOME/etc/rucio.cfg``, ...), ``$RUCIO_ACCOUNT`` and
``$RUCIO_AUTH_TYPE``. Every failure becomes one :class:`~hpogrid.errors.HpogridError` line;
rucio's own log lines are kept out of the terminal and the last one is quoted in the error.
Passwords and tokens never appear in messages.

Upload differs from ``rucio upload`` in one way on purpose: a file that is already in Rucio
with the same adler32 is attached to the dataset instead of silently skipped, and one with
different content is refused before anything is uploaded.
"""
import configparser
import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from hpogrid.errors import CredentialsError, NotFoundError, RucioError, ValidationError
from hpogrid.progress import PLAIN_EVERY_S, Progress

#: environment variable naming the default RSE of ``upload`` (rucio itself has none)
RSE_ENV = "HPOGRID_RSE"


def default_dataset_name(account: str, project: str) -> str:
    """``user.<account>.hpogrid.<project>.in``: the name hpogrid 1.3.3 used for inputs."""
    return f"user.{account}.hpogrid.{project}.in"


def project_prefix(account: str, project: Optional[str] = None) -> str:
    """Name prefix of the datasets hpogrid makes for ``project`` (all projects: None)."""
    return f"user.{account}.hpogrid." + (f"{project}." if project else "")


def split_did(did: str) -> Tuple[str, str]:
    """``scope:name`` -> (scope, name); a bare name gets the ATLAS scope (``user.x`` of ``user.x.y``)."""
    did = did.strip()
    if did.count(":") > 1 or did.startswith(":") or did.endswith(":"):
        raise ValidationError("did", f"{did!r} is not a Rucio DID; use SCOPE:NAME or a name such "
                              "as user.ACCOUNT.something")
    if ":" in did:
        scope, name = did.split(":")
    else:
        name = did.rstrip("/")  # as rucio does: 'user.x.y/' (DQ2 container style) is 'user.x.y'
        parts = name.split(".")
        scope = ".".join(parts[:2]) if parts[0] in ("user", "group") and len(parts) > 2 else parts[0]
    if not scope or not name or re.search(r"\s", did):
        raise ValidationError("did", f"{did!r} is not a Rucio DID; use SCOPE:NAME or a name such "
                              "as user.ACCOUNT.something")
    return scope, name


def _short_did(scope: str, name: str) -> str:
    """The name alone where the scope follows from it (what prun's --inDS expects), else scope:name."""
    return name if split_did(name)[0] == scope else f"{scope}:{name}"


# -- configuration and connection -------------------------------------------------------------

def config_file() -> Path:
    """The rucio client config that rucio-clients will read, checked to be a client config."""
    env = os.environ.get("RUCIO_CONFIG")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise CredentialsError(f"RUCIO_CONFIG is {env!r}, which is not a file; point it at a "
                                   "Rucio client config (rucio.cfg)")
    else:
        dirs = [os.environ[var] for var in ("RUCIO_HOME", "VIRTUAL_ENV", "CONDA_PREFIX") if os.environ.get(var)]
        candidates = [Path(d).expanduser() / "etc" / "rucio.cfg" for d in dirs] + [Path("/opt/rucio/etc/rucio.cfg")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise CredentialsError("no Rucio client configuration found: set RUCIO_CONFIG to a rucio.cfg "
                                   "or RUCIO_HOME to a folder with etc/rucio.cfg (looked in: "
                                   f"{', '.join(str(p) for p in candidates)})")
        path = found
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise CredentialsError(f"cannot read the Rucio config {path}: "
                               f"{str(exc).splitlines()[0]}") from None
    if parser.has_section("database"):
        raise CredentialsError(f"{path} is a Rucio server config (it has a [database] section); "
                               "use a client config with a [client] section")
    if not parser.has_section("client"):
        raise CredentialsError(f"{path} has no [client] section (rucio_host, auth_host, auth_type, "
                               "account)")
    return path


class _LogCollector(logging.Handler):
    """Keeps rucio's warnings so an error can say why, instead of letting rucio print them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.problems: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.problems.append(record.getMessage().replace("\n", " ").strip())


@dataclass
class _Session:
    client: Any
    logger: logging.Logger
    log: _LogCollector
    config: Path
    host: str

    @property
    def account(self) -> str:
        return self.client.account

    def why(self) -> str:
        """The last problem rucio logged (for errors that only say 'none uploaded')."""
        return f" ({self.log.problems[-1]})" if self.log.problems else ""


def _one_line(exc: BaseException) -> str:
    """Rucio messages are 'Title.\\nDetails: ...': keep the details, on one line."""
    text = str(exc).strip()
    if "Details:" in text:
        text = text.split("Details:", 1)[1].strip()
    text = text.removeprefix(f"{type(exc).__name__}:").strip()
    return " ".join(text.split()) or type(exc).__name__


@contextmanager
def _translated(host: str = "the Rucio server") -> Iterator[None]:
    """Turn rucio-clients and requests exceptions into hpogrid errors (one line each)."""
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout
    from rucio.common import exception as rex

    try:
        yield
    except (RequestsConnectionError, Timeout, rex.ServerConnectionException) as exc:
        reason = "timed out" if isinstance(exc, Timeout) else "connection failed"
        raise RucioError(f"cannot reach the Rucio server at {host}: {reason} (check rucio_host and "
                         "auth_host in the Rucio config and that the server is up)") from None
    except (rex.MissingClientParameter, rex.ConfigNotFound) as exc:
        raise CredentialsError(f"the Rucio client config is incomplete: {_one_line(exc)} (add it to "
                               "the [client] section)") from None
    except (rex.CannotAuthenticate, rex.CannotAuthorize) as exc:
        raise CredentialsError(f"Rucio authentication failed: {_one_line(exc)} (check account, "
                               "auth_type and credentials in the Rucio config, RUCIO_ACCOUNT, "
                               "RUCIO_AUTH_TYPE)") from None
    except rex.AccessDenied as exc:
        raise RucioError(f"Rucio refused the request: {_one_line(exc)}") from None
    except rex.RucioException as exc:
        raise RucioError(f"Rucio: {_one_line(exc)}") from None


def connect() -> _Session:
    """An authenticated client for the configured account; raises on missing config or credentials."""
    path = config_file()
    from rucio.common.config import clean_cached_config

    clean_cached_config()  # rucio caches the parsed config: honour RUCIO_CONFIG as it is now
    logger = logging.getLogger("hpogrid.grid.rucio.client")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    log = _LogCollector()
    logger.addHandler(log)
    host = _configured_host(path)
    with _translated(host):
        from rucio.client import Client

        client = Client(logger=logger)
        if not client.account:
            raise CredentialsError(f"no Rucio account: set RUCIO_ACCOUNT or 'account' in [client] of {path}")
        client.whoami()  # authenticates now, so a bad password or host fails here with a clear line
    return _Session(client=client, logger=logger, log=log, config=path, host=host)


def _configured_host(path: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser.get("client", "rucio_host", fallback="the Rucio server")


# -- upload -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalFile:
    path: Path
    name: str
    bytes: int
    adler32: str
    md5: str


@dataclass(frozen=True)
class UploadResult:
    did: str
    #: the name recorded as the project's inDS (name alone where the scope follows from it)
    in_ds: str
    #: one dict per file: name, bytes, adler32, md5, status (uploaded / attached / already in dataset)
    files: List[Dict[str, Any]]
    #: what the dataset holds afterwards (earlier uploads included)
    dataset_files: int
    dataset_bytes: int


def collect_files(paths: Sequence[str]) -> List[LocalFile]:
    """The files to upload: each file given, and every file under each folder given.

    A Rucio dataset is flat (files are named by their base name), so two files with the same
    base name are refused here, before anything is sent.
    """
    from rucio.common.checksum import adler32, md5

    if not paths:
        raise ValidationError("paths", "give at least one file or folder to upload")
    found: Dict[str, Path] = {}
    for given in paths:
        src = Path(given).expanduser()
        if not src.exists():
            raise ValidationError("paths", f"{given!r} does not exist")
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        if not files:
            raise ValidationError("paths", f"{given!r} contains no files")
        for f in files:
            if f.name in found and found[f.name].resolve() != f.resolve():
                raise ValidationError("paths", f"{str(found[f.name])!r} and {str(f)!r} have the same "
                                      "name; a dataset is flat, so rename one of them")
            found[f.name] = f
    return [LocalFile(path=p.resolve(), name=n, bytes=p.stat().st_size, adler32=adler32(str(p)),
                      md5=md5(str(p))) for n, p in sorted(found.items())]


def _remote_adler32(session: _Session, scope: str, name: str) -> Optional[str]:
    from rucio.common.exception import DataIdentifierNotFound

    try:
        meta = session.client.get_metadata(scope, name)
    except DataIdentifierNotFound:
        return None
    return str(meta.get("adler32") or "")


def _same_adler(a: Optional[str], b: Optional[str]) -> bool:
    return (a or "").lstrip("0").lower() == (b or "").lstrip("0").lower()


def _check_rse(session: _Session, rse: str) -> None:
    from rucio.common.exception import RSENotFound

    try:
        session.client.get_rse(rse)
    except RSENotFound:
        raise NotFoundError(f"RSE {rse!r} does not exist in Rucio (see 'rucio list-rses'; "
                            "uploads usually go to a *_SCRATCHDISK)") from None


def _dataset_state(session: _Session, scope: str, name: str) -> Optional[Dict[str, Any]]:
    from rucio.common.exception import DataIdentifierNotFound

    try:
        did = session.client.get_did(scope, name)
    except DataIdentifierNotFound:
        return None
    if did.get("type") != "DATASET":
        raise ValidationError("name", f"{scope}:{name} exists and is a {str(did.get('type')).lower()}, "
                              "not a dataset; choose another --name")
    if not did.get("open", True):
        raise RucioError(f"dataset {scope}:{name} is closed; files cannot be added (choose another --name)")
    return did


def upload(project: str, paths: Sequence[str], rse: Optional[str] = None,
           name: Optional[str] = None) -> UploadResult:
    """Upload ``paths`` into a dataset and record it as the input dataset (inDS) of ``project``.

    The dataset (default :func:`default_dataset_name`) gets a rule on ``rse`` (default
    ``$HPOGRID_RSE``). Uploading again is safe: files already in the dataset are kept, new
    ones are added. Raises before uploading anything when the project, RSE or a path is
    wrong, or when a file of the same name with other content is already in Rucio.
    """
    from hpogrid.project import load_project, set_input_dataset

    load_project(project)  # unknown project: fail before touching Rucio
    from hpogrid.settings import Settings

    rse = rse or Settings.from_env().rse
    if not rse:
        raise ValidationError("rse", f"is required: pass --rse NAME (an RSE your account may write "
                              f"to, e.g. a *_SCRATCHDISK) or set {RSE_ENV}")
    if name is not None:
        split_did(name)  # bad syntax: fail before connecting
    files = collect_files(paths)
    session = connect()
    scope, ds_name = split_did(name or default_dataset_name(session.account, project))
    with _translated(session.host):
        _check_rse(session, rse)
        dataset = _dataset_state(session, scope, ds_name)
        in_dataset = ({f["name"]: f for f in session.client.list_files(scope, ds_name)}
                      if dataset else {})
        new, attach, present = [], [], []
        for f in files:
            if f.name in in_dataset:
                remote = in_dataset[f.name].get("adler32")
                if not _same_adler(remote, f.adler32):
                    raise RucioError(f"file {f.name!r} in dataset {scope}:{ds_name} has other content "
                                     f"(adler32 {remote}, local {f.adler32}); rename the local file")
                present.append(f)
                continue
            remote = _remote_adler32(session, scope, f.name)
            if remote is None:
                new.append(f)
            elif _same_adler(remote, f.adler32):
                attach.append(f)
            else:
                raise RucioError(f"file {scope}:{f.name} already exists in Rucio with other content "
                                 f"(adler32 {remote}, local {f.adler32}); rename the local file")
        if new:
            _upload_new(session, new, rse, scope, ds_name)
        if attach:
            if _dataset_state(session, scope, ds_name) is None:
                session.client.add_dataset(scope=scope, name=ds_name, rules=[
                    {"account": session.account, "copies": 1, "rse_expression": rse, "grouping": "DATASET"}])
            session.client.attach_dids(scope, ds_name, [{"scope": scope, "name": f.name} for f in attach])
        content = {f["name"]: f for f in session.client.list_files(scope, ds_name)}
    missing = [f.name for f in files if f.name not in content
               or not _same_adler(content[f.name].get("adler32"), f.adler32)]
    if missing:
        raise RucioError(f"after the upload, dataset {scope}:{ds_name} lacks {', '.join(missing)}"
                         f"{session.why()}")
    in_ds = _short_did(scope, ds_name)
    set_input_dataset(project, in_ds)
    status = {**{f.name: "uploaded" for f in new}, **{f.name: "attached" for f in attach},
              **{f.name: "already in dataset" for f in present}}
    return UploadResult(did=f"{scope}:{ds_name}", in_ds=in_ds, files=[
        {"name": f.name, "bytes": f.bytes, "adler32": f.adler32, "md5": f.md5, "status": status[f.name]}
        for f in files],
        dataset_files=len(content), dataset_bytes=sum(int(f.get("bytes") or 0) for f in content.values()))


def _upload_new(session: _Session, files: List[LocalFile], rse: str, scope: str, ds_name: str) -> None:
    from rucio.client.uploadclient import UploadClient
    from rucio.common.exception import NoFilesUploaded, NotAllFilesUploaded

    items = [{"path": str(f.path), "rse": rse, "did_scope": scope, "did_name": f.name,
              "dataset_scope": scope, "dataset_name": ds_name, "register_after_upload": True}
             for f in files]
    client = UploadClient(_client=session.client, logger=session.logger)
    # one file per call: the progress bar moves file by file (bytes), and a failure names the file
    with Progress("upload", sum(f.bytes for f in files), bytes=True, plain_first_after_s=PLAIN_EVERY_S) as bar:
        for k, (f, item) in enumerate(zip(files, items)):
            bar.update(status=f"{k + 1}/{len(files)} {f.name}")
            try:
                client.upload([item])
            except (NoFilesUploaded, NotAllFilesUploaded):
                raise RucioError(f"upload to {rse} failed: {f.name} was not uploaded{session.why()}") from None
            bar.update(advance=f.bytes)


# -- list -------------------------------------------------------------------------------------

def list_datasets(project: Optional[str] = None) -> List[Dict[str, Any]]:
    """The account's hpogrid datasets and containers (of one project, or all), newest first.

    Each: did, type (dataset/container), files, bytes, created (ISO time, UTC). For a project,
    its recorded inDS is included even when it has another name.
    """
    extra: List[str] = []
    if project is not None:
        from hpogrid.project import load_project

        grid = load_project(project).grid_config or {}
        if grid.get("inDS"):
            extra.append(grid["inDS"])
    session = connect()
    scope = f"user.{session.account}"
    prefix = project_prefix(session.account, project)
    with _translated(session.host):
        found = [(scope, d) for d in session.client.list_dids(
            scope, filters=[{"name": prefix + "*"}], did_type="collection")
            if isinstance(d, str) and d.startswith(prefix)]
        for did in extra:
            key = split_did(did)
            if key not in found and _exists(session, *key):
                found.append(key)
        rows = [_describe(session, s, n) for s, n in dict.fromkeys(found)]
    return sorted(rows, key=lambda r: (r["created"] or "", r["did"]), reverse=True)


def _exists(session: _Session, scope: str, name: str) -> bool:
    from rucio.common.exception import DataIdentifierNotFound

    try:
        session.client.get_did(scope, name)
    except DataIdentifierNotFound:
        return False
    return True


def _describe(session: _Session, scope: str, name: str) -> Dict[str, Any]:
    did = session.client.get_did(scope, name, dynamic_depth="FILE")
    meta = session.client.get_metadata(scope, name)
    created = meta.get("created_at")
    return {"did": f"{scope}:{name}", "type": str(did.get("type", "")).lower(),
            "files": did.get("length"), "bytes": did.get("bytes"),
            "created": created.isoformat(timespec="seconds") if hasattr(created, "isoformat") else created}


# -- download ---------------------------------------------------------------------------------

def download(did: str, dest: str = ".") -> List[Path]:
    """Download every file of ``did`` (a dataset, container or file) to ``dest/<name>/``.

    A grid task's outDS itself holds nothing: PanDA puts each output in a container
    ``<outDS>_<file>``; given an outDS that does not exist, those containers are fetched.
    rucio-clients checks each file's adler32/md5 after the transfer; files already there with
    the right checksum are not fetched again. Returns the local paths, sorted.
    """
    from rucio.common.exception import DataIdentifierNotFound

    scope, name = split_did(did)
    session = connect()
    dest_dir = Path(dest).expanduser()
    with _translated(session.host):
        try:
            session.client.get_did(scope, name)
            names = [name]
        except DataIdentifierNotFound:
            names = sorted(session.client.list_dids(scope, filters=[{"name": f"{name}_*"}], did_type="container"))
            if not names:
                raise NotFoundError(f"dataset {scope}:{name} does not exist in Rucio "
                                    "(see 'hpogrid dataset list')") from None
        dest_dir.mkdir(parents=True, exist_ok=True)
        paths: List[Path] = []
        for each in names:
            paths += _download_one(session, scope, each, dest_dir)
    return sorted(paths)


def _download_one(session, scope: str, name: str, dest_dir: Path) -> List[Path]:
    from rucio.client.downloadclient import DownloadClient
    from rucio.common.exception import NoFilesDownloaded, NotAllFilesDownloaded

    files = sorted(session.client.list_files(scope, name), key=lambda f: f["name"])
    client = DownloadClient(client=session.client, logger=session.logger)
    paths: List[Path] = []
    # one file per call into DEST/<name>/ (what downloading the dataset at once gives), so the
    # progress bar moves file by file
    total = sum(int(f.get("bytes") or 0) for f in files)
    with Progress("download", total, bytes=True, plain_first_after_s=PLAIN_EVERY_S) as bar:
        for k, f in enumerate(files):
            bar.update(status=f"{k + 1}/{len(files)} {f['name']}")
            did = f"{f.get('scope') or scope}:{f['name']}"
            try:
                results = client.download_dids([{"did": did, "base_dir": str(dest_dir / name), "no_subdir": True}])
            except (NoFilesDownloaded, NotAllFilesDownloaded):
                raise RucioError(f"download of {did} (in {scope}:{name}) failed{session.why()}") from None
            for item in results:
                if str(getattr(item.get("clientState"), "value", item.get("clientState"))) not in (
                        "DONE", "ALREADY_DONE", "FOUND_IN_PCACHE"):
                    raise RucioError(f"download of {item.get('did')} failed{session.why()}")
                paths.extend(Path(p) for p in item.get("dest_file_paths", []))
            bar.update(advance=int(f.get("bytes") or 0))
    return paths


__all__ = ["RSE_ENV", "LocalFile", "UploadResult", "collect_files", "config_file", "connect",
           "default_dataset_name", "download", "list_datasets", "project_prefix", "split_did",
           "upload"]
