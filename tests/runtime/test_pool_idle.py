"""A worker that dies while idle is never handed a job: the next check gets a live worker."""
import os
import signal
import time

import derive


def test_a_worker_killed_while_idle_is_replaced_before_the_next_check():
    with derive.Checker(workers=1) as c:
        assert c.check("problem1", "dL/dw1", "x").verdict in ("correct", "incorrect")
        [victim] = c.pool.pids()
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.2)                                   # the process is gone; the pool has not used it since
        assert victim not in c.pool.pids()
        r = c.check("problem6", "drho/dW1", "delta2 x^T")
        assert r.verdict == "correct", r.feedback        # not undecided: the dead worker got no job
