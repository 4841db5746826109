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


def test_every_activations_derivatives_are_the_tables_and_come_back_from_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path))
    want = {(f, k): sy.activation_derivative(f, k) for f in sy.ACTIVATIONS for k in range(4)}
    for (f, k), w in want.items():
        assert numeric._activation_derivative.__wrapped__(f, k) == w
    monkeypatch.setattr(sy, "activation_derivative", lambda *a: (_ for _ in ()).throw(AssertionError("again")))
    for (f, k), w in want.items():
        assert sp.srepr(numeric._activation_derivative.__wrapped__(f, k)) == sp.srepr(w)


def test_a_shape_entry_has_the_size_substitution_gives():
    from derive.verify.instances import _size
    n, m = sp.Symbol("n", positive=True, integer=True), sp.Symbol("m", positive=True, integer=True)
    dims = {"n": 5, "m": 3}
    for x in (sp.Integer(4), n, (n - m) / 2 + 1, 2 * n, sp.Integer(1)):
        assert _size(x, dims) == int(sp.sympify(x).subs({v: dims[str(v)] for v in sp.sympify(x).free_symbols}))
