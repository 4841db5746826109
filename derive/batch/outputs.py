"""What a batch writes: the report (CSV or JSONL), per-student totals, the class summary page and
Gradescope's results.json. Each is one row of OUTPUTS behind one protocol: `add` each graded row
in input order, then `write` the file atomically (beside its name, renamed into place when whole).
Each also knows its own signature, so an existing file is overwritten only if derive wrote it."""
from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jinja2

from derive.batch import gradescope
from derive.batch.journal import Graded
from derive.batch.statistics import SummaryBuilder, Totals
from derive.grading.verdicts import VERDICTS, summary_verdicts
from derive.render.templates import templates_dir
from derive.runtime import commandline as cliutil
from derive.runtime.spreadsheet import SafeWriter

RESULT_COLUMNS = ("verdict", "score", "diagnosis", "feedback")


class Output:
    """One file a batch writes: fed (input fields, Graded) row by row, then written once."""

    def __init__(self, path: Path, columns: tuple, source: Path, expected=(), student: str | None = None):
        self.path, self.columns, self.source, self.expected = Path(path), columns, source, expected
        self.student = student              # Gradescope: the one student whose rows it holds

    def add(self, fields: dict, g: Graded) -> None:
        raise NotImplementedError

    def write(self) -> None:
        raise NotImplementedError


class Report(Output):
    """The input's columns, then verdict, score, diagnosis and feedback; CSV, or JSONL by suffix.
    Streamed to its temporary file as rows come, so memory does not grow with the class."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.jsonl = self.path.suffix.lower() == ".jsonl"
        self.input_columns = [c for c in self.columns if c not in RESULT_COLUMNS]
        self.file = _Atomic(self.path)
        self.writer = None if self.jsonl else SafeWriter(self.file.f)   # no cell a student typed starts a formula
        if self.writer:
            self.writer.writerow(self.input_columns + list(RESULT_COLUMNS))

    def add(self, fields: dict, g: Graded) -> None:
        out = {c: fields.get(c, "") for c in self.input_columns}
        out.update(verdict=g.verdict)
        if self.jsonl:
            out.update(score=g.score, diagnosis=list(g.diagnosis), feedback=list(g.feedback))
            self.file.f.write(json.dumps(out, ensure_ascii=False) + "\n")
        else:
            out.update(score=f"{g.score:g}", diagnosis=",".join(g.diagnosis), feedback="; ".join(g.feedback))
            self.writer.writerow(list(out.values()))

    def write(self) -> None:
        self.file.commit()

    @staticmethod
    def signature(path) -> bool:
        """A report derive wrote: its CSV header, or its JSONL first row's keys, end with RESULT_COLUMNS
        (an empty .jsonl is the report of an empty input)."""
        head = cliutil.first_line(path)
        if Path(path).suffix.lower() != ".jsonl":
            return _header(head)[-4:] == list(RESULT_COLUMNS)
        if not head:
            return _empty(path)
        try:
            row = json.loads(head)
        except ValueError:
            return False
        return isinstance(row, dict) and list(row)[-4:] == list(RESULT_COLUMNS)


class TotalsFile(Output):
    """One row per student: score, max score, answers and the count of each verdict."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.totals = Totals()

    def add(self, fields: dict, g: Graded) -> None:
        self.totals.add(fields.get("student", ""), g)

    def write(self) -> None:
        with _atomic(self.path) as f:
            self.totals.write_csv(f, VERDICTS)

    @staticmethod
    def signature(path) -> bool:
        return _header(cliutil.first_line(path)) == ["student", "score", "max_score", "answers", *VERDICTS]


class SummaryPage(Output):
    """The class summary as one self-contained HTML page (inline CSS, no scripts, no external assets);
    everything a student typed reaches it through jinja2's autoescaping."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.builder = SummaryBuilder()

    def add(self, fields: dict, g: Graded) -> None:
        self.builder.add(fields, g)

    def write(self) -> None:
        with _atomic(self.path) as f:
            f.write(cliutil.marker_line(self.path) + html(self.builder.build(self.source.name)))

    signature = None                    # recognised by its marker line (cliutil.is_ours)


class GradescopeResults(Output):
    """results.json for one student's answers (gradescope.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.graded: list = []

    def add(self, fields: dict, g: Graded) -> None:
        if self.student is None or fields.get("student", "").strip() == self.student:
            self.graded.append((fields, g))

    def write(self) -> None:
        with _atomic(self.path) as f:
            json.dump(gradescope.results(self.graded, self.expected), f, indent=2, ensure_ascii=False)

    signature = staticmethod(gradescope.is_results)


@dataclass(frozen=True)
class OutputKind:
    name: str                           # the key of Outcome.written and of grade_file's arguments
    make: Callable[..., Output]
    signature: Callable[[Path], bool] | None


OUTPUTS = (
    OutputKind("report", Report, Report.signature),
    OutputKind("totals", TotalsFile, TotalsFile.signature),
    OutputKind("summary", SummaryPage, SummaryPage.signature),
    OutputKind("gradescope", GradescopeResults, GradescopeResults.signature),
)


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals["pct"] = lambda n, d: round(100 * n / d) if d else 0
    return env


def html(summary) -> str:
    """A ClassSummary (statistics.py) as the summary page."""
    return _environment().get_template("summary.html.j2").render(s=summary, verdicts=summary_verdicts(summary.verdicts))


def _header(line: bytes) -> list:
    try:
        return next(csv.reader([line.decode("utf-8-sig")]), [])
    except (UnicodeDecodeError, csv.Error):
        return []


def _empty(path) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False


class _Atomic:
    """A text file written beside its final name and renamed into place by commit()."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.f = open(self.tmp, "w", encoding="utf-8", newline="")

    def commit(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.f.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


@contextlib.contextmanager
def _atomic(path: Path):
    file = _Atomic(path)
    try:
        yield file.f
        file.commit()
    finally:
        file.discard()
