"""A batch's input rows: CSV, JSONL or one student's answer file, streamed, each parsed once into a
typed Row.

Reading never fails on what a row holds: a row that cannot be graded (a missing column, an empty
answer, a line that is not JSON, a variant or max_score that is not a number) carries its reason.
Only an unusable file raises InputError.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from derive.batch import answer_file as submission
from derive.errors import InputError

REQUIRED = ("student", "problem", "quantity", "answer")
OPTIONAL = ("variant", "max_score")
MAX_ANSWER_FILE = 16 << 20      # bytes: an answer file is one student's homework
MAX_VARIANT_DIGITS = 40        # a seed; int() of thousands of digits is slow and capped by Python
FIELD_LIMIT = 64 << 20          # csv's own limit (128 KiB) would end the batch at one long answer
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Row:
    index: int                  # 0-based position in the input
    fields: dict                # the input columns, as text (the report keeps them)
    student: str = ""
    problem: str = ""           # stripped
    quantity: str = ""          # stripped
    answer: str = ""            # as typed
    variant: int | None = None
    max_score: float = 1.0      # the row's own max_score, else 1 (groups.py: the problem's points)
    max_score_given: bool = False
    error: str = ""             # why the row cannot be graded (empty when it can)


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str                   # csv | jsonl | answers
    columns: tuple              # the input's columns, in order (the report keeps them)
    student: str = ""           # answers files: whose they are


def open_source(path, student: str | None = None) -> Source:
    """Check that the input is usable (InputError saying what is wrong if not)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
    kind = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(path.suffix.lower(), "answers")
    if kind == "answers":
        _utf8(path)
        if path.stat().st_size > MAX_ANSWER_FILE:
            raise InputError(f"{path} is larger than {MAX_ANSWER_FILE >> 20} MB; an answer file holds one "
                             "student's answers (use .csv or .jsonl for a class)")
        if not submission.read(_text(path)):
            raise InputError(f"{path} holds no answers: expected `[problem]` lines and `QUANTITY: ANSWER` "
                             "lines (see `derive template`), or a .csv / .jsonl file")
        return Source(path, kind, REQUIRED, student or path.stem)
    with open(path, "rb") as f:
        head = f.read(4096)
    zeros = [half.count(0) >= 0.4 * len(half) for half in (head[0::2], head[1::2])] if len(head) >= 8 else []
    if zeros and all(zeros):                                 # (one NUL in a cell is a row's business)
        raise InputError(f"{path} is not a text file (its first bytes are mostly NUL); give a .csv or .jsonl "
                         "file saved as UTF-8 text")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or any(zeros):
        raise InputError(f"{path} is UTF-16 text (Excel's 'Unicode Text'), not UTF-8: save it as UTF-8 "
                         "(Excel: 'CSV UTF-8'; iconv -f utf-16 -t utf-8) and run again")
    with _open(path) as f:
        if kind == "csv":
            header = next(csv.reader(f), None)                # Student or ANSWER: the column it names
            columns = tuple(_known(c.strip()) for c in header) if header else ()
        else:
            first = next((line for line in f if line.strip()), "")
            try:
                obj = json.loads(first) if first else None
            except ValueError:
                obj = None
            if first and not isinstance(obj, dict):
                raise InputError(f"{path}: the first line is not a JSON object; a .jsonl file holds one "
                                 "object per line, e.g. {\"student\": ..., \"problem\": ..., ...}")
            columns = tuple(_known(c) for c in obj) if obj else ()
    if not columns or not any(columns):
        raise InputError(f"{path} is empty: expected a header with the columns {', '.join(REQUIRED)}")
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise InputError(f"{path}: the column{'s' if len(twice) > 1 else ''} {', '.join(repr(c[:40]) for c in twice)} "
                         f"appear{'s' if len(twice) == 1 else ''} more than once in the header; keep one of each (which one to grade would be a guess)")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        shown = ", ".join(c[:40] for c in columns[:12]) + (", ..." if len(columns) > 12 else "")
        raise InputError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                         f"the file has: {shown} (needed: {', '.join(REQUIRED)}; optional: "
                         f"{', '.join(OPTIONAL)})")
    return Source(path, kind, columns)


