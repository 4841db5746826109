"""The course server in a real Chromium: a student's personal link, their variant, an attempt stored,
and the instructor's dashboard updating while the class works; hostile names and answers stay text."""
import os

import pytest
from course_helpers import make_course
from serving import request, running

from derive.variants import seed_for

from browsing import chromium, wait  # noqa: E402  (skips this module without selenium)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

pytestmark = pytest.mark.slow
HOSTILE = "<img src=x onerror=alert(1)>"
INSTRUCTOR = "instructor-token-0123456789"


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


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
