"""report.csv and totals.csv open safely in a spreadsheet (issue 20, item 4): no cell a student
typed may begin a formula (OWASP CSV injection: =, +, -, @, tab, carriage return), while numbers such
as -0.8 stay numbers."""
import csv
import io
import re

from derive.cli import main


def read(path) -> str:
    with open(path, encoding="utf-8", newline="") as f:       # a CR inside a cell stays a CR
        return f.read()

NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+SUM(1;2)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\tTAB", "\rCR"]


def is_formula(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not NUMBER.fullmatch(cell)


def test_no_cell_of_the_report_or_totals_starts_a_formula(tmp_path, capsys):
    src = tmp_path / "class.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "problem", "quantity", "answer"])
        for i, name in enumerate(HOSTILE):
            w.writerow([name, "problem2", "u1", "-0.8" if i % 2 else HOSTILE[-1 - i]])
    code = main(["grade", str(src), "-o", str(tmp_path / "report.csv"), "--totals", str(tmp_path / "totals.csv")])
    assert code in (0, 1), capsys.readouterr().err
    for name in ("report.csv", "totals.csv"):
        text = read(tmp_path / name)
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
        assert not [c for c in cells if is_formula(c)], name
    report = list(csv.DictReader(io.StringIO(read(tmp_path / "report.csv"))))
    assert [r["student"] for r in report] == ["'" + n for n in HOSTILE]       # kept, marked as text
    assert report[1]["answer"] == "-0.8" and report[1]["score"] in ("0", "1")     # a number stays a number
    totals = list(csv.DictReader(io.StringIO(read(tmp_path / "totals.csv"))))
    assert {t["student"] for t in totals} == {"'" + n for n in HOSTILE}
