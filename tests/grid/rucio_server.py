"""A real Rucio server on 127.0.0.1 for the dataset tests (rucio 41.5.1, SQLite, gunicorn).

The server package (``rucio``, a test extra) is only used here, in subprocesses: the test
process itself only ever runs the client, with a client config that has no ``[database]``
section (with one, rucio-clients switches to server mode).

Layout under the base folder::

    server/rucio.cfg, alembic.ini, rucio.db, gunicorn.log   the server
    rse/                                                    the POSIX RSE's storage
    root.cfg                                                client config of the root account
    client.cfg                                              client config of the test user

Start-up takes a few seconds, so the fixture is session-scoped; each test uses its own
dataset names.
"""
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

RSE = "HPOGRID_SCRATCHDISK"  # generic policy: users may upload to RSEs named *SCRATCHDISK
ACCOUNT = "hpotester"
START_TIMEOUT_S = 90


def unavailable_reason() -> Optional[str]:
    """Why a local server cannot run here, or None when it can."""
    for module in ("rucio.db.sqla.util", "rucio.web.rest.flaskapi.v1.main", "gunicorn", "flask"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return (f"the Rucio server cannot run here: module {module} is missing "
                    "(install the test extra: pip install -e '.[test]', i.e. rucio==41.5.1 gunicorn)")
    return None


@dataclass
class RucioServer:
    base: Path
    url: str
    process: subprocess.Popen
    client_cfg: Path
    root_cfg: Path
    account: str
    rse: str
    rse_dir: Path
    log: Path

    @property
    def scope(self) -> str:
        return f"user.{self.account}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # SIGTERM waits for the graceful timeout
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_config(path: Path, url: str, account: str, username: str, password: str,
                  token_dir: Path) -> Path:
    """A userpass client config (no [database] section: that would mean server mode)."""
    path.write_text(textwrap.dedent(f"""\
        [client]
        rucio_host = {url}
        auth_host = {url}
        auth_type = userpass
        account = {account}
        username = {username}
        password = {password}
        auth_token_file_path = {token_dir}/token-{account}
        request_retries = 1
        """))
    path.chmod(0o600)
    return path


def _write_server_files(server_dir: Path, root_user: str, root_pwd: str) -> Path:
    server_dir.mkdir(parents=True)
    db_url = f"sqlite:///{server_dir / 'rucio.db'}"
    repo = Path(importlib.util.find_spec("rucio").submodule_search_locations[0])
    alembic = server_dir / "alembic.ini"
    alembic.write_text(textwrap.dedent(f"""\
        [alembic]
        sqlalchemy.url = {db_url}
        script_location = {repo / 'db' / 'sqla' / 'migrate_repo'}

        [loggers]
        keys = root
        [handlers]
        keys = console
        [formatters]
        keys = generic
        [logger_root]
        level = WARN
        handlers = console
        qualname =
        [handler_console]
        class = StreamHandler
        args = (sys.stderr,)
        level = NOTSET
        formatter = generic
        [formatter_generic]
        format = %(levelname)-5.5s [%(name)s] %(message)s
        """))
    cfg = server_dir / "rucio.cfg"
    cfg.write_text(textwrap.dedent(f"""\
        [common]
        logdir = {server_dir}
        loglevel = WARNING

        [database]
        default = {db_url}

        [alembic]
        cfg = {alembic}

        [bootstrap]
        userpass_identity = {root_user}
        userpass_pwd = {root_pwd}

        [policy]
        permission = generic
        schema = generic
        lfn2pfn_algorithm_default = hash
        """))
    cfg.chmod(0o600)
    return cfg


_BOOTSTRAP_DB = """
from rucio.db.sqla.util import build_database, create_base_vo, create_root_account
build_database(); create_base_vo(); create_root_account()
"""

_BOOTSTRAP_ACCOUNTS = """
import sys
from rucio.client import Client
rse, rse_dir, account, username, password = sys.argv[1:6]
c = Client()
c.add_rse(rse)
c.add_rse_attribute(rse, "type", "SCRATCHDISK")
c.add_protocol(rse, {
    "scheme": "file", "hostname": "", "port": 0, "prefix": rse_dir,
    "impl": "rucio.rse.protocols.posix.Default",
    "domains": {"lan": {"read": 1, "write": 1, "delete": 1},
                "wan": {"read": 1, "write": 1, "delete": 1,
                        "third_party_copy_read": 1, "third_party_copy_write": 1}},
})
c.add_account(account, "USER", f"{account}@example.org")
c.add_identity(account=account, identity=username, authtype="USERPASS",
               email=f"{account}@example.org", default=True, password=password)
c.add_scope(account, f"user.{account}")
c.set_local_account_limit(account, rse, -1)
"""


def _run_python(code: str, env: dict, cwd: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"rucio bootstrap failed (exit {proc.returncode}): {proc.stderr[-2000:]}")


def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RUCIO_", "X509_")) and k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(extra)
    return env


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rucio server exited with {process.returncode}: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"rucio server not ready after {START_TIMEOUT_S}s: "
                       f"{log.read_text(errors='replace')[-2000:]}")


