"""Untrusted answers: nothing reaches eval, bombs come back fast, nothing hangs or leaks a traceback."""
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.grading import DEFAULT_TIMEOUT, check
from derive.notation import tokens as mathparse
from derive.runtime import pool
from derive.runtime.workers import Timeout

LIMIT = DEFAULT_TIMEOUT + 1.0      # the hard limit, plus process start-up slack

INJECTIONS = [
    "__import__('os').getpid()",
    "__import__('os').system('touch /tmp/derive_pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "x.__dict__",
    "w1.__globals__",
    "lambda: 1",
    "(lambda x: x)(1)",
    "eval('1+1')",
    "exec('import os')",
    "open('/etc/passwd').read()",
    "os.system('ls')",
    "sympy.sympify('x')",
    "x.T.T.T.subs(x, 1)",
    "getattr(x, 'T')",
    "x; import os",
    "`ls`",
    "$(ls)",
    "x if 1 else 2",
    "[x for x in (1,)]",
    "{'a': 1}",
    "\\input{/etc/passwd}",
    "\\def\\x{1}",
    "\\immediate\\write18{ls}",
    "f1'.__code__",
    "x @ w1",
]

BOMBS = [
    "9^9^9^9",
    "9**9**9**9",
    "x**(9**9**9)",
    "x^(9^9^9)",
    "factorial(10**10)",
    "(" * 3000 + "x" + ")" * 3000,
    "x+" * 20000 + "x",
    "1" * 40000,
    "99999999999999999999999",
    "(999999^64)^64",
    "2^64^64",
    "-" * 1000 + "x",
    "exp(exp(exp(exp(exp(exp(exp(exp(x))))))))",
    "10^64 * 10^64 * 10^64 * 10^64 * x",
    "f1'(" * 40 + "x" + ")" * 40,
    r"\frac{" * 60 + "1" + "}{2}" * 60,
]


@pytest.mark.parametrize("answer", INJECTIONS)
def test_injections_are_rejected_without_running(answer, tmp_path):
    t = time.perf_counter()
    r = check("problem1", "dL/dw1", answer)
    assert time.perf_counter() - t < LIMIT
    assert r.verdict in ("invalid", "incorrect")
    assert "Traceback" not in " ".join(r.feedback)


def test_nothing_was_executed():
    import os
    assert not os.path.exists("/tmp/derive_pwned")


@pytest.mark.parametrize("answer", BOMBS, ids=[b[:20] for b in BOMBS])
def test_bombs_come_back_within_the_limit(answer):
    t = time.perf_counter()
    r = check("problem1", "dL/dw1", answer)
    assert time.perf_counter() - t < LIMIT
    assert r.verdict in ("invalid", "incorrect", "undecided")
    assert r.feedback and all(isinstance(f, str) and "Traceback" not in f for f in r.feedback)


def test_bomb_messages():
    assert check("problem1", "dL/dw1", "9^9^9^9").diagnosis == ("too_complex",)
    r = check("problem1", "dL/dw1", "(" * 3000 + "x" + ")" * 3000)
    assert r.verdict == "invalid" and r.diagnosis == ("too_complex",)
    r = check("problem1", "dL/dw1", "x" * 40000)
    assert r.feedback == ("the answer is 40000 characters long; the limit is 2000",)


def _big_power():
    return 3 ** (10 ** 8) > 0          # a C-level big-integer op: ~90 s, no signal can stop it


def test_hard_limit_holds_inside_a_c_level_big_int_op():
    t = time.perf_counter()
    assert isinstance(pool.run(_big_power, (), timeout=0.5), Timeout)
    assert time.perf_counter() - t < 0.5 + 1.5
    # the killed worker is replaced: the next check works
    assert check("problem1", "dL/db3", "dL/dh3 f3'").verdict == "correct"


def test_timeout_is_undecided_not_incorrect(monkeypatch):
    # the limit itself is proven above (3**(10**8)); here, what a timeout becomes. A tiny real
    # timeout is racy: a warm worker may answer before the parent starts waiting.
    monkeypatch.setattr(pool.Pool, "run", lambda *a, **k: Timeout(0.5))   # the limit was hit
    r = check("problem1", "dL/dw1", "dL/dh3 f3' w3 x", timeout=0.5)     # wrong: graded in a worker
    assert r.verdict == "undecided" and r.diagnosis == ("timeout",), r
    monkeypatch.undo()
    assert "took longer than" in r.feedback[0]
    r = check("problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x")
    assert r.verdict == "correct", r


ALPHABET = st.sampled_from(list("xwbh123 +-*/^()'._{}\\,=") + ["f1'", "dL/dh3", "\\frac", "sigma",
                                                                 "9", "**", "⊙", "^T", "e", "__"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=30).map("".join))
def test_fuzz_never_a_traceback_never_a_hang(answer):
    t = time.perf_counter()
    r = check("problem1", "dL/dx", answer)
    assert time.perf_counter() - t < LIMIT
    assert r.verdict in ("correct", "incorrect", "invalid", "undecided")
    assert all(isinstance(f, str) and f and "Traceback" not in f for f in r.feedback)
    if r.verdict == "invalid" and r.offset is not None:
        assert 0 <= r.offset <= max(len(answer), mathparse.MAX_LENGTH)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_fuzz_arbitrary_unicode(answer):
    r = check("problem6", "delta3", answer)
    assert r.verdict in ("correct", "incorrect", "invalid", "undecided")
    assert r.feedback
