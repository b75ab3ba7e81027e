"""Fixture ``panda_server``: a PanDA REST test server on 127.0.0.1 that executes jobs."""
import os
import sys
from pathlib import Path

import pytest

from tests.grid.panda_server.server import PandaTestServer


@pytest.fixture
def panda_server(tmp_path, monkeypatch):
    server = PandaTestServer(tmp_path / "panda-server").start()
    for var in ("PANDA_URL", "PANDA_URL_SSL", "PANDACACHE_URL"):
        monkeypatch.setenv(var, server.url)
    # no DNS look-ups of the server's host name by panda-client; plain http needs no proxy/token
    monkeypatch.setenv("PANDA_BEHIND_REAL_LB", "1")
    for var in ("PANDA_AUTH", "X509_USER_PROXY"):
        monkeypatch.delenv(var, raising=False)
    # the jobs' "hpogrid" (argv[0]) must resolve to this venv's entry point
    server.job_env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    try:
        yield server
    finally:
        server.stop()
