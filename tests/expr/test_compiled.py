"""Compiled evaluation gives the walker's values to the last bit, and its errors at the same time."""
import numpy as np
import pytest
import sympy as sp

from derive.engine.backprop import derive
from derive.errors import EvalError
from derive.expr import compiled, numeric
from derive.expr import functions as sy
from derive.problem.load import catalogue
from derive.verify import instances as V


def _same(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("p", catalogue(), ids=lambda p: p.id)
def test_every_value_of_the_catalogue_is_the_walkers(p):
    if not p.equations:
        return
    d = derive(p)
    for seed in (1, 2):
        inst = V.instance(p, seed)
        env = dict(inst.env)
        for eq in p.equations:
            want = numeric.evaluate(eq.expr, env, inst.dims, inst.functions)
            got = compiled.evaluate(eq.expr, env, inst.dims, inst.functions)
            _same(got, want)
            env[eq.name] = want if isinstance(want, np.ndarray) or not p.scope.matrix_mode else np.array([[want]])
        full = V.adjoint_values(d, inst, env)
        for _, (symbol, _, closed) in d.adjoints.items():
            _same(compiled.evaluate(closed, full, inst.dims, inst.functions),
                  numeric.evaluate(closed, full, inst.dims, inst.functions))
        for r in d.results:
            try:
                want = numeric.evaluate(r.closed, full, inst.dims, inst.functions)
            except EvalError as e:
                with pytest.raises(EvalError, match=str(e)[:30]):
                    compiled.evaluate(r.closed, full, inst.dims, inst.functions)
                continue
            _same(compiled.evaluate(r.closed, full, inst.dims, inst.functions), want)


def test_every_construct_the_walker_knows_is_compiled():
    walker = {name[1:] for name in vars(numeric.Evaluator) if name[:2] != "__" and name[0] == "_" and name[1].isupper()
              or name[1:] in ("exp", "log", "tanh", "cosh", "sinh", "sech", "csch", "coth", "asinh", "acosh",
                              "atanh", "acoth", "floor", "ceiling", "sign")}
    assert walker <= set(compiled._RULES), walker - set(compiled._RULES)


def test_a_construct_without_values_fails_only_when_evaluated():
    x = sp.Symbol("x", real=True)
    e = sp.Piecewise((x, x > 0), (sp.Integral(x, x), True))
    assert compiled.evaluate(e, {"x": 2.0}, {}) == 2.0
    with pytest.raises(EvalError, match="an integral"):
        compiled.evaluate(e, {"x": -2.0}, {})
    with pytest.raises(EvalError, match="no value"):
        compiled.evaluate(x + sp.Symbol("w99"), {"x": 1.0}, {})


def test_a_stand_in_function_is_the_instances():
    x = sp.Symbol("x", real=True)
    e = sy.Fn("f1", 1, x) + sy.Fn("sigma", 0, x)
    funcs = {"f1": sp.tanh(sy.x_) * sp.exp(-sy.x_)}
    for v in (0.3, -1.7):
        assert compiled.evaluate(e, {"x": v}, {}, funcs) == numeric.evaluate(e, {"x": v}, {}, funcs)


def test_sympys_own_functions_and_constants_have_the_walkers_values():
    x = sp.Symbol("x", real=True)
    for e in (sp.exp(x), sp.Heaviside(x), sp.E * x, sp.cosh(x) + sp.Abs(x)):
        assert compiled.evaluate(e, {"x": 0.7}, {}) == numeric.evaluate(e, {"x": 0.7}, {})


def test_one_compiled_expression_follows_each_contexts_stand_in():
    """The compiled body of f1 is remembered per stand-in: alternating stand-ins (and a context
    without one, which has no value) each give their own value."""
    x = sp.Symbol("x", real=True)
    e = sy.Fn("f1", 1, x) * 2
    a, b = {"f1": sp.tanh(sy.x_)}, {"f1": sp.exp(sy.x_) / 3}
    for funcs in (a, b, a, {"f1": sp.tanh(sy.x_) * 1}, b):
        assert compiled.evaluate(e, {"x": 0.4}, {}, funcs) == numeric.evaluate(e, {"x": 0.4}, {}, funcs)
    with pytest.raises(EvalError, match="no values for function f1"):
        compiled.evaluate(e, {"x": 0.4}, {}, {})
    assert compiled.evaluate(e, {"x": 0.4}, {}, a) == numeric.evaluate(e, {"x": 0.4}, {}, a)


def test_norm_and_rel_error_are_numpys_to_the_bit():
    rng = np.random.default_rng(3)
    cases = [rng.standard_normal((3, 4)), rng.standard_normal((5, 1)) * 1e200, np.array(2.5), np.zeros((2, 2)),
             np.array([[np.nan, 1.0]]), np.array([[np.inf, 1.0]]), rng.standard_normal((7, 2)).T]
    for a in cases:
        assert np.array_equal(numeric.norm(np.asarray(a, dtype=float)), np.linalg.norm(a), equal_nan=True)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    assert numeric.rel_error(a, b) == float(np.linalg.norm(a - b) / scale)


def test_a_product_of_two_is_matrix_product():
    W, x = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1)
    a = sp.Symbol("a", real=True)
    env = {"W": np.arange(6.0).reshape(2, 3), "x": np.ones((3, 1)), "a": 2.0}
    for e in (sp.MatMul(W, x), sp.MatMul(a, W), sp.MatMul(W.T, W)):
        _same(compiled.evaluate(e, env, {}), numeric.evaluate(e, env, {}))


