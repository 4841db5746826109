"""derive.Checker: many threads, killed workers, edited files, the typed API, forged answers."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import derive
from derive.errors import UsageError
from derive.problem.load import catalogue
from derive.runtime import workers
from derive.runtime.pool import Pool

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = [(p.id, s.quantity, s.answer) for p in catalogue(library=False) for s in p.samples][::3]


def _fields(r):
    return (r.verdict, r.diagnosis, r.feedback, r.interpreted, r.offset, r.fingerprint)


def test_eight_threads_on_two_workers_give_the_sequential_verdicts():
    sequential = [_fields(derive.check(*a)) for a in ANSWERS]
    with derive.Checker(workers=2) as c:
        with ThreadPoolExecutor(8) as ex:
            parallel = list(ex.map(lambda a: _fields(c.check(*a)), ANSWERS * 2))
        assert len(set(c.pool.pids())) == 2
    assert parallel == sequential * 2


def test_a_worker_killed_mid_check_is_replaced_and_the_others_carry_on():
    with derive.Checker(workers=2) as c:
        c.check("problem1", "dL/dw1", "x")                       # both problems warm in some worker
        before = set(c.pool.pids())
        victim = sorted(before)[0]
        with ThreadPoolExecutor(4) as ex:
            futures = [ex.submit(c.check, "problem6", "delta3", "sigma'(Z2) ⊙ (W3^T delta4)") for _ in range(6)]
            time.sleep(0.05)
            os.kill(victim, signal.SIGKILL)
            results = [f.result() for f in futures]
        # the check that was in the killed worker comes back undecided, never as an exception
        assert all(r.verdict in ("correct", "undecided") for r in results)
        assert sum(r.verdict == "correct" for r in results) >= 4
        deadline = time.monotonic() + 2        # a SIGKILLed process can take a few ms to be gone on a busy machine
        while victim in c.pool.pids() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert victim not in c.pool.pids()
        # once it is gone, no check is sent to it (a job sent in those few ms is undecided, as above),
        # not even from the thread that used it last (runtime.pool gives a thread its last worker)
        r = c.check("problem6", "delta3", "sigma'(Z2) ⊙ (W3^T delta4)")
        assert r.verdict == "correct"


def test_an_edited_problem_file_is_read_again(tmp_path):
    src = (ROOT / "problems" / "000-scalar-chain.toml")
    if not src.exists():
        src = Path(catalogue()[0].path)
    text = src.read_text().replace('alias = "problem1"', 'alias = ""').replace('id = "scalar-chain"', 'id = "edited"')
    f = tmp_path / "edited.toml"
    f.write_text(text)
    with derive.Checker(problems=[tmp_path]) as c:
        assert c.check("edited", "dL/db3", "dL/dh3 f3'").verdict == "correct"
        # h3 = f3(...) becomes h3 = 2 f3(...): the old answer is now wrong by a factor 2
        edited = text.replace("h3 = f3(", "h3 = 2*f3(")
        assert edited != text
        f.write_text(edited)
        os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))
        r = c.check("edited", "dL/db3", "dL/dh3 f3'")
        assert r.verdict == "incorrect" and r.diagnosis == ("constant_factor",), r
        assert c.solve("edited").problem.equations[-1].text.startswith("h3 = 2*f3(")


def test_problems_folders_may_be_a_list(tmp_path):
    # check(..., extra=[dir]) used to raise TypeError: unhashable type: 'list'
    assert derive.check("problem1", "dL/db3", "dL/dh3 f3'", extra=[tmp_path]).verdict == "correct"


@pytest.mark.parametrize("answer", [None, b"dL/dh3 f3'", 3, ["x"]])
def test_an_answer_that_is_not_text_is_invalid_not_a_type_error(answer):
    r = derive.check("problem1", "dL/db3", answer)
    assert r.verdict == "invalid" and r.diagnosis == ("syntax",)
    assert "an answer is text" in r.feedback[0]


@pytest.mark.parametrize("timeout", [-1, 0, float("nan"), float("inf"), 1e300, "2", True])
def test_a_bad_timeout_is_a_clear_error(timeout):
    with pytest.raises(UsageError, match="the timeout is a number of seconds above 0"):
        derive.check("problem1", "dL/db3", "dL/dh3 f3'", timeout=timeout)


def test_timeout_none_keeps_the_hard_limit(monkeypatch):
    seen = []
    real = Pool.run

    def spy(self, fn, args, timeout, prepare=None):
        seen.append(timeout)
        return real(self, fn, args, timeout, prepare)
    monkeypatch.setattr(Pool, "run", spy)
    # a wrong answer always goes to a worker (a right plain one may be settled inline)
    assert derive.check("problem1", "dL/db3", "2 dL/dh3 f3'", timeout=None).verdict == "incorrect"
    with derive.Checker(timeout=1.5, inline=False) as c:
        assert c.check("problem1", "dL/db3", "dL/dh3 f3'", timeout=None).verdict == "correct"
    assert seen == [2.0, 1.5]


def test_the_hard_limit_still_holds_in_a_checker():
    with derive.Checker(timeout=0.5) as c:
        t = time.perf_counter()
        r = c.check("problem1", "dL/dw1", "x^64^64^64 * " * 3 + "x")
        assert r.verdict in ("invalid", "undecided")
        out = c.pool.run(_spin, (), timeout=0.3)
        assert isinstance(out, workers.Timeout) and out.seconds == 0.3
        assert time.perf_counter() - t < 5
        assert c.check("problem1", "dL/db3", "dL/dh3 f3'").verdict == "correct"


def _spin():
    while True:
        pass


def test_outcomes_are_typed():
    with Pool(1) as pool:
        assert pool.run(divmod, (7, 2), timeout=5) == workers.Ok((3, 1))
        out = pool.run(int, ("not a number",), timeout=5)
        assert isinstance(out, workers.Crashed) and "ValueError" in out.reason
        out = pool.run(os._exit, (3,), timeout=5)
        assert isinstance(out, workers.Crashed) and "ended unexpectedly" in out.reason
        assert pool.run(divmod, (9, 4), timeout=5) == workers.Ok((2, 1))


def test_workers_are_recycled_after_max_jobs():
    with derive.Checker(max_jobs=3, inline=False) as c:
        pids = []
        for _ in range(7):
            assert c.check("problem1", "dL/db3", "dL/dh3 f3'").verdict == "correct"
            pids += c.pool.pids()
        assert len(set(pids)) == 3          # jobs 1-3, 4-6, 7


def test_equivalent_answers_share_a_fingerprint_and_wrong_ones_do_not():
    a = derive.check("problem6", "delta3", "sigma'(Z2) ⊙ (W3^T delta4)")
    b = derive.check("problem6", "delta3", "(W3^T delta4) ⊙ sigma(Z2) ⊙ (1 - sigma(Z2))")
    c = derive.check("problem6", "delta3", "W3^T delta4")
    d = derive.check("problem6", "delta3", "W3.T delta4")
    assert a.verdict == b.verdict == "correct" and c.verdict == d.verdict == "incorrect"
    assert a.fingerprint == b.fingerprint and c.fingerprint == d.fingerprint != a.fingerprint
    assert len(a.fingerprint) == 16 and "fingerprint" not in a.to_dict()
    assert derive.check("problem6", "delta3", "W3^T +").fingerprint is None
    e = derive.check("problem6", "delta3", "1.0000005 sigma'(Z2) ⊙ (W3^T delta4)")   # right within the tolerance,
    assert e.verdict == "correct" and e.fingerprint == a.fingerprint        # its 7th digits aside


# ---- forged answers (issue 9, item 1) -------------------------------------------------------
RIGHT = "dL/dh3 f3' w3 f1' x"


def _fixed_point(n):
    from derive.grading import key, reference
    ref = reference.reference(key.key_of(derive.load("problem1")))
    inst, env = ref.point("fixed", n)
    return env, float(ref.value(ref.derivation.result("dL/dw1"), "fixed", n))


def test_a_constant_defined_only_at_the_first_point_is_not_correct():
    # the forgery: the right value at the first point, NaN (sqrt of a negative) elsewhere
    env, value = _fixed_point(0)
    x0 = float(env["x"])
    forged = f"{value:.10g} + sqrt(0.0000000001^2 - (x - {x0:.13g})^2)"
    r = derive.check("problem1", "dL/dw1", forged)
    assert r.verdict == "incorrect", r
    assert "no finite value" in r.feedback[0]


def test_a_polynomial_vanishing_at_the_fixed_points_is_not_correct():
    xs = [float(_fixed_point(n)[0]["x"]) for n in range(4)]
    poly = " * ".join(f"(x - {v:.13g})" for v in xs)
    r = derive.check("problem1", "dL/dw1", f"{RIGHT} + {poly}")
    assert r.verdict == "incorrect", r


def test_the_secret_points_follow_the_secret(monkeypatch):
    from derive.runtime import secret as reference
    monkeypatch.setenv("DERIVE_SECRET", "one")
    reference.secret.cache_clear()
    a = reference.secret_seed(0)
    monkeypatch.setenv("DERIVE_SECRET", "two")
    reference.secret.cache_clear()
    b = reference.secret_seed(0)
    monkeypatch.delenv("DERIVE_SECRET")
    reference.secret.cache_clear()
    assert a != b


def test_the_installation_secret_is_created_once(tmp_path, monkeypatch):
    from derive.runtime import secret as reference
    monkeypatch.delenv("DERIVE_SECRET", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    reference.secret.cache_clear()
    try:
        s = reference.secret()
        path = tmp_path / "derive" / "secret"
        assert path.read_bytes() == s and len(s) == 64
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        reference.secret.cache_clear()
        assert reference.secret() == s
    finally:
        reference.secret.cache_clear()


# ---- the worker dies with its caller (issue 9, item 2) -----------------------------------------
CALLER = textwrap.dedent("""
    import sys, time
    from derive.runtime.pool import Pool
    pool = Pool(1)
    pool.run(divmod, (1, 1), timeout=30)
    print(*pool.pids(), pool.forker.pid, flush=True)
    pool.run(time.sleep, (60,), timeout=60)
