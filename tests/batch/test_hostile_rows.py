"""`derive grade` survives any row (issue 20, item 5): each hostile row becomes an `invalid` row with
its reason while the rest of the class is graded; unusable files and outputs are refused up front."""
import csv
import json

import pytest

from derive.cli import main

GOOD = {"problem": "problem1", "quantity": "dL/db3", "answer": "dL/dh3 f3'"}     # right: dL/db3 = dL/dh3 f3'
HOSTILE = {
    "surrogate answer": '{"student": "sa", "problem": "problem1", "quantity": "dL/db3", "answer": "\\ud800"}',
    "surrogate name": '{"student": "\\udfff", "problem": "problem1", "quantity": "dL/db3", "answer": "1"}',
    "5,000 digits": '{"student": "big", "problem": "problem1", "quantity": "dL/db3", "answer": ' + "9" * 5000 + "}",
    "3,000 deep": '{"student": "deep", "answer": ' + "[" * 3000 + "]" * 3000 + "}",
    "key twice": '{"student": "tw", "problem": "problem1", "quantity": "dL/db3", "answer": "0", "answer": "1"}',
}
REASON = {"surrogate answer": "answer holds a lone surrogate", "surrogate name": "student holds a lone surrogate",
          "5,000 digits": "the answer is 5000 characters long", "3,000 deep": "nested too deep",
          "key twice": "the key 'answer' appears twice"}


def class_file(tmp_path):
    lines = [json.dumps({"student": f"s{i:02}", **GOOD}) for i in range(25)]
    for k, (name, line) in enumerate(HOSTILE.items()):
        lines.insert(3 + 4 * k, line)
    src = tmp_path / "class.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return src


def read_report(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_hostile_rows_are_invalid_with_a_reason_and_the_class_is_graded(tmp_path, capsys):
    src = class_file(tmp_path)
    for _ in range(2):                                 # and again on a re-run over the same report
        code = main(["grade", str(src), "-o", str(tmp_path / "r.csv"), "--totals", str(tmp_path / "t.csv")])
        err = capsys.readouterr().err
        assert code in (0, 1) and "Traceback" not in err, err
        report = read_report(tmp_path / "r.csv")
        assert len(report) == 25 + len(HOSTILE)
        assert [r["verdict"] for r in report].count("correct") == 25
        bad = [r for r in report if r["verdict"] != "correct"]
        assert [r["verdict"] for r in bad] == ["invalid"] * len(HOSTILE)
        for r, name in zip(bad, HOSTILE):
            assert REASON[name] in r["feedback"], (name, r["feedback"])


def test_a_5000_digit_answer_in_a_csv_is_an_invalid_row(tmp_path, capsys):
    src = tmp_path / "c.csv"
    src.write_text("student,problem,quantity,answer\nbig,problem1,dL/db3," + "9" * 5000 + "\nok,problem1,dL/db3,dL/dh3 f3'\n")
    assert main(["grade", str(src)]) in (0, 1)
    report = read_report(tmp_path / "c.report.csv")
    assert [r["verdict"] for r in report] == ["invalid", "correct"]


@pytest.mark.parametrize("flags", [["-o", "{d}/both.csv", "--totals", "{d}/both.csv"],
                                   ["--totals", "{d}/c.report.csv"],
                                   ["-o", "{d}/a.csv", "--summary", "{d}/./a.csv"]])
def test_two_outputs_with_the_same_path_are_refused(tmp_path, capsys, flags):
    src = tmp_path / "c.csv"
    src.write_text("student,problem,quantity,answer\nann,problem1,dL/db3,0\n")
    assert main(["grade", str(src), *[f.format(d=tmp_path) for f in flags]]) == 2
    err = capsys.readouterr().err
    assert "would be written to the same file" in err
    assert not (tmp_path / "both.csv").exists() and not (tmp_path / "c.report.csv").exists()


def test_a_duplicated_header_column_is_refused(tmp_path, capsys):
    src = tmp_path / "c.csv"
    src.write_text("student,problem,quantity,answer,answer\nann,problem1,dL/db3,dL/dh3 f3',0\n")
    assert main(["grade", str(src)]) == 2
    assert "the column 'answer' appears more than once in the header" in capsys.readouterr().err


def test_latin1_input_is_refused_saying_what_it_is(tmp_path, capsys):
    src = tmp_path / "c.csv"
    src.write_bytes("student,problem,quantity,answer\nJosé,problem1,dL/db3,0\n".encode("latin-1"))
    assert main(["grade", str(src)]) == 2
    err = capsys.readouterr().err
    assert "is not UTF-8 text (byte 0xE9 at line 2" in err and "Latin-1" in err
    assert not (tmp_path / "c.report.csv").exists()


def test_utf8_with_a_byte_order_mark_keeps_every_name(tmp_path):
    src = tmp_path / "c.csv"
    src.write_bytes("student,problem,quantity,answer\nJosé,problem1,dL/db3,0\n".encode("utf-8-sig"))
    assert main(["grade", str(src)]) in (0, 1)
    assert read_report(tmp_path / "c.report.csv")[0]["student"] == "José"


def test_a_quote_left_open_is_refused_naming_its_line_not_swallowing_the_class(tmp_path, capsys):
    """A cell "2(f-y) with no closing quote ran on to the end of the file: 200 students were one row."""
    lines = ["student,problem,quantity,answer"] + [f"s{i},problem1,dL/db3,dL/dh3 f3'" for i in range(200)]
    lines[5] = 's4,problem1,dL/db3,"dL/dh3 f3\''
    src = tmp_path / "class.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {src}, line 6: a cell's quotes do not match") and "no row was graded" in err
    assert not (tmp_path / "r.csv").exists()
    lines[5] = 's4,problem1,dL/db3,"dL/dh3 f3\'"'                             # closed: a quoted cell is fine
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv")]) == 0
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as f:
        assert [r["verdict"] for r in csv.DictReader(f)] == ["correct"] * 200


