"""The dashboard shows a study's active stop rules and the budget left (README "Budgets and
stop rules"), as the run wrote them into the study: through the JSON API, and once in the page."""
import pytest

from hpogrid.backends import RunOptions, get_backend
from hpogrid.dashboard import Source, create_app
from hpogrid.project import load_project
from tests.backends.helpers import make_project
from tests.dashboard.conftest import wait_for
from tests.engine import budget_clock

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


@pytest.fixture
def ruled(tmp_path):
    """A study whose two trials took one hour each of the injected clock, under a 10h timeout
    and a 100 cpu-h budget: 8h and 98 cpu-h are left."""
    budget_clock.reset(losses=[0.5, 0.4], step_s=3600)
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=2, algorithm="random")
    summary = get_backend("fake").run(load_project(name), RunOptions(
        progress=False, clock=budget_clock.clock, timeout="10h", max_cost="100cpu-h"))
    assert summary.stopped_by is None
    return name


LINE = "stop rules: timeout 10h (then drain); max_cost 100cpu-h | left: 8h of the timeout, 98 cpu-h"


def test_the_snapshot_says_the_rules_and_the_budget_left(ruled):
    snap = create_app(Source(ruled)).test_client().get("/api/snapshot").get_json()
    rules = snap["stop_rules"]
    assert rules["text"].startswith(LINE) and rules["stopped_by"] is None
    assert rules["left"] == {"timeout_s": 8 * 3600.0, "cpu_h": 98.0} and rules["used_h"]["cpu"] == 2.0


def test_the_page_shows_them(ruled, serve_dashboard, browser):
    served = serve_dashboard(ruled)
    browser.get(served.url)
    text = wait_for(browser, lambda d: d.find_element("id", "stop-rules").text, "the stop rules line")
    assert text.startswith(LINE)
