"""The page in a real Chromium (Selenium + the distribution's chromedriver) against a real server:
type answers into problem6's drho/dW1 field, see the preview and the verdicts, and prove that
hostile text (in an answer or in a problem file) is shown as text and never runs.

Skips, with the reason, where Chromium, chromedriver or selenium are missing; CI installs them
(.ci/run). Screenshots go to $DERIVE_ARTEFACTS (or pytest's temporary folder)."""
import os
from pathlib import Path

import pytest
from serving import running

pytestmark = pytest.mark.slow

from derive.serve.app import Settings

from browsing import chromium, wait  # noqa: E402  (skips this module without selenium)
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

HOSTILE = Path(__file__).parent.parent / "data" / "hostile"


@pytest.fixture(scope="module")
def base():
    with running(Settings(problems=(str(HOSTILE),), rate_limit=0, workers=1)) as (url, app):
        yield url


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory):
    d = Path(os.environ["DERIVE_ARTEFACTS"]) if os.environ.get("DERIVE_ARTEFACTS") else \
        tmp_path_factory.mktemp("artefacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def open_problem(driver, base, name):
    driver.get(f"{base}/#{name}")
    wait(driver, lambda d: d.execute_script("return !!document.querySelector('section.quantity')"))


def block(driver, quantity):
    return driver.find_element(By.CSS_SELECTOR, f'section.quantity[data-quantity="{quantity}"]')


def answer(driver, quantity, text, enter=True):
    """Type into the quantity's field (Enter checks); returns (preview text, verdict, tags, feedback)."""
    b = block(driver, quantity)
    field = b.find_element(By.CSS_SELECTOR, "input, textarea")
    field.clear()
    driver.execute_script("arguments[0].querySelector('.result').replaceChildren()", b)
    field.send_keys(text + (Keys.ENTER if enter else ""))
    wait(driver, lambda d: b.find_element(By.CSS_SELECTOR, ".preview").text.strip())
    if not enter:
        return b.find_element(By.CSS_SELECTOR, ".preview").text, None, [], ""
    wait(driver, lambda d: b.find_elements(By.CSS_SELECTOR, ".result .verdict"))
    result = b.find_element(By.CSS_SELECTOR, ".result")
    return (b.find_element(By.CSS_SELECTOR, ".preview").text, result.find_element(By.CSS_SELECTOR, ".verdict").text,
            [t.text for t in result.find_elements(By.CSS_SELECTOR, ".tag")],
            " ".join(li.text for li in result.find_elements(By.CSS_SELECTOR, "li")))


def nothing_ran(driver):
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text
    assert driver.execute_script("return window.__xss") == 0
    assert driver.execute_script("return window.__csp") == []        # not even an attempt the CSP had to stop
    assert driver.execute_script(
        """return [document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onmouseover]').length,
                   document.querySelectorAll('a[href^="javascript"]').length, document.scripts.length]""") == [0, 0, 3]


def test_right_and_transposed_answers_get_preview_and_verdicts(browser, base, artefacts):
    open_problem(browser, base, "problem6")
    preview, verdict, tags, _ = answer(browser, "delta2", "(W2^T delta3) .* sigma'(Z1)")
    assert verdict.lower() == "correct"
    preview, verdict, tags, feedback = answer(browser, "drho/dW1", "delta2 x^T")
    assert preview.startswith("read as") and verdict.lower() == "correct" and tags == []
    b = block(browser, "drho/dW1")
    assert b.find_elements(By.CSS_SELECTOR, ".preview .katex")                 # typeset by KaTeX
    mathml = b.find_element(By.CSS_SELECTOR, ".preview annotation").get_attribute("textContent")
    assert mathml == r"{\delta^{2}} x^{\top}"                              # the statement's delta^2
    preview, verdict, tags, feedback = answer(browser, "drho/dW1", "x delta2^T")
    assert b.find_element(By.CSS_SELECTOR, ".preview annotation").get_attribute("textContent") == r"x \delta^{2\top}"
    assert verdict.lower() == "incorrect" and tags == ["transpose"] and "transpose of the right answer" in feedback
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", b)
    browser.save_screenshot(str(artefacts / "serve-problem6.png"))
    nothing_ran(browser)


def test_a_syntax_error_is_shown_with_its_place(browser, base):
    open_problem(browser, base, "problem6")
    preview, verdict, tags, feedback = answer(browser, "drho/dW1", "delta2 + * x")
    assert "column 10" in preview and "delta2 + * x\n         ^" in preview
    assert verdict.lower() == "invalid" and tags == ["syntax"]


@pytest.mark.parametrize("payload", ["<img src=x onerror=alert(1)>", r"\href{javascript:alert(1)}{x}",
                                     "<script>alert(1)</script>", '"><svg onload=alert(1)>',
                                     r"\htmlId{a}{x} \def\a{\a\a}\a"])
def test_xss_payloads_in_an_answer_are_text_and_never_run(browser, base, artefacts, payload):
    open_problem(browser, base, "problem6")
    preview, verdict, tags, feedback = answer(browser, "drho/dW1", payload)
    assert verdict.lower() in ("invalid", "incorrect") and preview
    nothing_ran(browser)
    if payload.startswith("<img"):
        browser.save_screenshot(str(artefacts / "serve-xss-answer.png"))


def test_hostile_problem_file_text_is_shown_as_text(browser, base, artefacts):
    open_problem(browser, base, "hostile1")
    title = browser.find_element(By.CSS_SELECTOR, "main h2").text
    assert title == "<script>window.__xss = (window.__xss || 0) + 1</script><img src=x onerror=alert(1)>"
    statement = browser.find_element(By.CSS_SELECTOR, ".statement").text
    assert "<img src=x onerror=alert(3)>" in statement and "<svg onload=alert(4)>" in statement
    assert browser.find_elements(By.CSS_SELECTOR, ".statement .katex")     # the math went through KaTeX...
    assert not browser.find_elements(By.CSS_SELECTOR, ".statement a, #x")  # ...which made no link and no id
    browser.find_element(By.CSS_SELECTOR, "[data-action=solution]").click()
    browser.save_screenshot(str(artefacts / "serve-hostile-problem.png"))
    nothing_ran(browser)


def test_labels_enter_and_visible_focus(browser, base):
    open_problem(browser, base, "problem6")
    fields = browser.find_elements(By.CSS_SELECTOR, "section.quantity input")
    assert len(fields) == 9
    for f in fields:
        labels = browser.execute_script("return Array.from(arguments[0].labels, l => l.textContent)", f)
        assert len(labels) == 1 and f.get_attribute("data-quantity") in labels[0]
    field = block(browser, "delta4").find_element(By.CSS_SELECTOR, "input")
    field.click()
    field.send_keys(Keys.TAB)                                                  # keyboard focus to "Check"
    focused = browser.switch_to.active_element
    assert focused.text == "Check"
    style = browser.execute_script("const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth]",
                                   focused)
    assert style[0] != "none" and float(style[1].rstrip("px")) >= 2
    select = browser.find_element(By.ID, "problem-select")
    assert browser.execute_script("return arguments[0].labels.length", select) == 1


def test_visual_editor_feeds_the_answer_field(browser, base):
    open_problem(browser, base, "problem6")
    b = block(browser, "drho/dW1")
    b.find_element(By.CSS_SELECTOR, "[data-action=editor]").click()
    editor = wait(browser, lambda d: b.find_elements(By.CSS_SELECTOR, "math-field"))[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", editor)   # a custom element
    editor.click()                                      # below the fold is "not interactable" to chromedriver
    editor.send_keys("x^T")
    wait(browser, lambda d: b.find_element(By.CSS_SELECTOR, "input").get_attribute("value") == "x^{T}")
    wait(browser, lambda d: b.find_elements(By.CSS_SELECTOR, ".preview .katex"))
    assert b.find_element(By.CSS_SELECTOR, ".preview annotation").get_attribute("textContent") == r"x^{\top}"
    editor.send_keys(Keys.ENTER)
    wait(browser, lambda d: b.find_elements(By.CSS_SELECTOR, ".result .verdict"))
    assert b.find_element(By.CSS_SELECTOR, ".result .verdict").text.lower() in ("incorrect", "invalid")
    nothing_ran(browser)
