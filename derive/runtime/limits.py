"""A wall-clock limit for trusted-but-unknown work: deriving and verifying a problem file.

A problem file's expressions are bounded by the parser (length, depth, chain height, digits)
and schema.py (equations, dimensions), but a short file can still ask for a closed form whose
size doubles with every equation. The limit holds in any thread: `deadline` records its end
for the current thread and the engine's loops (per equation, per node, per simplifier
candidate, per numeric point) call `check`, which raises TimeLimit once it has passed; an
`except Exception` that swallows one meets the next at the next check. In the main thread an
interval timer also interrupts pure-Python work between checks (re-firing every second). One
SymPy call (factor, cancel) cannot be interrupted from another thread, but the simplifier only
hands it bounded expressions (closed.MAX_OPERANDS, 40 terms).
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass
from time import monotonic as _monotonic

from derive.errors import ProblemSpecError

CHECK_TIMEOUT = 2.0           # seconds of wall clock per check (derive check, derive grade)
SOLVE_TIMEOUT = 30.0          # seconds to derive and verify one problem (the catalogue takes 0.3 s)


class TimeLimit(ProblemSpecError):
    """Deriving or verifying a problem file took longer than its limit."""


@dataclass(frozen=True)
class _Limit:
    end: float                # time.monotonic() at which it expires
    seconds: float
    file: str
    timer: bool = False       # the main thread's interval timer is ours (armed for the tightest limit)


class _State(threading.local):
    limit: _Limit | None = None
    end: float = math.inf            # limit.end, read by check() without an attribute chain


_state = _State()


def _error(limit: _Limit) -> TimeLimit:
    return TimeLimit(f"deriving and verifying took longer than {limit.seconds:g} s and was stopped; the "
                     "problem is too large (fewer or simpler forward equations)", file=limit.file)


def check() -> None:
    """Raise TimeLimit if the current thread's deadline has passed (cheap: call it in loops)."""
    if _monotonic() >= _state.end:
        raise _error(_state.limit)


def _expired(signum, frame):
    limit = _state.limit                 # the handler runs in the main thread
    if limit is None:                    # the block was just left: nothing to stop
        return
    if time.monotonic() < limit.end:     # an inner block's signal, arriving just after it was left
        _arm(limit)
        return
    raise _error(limit)


def _arm(limit: _Limit) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(limit.end - time.monotonic(), 1e-4), 1.0)


@contextlib.contextmanager
def deadline(seconds: float, file: str = ""):
    """Raise TimeLimit (naming the file) if the block runs longer than `seconds`, in any thread.
    Nested blocks: the tightest limit applies; leaving a block restores the one outside it."""
    outer = _state.limit
    end = time.monotonic() + seconds
    if outer is not None and outer.end <= end:
        yield                            # the outer limit is tighter and stays in force
        return
    main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    # the timer is ours to set if an outer deadline armed it or nobody else (a test runner) did
    owned = main and (outer.timer if outer is not None else signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))
    limit = _Limit(end, seconds, file, owned)
    previous = signal.signal(signal.SIGALRM, _expired) if owned and outer is None else None
    _state.limit, _state.end = limit, end
    try:
        if owned:
            _arm(limit)
        yield
    finally:
        _state.limit, _state.end = outer, outer.end if outer is not None else math.inf  # first: see _expired
        if owned and outer is not None:
            _arm(outer)
        elif owned:
            signal.setitimer(signal.ITIMER_REAL, 0, 0)
            signal.signal(signal.SIGALRM, previous)
