"""A stand-in's derivative is computed once and then read from the disk cache, equal to SymPy's."""
import sympy as sp

from derive.expr import functions as sy
from derive.expr import numeric


def test_a_stand_ins_derivative_comes_back_from_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path))
    body = sp.Float(0.7) * sp.tanh(sp.Float(1.3) * sy.x_ - sp.Float(0.2) / 2) + sp.Float(-0.9) / 3 * sy.x_
    want = sp.diff(body, sy.x_, 2)
    assert numeric._derivative.__wrapped__(body, 2) == want
    assert any((tmp_path / "derivative").rglob("*.pickle"))
    monkeypatch.setattr(sp, "diff", lambda *a: (_ for _ in ()).throw(AssertionError("differentiated again")))
    got = numeric._derivative.__wrapped__(body, 2)
    assert got == want and sp.srepr(got) == sp.srepr(want)
    other = body + sy.x_ / 7                       # another body is not mistaken for it
    monkeypatch.undo()
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path))
    assert numeric._derivative.__wrapped__(other, 2) == sp.diff(other, sy.x_, 2)


def test_without_a_cache_it_is_differentiated(monkeypatch):
    monkeypatch.setenv("DERIVE_CACHE", "off")
    body = sp.tanh(sy.x_) * 2
    assert numeric._derivative.__wrapped__(body, 1) == sp.diff(body, sy.x_, 1)
