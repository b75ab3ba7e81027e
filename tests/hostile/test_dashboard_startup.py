"""Issue #34: the dashboard refuses what it cannot serve before serving, in one line, exit
!= 0: a ``--host`` that is no host name or address (not a bare resolver error or an internal
UnicodeError), a busy ``--port`` (not werkzeug's own lines), a ``--study`` that is a path
(not a server that only returns errors). Only local failures: no name is looked up in DNS."""
import socket

import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused

BAD_HOSTS = ["bad..host", ".leading", "trailing..", "x" * 64 + ".example", "a\x00b", "a." + "b" * 300]
BAD_STUDIES = ["../x", "a/b", "/etc", ".hidden", "-dash", "x" * 129, "a b", "a\x00b"]


@pytest.mark.parametrize("host", BAD_HOSTS, ids=range(len(BAD_HOSTS)))
def test_a_bad_host_is_one_line(run_cli, hpogrid_home, project, host):
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("dashboard", "p", "--host", host, "--port", "0"), before, hpogrid_home,
            r"^Error: --host: .*(is not a host name or address|cannot resolve)")


def test_a_busy_port_is_one_line(run_cli, hpogrid_home, project):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        before = tree_snapshot(hpogrid_home)
        r = run_cli("dashboard", "p", "--port", port)
    refused(r, before, hpogrid_home, rf"^Error: --port: cannot listen on 127\.0\.0\.1:{port}: Address already in use$")


@pytest.mark.parametrize("study", BAD_STUDIES, ids=range(len(BAD_STUDIES)))
def test_a_study_that_is_a_path_is_one_line(run_cli, hpogrid_home, project, study):
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("dashboard", "p", "--study", study, "--port", "0"), before, hpogrid_home,
            r"^Error: --study: ")
