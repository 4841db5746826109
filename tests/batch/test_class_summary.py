"""The class summary an instructor reads (issue 20, item 9): one row per question whatever name the
rows use for it, the echo in plain text, numbers as typed, and the answers that could not be read."""
import html
import re

from derive.cli import main

ROWS = [("a1", "problem1", "dL/db3", "dL/dh3 f3'"),       # right: dL/db3 = dL/dh3 f3'
        ("a2", "scalar-chain", "dL/db3", "dL/dh3"),       # the same question by its id
        ("a3", "scalar-chain", "dL/db3", "dL/dh3"),
        ("a4", "problem1", "dL/db3", "x +"),               # not readable
        ("a5", "problem1", "dL/db3", "x +"),
        ("a6", "scalar-chain", "dL/db3", "@"),
        ("a7", "problem1", "dL/db3", ""),                  # never reaches the checker
        ("a8", "problem2", "u0", "0.2"),
        ("a9", "residual-relu", "u0", "0.2")]


def summary(tmp_path) -> str:
    src = tmp_path / "class.csv"
    src.write_text("student,problem,quantity,answer\n" + "".join(",".join(r) + "\n" for r in ROWS), encoding="utf-8")
    assert main(["grade", str(src), "--summary", str(tmp_path / "s.html")]) in (0, 1)
    return (tmp_path / "s.html").read_text(encoding="utf-8")


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_a_question_asked_by_alias_and_by_id_is_one_row(tmp_path):
    page = summary(tmp_path)
    rows = re.findall(r'<tr data-problem="([^"]*)" data-quantity="([^"]*)"', page)
    assert rows == [("scalar-chain", "dL/db3"), ("residual-relu", "u0")]
    row = page[page.index('data-problem="scalar-chain"'):]
    assert re.search(r'<td class="n">7</td>', row.split("</tr>")[0])          # all seven answers to it


def test_interpreted_as_is_plain_text_and_a_number_is_shown_as_typed(tmp_path):
    page = summary(tmp_path)
    assert "\\frac" not in page and "\\partial" not in page
    assert "interpreted as <code>∂L/∂h3</code>" in page
    wrong_u0 = page[page.index("residual-relu: <code>u0</code>"):]
    assert "typed <code>0.2</code>" in wrong_u0 and "1/5" not in wrong_u0


def test_invalid_answers_are_shown_as_typed_with_who_typed_them(tmp_path):
    page = summary(tmp_path)
    part = text(page[page.index("Answers that could not be graded"):])
    assert "2 students typed x +: syntax" in part and "a4, a5" in part
    assert "1 student typed @: syntax" in part and "a6" in part
    assert "1 student typed nothing: invalid" in part and "the answer is empty" in part
