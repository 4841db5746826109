"""`derive code` for the matrix-operations set (bench/matrix_ops/): the numpy and torch modules
run their own gradient check (central finite differences) and pass it, at the fixed sizes that
make every convolution and pooling size whole."""
import importlib.util

import pytest
from bench_matrix_ops import problem_files

from derive.codegen.writer import code

FRAMEWORKS = ["numpy"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("path", problem_files(), ids=lambda p: p.stem)
def test_generated_module_passes_its_gradient_check(path, framework, capsys):
    namespace = {"__name__": "generated"}
    exec(compile(code(str(path), framework), str(path), "exec"), namespace)  # noqa: S102 (our generated module)
    assert namespace["main"]() == 0, capsys.readouterr().out


def test_fixed_sizes_are_written_where_sizes_are_expressions():
    text = code(str(next(p for p in problem_files() if p.stem == "conv1d-maxpool")), "numpy")
    assert "# fixed: every convolution and pooling size comes out whole" in text
