"""derive grade: a class's answers -> report, totals, summary, Gradescope results.

Expected verdicts come from tests/data/class.csv's `expected` columns (written by hand from the
seeds: seed 004 prints z = 0 and u1 = -0.8, both wrong) and from the problem files' sample answers.
"""
import csv
import html.parser
import importlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from derive import Checker
from derive.batch import run as grade
from derive.batch.commands import Progress
from derive.cli import main
from derive.errors import DeriveError, InputError
from derive.problem.load import catalogue

DATA = Path(__file__).parent.parent / "data"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checker():
    """One warm Checker for the in-process runs of this module (each problem derived once)."""
    with Checker(workers=1) as c:
        yield c


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def as_given(cell: str) -> str:
    """A report cell as the input had it: the report marks a cell that would start a spreadsheet
    formula (=, +, -, @ and not a number: OWASP) with a leading apostrophe (issue 20)."""
    if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return cell[1:]
    return cell


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "derive.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env, **kw)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    out = tmp_path_factory.mktemp("class")
    p = cli("grade", DATA / "class.csv", "-o", out / "report.csv", "--totals", out / "totals.csv",
            "--summary", out / "summary.html")
    return p, out


def test_each_problem_is_graded_in_one_lane():
    """So each worker loads the secret points and mutants of its share of the problems, not of all."""
    import threading
    lanes = grade.Lanes(2)
    threads: dict = {}
    try:
        futures = [lanes.submit(p, lambda p=p: threads.setdefault(p, set()).add(threading.get_ident()))
                   for p in "ABAB" * 5 + "CDCD"]
        for f in futures:
            f.result()
    finally:
        lanes.shutdown()
    assert all(len(names) == 1 for names in threads.values()), threads
    assert len(set().union(*threads.values())) == 2


def test_a_class_of_one_problem_still_uses_every_lane():
    import threading
    lanes, go, used = grade.Lanes(2), threading.Event(), set()

    def slow():
        go.wait(10)
        used.add(threading.get_ident())
    try:
        futures = [lanes.submit("A", slow) for _ in range(2 * grade.WINDOW)]
        go.set()
        for f in futures:
            f.result()
    finally:
        lanes.shutdown()
    assert len(used) == 2


