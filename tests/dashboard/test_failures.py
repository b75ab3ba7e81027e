"""The dashboard's "What failed where" tables: the report's digest, in a real headless Chromium."""
import pytest

from tests.dashboard.conftest import wait_for
from tests.report.helpers import make_project, write_failures


def _table(driver, ident):
    return driver.execute_script(
        "var t = document.getElementById(arguments[0]); if (!t) return null;"
        "return Array.prototype.map.call(t.querySelectorAll('tr'), function(tr){"
        " return Array.prototype.map.call(tr.cells, function(c){ return c.textContent; }); });", ident)


@pytest.mark.slow
def test_the_page_shows_what_failed_where(tmp_path, serve_dashboard, browser):
    from hpogrid import paths
    from hpogrid.report import ERROR_HEADERS, PLACE_HEADERS, build_report, digest_tables, failure_digest
    from hpogrid.study import sqlite_url

    name = make_project(tmp_path, "fd")
    write_failures(sqlite_url(paths.study_db(name)), name)
    by_place, by_error = digest_tables(failure_digest(build_report(name).trials))
    served = serve_dashboard(name)
    browser.get(served.url)
    places = wait_for(browser, lambda d: _table(d, "failures-by-place"), "the failures-by-place table")
    assert browser.find_element("id", "failures-section").is_displayed()
    assert places == [PLACE_HEADERS, *[[str(c) for c in row] for row in by_place]]
    assert _table(browser, "failures-by-error") == [ERROR_HEADERS, *[[str(c) for c in row] for row in by_error]]
    assert "4 failed trials, 3 lost attempts." in browser.find_element("id", "failures").text
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
