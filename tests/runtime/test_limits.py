"""The limit on deriving and verifying a problem holds in any thread (limits.deadline): in the main
thread by an interval timer and the engine's checks, elsewhere (a server's worker thread, a
library user's thread pool) by the checks alone; nested limits, the tightest wins. The slow
problem is a deep generated MLP (bench/mlp.py): unbounded it takes seconds, so a TimeLimit at a
tiny limit is what proves the limit applied. Bounds are generous: a loaded 2-core machine."""
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from mlp import mlp_file

from derive import solve
from derive.grading.key import key_of
from derive.grading.reference import reference
from derive.problem.load import load_file
from derive.runtime import limits

TINY = 0.05          # seconds: the limit under test
BOUND = 2.0          # seconds: from the start of the work to the TimeLimit, on a loaded machine


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """A 40-layer MLP: about 4 s to solve on a quiet machine."""
    return mlp_file(40, 3, str(tmp_path_factory.mktemp("slow")))


def timed(fn, *args, **kw):
    """(the exception fn raised or None, seconds it ran)."""
    start = time.monotonic()
    try:
        fn(*args, **kw)
    except Exception as e:            # noqa: BLE001 (the test inspects it)
        return e, time.monotonic() - start
    return None, time.monotonic() - start


def in_thread(fn, *args, **kw):
    out = []
    t = threading.Thread(target=lambda: out.append(timed(fn, *args, **kw)))
    t.start()
    t.join(60)
    assert not t.is_alive(), "the work did not stop"
    return out[0]


def spin(seconds: float):
    """Pure-Python work that checks the deadline, for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        limits.check()


def assert_stopped(err, took, seconds, file=""):
    assert isinstance(err, limits.TimeLimit), repr(err)
    assert f"took longer than {seconds:g} s" in str(err) and err.file == file
    assert took < seconds + BOUND, took


# ---- a problem over the limit ------------------------------------------------------------------
def test_solve_stops_at_the_limit_in_a_thread(slow):
    err, took = in_thread(solve, slow, timeout=TINY)
    assert_stopped(err, took, TINY, str(slow))


def test_solve_stops_at_the_limit_in_a_thread_pool(slow):
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: timed(solve, slow, timeout=TINY), range(2)))
    for err, took in outs:
        assert_stopped(err, took, TINY, str(slow))


def test_solve_stops_at_the_limit_in_the_main_thread(slow):
    assert threading.current_thread() is threading.main_thread()
    err, took = timed(solve, slow, timeout=TINY)
    assert_stopped(err, took, TINY, str(slow))


def test_the_default_limit_applies_in_a_thread(slow, monkeypatch):
    monkeypatch.setattr(limits, "SOLVE_TIMEOUT", TINY)
    err, took = in_thread(solve, slow)
    assert_stopped(err, took, TINY, str(slow))


def test_a_workers_reference_is_derived_under_the_limit(slow, monkeypatch):
    """The checker's prepare phase (untimed per answer) derives the reference under the solve limit."""
    monkeypatch.setattr(limits, "SOLVE_TIMEOUT", TINY)
    err, took = in_thread(reference, key_of(load_file(slow)))
    assert_stopped(err, took, TINY, str(slow))


def test_a_problem_within_the_limit_is_solved_in_a_thread():
    err, _ = in_thread(solve, "problem1", timeout=60)
    assert err is None


# ---- the mechanism ---------------------------------------------------------------------------------
def test_threads_keep_their_own_deadlines():
    """A thread's tiny limit stops only that thread; the other's long limit lets it finish."""
    def work(seconds):
        with limits.deadline(seconds, f"limit-{seconds:g}"):
            spin(0.5)

    with ThreadPoolExecutor(2) as pool:
        tight, loose = pool.submit(timed, work, TINY), pool.submit(timed, work, 60)
        (err, took), (ok, _) = tight.result(), loose.result()
    assert_stopped(err, took, TINY, f"limit-{TINY:g}")
    assert ok is None


def test_a_swallowed_time_limit_is_raised_again_at_the_next_check():
    def work():
        with limits.deadline(TINY):
            try:
                spin(10)
            except Exception:          # noqa: BLE001 (the hostile pattern under test)
                pass
            limits.check()

    err, took = in_thread(work)
    assert_stopped(err, took, TINY)


@pytest.mark.parametrize("where", ["main", "thread"])
def test_nested_the_inner_tighter_limit_stops_and_the_outer_one_is_restored(where):
    def work():
        with limits.deadline(0.6, "outer"):
            start = time.monotonic()
            with pytest.raises(limits.TimeLimit, match=f"than {TINY:g} s") as inner:
                with limits.deadline(TINY, "inner"):
                    spin(10)
            assert inner.value.file == "inner" and time.monotonic() - start < BOUND
            limits.check()             # the outer limit is not reached yet
            spin(10)                   # ... and then it is

    err, took = timed(work) if where == "main" else in_thread(work)
    assert_stopped(err, took, 0.6, "outer")
    limits.check()                     # outside every block: no limit


@pytest.mark.parametrize("where", ["main", "thread"])
def test_nested_the_outer_tighter_limit_wins(where):
    def work():
        with limits.deadline(TINY, "outer"):
            with limits.deadline(60, "inner"):
                spin(10)

    err, took = timed(work) if where == "main" else in_thread(work)
    assert_stopped(err, took, TINY, "outer")


def test_leaving_an_inner_block_keeps_the_outer_limit():
    def work():
        with limits.deadline(0.3, "outer"):
            with limits.deadline(60, "inner"):
                pass
            spin(10)

    err, took = in_thread(work)
    assert_stopped(err, took, 0.3, "outer")


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no interval timers here")
def test_the_main_thread_timer_interrupts_work_that_never_checks():
    """Between checks (one long SymPy computation) the main thread's timer still interrupts;
    nested, the inner timer fires, the outer one is re-armed, and leaving restores the handler."""
    if signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0):
        pytest.skip("another interval timer is running (a test-runner timeout)")
    before = signal.getsignal(signal.SIGALRM)

    def busy():
        while True:
            pass

    with limits.deadline(30, "outer"):
        start = time.monotonic()
        with pytest.raises(limits.TimeLimit, match=f"than {TINY:g} s"):
            with limits.deadline(TINY, "inner"):
                busy()
        assert time.monotonic() - start < BOUND
        left, interval = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < left <= 30 and interval == 1.0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) is before