def test_report_has_input_columns_then_results_in_input_order(graded_class):
    p, out = graded_class
    assert p.returncode == 0, p.stderr
    given = read_csv(DATA / "class.csv")
    report = read_csv(out / "report.csv")
    with open(out / "report.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == list(given[0]) + ["verdict", "score", "diagnosis", "feedback"]
    assert [{k: as_given(r[k]) for k in given[0]} for r in report] == given
    for r in report:
        assert (r["verdict"], r["diagnosis"]) == (r["expected"], r["expected_diagnosis"]), r
        assert r["feedback"], r
    by = {(r["student"], r["quantity"]): r for r in report}
    assert by["ada", "drho/dW1"]["score"] == "2"             # max_score 2, correct
    assert by["ben", "drho/dW1"]["score"] == "0"
    assert "max_score 'x' is not a number" in by["fay", "u1"]["feedback"]
    assert "unknown problem 'problem99'" in by["gus", "z"]["feedback"]
    assert by["gus", "drho/dW9"]["feedback"].startswith("unknown quantity 'drho/dW9' for two-hidden-deltas")


def test_end_line_counts_and_paths(graded_class):
    p, out = graded_class
    line = p.stdout.strip()
    assert line.startswith("graded 28 rows in ")
    assert "10 correct, 12 incorrect, 6 invalid, 0 undecided" in line
    assert f"report: {out / 'report.csv'}" in line and f"summary: {out / 'summary.html'}" in line
    assert "\r" not in p.stderr                   # no progress bar when stderr is not a terminal


def test_totals_one_row_per_student(graded_class):
    _, out = graded_class
    given = read_csv(DATA / "class.csv")
    totals = {r["student"]: r for r in read_csv(out / "totals.csv")}
    assert list(totals) == list(dict.fromkeys(r["student"] for r in given))
    for name, t in totals.items():
        mine = [r for r in given if r["student"] == name]
        want = sum(float(r["max_score"]) for r in mine if r["expected"] == "correct")
        assert float(t["score"]) == want
        for v in ("correct", "incorrect", "invalid", "undecided"):
            assert int(t[v]) == sum(r["expected"] == v for r in mine), (name, v)
        assert int(t["answers"]) == len(mine)


def test_a_question_answered_again_counts_once_in_totals_and_gradescope(tmp_path, checker):
    """Repeating a right answer added its points again (a 3-point question answered four times
    scored 12 of 12); the last answer to a question counts, as for a submission."""
    rows = [("dup", "problem6", "delta4", "2(f-y)")] * 3 + [("dup", "problem6", "delta4", "2(y-f)"),
                                                            ("dup", "problem6", "delta3", "x")]
    src = write_csv(tmp_path / "in.csv", ["student", "problem", "quantity", "answer"], rows)
    totals, gs = tmp_path / "t.csv", tmp_path / "g.json"
    grade.grade_file(src, tmp_path / "r.csv", totals=totals, gradescope_out=gs, checker=checker)
    assert [r["verdict"] for r in read_csv(tmp_path / "r.csv")] == ["correct"] * 3 + ["incorrect"] * 2
    t = read_csv(totals)[0]
    assert (t["score"], t["answers"], t["correct"], t["incorrect"]) == ("0", "2", "0", "2")
    d = json.loads(gs.read_text(encoding="utf-8"))
    assert d["score"] == 0 and len(d["tests"]) == 2 and "delta4 is answered 4 times; the last answer counts" in d["output"]


class _Page(html.parser.HTMLParser):
    """The summary's text, per element class, and every tag and attribute used."""

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.tags, self.attrs = [], {}, set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += attrs
        if tag in ("meta", "br", "hr", "img", "link", "input"):
            return
        cls = dict(attrs).get("class", "")
        self.stack.append(cls)
        self.text.setdefault(cls, []).append("") if cls else None

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        for cls in reversed(self.stack):
            if cls:
                self.text[cls][-1] += data
                break


def test_summary_page_counts_clusters_and_escaping(graded_class):
    _, out = graded_class
    page = (out / "summary.html").read_text(encoding="utf-8")
    doc = _Page()
    doc.feed(page)
    # self-contained: no script, no external stylesheet, image or link
    assert "script" not in doc.tags and "link" not in doc.tags and "img" not in doc.tags
    assert not [v for k, v in doc.attrs if k in ("src", "href")]
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page
    lead = " ".join(doc.text["lead"][0].split())
    assert "28 answers from 7 students" in lead and "10 correct, 12 incorrect, 6 invalid, 0 undecided" in lead
    sentences = [" ".join(s.split()) for s in doc.text["sentence"]]
    # ben, cleo, dev, <script>: four spellings of the transpose; ben and cleo copied seed 004's u1 = -0.8
    assert "4 students gave the same wrong drho/dW1 (4 different spellings, e.g. x delta2^T): transpose" in sentences
    assert "2 students gave the same wrong delta4 (2 different spellings, e.g. 2(y - f)): sign" in sentences
    assert "2 students gave the same wrong u1 (typed -0.8): constant_factor" in sentences
    students = [" ".join(s.split()) for s in doc.text["students"]]
    assert "ben, cleo, dev, <script>alert('pwned')</script>" in students
    # the diagnosis chart: one bar per code with its count, most common first
    chart = re.findall(r'<tr data-code="(\w+)">.*?<td class="n">(\d+)</td>', page)
    want = Counter(r["expected_diagnosis"] for r in read_csv(DATA / "class.csv") if r["expected_diagnosis"])
    assert {c: int(n) for c, n in chart} == want and chart[0] == ("transpose", "4")


@pytest.mark.slow
def test_summary_in_a_real_browser(graded_class, tmp_path):
    """Chromium renders the page: the dumped DOM holds the cluster lines and no executed script."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no chromium")
    _, out = graded_class
    p = subprocess.run([str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        f"--user-data-dir={tmp_path}", "--dump-dom", (out / "summary.html").as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert "4 students gave the same wrong drho/dW1" in " ".join(p.stdout.split())
    assert "&lt;script&gt;alert" in p.stdout and "<script>alert" not in p.stdout


@pytest.mark.slow
def test_whole_catalogue_sample_answers_through_the_batch(tmp_path, checker):
    """Every sample answer of every problem file, as one class: each gets its file's verdict."""
    samples = [(p.id, s.quantity, s.answer, s.verdict) for p in catalogue(library=False) for s in p.samples]
    src = write_csv(tmp_path / "all.csv", ["student", "problem", "quantity", "answer"],
                    [(f"s{i}", p, q, a) for i, (p, q, a, _) in enumerate(samples)])
    out = grade.grade_file(src, tmp_path / "r.jsonl", checker=checker)
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["verdict"] for r in rows] == [v for *_, v in samples]
    assert [r["answer"] for r in rows] == [a for _, _, a, _ in samples]
    assert isinstance(rows[0]["diagnosis"], list) and isinstance(rows[0]["score"], float)
    assert out.rows == len(samples) and sum(out.counts.values()) == len(samples)