""")


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_caller_takes_its_workers_and_releases_its_pipes():
    proc = subprocess.Popen([sys.executable, "-c", CALLER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2 and not any(_gone(p) for p in pids)
    time.sleep(0.3)                                  # the worker is now inside time.sleep(60)
    proc.kill()
    out, err = proc.communicate(timeout=10)          # returns: no helper holds the caller's pipes
    deadline = time.time() + 2
    while time.time() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    assert all(_gone(p) for p in pids), pids


# ---- messages in the student's words (issue 9, item 10) ------------------------------------------
@pytest.mark.parametrize("problem,quantity,answer,words,internal", [
    ("problem1", "dL/dw1", "sqrt(-1) x", "the imaginary unit", "ImaginaryUnit"),
    ("problem2", "dz/dw0", "dz/dz x0", "dz/dz is 1", "no value for"),
])
def test_an_unevaluable_answer_is_explained_without_internal_names(problem, quantity, answer, words, internal):
    r = derive.check(problem, quantity, answer)
    assert r.verdict == "undecided" and words in r.feedback[0] and internal not in r.feedback[0], r


def test_a_constant_answer_is_told_it_is_constant_not_that_it_lacks_the_quantity():
    r = derive.check("problem1", "dL/dw1", "3")
    assert r.verdict == "incorrect"
    assert r.feedback == ("the answer is the constant 3, but dL/dw1 changes with the inputs",)