class _ReadOnly(dict):
    """An env that fails on any write: a reference's point is shared by every checking thread."""

    def __setitem__(self, k, v):
        raise AssertionError(f"wrote {k} into a shared env")

    def pop(self, *a):
        raise AssertionError("popped from a shared env")


def test_evaluating_a_function_application_never_writes_into_env():
    x = sp.Symbol("x", real=True)
    W = sp.MatrixSymbol("W", 2, 2)
    env = _ReadOnly({"x": 0.3, "W": np.array([[0.1, -0.4], [0.7, 0.2]])})
    funcs = {"f1": sp.tanh(sy.x_) * 2}
    for e in (sy.Fn("sigma", 1, x) * sy.Fn("f1", 2, x), sy.Fn("relu", 0, sy.Fn("sigma", 0, x)),
              sy.apply("sigma", 1, W)):
        _same(compiled.evaluate(e, env, {}, funcs), numeric.evaluate(e, env, {}, funcs))


def test_an_answer_is_compiled_once_per_value_and_evaluated_in_each_context():
    x, W = sp.MatrixSymbol("x", sp.Symbol("d"), 1), sp.MatrixSymbol("W", 2, sp.Symbol("d"))
    first, again = sp.MatMul(W, x), sp.MatMul(W, x)           # equal, not the same object
    fn = compiled.once(first)
    assert compiled.once(again) is fn
    for d in (3, 5):                                         # two problems' sizes, one compiled answer
        env = {"W": np.arange(2.0 * d).reshape(2, d), "x": np.ones((d, 1))}
        _same(compiled.run_once(fn, env, {"d": d}), numeric.evaluate(first, env, {"d": d}))


def test_a_large_answer_is_not_kept_and_the_kept_ones_are_bounded():
    x = sp.Symbol("x", real=True)
    large = sum(sp.tanh(k * x) for k in range(1, compiled.ANSWER_NODES + 2))
    assert compiled.once(large) is not compiled.once(large)
    for k in range(compiled.ANSWERS + 10):
        compiled.once(x + k)
    assert len(compiled._answers) <= compiled.ANSWERS


def test_rel_error_with_the_references_norm_is_rel_error():
    rng = np.random.default_rng(5)
    for a, b in [(rng.standard_normal((3, 2)), rng.standard_normal((3, 2))), (np.zeros((2, 1)), np.zeros((2, 1))),
                 (np.array([[np.inf, 1.0]]), np.array([[2.0, 1.0]])), (np.array([[np.nan]]), np.array([[1.0]]))]:
        with np.errstate(all="ignore"):                     # (as decide evaluates)
            assert np.array_equal(numeric.rel_error(a, b, numeric.norm(b)), numeric.rel_error(a, b), equal_nan=True)
