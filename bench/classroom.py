"""A synthetic class: answer rows over the whole catalogue, from the problem files' sample answers
plus mutations of the correct ones (wrong: negated, doubled, transposed, a term added; malformed:
a dangling operator, an unknown symbol, empty, binary junk).

    rows(n, seed) -> [{"student", "problem", "quantity", "answer", "expected"}]

`expected` is the problem file's own verdict for sample answers and "" for mutations (whose
verdict is not known in advance: -(a) of a zero gradient is still correct).
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derive.problem.load import catalogue


def samples() -> list[tuple]:
    """(problem id, quantity, answer, verdict) of every sample answer in the catalogue."""
    return [(p.id, s.quantity, s.answer, s.verdict) for p in catalogue() for s in p.samples]


def mutations(answer: str) -> tuple[list[str], list[str]]:
    """(wrong, malformed) variants of a correct answer."""
    wrong = [f"-({answer})", f"2*({answer})", f"({answer})^T", f"({answer}) + 1"]
    malformed = [f"{answer} +", f"({answer}", f"{answer} w99", "", "\x00\x7f\ufffd junk"]
    return wrong, malformed


def rows(n: int, seed: int = 0) -> list[dict]:
    """n rows: about 45% sample answers, 35% wrong and 20% malformed mutations, 40 answers a student."""
    rng = random.Random(seed)
    pool = samples()
    correct = [s for s in pool if s[3] == "correct"]
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.45:
            pid, q, a, verdict = rng.choice(pool)
        else:
            pid, q, a, _ = rng.choice(correct)
            wrong, malformed = mutations(a)
            a, verdict = rng.choice(wrong if r < 0.8 else malformed), ""
        out.append({"student": f"student{i // 40:05d}", "problem": pid, "quantity": q, "answer": a,
                    "expected": verdict})
    return out
