"""Engine limits: every UnsupportedError a problem file can reach comes out of every command as one
`Error: ...` line naming the construct, with exit status 2 — never a traceback."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import derive
from derive.cli import main
from derive.errors import UnsupportedError
from derive.problem.load import load_file
from derive.render import graph as gr

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent.parent / "data" / "unsupported"

# file -> (quantity, words the message must contain); one file per `raise UnsupportedError` of the engine
CASES = {
    "matrix-jacobian.toml": ("dZ/dX", "Z is a h×m matrix; a Jacobian is derived between vectors"),
    "matrix-chain-jacobian.toml": ("dz/dx", "the chain from x to z passes through H, a n×n matrix"),
    "no-jacobian-rule.toml": ("dz/ds", "the engine has no Jacobian rule for DiagMatrix"),
    "vector-output.toml": ("dz2/dx", "z2 is a h×1 matrix, not a scalar, so it has no gradient"),
    "no-rule.toml": ("dL/dv", "the engine cannot differentiate DiagMatrix(v)"),
    "input-jacobian.toml": ("dx/dz", "x is an input"),
    "scalar-jacobian.toml": ("dz/dx", "a Jacobian is derived between vectors"),
}


def _run(*args):
    return subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_every_engine_limit_has_a_case():
    raises = 0
    for mod in ("rules.py", "backprop.py", "jacobian.py"):
        tree = ast.parse((ROOT / "derive" / "engine" / mod).read_text())
        raises += sum(1 for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.exc is not None
                      and isinstance(n.exc, ast.Call) and getattr(n.exc.func, "id", "") == "UnsupportedError")
    assert raises == len(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_engine_limit_is_one_error_line_with_exit_2(name, capsys):
    quantity, words = CASES[name]
    f = str(DATA / name)
    for args in (["solve", f], ["check", f, quantity, "x"], ["sheet", f], ["graph", f]):
        assert main(args) == 2, args          # an exception would fail the test with its traceback
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and err.count("\n") == 1 and words in err, (args, err)
    assert main(["validate", f]) == 2
    assert words in capsys.readouterr().out


def test_a_fresh_process_prints_no_traceback():
    proc = _run("solve", str(DATA / "matrix-chain-jacobian.toml"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("Error: dz/dx: ")


def test_the_library_raises_unsupported_error():
    with pytest.raises(UnsupportedError, match="the chain from x to z passes through H"):
        derive.solve(str(DATA / "matrix-chain-jacobian.toml"))
    with pytest.raises(UnsupportedError, match="the chain from x to z passes through H"):
        derive.check(str(DATA / "matrix-chain-jacobian.toml"), "dz/dx", "H")


def test_a_graph_of_an_unknown_operation_is_refused_with_a_message():
    p = load_file(DATA / "no-rule.toml")
    with pytest.raises(UnsupportedError, match="the graph has no node for DiagMatrix"):
        gr.build(p)
