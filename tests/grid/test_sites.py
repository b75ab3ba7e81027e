"""``hpogrid sites`` against a CRIC-like pandaqueue server on 127.0.0.1: GPU filter, cache, offline fallbacks."""
import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hpogrid.grid import sites
from tests.conftest import tree_snapshot

# Shaped like https://atlas-cric.cern.ch/api/atlas/pandaqueue/query/?json (queue name -> attributes)
CRIC = {
    "ANALY_MANC_GPU_TEST": {"atlas_site": "UKI-NORTHGRID-MAN-HEP", "rc_site": "UKI-NORTHGRID-MAN-HEP",
                            "cloud": "UK", "country": "United Kingdom", "state": "ACTIVE", "status": "online",
                            "type": "analysis", "resource_type": "GRID", "catchall": "gpu,singularity"},
    "ANALY_CATCHALL_ONLY": {"rc_site": "SITE-A", "cloud": "DE", "country": "Germany", "state": "ACTIVE",
                            "status": "test", "type": "unified", "resource_type": "GRID",
                            "catchall": "useJumboJobs, gpu=2"},
    "ANALY_RTYPE": {"atlas_site": "SITE-B", "cloud": "US", "country": "United States", "state": "ACTIVE",
                    "status": "brokeroff", "type": "analysis", "resource_type": "gpu", "catchall": None},
    "ANALY_CPU_ONLY": {"atlas_site": "SITE-C", "cloud": "FR", "country": "France", "state": "ACTIVE",
                       "status": "online", "type": "analysis", "resource_type": "GRID", "catchall": "singularity"},
    "PROD_GPU": {"atlas_site": "SITE-D", "cloud": "UK", "country": "United Kingdom", "state": "ACTIVE",
                 "status": "online", "type": "production", "resource_type": "GRID", "catchall": "gpu"},
    "ANALY_OLD_GPU": {"atlas_site": "SITE-E", "cloud": "IT", "country": "Italy", "state": "INACTIVE",
                      "status": "offline", "type": "analysis", "catchall": "gpu"},
}
GPU_ANALYSIS = ["ANALY_CATCHALL_ONLY", "ANALY_MANC_GPU_TEST", "ANALY_RTYPE"]


class FakeCric:
    """A pandaqueue endpoint: serves ``body`` with ``status`` and counts the requests."""

    def __init__(self):
        self.body, self.status, self.requests = json.dumps(CRIC).encode(), 200, 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests += 1
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/atlas/pandaqueue/query/?json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, doc, status=200):
        self.body, self.status = (doc if isinstance(doc, bytes) else json.dumps(doc).encode()), status

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cric(monkeypatch):
    fake = FakeCric()
    monkeypatch.setenv("HPOGRID_CRIC_URL", fake.url)
    yield fake
    fake.close()


