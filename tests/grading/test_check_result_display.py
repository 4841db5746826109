"""CheckResult in a notebook: the verdict, what was read and the feedback (HTML and Markdown)."""
import derive


def test_html_shows_verdict_reading_and_feedback():
    r = derive.check("problem6", "drho/dW1", "x delta2^T")
    out = r._repr_html_()
    assert "incorrect [transpose]" in out and "#cf222e" in out
    assert r"read as \(x \delta^{2\top}\)" in out                     # in the statement's notation
    assert "<li>drho/dW1 is d_H×d but the answer is d×d_H: it is the transpose of the right answer</li>" in out


def test_html_escapes_the_answer_and_points_at_the_error():
    r = derive.check("problem6", "drho/dW1", "x +* <b>")
    out = r._repr_html_()
    assert r.verdict == "invalid" and "<b>" not in out and "&lt;b&gt;" in out
    assert "<pre>x +* &lt;b&gt;\n     ^</pre>" in out          # the caret under the <


def test_markdown_has_the_same_parts():
    r = derive.check("problem1", "dL/dw1", "dL/dh3 * f3' * w3 * f1' * x")
    md = r._repr_markdown_()
    assert md.startswith("**correct** — scalar-chain, dL/dw1; read as $")
    bad = derive.check("problem6", "drho/dW1", "x delta2^T")._repr_markdown_()
    assert "- drho/dW1 is d\\_H×d" in bad                             # Markdown's _ escaped in feedback
