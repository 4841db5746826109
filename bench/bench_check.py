"""Checker benchmark (a figure, not a test): latency of derive.check in a warm process over
>= 200 answers (correct, wrong, malformed); a naive baseline, sympy.simplify(a - b) == 0, on the
same parsed pairs (its time and its wrong verdicts); the same answers through Checker(workers=1)
and Checker(workers=2) from 8 threads (answers/s and the ratio); and the cold `derive check`
process against a bare `python -c "import sympy"` in the same run.

    python bench/bench_check.py [--baseline-timeout 2] [--no-baseline] [--no-concurrent] [--no-cold]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sympy as sp  # noqa: E402

import derive  # noqa: E402
from derive import sandbox  # noqa: E402
from derive.grading import check  # noqa: E402
from derive.grading.key import key_of  # noqa: E402
from derive.grading.read import AnswerBuilder, indices, parse_answer  # noqa: E402
from derive.grading.reference import reference  # noqa: E402
from derive.problem import load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (problem, quantity, a correct answer): each also yields wrong and malformed variants
CORRECT = [
    ("problem1", "dL/dw1", r"\frac{\partial L}{\partial h_3} f'_3 w_3 f'_1 x"),
    ("problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x"),
    ("problem1", "dL/dw2", "dL/dh3 f3' w4 f2' x"),
    ("problem1", "dL/dw3", "dL/dh3 f3' h1"),
    ("problem1", "dL/dw4", "dL/dh3 f3'(w3 h1 + w4 h2 + b3) h2"),
    ("problem1", "dL/db1", "dL/dh3 f3' w3 f1'"),
    ("problem1", "dL/db3", "dL/dh3 f3'"),
    ("problem1", "dL/dx", "dL/dh3 f3' (w3 f1' w1 + w4 f2' w2)"),
    ("problem2", "z", "0.62"),
    ("problem2", "u1", "-0.08"),
    ("problem2", "dz/dw0", "-0.2"),
    ("problem2", "dz/dw1", "x1 relu'(v1)"),
    ("problem2", "dz/dx0", "0.94"),
    ("problem3", "dy/dz", "0"),
    ("problem3", "dy/dh", "sigma(h)(1-sigma(h))"),
    ("problem3", "dy/dx", r"\frac{2 e^{-h}}{(1+e^{-h})^2}"),
    ("problem4", "dL/dh_i", "P(y=i) - y_i"),
    ("problem4", "dP_j/dh_i", "delta_ij P_j - P_i P_j"),
    ("problem5", "dL/dbeta", "sum(dL/dy, 0)"),
    ("problem5", "dL/dgamma", "sum(dL/dy ⊙ hhat, 0)"),
    ("problem6", "delta4", "2(f - y)"),
    ("problem6", "drho/dW3", "delta4 H2^T"),
    ("problem6", "delta3", r"\sigma'(Z^2) \odot (W^3)^T \delta^4"),
    ("problem6", "drho/dW2", "delta3 H1^T"),
    ("problem6", "delta2", "sigma'(Z1) ⊙ (W2^T delta3)"),
    ("problem6", "drho/dW1", "delta2 x^T"),
    ("problem6", "drho/db1", "delta2"),
]


def variants(p, q, a):
    """(problem, quantity, answer, expected) rows: the answer, four wrong ones, three malformed."""
    yield p, q, a, "correct"
    wrong = (f"-({a})", f"2*({a})", f"({a}) + 1", f"({a})*({a})") if a != "0" else ("1", "x", "2 x", "x^2")
    for w in wrong:
        yield p, q, w, "incorrect"
    for m in (f"{a} +", f"({a}", f"{a} w99"):
        yield p, q, m, "invalid"


def rows():
    out = [r for c in CORRECT for r in variants(*c)]
    return out


def naive(p, qname, answer):
    """simplify(answer - reference) == 0, with the answer's named gradients substituted."""
    ref = reference(key_of(p))
    r = ref.derivation.result(qname)
    tree = parse_answer(p, answer)
    size = r.closed.shape[0] if hasattr(r.closed, "shape") else None
    expr = AnswerBuilder(p.scope, answer, indices(r.quantity), size).build(tree)
    subs = {sym: closed for _, (sym, _, closed) in ref.derivation.adjoints.items()}
    for _ in range(len(subs) + 1):
        new = expr.xreplace(subs) if isinstance(expr, sp.Basic) else expr
        if new == expr:
            break
        expr = new
    diff = expr - r.closed
    out = sp.simplify(diff)
    return bool(out == 0 or getattr(out, "is_ZeroMatrix", False) or out == sp.ZeroMatrix(*diff.shape)
                if hasattr(diff, "shape") else out == 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline-timeout", type=float, default=2.0)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-concurrent", action="store_true")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (the median is reported)")
    args = ap.parse_args(argv)
    data = rows()
    problems = {p: load(p) for p, _, _, _ in data}
    for p, q, a, _ in data[:: 8]:                 # warm: one check per problem loads and derives it
        check(p, q, a)
    times, wrong, by_kind = [], [], {}
    for p, q, a, want in data:
        t = time.perf_counter()
        r = check(p, q, a)
        times.append(time.perf_counter() - t)
        by_kind.setdefault(want, []).append(times[-1])
        if r.verdict != want:
            wrong.append((p, q, a, want, r.verdict))
    times.sort()
    n = len(times)
    p99 = times[min(n - 1, int(round(0.99 * (n - 1))))]
    print(f"derive.check, warm process: {n} answers "
          f"({sum(w == 'correct' for *_, w in data)} correct, {sum(w == 'incorrect' for *_, w in data)} wrong, "
          f"{sum(w == 'invalid' for *_, w in data)} malformed)")
    print(f"  median {statistics.median(times) * 1e3:.2f} ms   p99 {p99 * 1e3:.2f} ms   "
          f"max {times[-1] * 1e3:.2f} ms   total {sum(times):.2f} s")
    print("  median by kind: " + ", ".join(f"{k} {statistics.median(v) * 1e3:.2f} ms"
                                          for k, v in sorted(by_kind.items())))
    print(f"  verdicts different from the expected one: {len(wrong)}")
    for w in wrong:
        print("   ", w)
    if not args.no_concurrent:
        concurrent(data, args.runs)
    if not args.no_cold:
        cold(args.runs)
    if args.no_baseline:
        return 0
    parsed = [(p, q, a, want) for p, q, a, want in data if want != "invalid"]
    btimes, bwrong, btimeouts, berrors = [], 0, 0, 0
    for p, q, a, want in parsed:
        t = time.perf_counter()
        out = sandbox.run(naive, (problems[p], q, a), timeout=args.baseline_timeout)
        btimes.append(time.perf_counter() - t)
        if isinstance(out, sandbox.Timeout):
            btimeouts += 1
        elif isinstance(out, sandbox.Crashed):
            berrors += 1
        elif (want == "correct") != out.value:
            bwrong += 1
    btimes.sort()
    print(f"naive baseline sympy.simplify(a - b) == 0 on the {len(parsed)} parsed pairs "
          f"(capped at {args.baseline_timeout:g} s each):")
    print(f"  median {statistics.median(btimes) * 1e3:.1f} ms   max {btimes[-1] * 1e3:.0f} ms   "
          f"total {sum(btimes):.1f} s")
    print(f"  wrong verdicts {bwrong}, timeouts {btimeouts}, errors {berrors} "
          f"(of {len(parsed)}; derive.check: {sum(1 for w in wrong if w[3] != 'invalid')} wrong)")
    return 0


