"""How the matrix operations are written (issue 26): keywords, the inverse against the entrywise
reciprocal, the norm bars, max as a reduction beside max as an entrywise maximum, and the
messages for what does not fit. Values are compared numerically with numpy's own functions."""
import numpy as np
import pytest
import sympy as sp

from derive.errors import AnswerError
from derive.expr import conv_ops as cv
from derive.expr import matrix_ops as mo
from derive.expr.numeric import evaluate
from derive.notation.build import Builder, Scope, read
from derive.notation import parser as mp
from derive.notation.echo import tree_latex

SHAPES = {"A": (3, 3), "B": (3, 4), "Z": (4, 5), "x": (3, 1), "K": (2, 2)}
SCOPE = Scope(symbols={n: sp.MatrixSymbol(n, *s) for n, s in SHAPES.items()}, matrix_mode=True)
RNG = np.random.default_rng(7)
ENV = {n: RNG.normal(size=s) for n, s in SHAPES.items()}


def value(text, fmt="auto"):
    return evaluate(read(text, SCOPE, fmt), dict(ENV), {})


@pytest.mark.parametrize("text,fmt,want", [
    ("A^(-1)", "text", lambda e: np.linalg.inv(e["A"])),
    ("A^{-1}", "latex", lambda e: np.linalg.inv(e["A"])),
    ("inverse(A)", "text", lambda e: np.linalg.inv(e["A"])),
    (r"A^{-\top}", "latex", lambda e: np.linalg.inv(e["A"]).T),
    ("A^(-1)^T", "text", lambda e: np.linalg.inv(e["A"]).T),
    ("1/A", "text", lambda e: 1 / e["A"]),
    ("A^∘(-1)", "text", lambda e: 1 / e["A"]),
    (r"A^{\circ -1}", "latex", lambda e: 1 / e["A"]),
    (r"1 \oslash A", "latex", lambda e: 1 / e["A"]),
    ("B^(-1)", "text", lambda e: 1 / e["B"]),                     # not square: entrywise, as before
    (r"\|B\|_F", "latex", lambda e: np.linalg.norm(e["B"])),
    (r"\lVert x \rVert_2^2", "latex", lambda e: np.linalg.norm(e["x"]) ** 2),
    (r"\operatorname{tr}(A) + \det A", "latex", lambda e: np.trace(e["A"]) + np.linalg.det(e["A"])),
    ("softmax(Z, axis=1)", "text", lambda e: np.exp(e["Z"]) / np.exp(e["Z"]).sum(1, keepdims=True)),
    (r"\operatorname{softmax}\left(Z, \mathrm{axis}=0\right)", "latex",
     lambda e: np.exp(e["Z"]) / np.exp(e["Z"]).sum(0, keepdims=True)),
    ("sum(Z, axis=0)", "text", lambda e: e["Z"].sum(0, keepdims=True)),
    ("max(Z, axis=1)", "text", lambda e: e["Z"].max(1, keepdims=True)),
    ("max(x)", "text", lambda e: e["x"].max()),
    ("max(Z, 1)", "text", lambda e: np.maximum(e["Z"], 1)),          # two values: the entrywise maximum
    ("max(0, Z)", "text", lambda e: np.maximum(e["Z"], 0)),
    ("argmax(Z, axis=1)", "text", lambda e: np.eye(5)[e["Z"].argmax(1)]),
])
def test_reading(text, fmt, want):
    want = np.asarray(want(ENV))
    got = np.asarray(value(text, fmt))
    np.testing.assert_allclose(got.reshape(want.shape) if got.size == want.size else got, want, rtol=1e-10)


def test_the_inverse_is_said_in_the_feedback():
    b = Builder(SCOPE, "A^(-1)")
    assert isinstance(b.build(mp.parse("A^(-1)")), mo.Inverse)
    assert b.notes == ["read ^(-1) of a square matrix as its inverse (the entrywise reciprocal is 1/A or A^{∘-1})"]


def test_conv_keywords_per_axis():
    e = read("conv2d(Z, K, stride_h=1, padding_w=1)", SCOPE)
    assert isinstance(e, cv.Conv) and e.shape == (3, 6)


@pytest.mark.parametrize("text,message", [
    ("softmax(Z, 2)", "softmax takes an axis 0 or 1, not 2"),
    ("softmax(Z, axis=1, axis=0)", "softmax: a keyword is given twice"),
    ("log_softmax(Z)", "log_softmax of a 4×5 matrix needs its axis: log_softmax(Z, 1) runs along each row"),
    ("tr(B)", "tr takes a square matrix, not 3×4"),
    ("det(x)", "det takes a square matrix, not 3×1"),
    ("conv2d(Z, K, stride=0)", "conv2d: 0 must be a whole number of at least 1"),
    ("conv2d(Z, K, axis=1)", "conv2d takes padding, padding_h, padding_w, stride, stride_h, stride_w, not axis="),
    ("conv2d(Z, K, padding=2)", "conv2d: a padding of 2 is more than the kernel's size - 1 (1)"),
    ("conv1d(x, K)", "conv1d takes two vectors, both columns or both rows, not 3×1 and 2×2"),
    ("maxpool2d(x, 2)", "maxpool2d of 3×1 would be 3/2×1/2: its window, stride or padding does not fit"),
    ("tanh(Z, axis=1)", "tanh takes no keyword axis="),
    ("conv2d(Z, K, padding=99999999999999)", "conv2d: a stride, padding or window is a whole number up to 64"),
    ("maxpool2d(Z, 10^9)", "maxpool2d: a stride, padding or window is a whole number up to 64"),
    ("conv2d(Z, K, stride=x)", "conv2d: a stride, padding or window is a whole number or a dimension, not a 3×1"),
    ("norm(2)", "norm takes a matrix or a vector, not a scalar"),
])
def test_what_does_not_fit_is_said(text, message):
    with pytest.raises(AnswerError) as e:
        read(text, SCOPE)
    if message:
        assert e.value.message.startswith(message), e.value.message


def test_preview_shows_keywords_and_entrywise_powers():
    tree = mp.parse("conv2d(Z, K, stride_h=2) + A^∘(-1)", functions=SCOPE.callable_names())
    assert tree_latex(tree) == r"\operatorname{conv2d}\left(Z, K, \mathrm{stride\_h}=2\right) + A^{\circ -1}"   # upright, as on the sheet


def test_numpys_last_axis_of_a_matrix_is_axis_1():
    scope = Scope(symbols={"Z": sp.MatrixSymbol("Z", 3, 4)})
    for minus, plain in (("-1", "1"), ("-2", "0")):
        for fn in ("softmax", "sum", "mean"):
            assert read(f"{fn}(Z, {minus})", scope, "text") == read(f"{fn}(Z, {plain})", scope, "text"), fn
            assert read(f"np.{fn}(Z, axis={minus})", scope, "numpy") == read(f"np.{fn}(Z, axis={plain})", scope, "numpy")
    with pytest.raises(AnswerError, match=r"softmax takes a vector, not 3×4; write softmax\(·, 1\) for each row"):
        read("softmax(Z)", scope, "text")