def _known(column: str) -> str:
    """A column derive reads, in any case, by its own name; any other column as written."""
    return column.lower() if column.lower() in REQUIRED + OPTIONAL else column


def _open(path: Path, digest=None):
    """The input as text. Reading it with `digest` (the scan) is strict, so a file that is not UTF-8
    stops there, before any grading (scan() says where); later reads replace what cannot be read."""
    if digest is None:
        return open(path, encoding="utf-8-sig", errors="replace", newline="")
    return io.TextIOWrapper(io.BufferedReader(_Hashing(open(path, "rb", buffering=0), digest)),
                            encoding="utf-8-sig", errors="strict", newline="")


def _utf8(path: Path) -> None:
    """InputError unless the whole file is UTF-8 (Latin-1's "José" would be graded as "Jos�")."""
    dec = codecs.getincrementaldecoder("utf-8")()
    line, done = 1, 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            try:
                dec.decode(block)
            except UnicodeDecodeError as e:
                at = done + e.start
                line += block[:e.start].count(b"\n")
                raise InputError(f"{path} is not UTF-8 text (byte 0x{block[e.start]:02X} at line {line}, byte "
                                 f"{at + 1:,}); it was probably saved as Latin-1 or Windows-1252: save it as "
                                 "UTF-8 (Excel: 'CSV UTF-8'; iconv -f latin1 -t utf-8) and run again") from None
            line += block.count(b"\n")
            done += len(block)
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InputError(f"{path} is not UTF-8 text (it ends inside a character); save it as UTF-8") from None


def _text(path: Path) -> str:
    with _open(path) as f:
        return f.read(MAX_ANSWER_FILE)


@dataclass(frozen=True)
class Scan:
    """What one read of the input tells before grading: for the progress bar, the workers' warm-up,
    the Gradescope one-student rule and the journal's input check."""
    total: int
    questions: tuple            # distinct (problem, quantity) of gradable rows, in order (MAX_AHEAD)
    students: tuple             # distinct students, in order (at most 4: enough to refuse "several")
    digest: str                 # SHA-256 of the input's bytes


MAX_SCORE = 1e6                 # the most a row may be worth, as a problem file's [points]
MAX_AHEAD = 2000                # distinct questions remembered by scan()


def scan(src: Source, student: str | None = None) -> Scan:
    """Read the input once: count its rows while hashing its bytes. `student`: listed among the
    students wherever it first appears."""
    h = hashlib.sha256()
    total, questions, students = 0, {}, []
    try:
        for r in rows(src, h):
            total += 1
            if not r.error and len(questions) < MAX_AHEAD:
                questions[r.problem, r.quantity] = None
            name = r.student.strip()
            if (len(students) < 4 or name == student) and name not in students:
                students.append(name)
    except UnicodeDecodeError:
        _utf8(src.path)                 # raises InputError saying where
        raise
    return Scan(total, tuple(questions), tuple(students), h.hexdigest())


class _Hashing(io.RawIOBase):
    """A binary file that hashes what is read through it."""

    def __init__(self, f, h):
        self.f, self.h = f, h

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.f.readinto(b)
        self.h.update(memoryview(b)[:n])
        return n

    def close(self) -> None:
        self.f.close()
        super().close()


def rows(src: Source, digest=None) -> Iterator[Row]:
    """The input's rows, in order; a row that cannot be graded carries its reason in `error`.
    `digest`: a hashlib object that sees the input's bytes as they are read."""
    if src.kind == "answers":
        if digest is not None:
            digest.update(src.path.read_bytes()[:MAX_ANSWER_FILE])
        for i, a in enumerate(submission.read(_text(src.path))):
            yield _row(i, {"student": src.student, "problem": a.problem, "quantity": a.quantity,
                           "answer": a.answer}, a.error)
        return
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    with _open(src.path, digest) as f:
        if src.kind == "csv":
            reader = csv.reader(f, strict=True)     # a quote left open would swallow the rows after it
            next(reader, None)
            i, start = 0, reader.line_num + 1
            try:
                for values in reader:
                    if values:                      # a blank line is not a row
                        yield _row(i, dict(zip(src.columns, values)))
                        i += 1
                    start = reader.line_num + 1
            except csv.Error as e:
                raise InputError(f"{src.path}, line {start}: a cell's quotes do not match ({e}): a cell that "
                                 f"starts with \" must end with \" (write a \" inside it as \"\"); fix the row "
                                 "and run again (no row was graded)") from None
            return
        i = 0
        for line in f:
            if not line.strip():
                continue
            yield _json_row(i, line)
            i += 1


