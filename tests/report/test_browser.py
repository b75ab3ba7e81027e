"""The HTML report in a real headless Chromium, from file:// only.

One Chromium run renders a copy of the page with a small spy script put first in
``<head>``: it records JS errors, unhandled rejections, console errors and any ``alert``
as attributes of ``<html>``, then (after load) clicks the "trial" header of the trials
table and records the first row, proving the sort script works. ``--dump-dom`` gives the
DOM after every script ran; ``--screenshot`` the picture. The page's CSP forbids network
access, and a blocked attempt would show up as a "Refused to" console message.
"""
import os
import re
import shutil
import subprocess

import pytest

from hpogrid.report import build_report
from hpogrid.report import _html
from tests.report.helpers import IMG_XSS, XSS, mo_project

CHROMIUM = "/usr/bin/chromium"

SPY = """<script>
(function(){
  var root = document.documentElement;
  function note(name, text){ root.setAttribute(name, (root.getAttribute(name) || '') + String(text) + ';'); }
  window.alert = function(m){ note('data-alerts', m); };
  window.addEventListener('error', function(e){ note('data-jserrors', e.message); });
  window.addEventListener('unhandledrejection', function(e){ note('data-jserrors', e.reason); });
  var error = console.error;
  console.error = function(){ note('data-console-errors', Array.prototype.join.call(arguments, ' ')); error.apply(console, arguments); };
  window.addEventListener('load', function(){
    var th = document.querySelectorAll('#trials thead th')[1];
    th.click();
    root.setAttribute('data-first-asc', document.querySelector('#trials tbody tr').cells[1].textContent);
    th.click();
    root.setAttribute('data-first-desc', document.querySelector('#trials tbody tr').cells[1].textContent);
  });
})();
</script>"""


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        print(f"SKIP reason: {CHROMIUM} is not installed (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    return CHROMIUM


def _render(chromium, tmp_path, text, name, shot=None):
    """(DOM after every script ran, the ``<html>`` tag) of ``text`` with the spy in Chromium,
    a screenshot to ``shot`` if given; fails on a non-zero exit, any console message
    (JS error, warning, log or CSP refusal) and anything the spy recorded."""
    page = tmp_path / f"{name}.html"
    page.write_text(text.replace("<head>", "<head>" + SPY, 1), encoding="utf-8")
    profile = tmp_path / "profile"
    cmd = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
           "--enable-unsafe-swiftshader",  # WebGL in software: parcoords draws its lines with it
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--hide-scrollbars",
           "--window-size=1400,2000"] + ([f"--screenshot={shot}"] if shot else []) + ["--dump-dom", page.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    shutil.rmtree(profile, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    root = re.search(r"<html[^>]*>", dom).group(0)
    console = [ln for ln in out.stderr.splitlines() if ":CONSOLE" in ln and "GL Driver Message" not in ln]
    assert console == [], console  # no JS error, warning, log or CSP refusal at all
    assert "Uncaught" not in out.stderr
    for attr in ("data-jserrors", "data-console-errors", "data-alerts"):
        assert attr not in root, root
    return dom, root


def _add_curves(known):
    """Per-iteration losses for a completed, a failed and the running trial: learning curves."""
    from hpogrid.study import StudyStore

    store = StudyStore(known.url)
    for uid, losses in (("l1", [0.9, 0.5, 0.2]), ("l2", [1.2, 3.0]), ("l3", [0.4, 0.05])):
        store.upsert_trial(known.name, uid, intermediate=[{"loss": v, "training_iteration": i + 1}
                                                          for i, v in enumerate(losses)])
    store.close()


def test_report_renders_in_chromium(chromium, known, tmp_path):
    _add_curves(known)
    text, _ = _html.render(build_report(known.name))
    shot = tmp_path / "report.png"
    dom, root = _render(chromium, tmp_path, text, "report", shot=shot)

    # every plot rendered to SVG
    plots = dict(re.findall(r'id="plot-(\w+)"(.*?)(?=id="plot-|<h2>Failed trials)', dom, re.S))
    assert set(plots) == {"pcp", "history", "besttime", "curves", "scatter", "pairs", "features"}
    for key, body in plots.items():
        assert '<svg class="main-svg"' in body, key
    assert "<canvas" in plots["pcp"]  # parcoords lines (WebGL)

    # hostile strings are text: escaped in the serialised DOM, never markup
    assert XSS not in dom and IMG_XSS not in dom
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"<td>{escaped}</td>" in dom  # the table cell
    assert re.search(r"<text[^>]*>" + re.escape(escaped) + "</text>", plots["pcp"])  # parcoords tick
    assert re.search(r"<text[^>]*>" + re.escape(escaped) + "</text>", plots["scatter"])  # category tick
    assert re.search(r"<text[^>]*>" + re.escape(escaped) + "</text>", plots["pairs"])  # pair-plot tick
    assert re.search(r"<text[^>]*>" + re.escape(escaped) + "</text>", plots["features"])
    assert "&lt;img src=x onerror=alert(2)&gt;" in dom  # failed trial's error
    # learning curves: l1 (2nd best loss) in colour with its rank, the failed and running ones in the legend
    legend = " ".join(re.findall(r'<text class="legendtext"[^>]*>([^<]*)</text>', plots["curves"]))
    assert "#2: trial 1" in legend and "failed / interrupted" in legend and "running" in legend, legend

    # the sortable table sorted by trial number, both ways
    assert 'data-first-asc="0"' in root and 'data-first-desc="7"' in root

    assert shot.stat().st_size > 30_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pareto_and_hypervolume_render_in_chromium(chromium, tmp_path):
    """A two-objective study: the Pareto front (scatter + step line) and the hypervolume draw
    without a single console message."""
    text, _ = _html.render(build_report(mo_project(tmp_path)))
    dom, _ = _render(chromium, tmp_path, text, "mo")
    plots = dict(re.findall(r'id="plot-(\w+)"(.*?)(?=id="plot-|<h2>Failed trials)', dom, re.S))
    for key in ("pareto", "hypervolume"):
        assert '<svg class="main-svg"' in plots[key], key
    legend = re.findall(r'<text class="legendtext"[^>]*>([^<]*)</text>', plots["pareto"])
    assert {"Pareto-optimal", "dominated", "infeasible", "Pareto front"} <= set(legend), legend
    assert "reference point: loss = 0.53, acc = 0.565" in plots["hypervolume"]
