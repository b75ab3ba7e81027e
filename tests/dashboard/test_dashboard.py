"""``hpogrid dashboard``: a real server process, a real headless Chromium, real studies."""
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from tests.dashboard.conftest import DEADLINE_S, wait_for
from tests.report.helpers import make_project, write_trials

HOSTILE = "</script><img src=x onerror=alert(1)>"


def _rows(driver):
    return driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#trials-body tr'),"
        " function(tr){ return Array.prototype.map.call(tr.cells, function(c){ return c.textContent; }); });")


def _heads(driver):
    # read in one script: a live page may redraw the table between two element reads
    return driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#trials-head th'),"
        " function(th){ return th.textContent; });")


def _sort_by(driver, column):
    driver.execute_script("document.querySelectorAll('#trials-head th')[arguments[0]].click();", column)


def _pick(driver, picker, value):
    """Select ``value`` in a picker, again if the page refilled the picker's options meanwhile."""
    from selenium.webdriver.support.ui import Select

    wait_for(driver, lambda d: Select(d.find_element("id", picker)).select_by_value(value) or True, f"{value} picked")


def _known(tmp_path, name="rp"):
    from hpogrid import paths
    from hpogrid.study import sqlite_url

    make_project(tmp_path, name)
    write_trials(sqlite_url(paths.study_db(name)), name, datetime.now(timezone.utc).replace(microsecond=0))
    return name


@pytest.mark.slow
def test_the_page_shows_the_trials_plots_and_failed_trials(tmp_path, serve_dashboard, browser):
    name = _known(tmp_path)
    served = serve_dashboard(name)
    assert served.url.startswith("http://127.0.0.1:")  # the default host: loopback only
    assert not any("without authentication" in ln for ln in served.lines)
    browser.get(served.url)
    rows = wait_for(browser, lambda d: len(_rows(d)) == 8 and _rows(d), "8 trials in the table")
    heads = _heads(browser)
    assert heads[:4] == ["rank", "trial", "state", "loss"]
    best = rows[0]
    assert best[1:4] == ["5", "COMPLETED", "0.1"]  # g2, loss 0.1, best first
    # plots: the HTML report's figures, drawn by plotly
    wait_for(browser, lambda d: d.find_elements("css selector", "#plot-pcp .main-svg"), "parallel coordinates")
    keys = browser.execute_script("return Array.prototype.map.call(document.querySelectorAll('#plots .plot'),"
                                  " function(e){ return e.id; });")
    assert {"plot-pcp", "plot-history", "plot-besttime", "plot-scatter", "plot-pairs", "plot-features"} <= set(keys)
    # the failed trial with its error
    failed = wait_for(browser, lambda d: d.find_element("css selector", "#failed details summary").text,
                      "the failed trial")
    assert failed.startswith("trial 2 (l2): ValueError: boom")
    # sort by trial number (click the header) and filter by state
    _sort_by(browser, 1)
    assert [r[1] for r in _rows(browser)] == [str(n) for n in range(8)]
    _sort_by(browser, 1)
    assert [r[1] for r in _rows(browser)] == [str(n) for n in reversed(range(8))]
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "state-filter")).select_by_value("FAILED")
    assert [r[1:3] for r in _rows(browser)] == [["2", "FAILED"]]
    Select(browser.find_element("id", "state-filter")).select_by_value("RUNNING")
    assert [r[1:3] for r in _rows(browser)] == [["6", "RUNNING"]]
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


