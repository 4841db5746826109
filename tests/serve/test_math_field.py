"""The visual editor (MathLive) in a real Chromium: what a student types into the math field reads
back as what it previews. Every quantity's reference answer of problem6, typed key by key into the
math field (its LaTeX goes into the answer field), is graded `correct`; a typed `delta3` is the
problem's δ3, not an unknown `delta`."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from serving import running
from test_serve_browser import block, browser, open_problem, wait  # noqa: F401  (browser: the fixture)

from derive import solve
from derive.serve.app import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base():
    with running(Settings(rate_limit=0, workers=1)) as (url, app):
        yield url


def keystrokes(text: str) -> list:
    """The reference's text form as a student types it in a math field: no spaces (a space leaves a
    bracket there), and the arrow key that leaves a superscript."""
    keys = []
    for part in text.replace(" ", "").split("^T"):
        keys += [part, "^T", Keys.ARROW_RIGHT]
    return keys[:-2] if not text.endswith("^T") else keys


def type_in_editor(driver, quantity, keys):
    b = block(driver, quantity)
    if not b.find_elements(By.CSS_SELECTOR, "math-field"):
        b.find_element(By.CSS_SELECTOR, "[data-action=editor]").click()
    editor = wait(driver, lambda d: b.find_elements(By.CSS_SELECTOR, "math-field"))[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", editor)
    driver.execute_script("arguments[0].value = ''; arguments[1].value = '';"
                          "arguments[2].querySelector('.result').replaceChildren()",
                          editor, b.find_element(By.CSS_SELECTOR, "input"), b)
    editor.click()
    editor.send_keys(*keys)
    wait(driver, lambda d: b.find_element(By.CSS_SELECTOR, "input").get_attribute("value"))
    latex = b.find_element(By.CSS_SELECTOR, "input").get_attribute("value")
    editor.send_keys(Keys.ENTER)
    wait(driver, lambda d: b.find_elements(By.CSS_SELECTOR, ".result .verdict"))
    verdict = b.find_element(By.CSS_SELECTOR, ".result .verdict").text.lower()
    feedback = " ".join(li.text for li in b.find_elements(By.CSS_SELECTOR, ".result li"))
    return latex, verdict, feedback


def test_every_reference_answer_typed_in_the_math_field_is_correct(browser, base):
    open_problem(browser, base, "problem6")
    graded = [q for q in solve("problem6").to_dict()["quantities"] if q["graded"]]
    assert len(graded) >= 9
    for q in graded:
        latex, verdict, feedback = type_in_editor(browser, q["name"], keystrokes(q["text"]))
        assert "\\" in latex or "{" in latex, latex                   # it went through the math field
        assert verdict == "correct", (q["name"], q["text"], latex, feedback)


@pytest.mark.parametrize("keys, latex, verdict", [
    (["delta2*x^T", Keys.ARROW_RIGHT], r"\delta2\cdot x^{T}", "correct"),      # typed delta2: the symbol δ2
    (["delta2x^T", Keys.ARROW_RIGHT], r"\delta2x^{T}", "correct"),
    (["x*delta2^T", Keys.ARROW_RIGHT], r"x\cdot\delta2^{T}", "incorrect"),
    (["delta3*x^T", Keys.ARROW_RIGHT], r"\delta3\cdot x^{T}", "incorrect"),   # δ3, a symbol of the problem
])
def test_names_typed_in_the_math_field_are_the_problem_symbols(browser, base, keys, latex, verdict):
    browser.get("about:blank")
    open_problem(browser, base, "problem6")
    got, v, feedback = type_in_editor(browser, "drho/dW1", keys)
    assert got == latex
    assert v == verdict and "unknown symbol" not in feedback, feedback
