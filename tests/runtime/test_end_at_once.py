"""`derive check` ends without tearing the interpreter down: its output, exit code and helper
processes are as before; with another thread running it ends as usual."""
import json
import os
import subprocess
import sys
import threading

from derive.runtime import commandline

DERIVE = [sys.executable, "-m", "derive.cli"]


def _run(*args, stdin=None):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.run(DERIVE + list(args), capture_output=True, text=True, env=env, input=stdin, timeout=120)


def test_check_prints_everything_and_keeps_its_exit_codes():
    r = _run("check", "problem6", "drho/dW1", "delta2 x^T")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "correct" and "6 random points" in r.stdout
    r = _run("check", "problem6", "drho/dW1", "2 delta2 x^T")           # graded by a worker, stopped at exit
    assert r.returncode == 1 and "incorrect [constant_factor]" in r.stdout
    r = _run("check", "problem6", "drho/dW1", "delta2 x^T +")
    assert r.returncode == 2 and "invalid [syntax]" in r.stdout and r.stdout.splitlines()[1].strip() == "^"
    r = _run("check", "problem6", "drho/dW1", "delta2 x^T", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["verdict"] == "correct"
    r = _run("check", "problem6", "drho/dW1", "-", stdin="delta2 x^T\n")
    assert r.returncode == 0 and "correct" in r.stdout


def test_with_another_thread_it_returns_the_code(monkeypatch):
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert commandline.end_at_once(3) == 3            # not os._exit: the test process is still here
    finally:
        stop.set()
        t.join()
