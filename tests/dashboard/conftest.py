"""Fixtures of the dashboard tests: a served dashboard (a real `hpogrid dashboard` process) and
headless Chromium driven by selenium through the Debian chromium-driver."""
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: generous: a loaded machine may take long to start a process or render a page
DEADLINE_S = 120.0


class Served:
    def __init__(self, proc, url, lines):
        self.proc, self.url, self.lines = proc, url, lines


@pytest.fixture
def serve_dashboard():
    """Start ``hpogrid dashboard PROJECT --port 0 ...``; returns (url, printed lines) once it listens."""
    procs = []

    def start(project, *args):
        proc = subprocess.Popen([sys.executable, "-m", "hpogrid", "dashboard", project, "--port", "0",
                                 "--interval", "0.3", *args], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
        procs.append(proc)
        lines = []
        found = threading.Event()

        def read():
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if "Serving the dashboard" in line:
                    found.set()
            found.set()  # ended: let the test see why
        threading.Thread(target=read, daemon=True).start()
        assert found.wait(DEADLINE_S), "dashboard did not start"
        match = next((re.search(r"(http://\S+/)", ln) for ln in lines if "Serving the dashboard" in ln), None)
        assert match, lines
        return Served(proc, match.group(1), lines)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def browser(tmp_path):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        print("SKIP reason: chromium / chromium-driver not installed (apt-get install chromium chromium-driver)")
        pytest.skip("chromium / chromium-driver not installed")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader", "--disable-dev-shm-usage", "--window-size=1400,2000",
                "--no-first-run", "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(DEADLINE_S)
    yield driver
    driver.quit()


def wait_for(driver, check, what, deadline_s=DEADLINE_S):
    """Poll ``check(driver)`` until it returns something truthy (returned) or fail naming ``what``.
    A live page redraws as trials arrive: a check that met an element just replaced tries again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, deadline_s, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: check(d), message=what)