def concurrent(data, runs: int) -> None:
    """The same answers from 8 threads through one and through two workers."""
    want = [check(p, q, a).verdict for p, q, a, _ in data]
    rates, busy = {}, {}
    for workers in (1, 2):
        with derive.Checker(workers=workers) as c:
            with ThreadPoolExecutor(8) as ex:
                list(ex.map(lambda row: c.check(*row[:3]), data))          # warm every worker
                got, times = None, []
                cpu0, wall0 = _cpu(c.pool.pids()), time.perf_counter()
                for _ in range(runs):
                    t = time.perf_counter()
                    got = [r.verdict for r in ex.map(lambda row: c.check(*row[:3]), data)]
                    times.append(time.perf_counter() - t)
                busy[workers] = (_cpu(c.pool.pids()) - cpu0) / (time.perf_counter() - wall0)
            assert got == want, "concurrent verdicts differ from sequential ones"
            rates[workers] = len(data) / statistics.median(times)
    print(f"Checker from 8 threads, {len(data)} answers, median of {runs}: workers=1 {rates[1]:.0f} answers/s, "
          f"workers=2 {rates[2]:.0f} answers/s, ratio {rates[2] / rates[1]:.2f} (verdicts identical to sequential); "
          f"CPU seconds the workers got per second: {busy[1]:.2f} and {busy[2]:.2f} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def _cpu(pids) -> float:
    """utime + stime of these processes, in seconds (Linux)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def cold(runs: int) -> None:
    """A fresh `derive check` process against a fresh `python -c "import sympy"`, interleaved."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmds = {"import sympy": [sys.executable, "-c", "import sympy"],
            "derive check": [sys.executable, "-m", "derive.cli", "check", "problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x"]}
    times = {k: [] for k in cmds}
    for _ in range(runs):
        for k, cmd in cmds.items():
            t = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=k == "import sympy")
            times[k].append(time.perf_counter() - t)
    a, b = (statistics.median(times[k]) for k in cmds)
    print(f"cold process, median of {runs}: python -c 'import sympy' {a:.2f} s, derive check {b:.2f} s, "
          f"ratio {b / a:.2f}")


if __name__ == "__main__":
    sys.exit(main())
