"""The numpy floor (a figure, not a test): what a warm check of problem6's drho/dW1 = delta2 x^T
costs if written by hand in numpy — at 6 instances of random sizes, draw the inputs, recompute the
forward pass, the reference gradient (its closed form) and the answer (in its own named deltas),
and compare — against derive.check of the same answer in the same warm process.

    python bench/bench_floor.py [--runs 2000]

derive's figure is its median over the floor's median (issue 23: at most 1.0). Then a property
answer (dead-relu's b1_dead: gradient descent from the answer's b1) against a gradient answer of
the same problem (issue 23: at most 3x).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = ((2, 3), (3, 5), (5, 7), (7, 2), (4, 6), (6, 4))      # (d, d_H), distinct so transposes show


def sigma(z):
    return 1.0 / (1.0 + np.exp(-z))


def floor_check(rng) -> bool:
    """One check by hand: True when the answer delta2 x^T matches the reference at every instance."""
    ok = True
    for d, dh in SIZES:
        x, y = rng.standard_normal((d, 1)), rng.standard_normal()
        W1, b1 = rng.standard_normal((dh, d)), rng.standard_normal((dh, 1))
        W2, b2 = rng.standard_normal((dh, dh)), rng.standard_normal((dh, 1))
        W3, b3 = rng.standard_normal((1, dh)), rng.standard_normal((1, 1))
        Z1 = W1 @ x + b1
        H1 = sigma(Z1)
        Z2 = W2 @ H1 + b2
        H2 = sigma(Z2)
        f = W3 @ H2 + b3
        # the reference, closed form in forward names
        ref = (((W2.T @ ((W3.T @ (-2 * (y - f))) * H2 * (1 - H2))) * H1 * (1 - H1)) @ x.T)
        # the answer, in its named deltas
        delta4 = 2 * (f - y)
        delta3 = (W3.T @ delta4) * H2 * (1 - H2)
        delta2 = (W2.T @ delta3) * H1 * (1 - H1)
        answer = delta2 @ x.T
        ok &= bool(np.allclose(answer, ref, rtol=1e-7, atol=1e-12))
    return ok


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2000)
    args = ap.parse_args(argv)
    import derive
    # first, in a fresh process: a property answer (the dead-unit scenarios) against a gradient
    # answer of the same problem
    with derive.Checker() as c:
        assert c.check("dead-relu", "b1_dead", "-w1 x - 1").verdict == "correct"
        assert c.check("dead-relu", "dL/dw1", "-2 (y - f) w2 relu'(z1) x").verdict == "correct"
        g, pr = [], []
        for k in range(2, 42):               # alternating, distinct answers, all right
            t = time.perf_counter()
            assert c.check("dead-relu", "dL/dw1", f"{k}/{k} (-2 (y - f) w2 relu'(z1) x)").verdict == "correct"
            g.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert c.check("dead-relu", "b1_dead", f"-w1 x - {k}").verdict == "correct"
            pr.append(time.perf_counter() - t)
    g, pr = statistics.median(g) * 1e3, statistics.median(pr) * 1e3
    rng = np.random.default_rng(0)
    assert floor_check(rng)
    # distinct answers (no check can be remembered), all right: k/k delta2 x^T
    answers = iter([f"{k}/{k} delta2 x^T" for k in range(1, args.runs + 10)])
    with derive.Checker() as c:
        assert c.check("problem6", "drho/dW1", next(answers)).verdict == "correct"
        assert c.check("problem6", "drho/dW1", "2 delta2 x^T").verdict == "incorrect"
        rounds = []
        for _ in range(5):                 # interleaved, so the machine's load falls on both alike
            floor = median_ms(lambda: floor_check(rng), args.runs // 5)
            right = median_ms(lambda: c.check("problem6", "drho/dW1", next(answers)), args.runs // 5)
            rounds.append((floor, right))
    floor = statistics.median(r[0] for r in rounds)
    right = statistics.median(r[1] for r in rounds)
    print(f"numpy floor (6 instances, forward + reference + answer): median {floor:.3f} ms")
    print(f"derive warm check, problem6 drho/dW1 'k/k delta2 x^T':    median {right:.3f} ms")
    print(f"ratio derive / floor: {right / floor:.2f}   (median of 5 interleaved rounds of {args.runs // 5})")
    print(f"dead-relu: gradient answer median {g:.2f} ms, property answer (dead unit) median {pr:.2f} ms, "
          f"ratio {pr / g:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
