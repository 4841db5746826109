"""Gradescope's results.json for one student's graded answers.

The format (gradescope-autograders.readthedocs.io, "Autograder Specifications"): top-level
`score` and `output`, and `tests`, one per question, each with `name`, `score`, `max_score`,
`status` ("passed" / "failed"), `output` (the feedback), `output_format` and `visibility`.
"""
from __future__ import annotations

import json
import os
import re
from typing import Iterable

from derive.errors import InputError

VISIBILITY = "visible"        # students see each question's feedback as soon as it is graded
SIGNATURE = re.compile(r"\d+ of \d+ answers with full credit; score \S+ / \S+(\n|$)")   # results()'s first line


def one_student(path, students: Iterable[str]) -> str:
    """The one student whose answers `path` holds; InputError when it holds several."""
    seen: list[str] = []
    for s in students:
        if s not in seen:
            seen.append(s)
            if len(seen) > 3:
                break
    if len(seen) > 1:
        shown = ", ".join(repr(s[:40]) for s in seen[:3]) + (", ..." if len(seen) > 3 else "")
        raise InputError(f"--gradescope writes one student's results, but {path} holds answers of "
                         f"{'more than 3' if len(seen) > 3 else len(seen)} students ({shown}); "
                         "give it one student's file (Gradescope grades each submission on its own)")
    return seen[0] if seen else ""


def _feedback(g) -> str:
    lines = [g.verdict + (f" [{', '.join(g.diagnosis)}]" if g.diagnosis else "")]
    if g.interpreted:
        lines.append(f"interpreted as: {g.interpreted}")
    lines += list(g.feedback)
    return "\n".join(lines)


def test_entry(name: str, g) -> dict:
    return {"name": name, "score": g.score, "max_score": g.max_score,
            "status": "passed" if g.verdict == "correct" or g.verdict == "consistent" and g.score >= g.max_score
            else "failed",
            "output": _feedback(g), "output_format": "text", "visibility": VISIBILITY}


def results(graded: list, expected: Iterable[tuple] = (), missing_score: float = 1.0) -> dict:
    """[(fields, Graded)] -> results.json. With `expected` (problem id, quantity) pairs, the tests
    are exactly those, in that order: an unanswered one fails with 'no answer', an extra answer is
    named in the top-level output, and of two answers to one question the last counts."""
    tests, notes = [], []
    expected = list(expected)
    for fields, g in graded:              # where each derivation's first mistake is (grade.grade_group)
        if getattr(g, "headline", ""):
            notes.append(f"{g.problem}: {g.headline}")
    if not expected:
        for fields, g in graded:
            tests.append(test_entry(_name(g.problem or fields.get("problem", ""), g.quantity), g))
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
                tests.append({"name": _name(*key), "score": 0.0, "max_score": missing_score, "status": "failed",
                              "output": "no answer given", "output_format": "text",
                              "visibility": VISIBILITY})
            else:
                tests.append(test_entry(_name(*key), g))
    score = sum(t["score"] for t in tests)
    top = sum(t["max_score"] for t in tests)
    passed = sum(t["status"] == "passed" for t in tests)
    summary = f"{passed} of {len(tests)} answers with full credit; score {score:g} / {top:g}"   # see SIGNATURE
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
