"""Gradescope's results.json for one student's graded answers.

The format (gradescope-autograders.readthedocs.io, "Autograder Specifications"): top-level
`score` and `output`, and `tests`, one per question, each with `name`, `score`, `max_score`,
`status` ("passed" / "failed"), `output` (the feedback), `output_format` and `visibility`.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import Iterable

from derive.errors import InputError
from derive.notation.plain import plain

VISIBILITY = "visible"        # students see each question's feedback as soon as it is graded
MAX_NOTES = 20                # lines about answers not graded: an upload of 10,000 makes no 40 MB results.json
MAX_OUTPUT = 2000             # characters of one question's feedback
SIGNATURE = re.compile(r"\d+ of \d+ answers with full credit; score \S+ / \S+(\n|$)")   # results()'s first line


def one_student(path, students: Iterable[str], chosen: str | None = None) -> str:
    """The one student whose answers `path` holds, or `chosen` (--student) among several;
    InputError when it holds several and none is chosen, or not the one chosen."""
    seen: list[str] = []
    for s in students:
        if chosen is not None and s == chosen:
            return s
        if s not in seen and len(seen) <= 3:
            seen.append(s)
    shown = ", ".join(repr(s[:40]) for s in seen[:3]) + (", ..." if len(seen) > 3 else "")
    if chosen is not None:
        raise InputError(f"--student {chosen[:40]!r}: {path} holds no answers of that student"
                         + (f" (it has {shown})" if seen else ""))
    if len(seen) > 1:
        raise InputError(f"--gradescope writes one student's results, but {path} holds answers of "
                         f"{'more than 3' if len(seen) > 3 else len(seen)} students ({shown}); "
                         "pick one with --student NAME (Gradescope grades each submission on its own)")
    return seen[0] if seen else ""


_READ_AS = re.compile(r"(Read )(.+)( as )(.+)$", re.S)


def _plain_sentence(s: str) -> str:
    """A feedback sentence in plain text: the answer quoted in a reading note (Read … as …) as text."""
    m = _READ_AS.match(s) if "\\" in s else None
    return f"{m[1]}{plain(m[2])}{m[3]}{plain(m[4])}" if m else s


def _feedback(g) -> str:
    lines = [g.verdict + (f" [{', '.join(g.diagnosis)}]" if g.diagnosis else "")]
    if g.interpreted:
        lines.append(f"interpreted as: {plain(g.interpreted)}")      # output_format text: no LaTeX
    lines += [_plain_sentence(s) for s in g.feedback]
    out = "\n".join(lines)
    return out if len(out) <= MAX_OUTPUT else out[:MAX_OUTPUT] + " …"


def test_entry(name: str, g) -> dict:
    return {"name": name, "score": g.score, "max_score": g.max_score,
            "status": "passed" if g.verdict == "correct" or g.verdict == "consistent" and g.score >= g.max_score
            else "failed",
            "output": _feedback(g), "output_format": "text", "visibility": VISIBILITY}


def results(graded: list, expected: Iterable[tuple] = (), missing_score: float = 1.0) -> dict:
    """[(fields, Graded)] -> results.json. With `expected` (problem id, quantity) pairs, the tests
    are exactly those, in that order: an unanswered one fails with 'no answer' (worth its points
    when `expected` is a dict pair -> points, else `missing_score`), an extra answer is named in the
    top-level output, and of two answers to one question the last counts."""
    points = expected if isinstance(expected, dict) else {}
    tests, notes = [], []
    expected = list(expected)
    for fields, g in graded:              # where each derivation's first mistake is (grade.grade_group)
        if getattr(g, "headline", ""):
            notes.append(f"{g.problem}: {g.headline}")
    if not expected:
        last, times = {}, Counter()
        for fields, g in graded:
            key = (g.problem or fields.get("problem", ""), g.quantity)
            last[key], times[key] = g, times[key] + 1
        notes += [f"{key[1]} is answered {n} times; the last answer counts" for key, n in times.items() if n > 1]
        tests += [test_entry(_name(*key), g) for key, g in last.items()]
    else:
        last = {}
        for fields, g in graded:
            key = (g.problem, g.quantity)
            if key not in expected:
                notes.append(f"not graded: {fields.get('problem', '')} {fields.get('quantity', '')} "
                             f"({'; '.join(g.feedback) or 'not a question of this assignment'})")
            else:
                if key in last:
                    notes.append(f"{g.quantity} is answered twice; the last answer counts")
                last[key] = g
        for key in expected:
            g = last.get(key)
            if g is None:
                tests.append({"name": _name(*key), "score": 0.0, "max_score": points.get(key, missing_score),
                              "status": "failed",
                              "output": "no answer given", "output_format": "text",
                              "visibility": VISIBILITY})
            else:
                tests.append(test_entry(_name(*key), g))
    score = sum(t["score"] for t in tests)
    top = sum(t["max_score"] for t in tests)
    passed = sum(t["status"] == "passed" for t in tests)
    summary = f"{passed} of {len(tests)} answers with full credit; score {score:g} / {top:g}"   # see SIGNATURE
    if len(notes) > MAX_NOTES:
        notes = notes[:MAX_NOTES] + [f"... and {len(notes) - MAX_NOTES} more lines like these"]
    notes = [n if len(n) <= MAX_OUTPUT else n[:MAX_OUTPUT] + " …" for n in notes]
    return {"score": score, "output": "\n".join([summary] + notes), "output_format": "text",
            "visibility": VISIBILITY, "stdout_visibility": "hidden", "tests": tests}


def is_results(path, limit: int = 64 << 20) -> bool:
    """A results.json derive wrote: a JSON object whose output starts with results()'s summary line."""
    try:
        if os.stat(path).st_size > limit:
            return False
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("output"), str) and bool(SIGNATURE.match(data["output"]))


def _name(problem: str, quantity: str) -> str:
    return f"{problem}: {quantity}" if problem else quantity
