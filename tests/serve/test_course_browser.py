"""The course server in a real Chromium: a student's personal link, their variant, an attempt stored,
and the instructor's dashboard updating while the class works; hostile names and answers stay text."""
import os
import shutil
import tempfile

import pytest
from course_helpers import make_course
from serving import request, running

from derive.variants import seed_for

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)
CHROMEDRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver") if p and os.path.exists(p)), None)
TRAPS = """window.__xss = 0; window.__csp = [];
window.alert = window.confirm = window.prompt = function () { window.__xss += 1; };
document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective); });"""
HOSTILE = "<img src=x onerror=alert(1)>"
INSTRUCTOR = "instructor-token-0123456789"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Chromium or chromedriver is not installed (Debian: apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="derive-chromium-")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--window-size=1280,1000", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TRAPS})
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def nothing_ran(driver):
    assert driver.execute_script("return window.__xss") == 0
    assert driver.execute_script("return window.__csp") == []
    assert driver.execute_script("return document.querySelectorAll('img[src=\"x\"], [onerror]').length") == 0


def test_a_student_link_the_variant_an_attempt_and_the_dashboard(browser, tmp_path, roster_file, course_settings):
    course = make_course(str(tmp_path / "a.sqlite"), roster_file)
    with running(course_settings(course)) as (url, app):
        # s2's name is hostile: shown as text
        browser.get(f"{url}/?token={course.tokens.make('s2')}#problem2")
        wait(browser, lambda d: d.find_element(By.ID, "who").text.startswith("Signed in as"))
        assert browser.find_element(By.ID, "who").text == f"Signed in as {HOSTILE}"
        assert "token=" not in browser.current_url                       # taken out of the address bar
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "p.source"))
        assert f"your variant {seed_for('s2', 'fall26')}" in browser.find_element(By.CSS_SELECTOR, "p.source").text
        block = browser.find_element(By.CSS_SELECTOR, 'section.quantity[data-quantity="dz/dw0"]')
        field = block.find_element(By.CSS_SELECTOR, "input")
        field.send_keys(HOSTILE + Keys.ENTER)
        wait(browser, lambda d: block.find_elements(By.CSS_SELECTOR, ".result .verdict"))
        field.clear()
        field.send_keys("1" + Keys.ENTER)
        wait(browser, lambda d: block.find_element(By.CSS_SELECTOR, ".result .verdict").text.lower() == "incorrect")
        shots = os.environ.get("DERIVE_ARTEFACTS")
        if shots:
            os.makedirs(shots, exist_ok=True)
            browser.execute_script("window.scrollTo(0, 0)")
            browser.save_screenshot(os.path.join(shots, "serve-student.png"))
        attempts = list(course.store.attempts())
        assert [(a.student, a.answer) for a in attempts] == [("s2", HOSTILE), ("s2", "1")]
        nothing_ran(browser)
        browser.get(url)                                                  # the page remembers the token
        wait(browser, lambda d: d.find_element(By.ID, "who").text == f"Signed in as {HOSTILE}")

        browser.get(f"{url}/instructor?token={INSTRUCTOR}")
        row = 'tr[data-quantity="dz/dw0"]'
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row))
        assert browser.find_element(By.CSS_SELECTOR, f"{row} .tried").text == "1"
        assert "token=" not in browser.current_url
        status, _, _ = request(url, "POST", "/api/check", {"problem": "problem2", "quantity": "dz/dw0", "answer": "1"},
                               headers={"Authorization": f"Bearer {course.tokens.make('s1')}"})
        assert status == 200
        wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"{row} .tried").text == "2", timeout=15)
        assert "1 — 2 attempts by 2 students" in browser.find_element(By.CSS_SELECTOR, row).text
        nothing_ran(browser)
        if shots:
            browser.save_screenshot(os.path.join(shots, "serve-dashboard.png"))
