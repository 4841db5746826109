"""A wall-clock limit for trusted-but-unknown work: deriving and verifying a problem file.

A problem file's expressions are bounded by the parser (length, depth, chain height, digits)
and schema.py (equations, dimensions), but a short file can still ask for a closed form whose
size doubles with every equation. That work is pure Python (SymPy), so an interval timer
interrupts it; the timer re-fires every second in case some `except Exception` swallows the
first interruption. Only the main thread can take signals: elsewhere (a web server's worker
thread) the limit is not applied, and the caller bounds the work by other means.
"""
from __future__ import annotations

import contextlib
import signal
import threading

from .errors import ProblemSpecError

SOLVE_TIMEOUT = 30.0          # seconds to derive and verify one problem (the catalogue takes 0.3 s)


class TimeLimit(ProblemSpecError):
    """Deriving or verifying a problem file took longer than its limit."""


@contextlib.contextmanager
def deadline(seconds: float, file: str = ""):
    """Raise TimeLimit (naming the file) if the block runs longer than `seconds`."""
    usable = (threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
              and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise TimeLimit(f"deriving and verifying took longer than {seconds:g} s and was stopped; the "
                        "problem is too large (fewer or simpler forward equations)", file=file)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