def start_server(base: Path) -> RucioServer:
    """Build the database, start gunicorn and create the RSE, user account and scope."""
    base.mkdir(parents=True, exist_ok=True)
    server_dir, rse_dir, token_dir = base / "server", base / "rse", base / "tokens"
    rse_dir.mkdir()
    token_dir.mkdir(mode=0o700)
    root_pwd, user_pwd = secrets.token_hex(12), secrets.token_hex(12)
    server_cfg = _write_server_files(server_dir, "hpogrid-root", root_pwd)
    server_env = _clean_env(RUCIO_CONFIG=str(server_cfg))
    _run_python(_BOOTSTRAP_DB, server_env, server_dir)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = server_dir / "gunicorn.log"
    with open(log, "wb") as log_fh:
        # one request at a time: SQLite refuses a write at once ("Database exception") while another
        # thread's transaction holds the database, e.g. a pilot's upload beside a driver's download
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "1",
             "--timeout", "120", "rucio.web.rest.flaskapi.v1.main:application"],
            env=server_env, cwd=server_dir, stdout=log_fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    server = RucioServer(base=base, url=url, process=process, account=ACCOUNT, rse=RSE,
                         rse_dir=rse_dir, log=log,
                         root_cfg=client_config(base / "root.cfg", url, "root", "hpogrid-root",
                                                root_pwd, token_dir),
                         client_cfg=client_config(base / "client.cfg", url, ACCOUNT, ACCOUNT,
                                                  user_pwd, token_dir))
    try:
        _wait_ready(url, process, log)
        _run_python(_BOOTSTRAP_ACCOUNTS, _clean_env(RUCIO_CONFIG=str(server.root_cfg)), base,
                    RSE, str(rse_dir), ACCOUNT, ACCOUNT, user_pwd)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def rucio_server(tmp_path_factory):
    """One real Rucio server for the whole session; skipped where rucio (server) is missing."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = start_server(tmp_path_factory.mktemp("rucio"))
    yield server
    server.stop()


@pytest.fixture
def rucio_client_env(rucio_server, monkeypatch):
    """Point rucio-clients at the test server as the test user (nothing else from the host)."""
    for var in ("RUCIO_HOME", "RUCIO_ACCOUNT", "RUCIO_AUTH_TYPE", "VIRTUAL_ENV", "CONDA_PREFIX",
                "X509_USER_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RUCIO_CONFIG", str(rucio_server.client_cfg))
    return rucio_server


if __name__ == "__main__":  # manual check: python tests/grid/rucio_server.py
    import tempfile

    t0 = time.monotonic()
    srv = start_server(Path(tempfile.mkdtemp(prefix="rucio-")))
    print(f"ready at {srv.url} in {time.monotonic() - t0:.1f}s; client config {srv.client_cfg}")
    try:
        input("press Enter to stop ")
    finally:
        srv.stop()