def test_jsonl_input_and_malformed_rows_do_not_stop_the_batch(tmp_path, checker):
    big = "x" * (1 << 20)
    lines = [json.dumps({"student": "a", "problem": "problem1", "quantity": "dL/db3", "answer": "dL/dh3 f3'"}),
             json.dumps({"student": "b", "problem": "problem1", "quantity": "dL/db3"}),          # no answer
             "{not json",
             json.dumps(["a", "list"]),
             json.dumps({"student": "c", "problem": "problem1", "quantity": "dL/db3", "answer": big}),
             json.dumps({"student": "d", "problem": "problem1", "quantity": "dL/db3",
                         "answer": "\x00\x01\ufffd\x7f\u202e"}),
             json.dumps({"student": "e", "problem": "problem1", "quantity": "dL/db3", "answer": "   "}),
             json.dumps({"student": "f", "problem": "scalar-chain", "quantity": "dL/db3", "answer": "dL/dh3*f3'"})]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    grade.grade_file(src, tmp_path / "r.csv", checker=checker)
    r = read_csv(tmp_path / "r.csv")
    assert [x["verdict"] for x in r] == ["correct"] + ["invalid"] * 6 + ["correct"]
    assert r[1]["feedback"] == "missing column: answer"
    assert r[2]["feedback"].startswith("not a JSON object (")
    assert r[3]["feedback"] == "not a JSON object but a list"
    assert r[4]["diagnosis"] == "too_complex" and "1048576 characters" in r[4]["feedback"]
    assert r[5]["diagnosis"] == "syntax" and r[6]["feedback"] == "the answer is empty"


def test_csv_short_row_and_huge_field(tmp_path, checker):
    src = tmp_path / "in.csv"
    src.write_text("student,problem,quantity,answer\n"
                   "a,problem1\n"
                   f"b,problem1,dL/db3,\"{'y' * 300_000}\"\n"
                   "\n"
                   "c,problem1,dL/db3,dL/dh3 f3'\n", encoding="utf-8")
    grade.grade_file(src, tmp_path / "r.csv", checker=checker)
    r = read_csv(tmp_path / "r.csv")
    assert [x["verdict"] for x in r] == ["invalid", "invalid", "correct"]
    assert r[0]["feedback"] == "missing columns: quantity, answer"
    assert r[1]["diagnosis"] == "too_complex"


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("", "is empty: expected a header with the columns student, problem, quantity, answer"),
    ("name,task,answer\nx,y,z\n", "missing columns student, problem, quantity; the file has: name, task, answer"),
    ("student,problem,quantity,ans\n", "missing column answer; the file has: student, problem, quantity, ans"),
])
def test_unusable_input_exits_2_naming_the_columns(tmp_path, capsys, content, message):
    src = tmp_path / "answers.csv"
    if content is not None:
        src.write_text(content, encoding="utf-8")
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r.csv").exists()


