"""Computational graphs: structure from the forward equations, layout by depth, TikZ and DOT."""
from __future__ import annotations

import math

import pytest

from derive.cli import main
from derive.problem import catalogue, load
from derive.render import graph as gr
from derive.render.sheet import resolve

PROBLEMS = [p for p in catalogue() if p.equations]     # prose-only problems have no graph


@pytest.mark.parametrize("p", PROBLEMS, ids=[p.id for p in PROBLEMS])
def test_every_input_and_equation_is_a_node_and_edges_flow_forward(p):
    g = gr.build(p)
    names = {n.name for n in g.nodes if n.name}
    assert set(p.inputs) <= names and {e.name for e in p.equations} <= names
    for e in g.edges:
        assert g.node(e.src).level < g.node(e.dst).level, (e, g.node(e.src), g.node(e.dst))
    kinds = {n.kind for n in g.nodes}
    assert "intermediate" in kinds and kinds & {"input", "parameter"}


@pytest.mark.parametrize("p", PROBLEMS, ids=[p.id for p in PROBLEMS])
def test_nodes_do_not_overlap(p):
    g = gr.build(p)
    xy = gr.coordinates(g)
    pts = list(xy.values())
    for i, a in enumerate(pts):
        for b in pts[i + 1:]:
            assert math.dist(a, b) >= 0.9, (a, b)
    xs = [x for x, _ in pts]
    assert max(xs) - min(xs) <= 15.5                     # fits the text width


def test_residual_graph_structure():
    g = gr.build(load("problem2"))
    by_name = {n.name: n for n in g.nodes if n.name}
    assert by_name["u0"].op == "mul" and by_name["z"].op == "fn" and by_name["z"].param == "relu"
    assert by_name["w0"].kind == "parameter" and by_name["x0"].kind == "input"
    into_v1 = {g.node(e.src).name for e in g.edges if e.dst == by_name["v1"].id}
    assert into_v1 == {"x0", "y1"}                        # the residual connection
    assert by_name["x0"].level == 0 and by_name["z"].level == max(n.level for n in g.nodes)


def test_broadcast_and_mean_in_batchnorm():
    g = gr.build(load("problem5"))
    ops = {n.op for n in g.nodes if n.kind in ("op", "intermediate")}
    assert {"mean", "sub", "hpow", "hadamard", "matmul", "add"} <= ops
    assert not any(n.kind == "constant" for n in g.nodes)  # 1_N b is an edge, not a node
    assert any(n.kind == "output" and n.name == "L" for n in g.nodes)


def test_values_and_gradients_on_nodes():
    sol = resolve(["problem2"])[0]
    numbers = gr.node_numbers(sol)
    assert numbers["z"] == pytest.approx((0.62, 1.0))
    assert numbers["u1"][0] == pytest.approx(-0.08)
    assert numbers["w0"][1] == pytest.approx(-0.2) and numbers["x0"][1] == pytest.approx(0.94)
    tikz = gr.tikz(sol.problem, numbers)
    assert r"\color{fwdcolor}0.62" in tikz and r"\color{bwdcolor}0.94" in tikz


@pytest.mark.parametrize("p", PROBLEMS, ids=[p.id for p in PROBLEMS])
def test_tikz_is_plain_pdflatex(p):
    t = gr.tikz(p)
    assert t.startswith(r"\begin{tikzpicture}") and t.rstrip().endswith(r"\end{tikzpicture}")
    assert "graphdrawing" not in t and "\\usegdlibrary" not in t
    assert t.count(r"\node[") == len(gr.build(p).nodes)


def test_long_edges_bend_around_nodes():
    g = gr.build(load("problem2"))
    xy = gr.coordinates(g)
    bends = dict(zip([(e.src, e.dst) for e in g.edges], gr.routes(g, xy)))
    by_name = {n.name: n.id for n in g.nodes if n.name}
    assert bends[(by_name["x0"], by_name["v1"])] != 0     # skips over y0, x1, y1


def test_dot_output():
    d = gr.dot(load("problem6"))
    assert d.startswith('digraph "two-hidden-deltas"') and d.rstrip().endswith("}")
    assert "->" in d and "rankdir=" in d and "\\VAR" not in d


def test_cli_graph(capsys, tmp_path):
    assert main(["graph", "problem2", "--values"]) == 0
    assert r"\begin{tikzpicture}" in capsys.readouterr().out
    out = tmp_path / "g.dot"
    assert main(["graph", "problem6", "--format", "dot", "-o", str(out)]) == 0
    assert out.read_text().startswith("digraph")
    assert main(["graph", "nosuch"]) == 2
    assert capsys.readouterr().err.startswith("Error: unknown problem")


def test_a_prose_only_problem_has_no_graph_and_says_so(capsys):
    from derive.cli import main
    assert main(["graph", "relu-piecewise-linear"]) == 2
    err = capsys.readouterr().err
    assert "no forward equations" in err and "Traceback" not in err
