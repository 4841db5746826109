"""An edited problem file is used by the next check, in one process (issue 19's bug), and a warm
check does no path work beyond one look at the file."""
import os
import time

import pytest

import derive

SOURCE = '''id = "edit-me"
title = "An edited problem"
symbols = { x = "scalar", K = "scalar" }
forward = ["y = K * x"]
quantities = [{ name = "dy/dx" }]
'''


def _edit(f, text, replace=False):
    if replace:                                   # as editors save: a new file renamed over the old
        tmp = f.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, f)
    else:
        f.write_text(text)
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))


@pytest.mark.parametrize("replace", [False, True], ids=["in place", "renamed over"])
def test_derive_check_uses_the_edited_file(tmp_path, replace):
    d = tmp_path / "problems"
    d.mkdir()
    f = d / "edit-me.toml"
    f.write_text(SOURCE)
    assert derive.check("edit-me", "dy/dx", "K", extra=(d,)).verdict == "correct"
    _edit(f, SOURCE.replace("y = K * x", "y = 2 * K * x"), replace)
    assert derive.check("edit-me", "dy/dx", "K", extra=(d,)).verdict == "incorrect"
    assert derive.check("edit-me", "dy/dx", "2*K", extra=(d,)).verdict == "correct"


@pytest.mark.parametrize("replace", [False, True], ids=["in place", "renamed over"])
def test_a_checker_uses_the_edited_file(tmp_path, replace):
    f = tmp_path / "edit-me.toml"
    f.write_text(SOURCE)
    with derive.Checker(problems=[tmp_path]) as c:
        assert c.check("edit-me", "dy/dx", "K").verdict == "correct"
        _edit(f, SOURCE.replace("y = K * x", "y = 2 * K * x"), replace)
        assert c.check("edit-me", "dy/dx", "K").verdict == "incorrect"
        assert c.check("edit-me", "dy/dx", "2*K").verdict == "correct"
        assert c.solve("edit-me").problem.equations[0].text == "y = 2 * K * x"


def test_a_renamed_id_is_looked_up_again(tmp_path):
    f = tmp_path / "edit-me.toml"
    f.write_text(SOURCE)
    with derive.Checker(problems=[tmp_path]) as c:
        assert c.check("edit-me", "dy/dx", "K").verdict == "correct"
        _edit(f, SOURCE.replace('id = "edit-me"', 'id = "edited"'))
        with pytest.raises(derive.UnknownError, match="unknown problem 'edit-me'"):
            c.check("edit-me", "dy/dx", "K")
        assert c.check("edited", "dy/dx", "K").verdict == "correct"


def test_a_warm_check_looks_at_the_file_once(tmp_path, monkeypatch):
    with derive.Checker() as c:
        assert c.check("problem6", "drho/dW1", "delta2 x^T").verdict == "correct"
        calls = []
        real = os.stat
        monkeypatch.setattr(os, "stat", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
        for _ in range(5):
            assert c.check("problem6", "drho/dW1", "delta2 x^T").verdict == "correct"
        assert len(calls) <= 5 + 2, calls          # one per check, and the folders at most once a second