def test_bad_options_are_one_error_line(tmp_path, capsys):
    src = DATA / "class.csv"
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv"), "--workers", "0"]) == 2
    assert capsys.readouterr().err == "Error: the number of workers is a whole number ≥ 1, not 0\n"
    assert main(["grade", str(src), "-o", str(tmp_path / "r.csv"), "--timeout", "-1"]) == 2
    assert capsys.readouterr().err.startswith("Error: --timeout is a number of seconds above 0")
    assert list(tmp_path.iterdir()) == []
    copy = tmp_path / "answers.csv"
    copy.write_bytes(src.read_bytes())
    assert main(["grade", str(copy), "-o", str(copy)]) == 2
    assert capsys.readouterr().err == f"Error: {copy} is the input file; write the results to another file\n"
    assert copy.read_bytes() == src.read_bytes()


def test_unusable_jsonl_and_answer_files(tmp_path, checker):
    (tmp_path / "a.jsonl").write_text("[1, 2]\n")
    with pytest.raises(InputError, match="the first line is not a JSON object"):
        grade.grade_file(tmp_path / "a.jsonl", checker=checker)
    (tmp_path / "b.jsonl").write_text('{"student": "x", "answer": "y"}\n')
    with pytest.raises(InputError, match="missing columns problem, quantity; the file has: student, answer"):
        grade.grade_file(tmp_path / "b.jsonl", checker=checker)
    (tmp_path / "c.txt").write_text("# only comments\n\n")
    with pytest.raises(InputError, match="holds no answers"):
        grade.grade_file(tmp_path / "c.txt", checker=checker)


def _slow_job(key, qname, answer, fmt, *options):
    """The worker's job, except that the answer BOMB runs a C-level big-integer power (~90 s)
    that no signal interrupts: only the sandbox's kill stops it."""
    if answer == "BOMB":
        return 3 ** (10 ** 8) > 0
    return _real_job(key, qname, answer, fmt, *options)


CHECKER = importlib.import_module("derive.grading.checker")
_real_job = CHECKER.job


def test_one_bomb_among_1000_rows_costs_at_most_the_limit(tmp_path, monkeypatch, checker):
    monkeypatch.setattr(CHECKER, "job", _slow_job)
    good = [("problem1", "dL/db3", "dL/dh3 f3'"), ("problem1", "dL/dw3", "dL/dh3 f3' h1"),
            ("problem1", "dL/db1", "dL/dh3 f3' w3 f1'"), ("problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x")]
    rows = [(f"s{i}", *good[i % 4]) for i in range(1000)]
    header = ["student", "problem", "quantity", "answer"]
    limit = 1.0

    def run(name, rows):
        src = write_csv(tmp_path / f"{name}.csv", header, rows)
        t = time.perf_counter()
        grade.grade_file(src, tmp_path / f"{name}.report.csv", timeout=limit, checker=checker)
        return time.perf_counter() - t, read_csv(tmp_path / f"{name}.report.csv")

    grade.grade_file(write_csv(tmp_path / "warm.csv", header, rows[:4]), tmp_path / "warm.csv.out", checker=checker)
    base, _ = run("good", rows)
    with_bomb, report = run("bomb", rows[:500] + [("mallory", "problem1", "dL/dw1", "BOMB")] + rows[500:])
    assert report[500]["verdict"] == "undecided" and report[500]["diagnosis"] == "timeout"
    assert [r["verdict"] for r in report if r["student"] != "mallory"] == ["correct"] * 1000
    assert with_bomb - base < limit + 1.5, (base, with_bomb)


