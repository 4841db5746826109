"""Sizes for problems whose shapes are dimension expressions (conv2d's (H + 2 - k)/2 + 1,
maxpool's H/2): every instance makes them whole and positive, the two size families differ, and
a problem no sizes fit says so."""
import pytest
import sympy as sp
from bench_matrix_ops import FOLDER

from derive.errors import DeriveError, UnsupportedError
from derive.problem import load as problem_mod
from derive.problem.load import load_file
from derive.verify.instances import SIZES, dimension_expressions, instance


@pytest.mark.parametrize("name", ["conv2d-strided", "conv1d-maxpool", "maxpool2d-max", "conv2d"])
def test_every_instance_makes_the_sizes_whole_and_positive(name):
    p = load_file(FOLDER / f"{name}.toml")
    exprs = dimension_expressions(p)
    assert exprs
    seen = []
    for sizes in SIZES:
        inst = instance(p, 0, sizes)
        for e in exprs:
            v = e.xreplace({d: sp.Integer(n) for d, n in inst.dims.items()})
            assert v.is_Integer and v >= 1, (e, inst.dims)
        seen.append(tuple(inst.dims.values()))
    assert seen[0] != seen[1]


def test_a_size_that_is_never_whole_is_refused_where_written(tmp_path):
    data = {"id": "x", "title": "x", "dims": ["N"], "forward": ["L = sum(maxpool1d(x, 2))"],
            "output": "L", "symbols": {"x": ["2 * N + 1", 1]}, "quantities": ["dL/dx"]}
    with pytest.raises(DeriveError, match=r"maxpool1d of \(2\*N \+ 1\)×1 would be \(2\*N \+ 1\)/2×1"):
        problem_mod.build(data, tmp_path / "x.toml")


def test_no_fitting_sizes_is_an_error_that_says_why(tmp_path):
    data = {"id": "x", "title": "x", "dims": ["N"], "forward": ["y = maxpool1d(x, 4)", "u = maxpool1d(x, 7)",
                                                              "L = sum(y) + sum(u)"],
            "output": "L", "symbols": {"x": ["N", 1]}, "quantities": ["dL/dx"]}
    p = problem_mod.build(data, tmp_path / "x.toml")
    with pytest.raises(UnsupportedError, match=r"no sizes of N from 2 to 13 make .* whole and positive"):
        instance(p, 0)
