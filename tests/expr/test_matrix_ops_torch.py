"""Each matrix operation against torch: the value, the vector-Jacobian product the engine writes
(pushed through rules.pull_back and evaluated), and the op's printed forms — text and LaTeX
read back, numpy and torch code run — at several sizes. torch is the oracle throughout."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")
F = torch.nn.functional

from derive.codegen.layout import helper_name, helper_source  # noqa: E402
from derive.codegen.printers import NumpyPrinter, TorchPrinter  # noqa: E402
from derive.engine.rules import pull_back  # noqa: E402
from derive.expr.numeric import evaluate  # noqa: E402
from derive.notation.build import Scope, read  # noqa: E402
from derive.notation.latex import latex  # noqa: E402
from derive.notation.text import text  # noqa: E402


def _col(f):
    """A 1-d torch op applied to a column vector (torch wants batch and channel axes)."""
    return lambda x, w=None, **kw: (f(x.T[None], w.T[None], **kw) if w is not None else f(x.T[None], **kw))[0].T


def _2d(f):
    return lambda x, k=None, **kw: (f(x[None, None], k[None, None], **kw) if k is not None
                                    else f(x[None, None], **kw))[0, 0]


def spd(a):
    """A well-conditioned matrix with a positive determinant (logdet's domain in torch)."""
    return a @ a.T + np.eye(a.shape[0])


# (answer text, operand shapes, torch function of the operands, operand preparation)
CASES = [
    ("softmax(Z, 1)", {"Z": (3, 5)}, lambda Z: torch.softmax(Z, 1), None),
    ("softmax(Z, axis=0)", {"Z": (4, 2)}, lambda Z: torch.softmax(Z, 0), None),
    ("softmax(Q K^T / 2, 1)", {"Q": (3, 4), "K": (5, 4)}, lambda Q, K: torch.softmax(Q @ K.T / 2, 1), None),
    ("log_softmax(Z, 1)", {"Z": (3, 6)}, lambda Z: torch.log_softmax(Z, 1), None),
    ("log_softmax(z)", {"z": (5, 1)}, lambda z: torch.log_softmax(z, 0), None),
    ("logsumexp(Z, 1)", {"Z": (4, 3)}, lambda Z: torch.logsumexp(Z, 1, keepdim=True), None),
    ("logsumexp(Z, axis=0)", {"Z": (4, 3)}, lambda Z: torch.logsumexp(Z, 0, keepdim=True), None),
    ("logsumexp(z)", {"z": (6, 1)}, lambda z: torch.logsumexp(z, (0, 1), keepdim=True), None),
    ("max(x)", {"x": (7, 1)}, lambda x: torch.max(x).reshape(1, 1), None),
    ("min(x)", {"x": (1, 5)}, lambda x: torch.min(x).reshape(1, 1), None),
    ("max(X, axis=1)", {"X": (4, 5)}, lambda X: torch.amax(X, 1, keepdim=True), None),
    ("min(D, axis=1)", {"D": (3, 6)}, lambda D: torch.amin(D, 1, keepdim=True), None),
    ("max(X, axis=0)", {"X": (4, 5)}, lambda X: torch.max(X, 0, keepdim=True).values, None),
    ("max(X)", {"X": (3, 4)}, lambda X: torch.max(X).reshape(1, 1), None),
    ("tr(A)", {"A": (4, 4)}, lambda A: torch.trace(A).reshape(1, 1), None),
    ("trace(A B)", {"A": (3, 5), "B": (5, 3)}, lambda A, B: torch.trace(A @ B).reshape(1, 1), None),
    ("det(A)", {"A": (3, 3)}, lambda A: torch.det(A).reshape(1, 1), None),
    ("det(A)", {"A": (5, 5)}, lambda A: torch.linalg.det(A).reshape(1, 1), None),
    ("logdet(A)", {"A": (4, 4)}, lambda A: torch.logdet(A).reshape(1, 1), spd),
    ("inv(A)", {"A": (3, 3)}, lambda A: torch.inverse(A), spd),
    ("A^(-1) B", {"A": (4, 4), "B": (4, 2)}, lambda A, B: torch.inverse(A) @ B, spd),
    ("x^T inv(A) x", {"A": (3, 3), "x": (3, 1)}, lambda A, x: x.T @ torch.inverse(A) @ x, spd),
    ("norm(A)", {"A": (3, 4)}, lambda A: torch.linalg.norm(A).reshape(1, 1), None),
    ("norm(x)", {"x": (5, 1)}, lambda x: torch.linalg.norm(x).reshape(1, 1), None),
    ("conv1d(x, w)", {"x": (9, 1), "w": (3, 1)}, _col(F.conv1d), None),
    ("conv1d(x, w, stride=2, padding=1)", {"x": (9, 1), "w": (3, 1)},
     lambda x, w: _col(F.conv1d)(x, w, stride=2, padding=1), None),
    ("conv1d(x, w)", {"x": (1, 8), "w": (1, 4)}, lambda x, w: F.conv1d(x[None], w[None])[0], None),
    ("conv2d(X, K)", {"X": (6, 7), "K": (3, 2)}, _2d(F.conv2d), None),
    ("conv2d(X, K, stride=2, padding=1)", {"X": (7, 9), "K": (3, 3)},
     lambda X, K: _2d(F.conv2d)(X, K, stride=2, padding=1), None),
    ("conv2d(X, K, stride_h=2, padding_w=1)", {"X": (7, 5), "K": (3, 2)},
     lambda X, K: _2d(F.conv2d)(X, K, stride=(2, 1), padding=(0, 1)), None),
    ("maxpool1d(x, 2)", {"x": (8, 1)}, lambda x: _col(F.max_pool1d)(x, kernel_size=2), None),
    ("maxpool2d(X, 2)", {"X": (6, 4)}, lambda X: _2d(F.max_pool2d)(X, kernel_size=2), None),
    ("maxpool2d(X, 2, 3)", {"X": (4, 9)}, lambda X: _2d(F.max_pool2d)(X, kernel_size=(2, 3)), None),
    ("maxpool2d(relu(conv2d(X, K)), 2)", {"X": (7, 7), "K": (2, 2)},
     lambda X, K: _2d(F.max_pool2d)(torch.relu(_2d(F.conv2d)(X, K)), kernel_size=2), None),
]


def _scope(shapes):
    return Scope(symbols={n: sp.MatrixSymbol(n, *s) for n, s in shapes.items()}, matrix_mode=True)


def _values(shapes, prepare, seed):
    rng = np.random.default_rng(seed)
    out = {n: rng.normal(size=s) for n, s in shapes.items()}
    if prepare is not None:
        out = {n: prepare(v) if v.shape[0] == v.shape[1] else v for n, v in out.items()}
    return out


def _torch(fn, values, upstream):
    ts = {n: torch.tensor(v, requires_grad=True) for n, v in values.items()}
    out = fn(*ts.values())
    (out * torch.tensor(upstream)).sum().backward()
    return out.detach().numpy(), {n: t.grad.numpy() for n, t in ts.items()}


@pytest.mark.parametrize("answer,shapes,fn,prepare", CASES, ids=[f"{c[0]} {list(c[1].values())}" for c in CASES])
def test_value_and_vjp_match_torch_autograd(answer, shapes, fn, prepare):
    expr = read(answer, _scope(shapes))
    for seed in (0, 1):
        values = _values(shapes, prepare, seed)
        upstream = np.random.default_rng(seed + 10).normal(size=tuple(int(d) for d in expr.shape))
        want, grads = _torch(fn, values, upstream)
        got = evaluate(expr, dict(values), {})
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        g = sp.MatrixSymbol("G", *expr.shape)
        leaves = pull_back(expr, g, frozenset(shapes))
        for name in shapes:
            vjp = evaluate(leaves[name][0], {**values, "G": upstream}, {})
            np.testing.assert_allclose(np.broadcast_to(vjp, values[name].shape), grads[name], rtol=1e-8, atol=1e-10,
                                       err_msg=f"d/d{name} of {answer}: {text(leaves[name][0])}")


@pytest.mark.parametrize("answer,shapes,fn,prepare", CASES, ids=[c[0] for c in CASES])
def test_printed_forms_read_back_and_run(answer, shapes, fn, prepare):
    """text and LaTeX read back to the same value; the numpy and torch code compute it too —
    for the op and for every VJP it writes (flip, dilate, unpool, argmax masks included)."""
    scope = _scope(shapes)
    expr = read(answer, scope)
    values = _values(shapes, prepare, 3)
    upstream = np.random.default_rng(4).normal(size=tuple(int(d) for d in expr.shape))
    g = sp.MatrixSymbol("G", *expr.shape)
    scope.symbols["G"] = g
    env = {**values, "G": upstream}
    forms = [expr] + [c for c, _ in pull_back(expr, g, frozenset(shapes)).values()]
    for e in forms:
        want = np.broadcast_to(evaluate(e, dict(env), {}), tuple(int(d) for d in e.shape))
        for shown, fmt in ((text(e), "text"), (latex(e), "latex")) if not e.has(sp.Identity) else ():
            back = evaluate(read(shown, scope, fmt), dict(env), {})
            np.testing.assert_allclose(np.broadcast_to(back, want.shape), want, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{fmt}: {shown}")
        for printer, values in ((NumpyPrinter, env), (TorchPrinter, {n: torch.tensor(v) for n, v in env.items()})):
            got, code = _run(printer, e, values)
            np.testing.assert_allclose(np.broadcast_to(np.asarray(got), want.shape), want, rtol=1e-9, atol=1e-12,
                                       err_msg=code)


def _run(printer_class, e, values):
    """The generated code of e, run with the helpers (softmax, relu') a generated module defines."""
    printer = printer_class(lambda n: n)
    code = printer.doprint(e)
    namespace = {"np": np, "torch": torch, **values}
    todo, done = list(printer.helpers), set()
    while todo:
        key = todo.pop()
        if key in done:
            continue
        done.add(key)
        body, deps = helper_source(key, "torch" if printer_class is TorchPrinter else "numpy", printer)
        exec(f"def {helper_name(*key)}(x):\n    {body}", namespace)  # noqa: S102 (our own generated code)
        todo += list(deps)
    return eval(code, namespace), code  # noqa: S307
