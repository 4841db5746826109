"""A headless Chromium for the browser tests (Selenium and the distribution's chromedriver), with
traps that count alerts and Content-Security-Policy violations before any script of a page runs.
Importing it skips the importing test module where selenium is missing."""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)
CHROMEDRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
                     if p and os.path.exists(p)), None)
TRAPS = """window.__xss = 0; window.__csp = [];
window.alert = window.confirm = window.prompt = function () { window.__xss += 1; };
document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective); });"""


def chromium():
    """A fixture body: the driver (skipping where Chromium or chromedriver is missing), then its cleanup."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Chromium or chromedriver is not installed (Debian: apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="derive-chromium-")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
              "--window-size=1280,1000", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TRAPS})
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(lambda d: condition(d))