def _json_row(i: int, line: str) -> Row:
    """One JSONL line -> Row; whatever it holds (a 5,000-digit number, nesting 3,000 deep, a key
    twice, a lone surrogate) it is a row, invalid with its reason if it cannot be graded."""
    try:
        obj = json.loads(line, parse_int=str, object_pairs_hook=_no_twice)   # str: no 4,300-digit limit
    except RecursionError:
        return _row(i, {}, "not a JSON object this tool reads: nested too deep")
    except _Twice as e:
        return _row(i, {}, f"the key {e.args[0][:40]!r} appears twice in the object; keep one")
    except json.JSONDecodeError as e:
        return _row(i, {}, f"not a JSON object ({e.msg} at column {e.colno})")
    except ValueError as e:
        return _row(i, {}, f"not a JSON object ({str(e)[:80]})")
    if not isinstance(obj, dict):
        return _row(i, {}, f"not a JSON object but a {type(obj).__name__}")
    try:
        fields = {_known(_clean(k)): _clean(_as_text(v)) for k, v in obj.items()}
    except RecursionError:
        return _row(i, {}, "not a JSON object this tool reads: nested too deep")
    for k, v in obj.items():
        hit = _SURROGATE.search(k) or isinstance(v, str) and _SURROGATE.search(v)
        if hit:
            return _row(i, fields, f"{_clean(k)[:40]} holds a lone surrogate (\\u{ord(hit[0]):04x}), which is not "
                                  "text (shown as U+FFFD)")
    return _row(i, fields)


class _Twice(ValueError):
    pass


def _no_twice(pairs) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise _Twice(k)
        out[k] = v
    return out


def _clean(s: str) -> str:
    """A str that can be written as UTF-8: lone surrogates (from JSON escapes) become U+FFFD."""
    return _SURROGATE.sub("\ufffd", s) if isinstance(s, str) else s


def _as_text(v) -> str:
    if isinstance(v, str):
        return v
    return "" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def _row(i: int, fields: dict, error: str = "") -> Row:
    """Parse a row's fields once. A bad max_score is named first (the row then counts for 0 points),
    then the row's own error, a missing column, an empty answer, a variant that is not a number."""
    missing = [c for c in REQUIRED if c not in fields]
    if not error and missing:
        error = f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
    elif not error and not fields["answer"].strip():
        error = "the answer is empty"
    raw = fields.get("max_score", "").strip()
    try:
        max_score = float(raw or "1")
    except ValueError:
        max_score = -1.0
    if not 0 <= max_score <= MAX_SCORE:        # (as a problem's [points]; 1e308 twice summed to Infinity)
        error, max_score = f"max_score {raw[:40]!r} is not a number from 0 to {MAX_SCORE:,.0f}", 0.0
    v = fields.get("variant", "").strip()
    digits = v[1:] if v.startswith("-") else v
    variant = int(v) if digits.isascii() and digits.isdigit() and len(digits) <= MAX_VARIANT_DIGITS else None
    if not error and v and variant is None:
        error = (f"variant {v[:40]!r} is not a whole number" if not (digits.isascii() and digits.isdigit())
                 else f"variant {v[:40]}... is longer than {MAX_VARIANT_DIGITS} digits")
    return Row(i, fields, fields.get("student", ""), fields.get("problem", "").strip(),
               fields.get("quantity", "").strip(), fields.get("answer", ""), variant, max_score, bool(raw), error)