@pytest.fixture
def dead_url():
    """A loopback URL nothing listens on: connection refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/atlas/pandaqueue/query/?json"


def _json(result):
    return json.loads(result.stdout)


def _age_cache(days):
    path = sites.cache_path()
    doc = json.loads(path.read_text())
    doc["fetched_at"] = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()
    path.write_text(json.dumps(doc))


def test_lists_gpu_analysis_queues_with_site_country_status_and_why(run_cli, cric):
    r = run_cli("sites")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["queue", "site", "cloud/country", "status", "gpu"]
    shown = [line.split()[0] for line in lines[2:]]
    assert shown == GPU_ANALYSIS  # not the CPU queue, not production, not inactive; sorted
    manc = next(line for line in lines if line.startswith("ANALY_MANC_GPU_TEST"))
    for cell in ("UKI-NORTHGRID-MAN-HEP", "UK/United Kingdom", "online", "catchall gpu", "name"):
        assert cell in manc
    assert "catchall gpu=2" in r.stdout and "resource_type gpu" in r.stdout
    assert r.stderr == ""  # fresh from CRIC: nothing to warn about


def test_all_adds_queues_without_gpu_and_name_filters(run_cli, cric):
    r = run_cli("sites", "--all", "--json")
    queues = {q["name"]: q for q in _json(r)["queues"]}
    assert sorted(queues) == sorted(GPU_ANALYSIS + ["ANALY_CPU_ONLY"])
    assert queues["ANALY_CPU_ONLY"]["gpu"] is False and queues["ANALY_CPU_ONLY"]["gpu_info"] == ""
    assert queues["ANALY_RTYPE"] == {"name": "ANALY_RTYPE", "site": "SITE-B", "cloud": "US",
                                     "country": "United States", "state": "ACTIVE", "status": "brokeroff",
                                     "type": "analysis", "gpu_info": "resource_type gpu", "gpu": True}
    r = run_cli("sites", "--name", "*manc*", "--json")
    assert [q["name"] for q in _json(r)["queues"]] == ["ANALY_MANC_GPU_TEST"]
    r = run_cli("sites", "--name", "NOPE*")
    assert r.exit_code == 0 and "No matching queues. Try --all" in r.stdout


def test_the_list_is_cached_for_a_day(run_cli, cric, hpogrid_home):
    first = _json(run_cli("sites", "--json"))
    assert cric.requests == 1 and first["source"] == "cric" and first["url"] == cric.url
    cache = json.loads((hpogrid_home / "cache" / "sites.json").read_text())
    assert cache["url"] == cric.url and len(cache["queues"]) == len(CRIC)
    assert datetime.now(timezone.utc) - datetime.fromisoformat(cache["fetched_at"]) < timedelta(minutes=1)

    cric.serve({})  # CRIC changes, but a fresh cache is not asked again
    again = _json(run_cli("sites", "--json"))
    assert cric.requests == 1 and again["source"] == "cache" and again["queues"] == first["queues"]

    _age_cache(days=1.1)  # older than a day: asked again
    r = run_cli("sites", "--json")
    assert cric.requests == 2 and _json(r)["source"] == "cric" and _json(r)["queues"] == []


def test_refresh_asks_cric_even_with_a_fresh_cache(run_cli, cric):
    run_cli("sites")
    cric.serve({"ANALY_NEW_GPU": {"atlas_site": "NEW", "state": "ACTIVE", "type": "analysis", "status": "online"}})
    assert "ANALY_NEW_GPU" not in run_cli("sites").stdout
    r = run_cli("sites", "--refresh")
    assert cric.requests == 2 and "ANALY_NEW_GPU" in r.stdout and "ANALY_MANC_GPU_TEST" not in r.stdout


def test_another_url_is_not_answered_from_the_cache_of_the_first(run_cli, cric):
    run_cli("sites")
    other = FakeCric()
    try:
        other.serve({"ANALY_ELSEWHERE_GPU": {"state": "ACTIVE", "type": "analysis"}})
        r = run_cli("sites", "--url", other.url)
        assert other.requests == 1 and "ANALY_ELSEWHERE_GPU" in r.stdout
    finally:
        other.close()


def test_offline_shows_the_cached_list_and_says_how_old(run_cli, cric, dead_url, monkeypatch):
    run_cli("sites")
    _age_cache(days=3)
    monkeypatch.setenv("HPOGRID_CRIC_URL", dead_url)
    r = run_cli("sites")
    assert r.exit_code == 0, r.output
    assert [line.split()[0] for line in r.stdout.splitlines()[2:]] == GPU_ANALYSIS
    assert len(r.stderr.splitlines()) == 1
    assert "cannot reach CRIC" in r.stderr and "cached list fetched 3 days ago" in r.stderr
    assert f"from {cric.url}" in r.stderr  # it was fetched from another URL than the one asked


@pytest.mark.parametrize("body,status,reason", [
    (b"<html>maintenance</html>", 200, "not JSON"),
    (b'["ANALY_X"]', 200, "not a pandaqueue list"),
    (b"{}", 503, "HTTP 503"),
])
def test_a_broken_answer_falls_back_to_the_cache_and_keeps_it(run_cli, cric, hpogrid_home, body, status, reason):
    run_cli("sites")
    before = tree_snapshot(hpogrid_home)
    cric.serve(body, status)
    r = run_cli("sites", "--refresh")
    assert r.exit_code == 0, r.output
    assert reason in r.stderr and "cached list fetched just now" in r.stderr
    assert "ANALY_MANC_GPU_TEST" in r.stdout
    assert tree_snapshot(hpogrid_home) == before  # the good cache was not overwritten


def test_offline_without_cache_shows_the_bundled_list(run_cli, dead_url, monkeypatch, hpogrid_home):
    monkeypatch.setenv("HPOGRID_CRIC_URL", dead_url)
    r = run_cli("sites", "--json")
    assert r.exit_code == 0, r.output
    doc = _json(r)
    assert doc["source"] == "bundled" and doc["fetched_at"] is None
    assert "ANALY_MANC_GPU_TEST" in [q["name"] for q in doc["queues"]]
    assert all(q["gpu"] for q in doc["queues"])
    assert len(r.stderr.splitlines()) == 1 and "list bundled with hpogrid" in r.stderr
    assert not (hpogrid_home / "cache").exists()  # the bundled list is never cached as if fetched


def test_a_url_that_is_not_http_is_refused_before_anything_happens(run_cli, hpogrid_home):
    r = run_cli("sites", "--url", "file:///etc/passwd")
    assert r.exit_code == 1
    assert r.output.strip() == "Error: url: 'file:///etc/passwd' is not an http:// or https:// URL"
    assert not hpogrid_home.exists()


def test_gpu_evidence_follows_pandas_catchall_rule():
    assert sites.gpu_evidence("Q", {"catchall": "gpu"}) == "catchall gpu"
    assert sites.gpu_evidence("Q", {"catchall": "a=1, gpu=4"}) == "catchall gpu=4"
    assert sites.gpu_evidence("Q", {"catchall": "nogpu,jumbo"}) == ""  # an item must start with gpu
    assert sites.gpu_evidence("Q", {"resource_type": "GPU"}) == "resource_type GPU"
    assert sites.gpu_evidence("ANALY_X_GPU", {}) == "name"
    assert sites.gpu_evidence("Q", {"catchall": None, "resource_type": None}) == ""