def _journal_lines(path):
    try:
        return path.read_bytes().count(b"\n") - 1
    except FileNotFoundError:
        return 0


FAST = ("scalar-chain", "residual-relu", "dense-shapes-params", "conv-output-size", "xavier-init")


def _resume_input(tmp_path, n=120):
    """Rows with known verdicts (the problem files' samples; trailing spaces make each answer
    distinct, so none is a repeat), so a wrong alignment after resuming shows."""
    samples = [(p.id, s.quantity, s.answer, s.verdict) for p in catalogue() if p.id in FAST for s in p.samples]
    rows, expected = [], []
    for i in range(n):
        pid, q, a, v = samples[i % len(samples)]
        rows.append((f"s{i:04d}", pid, q, a + " " * (i // len(samples))))
        expected.append(v)
    return write_csv(tmp_path / "class.csv", ["student", "problem", "quantity", "answer"], rows), rows, expected


def _start(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "derive.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def _wait_for_rows(journal, proc, n=20, limit=120):
    t = time.monotonic()
    while _journal_lines(journal) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t < limit
        time.sleep(0.02)


@pytest.mark.slow
def test_sigkill_mid_run_leaves_no_report_and_the_rerun_resumes(tmp_path):
    src, rows, expected = _resume_input(tmp_path)
    report = tmp_path / "report.csv"
    journal = tmp_path / "report.csv.partial.jsonl"
    proc = _start(["grade", src, "-o", report, "--timeout", "30", "--workers", "2"], tmp_path)
    _wait_for_rows(journal, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = _journal_lines(journal)
    assert not report.exists() and 20 <= saved < len(rows)
    with open(journal, "ab") as f:
        f.write(b'{"verdict": "corr')                    # the half line a kill mid-write leaves
    p = cli("grade", src, "-o", report, "--timeout", "30")     # a loaded machine must not time out here
    assert p.returncode == 0, p.stderr
    assert f"{saved:,} more from the earlier run" in p.stdout
    got = read_csv(report)
    assert [(r["student"], r["problem"], r["quantity"], as_given(r["answer"])) for r in got] == rows
    assert [r["verdict"] for r in got] == expected
    assert not journal.exists()


def test_journal_of_another_input_is_not_reused(tmp_path, checker):
    src, rows, expected = _resume_input(tmp_path, 60)
    report = tmp_path / "report.csv"
    journal = tmp_path / "report.csv.partial.jsonl"
    journal.write_text(json.dumps({"input_sha256": "0" * 64, "version": 1}) + "\n" +
                       json.dumps(grade.Graded("correct", 1.0, 1.0).to_json()) + "\n")
    out = grade.grade_file(src, report, timeout=30, checker=checker)
    assert out.resumed == 0 and [r["verdict"] for r in read_csv(report)] == expected


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, checker):
    src, rows, expected = _resume_input(tmp_path)
    report = tmp_path / "report.csv"
    journal = tmp_path / "report.csv.partial.jsonl"
    proc = _start(["grade", src, "-o", report, "--timeout", "30"], tmp_path)
    _wait_for_rows(journal, proc)
    os.killpg(proc.pid, signal.SIGINT)                 # what a terminal's Ctrl-C does: the whole group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    saved = _journal_lines(journal)
    assert f"Interrupted: {saved:,} of {len(rows):,} rows are graded and saved in {journal}" in err
    assert "run the same command again to resume" in err and not report.exists()
    out = grade.grade_file(src, report, timeout=30, checker=checker)
    assert out.resumed == saved and [r["verdict"] for r in read_csv(report)] == expected


def test_report_is_never_half_written(tmp_path, monkeypatch, checker):
    """A failure while the report is being assembled leaves the previous report untouched."""
    src = write_csv(tmp_path / "in.csv", ["student", "problem", "quantity", "answer"],
                    [("a", "problem1", "dL/db3", "dL/dh3 f3'")] * 5)
    report = tmp_path / "r.csv"
    previous = "student,problem,quantity,answer,verdict,score,diagnosis,feedback\nold,problem1,dL/db3,x,incorrect,0,,\n"
    report.write_text(previous)                 # an earlier run's report, so derive may replace it
    real = grade.Journal.replay

    def broken(self):
        it = real(self)
        yield next(it)
        raise OSError("disk full")
    monkeypatch.setattr(grade.Journal, "replay", broken)
    with pytest.raises(DeriveError, match=r"cannot write the results \(disk full\); all 5 rows are saved in "):
        grade.grade_file(src, report, checker=checker)
    assert report.read_text() == previous
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []
    monkeypatch.undo()
    assert grade.grade_file(src, report, checker=checker).resumed == 5
    assert [r["verdict"] for r in read_csv(report)] == ["correct"] * 5


def test_an_output_folder_that_does_not_exist_is_one_error_line(tmp_path, capsys):
    assert main(["grade", str(DATA / "class.csv"), "-o", str(tmp_path / "no" / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err == f"Error: cannot write {tmp_path / 'no' / 'r.csv'}: the folder {tmp_path / 'no'} does not exist\n"
    assert main(["grade", str(DATA / "class.csv"), "-o", str(tmp_path / "r.csv"),
                 "--summary", str(tmp_path / "no" / "s.html")]) == 2
    assert "the folder" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_help_texts_have_examples(capsys):
    for cmd in ("grade", "template", "autograder"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert f"example: derive {cmd} " in capsys.readouterr().out


def test_progress_bar_shows_rows_rate_and_time_left():
    out = io.StringIO()
    bar = Progress(out, every=0)
    for done in range(1, 101):
        bar(done, 100)
    last = out.getvalue().split("\r")[-1]
    assert re.fullmatch(r"\s*100/100 \[#{30}\] [\d,]+ rows/s ETA 0:00 ", last), last
    assert re.search(r"\s50/100 \[#{15}\.{15}\] [\d,]+ rows/s ETA \d+:\d\d ", out.getvalue())


def test_variant_column_grades_each_row_against_its_variant(tmp_path, checker):
    """residual-relu varies its given values: dz/dw0 = 0.4 is right for seed 17 only (see the
    README's Variants section); without a variant the seed's printed problem gives -0.2."""
    src = write_csv(tmp_path / "v.csv", ["student", "problem", "quantity", "answer", "variant"],
                    [("a", "residual-relu", "dz/dw0", "0.4", "17"), ("b", "residual-relu", "dz/dw0", "0.4", "18"),
                     ("c", "residual-relu", "dz/dw0", "-0.2", ""), ("d", "residual-relu", "dz/dw0", "0.4", "x")])
    grade.grade_file(src, tmp_path / "r.csv", checker=checker)
    r = read_csv(tmp_path / "r.csv")
    assert [x["verdict"] for x in r] == ["correct", "incorrect", "correct", "invalid"]
    assert r[3]["feedback"] == "variant 'x' is not a whole number"


# ---- outputs: only derive's own files are overwritten (cliutil.check_output) ----------------------
OUTPUTS = {"report": "r.csv", "totals": "t.csv", "summary": "s.html", "gradescope_out": "g.json"}


def _outputs(tmp_path, report="r.csv"):
    paths = {k: tmp_path / (report if k == "report" else name) for k, name in OUTPUTS.items()}
    return paths.pop("report"), paths


@pytest.mark.parametrize("which", list(OUTPUTS))
def test_a_file_derive_did_not_write_is_refused_and_left_untouched(tmp_path, checker, which):
    src = write_csv(tmp_path / "in.csv", ["student", "problem", "quantity", "answer"],
                    [("a", "problem1", "dL/db3", "dL/dh3 f3'")] * 2)
    report, others = _outputs(tmp_path)
    theirs = report if which == "report" else others[which]
    foreign = {".csv": "student,problem,quantity,answer,grade\na,problem1,dL/db3,x,A\n",
               ".html": "<!DOCTYPE html>\n<p>my notes</p>\n", ".json": '{"score": 3, "output": "mine"}\n'}
    theirs.write_text(foreign[theirs.suffix], encoding="utf-8")
    with pytest.raises(DeriveError, match=re.escape(f"{theirs} exists and was not written by derive; "
                                                     "use --force to overwrite it")):
        grade.grade_file(src, report, checker=checker, **others)
    assert theirs.read_text(encoding="utf-8") == foreign[theirs.suffix]
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(["in.csv", theirs.name])   # nor a journal
    out = grade.grade_file(src, report, checker=checker, force=True, **others)
    assert out.counts["correct"] == 2 and set(out.written.values()) == {report, *others.values()}
    assert theirs.read_text(encoding="utf-8") != foreign[theirs.suffix]
    again = grade.grade_file(src, report, checker=checker, **others)         # its own outputs: no --force
    assert again.counts == out.counts
    assert [r["verdict"] for r in read_csv(report)] == ["correct"] * 2
    assert json.loads(others["gradescope_out"].read_text(encoding="utf-8"))["score"] == 1   # one question, twice


def test_a_jsonl_report_is_recognised_by_its_columns(tmp_path, checker):
    src = write_csv(tmp_path / "in.csv", ["student", "problem", "quantity", "answer"], [("a", "problem1", "dL/db3", "x")])
    report = tmp_path / "r.jsonl"
    report.write_text('{"student": "a", "verdict": "correct"}\n')     # someone's own JSONL
    with pytest.raises(DeriveError, match="was not written by derive"):
        grade.grade_file(src, report, checker=checker)
    grade.grade_file(src, report, checker=checker, force=True)
    grade.grade_file(src, report, checker=checker)
    assert json.loads(report.read_text().splitlines()[0])["verdict"] == "incorrect"
    empty = write_csv(tmp_path / "empty.csv", ["student", "problem", "quantity", "answer"], [])
    grade.grade_file(empty, report, checker=checker)                   # the report of no rows is empty ...
    assert report.read_text() == ""
    grade.grade_file(empty, report, checker=checker)                   # ... and still derive's


@pytest.mark.slow
def test_refusal_is_one_error_line_exit_2_and_force_overwrites(tmp_path):
    src = write_csv(tmp_path / "in.csv", ["student", "problem", "quantity", "answer"], [("a", "problem1", "dL/db3", "x")])
    summary = tmp_path / "summary.html"
    summary.write_text("<p>the class photo page</p>\n")
    p = cli("grade", src, "-o", tmp_path / "r.csv", "--summary", summary)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == f"Error: {summary} exists and was not written by derive; use --force to overwrite it\n"
    assert summary.read_text() == "<p>the class photo page</p>\n" and not (tmp_path / "r.csv").exists()
    p = cli("grade", src, "-o", tmp_path / "r.csv", "--summary", summary, "--force")
    assert p.returncode == 0, p.stderr
    assert summary.read_text(encoding="utf-8").startswith("<!-- generated by derive")
    p = cli("grade", src, "-o", tmp_path / "r.csv", "--summary", summary)
    assert p.returncode == 0, p.stderr


def test_a_signal_landing_just_after_a_rows_write_counts_that_row(tmp_path, checker, monkeypatch):
    """The count in the Interrupted message is what a rerun resumes from, even when the signal
    lands between a row's write and the journal's own tally of it (CI once printed 26 for 27)."""
    src, rows, expected = _resume_input(tmp_path, n=12)
    report = tmp_path / "report.csv"
    real = grade.Journal.append

    def append(self, fields, g):
        if self.count == 7:                           # the 8th row: written, then the signal
            self.file.write(json.dumps({"fields": fields, **g.to_json()}) + "\n")
            raise KeyboardInterrupt
        real(self, fields, g)
    monkeypatch.setattr(grade.Journal, "append", append)
    with pytest.raises(grade.Interrupted) as e:
        grade.grade_file(src, report, timeout=30, checker=checker)
    assert e.value.saved == 8 == _journal_lines(tmp_path / "report.csv.partial.jsonl")
    monkeypatch.undo()
    out = grade.grade_file(src, report, timeout=30, checker=checker)
    assert out.resumed == 8 and [r["verdict"] for r in read_csv(report)] == expected


def test_sigterm_mid_run_exits_143_and_the_rerun_resumes(tmp_path, checker):
    src, rows, expected = _resume_input(tmp_path)
    report = tmp_path / "report.csv"
    journal = tmp_path / "report.csv.partial.jsonl"
    proc = _start(["grade", src, "-o", report, "--timeout", "30"], tmp_path)
    _wait_for_rows(journal, proc)
    os.kill(proc.pid, signal.SIGTERM)                  # what a job scheduler or `kill PID` sends
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err, err
    saved = _journal_lines(journal)
    assert f"Terminated: {saved:,} of {len(rows):,} rows are graded and saved in {journal}" in err
    assert 20 <= saved < len(rows) and not report.exists()
    out = grade.grade_file(src, report, timeout=30, checker=checker)
    assert out.resumed == saved and [r["verdict"] for r in read_csv(report)] == expected


def test_grade_reads_a_class_from_standard_input(tmp_path):
    """derive grade - (the class piped in): the same report as from the file, in each format; the
    report must be named, since there is no input file to write it beside."""
    rows = [("ann", "problem6", "drho/dW1", "delta2 x^T"), ("ann", "problem6", "delta4", "2(f - y)"),
            ("bob", "problem2", "z", "0.62"), ("bob", "problem2", "u1", "((")]
    csv_text = "student,problem,quantity,answer\n" + "".join(",".join(r) + "\n" for r in rows)
    jsonl_text = "".join(json.dumps(dict(zip(("student", "problem", "quantity", "answer"), r))) + "\n" for r in rows)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for suffix, text in ((".csv", csv_text), (".jsonl", jsonl_text)):
        src = tmp_path / f"class{suffix}"
        src.write_text(text)
        from_file = tmp_path / f"file{suffix}.report.csv"
        piped = tmp_path / f"piped{suffix}.report.csv"
        subprocess.run([sys.executable, "-m", "derive.cli", "grade", str(src), "-o", str(from_file)], check=True,
                       env=env, capture_output=True)
        p = subprocess.run([sys.executable, "-m", "derive.cli", "grade", "-", "-o", str(piped)], input=text.encode(),
                           env=env, capture_output=True)
        assert p.returncode == 0, p.stderr
        assert piped.read_text() == from_file.read_text()
        assert [r["verdict"] for r in csv.DictReader(piped.open())] == ["correct", "correct", "correct", "invalid"]
    # an answer file from `derive template`: its first line, a '#' comment, has a comma but is no CSV header
    template = subprocess.run([sys.executable, "-m", "derive.cli", "template", "problem2"], env=env,
                              capture_output=True, text=True, check=True).stdout
    filled = re.sub(r"(?m)^z:.*$", "z: 0.62", template)
    assert "," in filled.splitlines()[0] and filled.startswith("#")
    piped = tmp_path / "answers.report.csv"
    p = subprocess.run([sys.executable, "-m", "derive.cli", "grade", "-", "-o", str(piped)], input=filled.encode(),
                       env=env, capture_output=True)
    assert p.returncode == 0, p.stderr
    assert {r["quantity"]: r["verdict"] for r in csv.DictReader(piped.open())}["z"] == "correct"
    p = subprocess.run([sys.executable, "-m", "derive.cli", "grade", "-"], input=csv_text.encode(), env=env,
                       capture_output=True, text=False)
    assert p.returncode == 2 and b"name the report with -o" in p.stderr and b"Traceback" not in p.stderr
    p = subprocess.run([sys.executable, "-m", "derive.cli", "grade", "-", "-o", str(tmp_path / "r.csv")], input="",
                       env=env, capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("Error: standard input holds no answers"), p.stderr