def test_an_empty_problem_name_names_no_problem(tmp_path):
    src = tmp_path / "class.csv"
    src.write_text("student,problem,quantity,answer\ns1,,delta4,2(f-y)\n", encoding="utf-8")
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv")]) == 0
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as f:
        row = next(csv.DictReader(f))
    assert row["verdict"] == "invalid" and row["feedback"] == "the problem's name is empty; give its id or alias " \
                                                              "(derive list shows them)"


def test_a_max_score_beyond_a_million_is_an_invalid_row_and_the_gradescope_file_stays_json(tmp_path):
    """Two rows worth 1e308 each summed to Infinity, which results.json then held (not JSON)."""
    src = tmp_path / "class.csv"
    src.write_text("student,problem,quantity,answer,max_score\n"
                   "ann,problem1,dL/db3,dL/dh3 f3',1e308\nann,problem1,dL/dw3,x,1e308\nann,problem6,delta4,2(f-y),3\n",
                   encoding="utf-8")
    gs = tmp_path / "g.json"
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv"), "--gradescope", str(gs)]) == 0
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["verdict"] for r in rows] == ["invalid", "invalid", "correct"]
    assert "max_score '1e308' is not a number from 0 to 1,000,000" in rows[0]["feedback"]
    assert json.loads(gs.read_text(encoding="utf-8"), parse_constant=lambda c: pytest.fail(c))["score"] == 3


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_input_is_refused_saying_what_it_is(tmp_path, capsys, encoding):
    """Excel's 'Unicode Text' read as UTF-8 gave 'missing columns ...; the file has: ��s\\x00t\\x00'."""
    src = tmp_path / "c.csv"
    src.write_bytes("student,problem,quantity,answer\nann,problem1,dL/db3,dL/dh3 f3'\n".encode(encoding))
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv")]) == 2
    assert capsys.readouterr().err == (f"Error: {src} is UTF-16 text (Excel's 'Unicode Text'), not UTF-8: save it "
                                       "as UTF-8 (Excel: 'CSV UTF-8'; iconv -f utf-16 -t utf-8) and run again\n")


def test_column_names_in_any_case_are_read(tmp_path):
    """A header Student,Problem,... (a spreadsheet's capitals) was refused as missing every column."""
    src = tmp_path / "c.csv"
    src.write_text("Student,Problem,QUANTITY,Answer,Max_Score,Notes\nann,problem1,dL/db3,dL/dh3 f3',5,x\n",
                   encoding="utf-8")
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv")]) == 0
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as f:
        row = next(csv.DictReader(f))
    assert (row["student"], row["verdict"], row["score"], row["Notes"]) == ("ann", "correct", "5", "x")


def test_a_file_of_nul_bytes_is_refused_as_not_text(tmp_path, capsys):
    """Both halves of its bytes zero: binary, not UTF-16 (which the message said)."""
    src = tmp_path / "c.csv"
    src.write_bytes(b"\x00" * 64 + b"junk")
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv")]) == 2
    assert capsys.readouterr().err == (f"Error: {src} is not a text file (its first bytes are mostly NUL); give a "
                                       ".csv or .jsonl file saved as UTF-8 text\n")
