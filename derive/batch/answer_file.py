"""Answer files: the template a student fills in, and reading it back as rows.

    # comments (the statement, hints) are ignored
    [two-hidden-deltas]
    delta4: 2(f - y)
    drho/dW3: delta4 H2^T

One `[PROBLEM]` line opens each problem; each answer is `QUANTITY: ANSWER` on one line (the
answer is everything after the first colon; quantity names never contain one). Reading never
raises for what a student wrote: a line that cannot be understood becomes an AnswerLine with a
`problem` message, which grading turns into an `invalid` row.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from derive.errors import InputError
from derive.problem.load import Problem

MAX_LINE = 1 << 20            # characters of one line kept (longer lines are cut; the checker bounds answers)
_SECTION = re.compile(r"^\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*$")


@dataclass(frozen=True)
class AnswerLine:
    line: int                 # 1-based line number in the file
    problem: str              # the [PROBLEM] above it ("" when none)
    quantity: str
    answer: str
    error: str = ""           # why the line is not an answer (empty when it is one)


def template(problems: list[Problem]) -> str:
    """The answer file for these problems: statement as comments, one empty answer line per quantity."""
    out = ["# derive answer file: write each answer after the colon, on the same line.",
           "# Plain text (delta2 x^T, sigma'(Z1) ⊙ (W2^T delta3)) or LaTeX (\\delta_2 x^\\top) both work.",
           "# Lines starting with # are ignored; keep the [problem] lines and the names before the colons."]
    for p in problems:
        out += ["", f"[{p.id}]", f"# {p.alias + ': ' if p.alias else ''}{p.title}"]
        for n, para in enumerate(re.split(r"\n\s*\n", p.statement.strip())):
            out += (["#"] if n else []) + ["# " + t for t in textwrap.wrap(" ".join(para.split()), 94)]
        prose = [q.name for q in p.quantities if not q.graded]
        for q in p.quantities:
            if q.graded:
                if q.allowed:
                    out.append(f"# {q.name}: write it with {', '.join(q.allowed)} only")
                out.append(f"{q.name}: ")
        if prose:
            out.append(f"# not auto-graded, answer them on paper: {', '.join(prose)}")
    return "\n".join(out) + "\n"


def read(text: str) -> list[AnswerLine]:
    """Every answer line of an answer file, in file order (blank and comment lines skipped)."""
    out, problem = [], ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw[:MAX_LINE].strip()
        if not line or line.startswith("#"):
            continue
        m = _SECTION.match(line)
        if m:
            problem = m.group(1)
            continue
        name, colon, answer = line.partition(":")
        name, answer = name.strip(), answer.strip()
        if not colon or not name:
            out.append(AnswerLine(n, problem, "", line, f"line {n} is not `QUANTITY: ANSWER` "
                                  "(write the quantity's name, a colon, then the answer)"))
        elif not problem:
            out.append(AnswerLine(n, "", name, answer, f"line {n}: no [problem] line above this answer; "
                                  "the template opens each problem with one, e.g. [two-hidden-deltas]"))
        else:
            out.append(AnswerLine(n, problem, name, answer))
    return out


def for_problem(lines: list[AnswerLine], problem: Problem, source: str = "the answer file") -> list[tuple]:
    """The (quantity, answer) pairs an answer file gives for one problem, in file order: the lines
    under its [id] or [alias], or every line of a file without [problem] lines. Empty answers (a
    template line left blank) are skipped; a line that is not an answer raises InputError."""
    names = {problem.id, problem.alias} - {""}
    out, other = [], set()
    for a in lines:
        if a.error and a.problem == "" and a.quantity:            # no [problem] line: this problem's
            a = AnswerLine(a.line, problem.id, a.quantity, a.answer)
        if a.error:
            raise InputError(f"{source}: {a.error}")
        if a.problem not in names:
            other.add(a.problem)
        elif a.answer:
            out.append((a.quantity, a.answer))
    if not out:
        also = f" (it has answers for {', '.join(sorted(other))})" if other else ""
        raise InputError(f"{source} answers nothing of {problem.id}{also}; write `QUANTITY: ANSWER` lines "
                         f"under [{problem.id}] (see `derive template {problem.id}`)")
    return out


MAX_FILE = 16 << 20           # bytes of an answer file read (one student's homework)


def read_path(path) -> list[AnswerLine]:
    """read() of a file, bounded; InputError when it cannot be read."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
            return read(f.read(MAX_FILE))
    except OSError as e:
        raise InputError(f"{path}: {e.strerror or e}") from None
