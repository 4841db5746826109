"""One student's consecutive rows of one problem, graded as one derivation (grading/steps.py).

grade.py grades each row alone (through its memo of identical answers), then hands a group's
rows here: when one of them is incorrect, the group's steps are checked for error carried
forward; scores use the problem's points where a row gives no max_score.
"""
from __future__ import annotations

import dataclasses
from typing import Iterator

from derive import variants
from derive.batch.rows import Row
from derive.errors import DeriveError
from derive.grading.steps import carry_forward

MAX_GROUP = 1000               # rows of one student's problem graded as one derivation at most


def groups(rows: Iterator[Row]) -> Iterator[list]:
    """Consecutive rows of one student, problem and variant: one derivation each (at most MAX_GROUP)."""
    group, key = [], None
    for row in rows:
        k = (row.student, row.problem, row.variant)
        if group and (k != key or len(group) >= MAX_GROUP):
            yield group
            group = []
        group.append(row)
        key = k
    if group:
        yield group


def carry(rows: list, pairs: list, checker, load, memo=None) -> list:
    """Rows and their (Graded, CheckResult or None) -> Graded each, the rows graded as one
    derivation: a step consistent with the student's own earlier mistake is `consistent` with ECF
    credit; a row without max_score is worth the problem's points for it; the first row of a
    derivation with a mistake carries the line naming it. Of two answers to one quantity the
    last is the step. `checker` None: the rows as graded alone; `memo`: the batch's EcfMemo."""
    graded = [g for g, _ in pairs]
    if checker is None:
        return graded
    for i, ((g, r), row) in enumerate(zip(pairs, rows)):
        if g.problem and not row.max_score_given and g.max_score:
            points = _points(load, g.problem, g.quantity, g.max_score, step=r is not None)
            graded[i] = dataclasses.replace(g, max_score=points, score=(r.score if r else 0.0) * points)
    last = {r.quantity: i for i, (_, r) in enumerate(pairs) if r is not None}
    if not any(pairs[i][1].verdict == "incorrect" for i in last.values()):
        return graded
    variant = rows[0].variant
    given = {pairs[i][1].quantity: graded[i].max_score for i in last.values() if rows[i].max_score_given}
    try:
        problem = load(pairs[next(iter(last.values()))][1].problem)
        res = carry_forward(checker, variants.variant_of(problem, variant) if variant is not None else problem,
                            [(pairs[i][1].quantity, pairs[i][1].answer, pairs[i][1]) for i in last.values()],
                            points=given, memo=memo)
    except DeriveError:
        return graded
    steps = {s.quantity: s for s in res.steps}
    for q, i in last.items():
        s, g = steps[q], graded[i]
        graded[i] = dataclasses.replace(g, verdict=s.verdict, score=s.score, max_score=s.max_score,
                                        diagnosis=tuple(s.diagnosis), feedback=tuple(s.feedback))
    if res.first_mistake is not None:
        graded[0] = dataclasses.replace(graded[0], headline=res.headline)
    return graded


def _points(load, problem: str, quantity: str, default: float, step: bool) -> float:
    """The problem's points for a quantity; 0 for a gradient it does not ask (dL/dh1)."""
    try:
        p = load(problem)
    except DeriveError:
        return default
    try:
        return p.points_of(p.quantity(quantity).name)
    except DeriveError:
        return 0.0 if step else default