@pytest.mark.slow
def test_user_strings_are_text_never_markup(tmp_path, serve_dashboard, browser):
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    space = {HOSTILE: {"method": "uniform", "dimension": {"low": 0, "high": 1}},
             "lr": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    name = make_project(tmp_path, "xss", space=space)
    store = StudyStore(sqlite_url(paths.study_db(name)))
    store.get_or_create_study(name, metric="loss", mode="min")
    for i in range(3):
        store.upsert_trial(name, f"t{i}", state="COMPLETED", params={HOSTILE: i / 4, "lr": 0.1 * i},
                           metrics={"loss": 1.0 - i / 10, HOSTILE: float(i)})
    store.upsert_trial(name, "bad", state="FAILED", params={HOSTILE: 0.9, "lr": 0.5}, error=f"ValueError: {HOSTILE}")
    store.close()
    served = serve_dashboard(name)
    browser.get(served.url)
    wait_for(browser, lambda d: len(_rows(d)) == 4, "4 trials")
    heads = _heads(browser)
    assert heads.count(HOSTILE) == 2  # the parameter and the metric, as plain text
    wait_for(browser, lambda d: d.find_elements("css selector", "#plot-scatter .main-svg"), "scatter plot")
    svg_text = browser.execute_script("return document.getElementById('plot-scatter').textContent;")
    assert HOSTILE in svg_text  # the axis title shows the name literally
    summary = wait_for(browser, lambda d: d.find_element("css selector", "#failed summary").get_attribute(
        "textContent"), "the failed trial")
    assert "ValueError: " + HOSTILE in summary
    # nothing became an element: no <img>, no alert, no error
    assert browser.find_elements("css selector", "img") == []
    assert browser.execute_script("return document.querySelectorAll('img[src=x]').length") == 0
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


WAIT_FOR_GO = """
import os, time
from pathlib import Path

def objective(config):
    go = Path(config["go"])
    Path(config["started"]).touch()
    deadline = time.monotonic() + 300
    while not go.exists():  # released by the test once the page shows this trial running
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the trial")
        time.sleep(0.05)
    return {"loss": 0.125}
"""


@pytest.mark.slow
def test_a_trial_finished_after_the_page_opened_appears_without_reload(tmp_path, serve_dashboard, browser):
    from tests.backends.helpers import make_project as make_run_project

    go, started = tmp_path / "go", tmp_path / "started"
    space = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
             "go": {"method": "categorical", "dimension": {"categories": [str(go)]}},
             "started": {"method": "categorical", "dimension": {"categories": [str(started)]}}}
    name = make_run_project(tmp_path, WAIT_FOR_GO, space, algorithm="random")
    served = serve_dashboard(name)
    browser.get(served.url)
    wait_for(browser, lambda d: d.find_element("id", "waiting").is_displayed(), "the waiting note")
    browser.execute_script("window.hpogridSamePage = 'yes';")  # a reload would lose it

    run = subprocess.Popen([sys.executable, "-m", "hpogrid", "local_run", name, "--trials", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        rows = wait_for(browser, lambda d: [r for r in _rows(d) if r[2] == "RUNNING"], "the trial running")
        assert len(rows) == 1
        go.touch()
        # an update brings the new state at once; its rank comes with the next full snapshot
        done = wait_for(browser, lambda d: [r for r in _rows(d) if r[2] == "COMPLETED" and r[0] == "1"],
                        "the trial completed and ranked")
        assert done[0][3] == "0.125"
        out, _ = run.communicate(timeout=DEADLINE_S)
        assert run.returncode == 0, out
    finally:
        go.touch()
        if run.poll() is None:
            run.kill()
    assert browser.execute_script("return window.hpogridSamePage;") == "yes"
    wait_for(browser, lambda d: "best loss = 0.125" in d.find_element("id", "best").text, "the best value")


def test_another_host_prints_the_no_authentication_note(tmp_path, serve_dashboard):
    name = _known(tmp_path)
    served = serve_dashboard(name, "--host", "0.0.0.0")
    assert served.url.startswith("http://0.0.0.0:")
    deadline = time.monotonic() + DEADLINE_S  # the note follows the URL line: read on until it is there
    while not any("without authentication" in ln for ln in served.lines):
        assert time.monotonic() < deadline and served.proc.poll() is None, served.lines
        time.sleep(0.05)  # polling what the process prints, with a deadline
    assert any(ln.startswith("Note: --host 0.0.0.0: the dashboard serves without authentication")
               for ln in served.lines), served.lines


def test_help_says_the_default_host_is_loopback(run_cli):
    r = run_cli("dashboard", "--help")
    assert r.exit_code == 0 and "[default: 127.0.0.1]" in r.output and "--study-url" in r.output


def test_bad_input_is_one_line(run_cli, tmp_path):
    r = run_cli("dashboard", "nosuch")
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == ["Error: project 'nosuch' does not exist (existing: none yet)"]
    r = run_cli("dashboard", _known(tmp_path), "--port", "70000")
    assert r.exit_code == 2 and "--port" in r.output and "0<=x<=65535" in r.output


@pytest.mark.slow
def test_a_multi_objective_study_shows_its_front_and_figures(tmp_path, serve_dashboard, browser):
    from tests.report.helpers import mo_project

    name = mo_project(tmp_path)
    browser.get(serve_dashboard(name).url)
    rows = wait_for(browser, lambda d: len(_rows(d)) == 9 and _rows(d), "9 trials in the table")
    assert _heads(browser)[:7] == ["rank", "trial", "state", "loss", "acc", "pareto", "feasible"]
    assert [r[1] for r in rows if r[5] == "yes"] == ["0", "1", "7", "4"]
    assert next(r for r in rows if r[1] == "3")[6] == "no"  # the infeasible one is marked
    best = browser.find_element("id", "best").text
    assert best == "Pareto front: 4 trials (0, 1, 7, 4) | 1 infeasible"
    assert "objectives loss (min), acc (max) | constraints latency <= 20" in browser.find_element("id", "study").text
    for key in ("pareto", "hypervolume"):
        wait_for(browser, lambda d: d.find_elements("css selector", f"#plot-{key} .main-svg"), f"the {key} plot")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


@pytest.mark.slow
def test_the_study_picker_and_compare_with_in_the_browser(tmp_path, serve_dashboard, browser):
    """Picking another study shows its trials; "compare with" adds the side-by-side section."""
    from selenium.webdriver.support.ui import Select

    from hpogrid import paths
    from hpogrid.study import sqlite_url
    from tests.report.test_compare import B_TRIALS

    name = _known(tmp_path)
    write_trials(sqlite_url(paths.study_db(name)), "rp_b", datetime.now(timezone.utc).replace(microsecond=0),
                 B_TRIALS)
    browser.get(serve_dashboard(name).url)
    wait_for(browser, lambda d: len(_rows(d)) == 8, "8 trials of rp")
    wait_for(browser, lambda d: d.find_element("id", "pickers").is_displayed(), "the study pickers")
    _pick(browser, "study-picker", "rp_b")
    rows = wait_for(browser, lambda d: len(_rows(d)) == 3 and _rows(d), "3 trials of rp_b")
    assert browser.find_element("id", "study").text.startswith("study rp_b in ")
    assert sorted(r[2] for r in rows) == ["COMPLETED", "COMPLETED", "FAILED"]
    assert not browser.find_element("id", "compare-section").is_displayed()
    wait_for(browser, lambda d: [o.get_attribute("value") for o in Select(
        d.find_element("id", "compare-picker")).options] == ["rp"], "rp offered to compare with")
    _pick(browser, "compare-picker", "rp")
    compared = wait_for(browser, lambda d: d.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#compare-body tr'),"
        " function(tr){ return tr.cells[0].textContent; });") or None, "the comparison table")
    assert compared == ["rp_b", "rp"] and browser.find_element("id", "compare-section").is_displayed()
    assert len(_rows(browser)) == 3  # the picked study's own table stays
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


FETCH = """
var done = arguments[arguments.length - 1];
fetch(arguments[0]).then(function(r){ return r.arrayBuffer().then(function(b){
  done([r.status, Array.from(new Uint8Array(b))]); }); }).catch(function(e){ done([0, String(e)]); });
"""


@pytest.mark.slow
def test_an_artifact_link_serves_the_file_and_nothing_outside_the_project(tmp_path, serve_dashboard, browser):
    """The page's download link gives the kept file's bytes; a study naming a file outside the
    project's folder gets a refusal, not the file."""
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url
    from hpogrid.trial import activated, read_annotations, save_artifact

    name = _known(tmp_path)
    src = tmp_path / "model.bin"
    src.write_bytes(bytes(range(256)) + b"\x00weights\xff")
    with activated("l1", paths.project_dir(name) / "trials" / name / "l1") as folder:
        kept = save_artifact(src)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    listed = dict(read_annotations(folder)["artifacts"])
    listed["outside.txt"] = {**listed["model.bin"], "file": str(secret)}
    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        store.upsert_trial(name, "l1", annotations={"artifacts": listed})
    browser.get(serve_dashboard(name).url)
    links = wait_for(browser, lambda d: len(d.find_elements("css selector", "#artifacts a")) == 2
                     and {a.text: a.get_attribute("href") for a in d.find_elements("css selector", "#artifacts a")},
                     "two artifact links")
    status, body = browser.execute_async_script(FETCH, links["model.bin"])
    assert status == 200 and bytes(body) == kept.read_bytes() == src.read_bytes()
    status, body = browser.execute_async_script(FETCH, links["outside.txt"])
    assert status == 404 and b"do not serve" not in bytes(body)
    assert "not a file inside the project's folder" in bytes(body).decode()
