"""Each matrix operation is a node of the computational graph, drawn in every format."""
from bench_matrix_ops import FOLDER

from derive.problem.load import load_file
from derive.render import graph


def test_ops_are_nodes_named_as_written():
    g = graph.build(load_file(FOLDER / "conv1d-maxpool.toml"))
    ops = {n.param for n in g.nodes if n.op == "matrixop"}
    assert ops == {"conv1d", "maxpool1d"}
    labels = {n.label for n in g.nodes if n.op == "matrixop"}
    assert labels == {r"\operatorname{conv1d}", r"\operatorname{maxpool1d}"}


def test_every_set_problem_draws(capsys):
    for name in ("attention-rows", "kmeans-min", "logdet", "norm", "conv2d-strided", "logsumexp-ce"):
        g = graph.build(load_file(FOLDER / f"{name}.toml"))
        assert any(n.op in ("matrixop", "softmax") for n in g.nodes), name
