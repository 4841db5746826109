"""The computational graph as SVG: the same layout as the sheets' TikZ, well-formed, inert, readable."""
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from derive.cli import main
from derive.problem.load import catalogue, load
from derive.render import graph as gr
from derive.render import svg as sv

NS = "{http://www.w3.org/2000/svg}"
GOLDEN = Path(__file__).parent.parent / "golden"
PROBLEMS = [p for p in catalogue() if p.equations]


def boxes(doc):
    return [(float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
            for r in doc.iter(f"{NS}rect")]


@pytest.mark.parametrize("p", PROBLEMS, ids=[p.id for p in PROBLEMS])
def test_svg_is_inert_wellformed_and_has_one_box_per_node_inside_the_picture(p):
    text = sv.svg(p)
    doc = ET.fromstring(text)
    g = gr.build(p)
    rects = boxes(doc)
    assert len(rects) == len(g.nodes) and len(list(doc.iter(f"{NS}path"))) == len(g.edges) + 1  # + the arrow head
    for a, (x1, y1, w1, h1) in enumerate(rects):                       # no two nodes overlap
        for x2, y2, w2, h2 in rects[a + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
    dx, dy = map(float, doc.find(f"{NS}g").get("transform").removeprefix("translate(").rstrip(")").split())
    width, height = float(doc.get("width")), float(doc.get("height"))
    assert all(0 <= x + dx and x + w + dx <= width and 0 <= y + dy and y + h + dy <= height for x, y, w, h in rects)
    assert "<script" not in text and "href=" not in text.replace('url(#arrow)', '') and "on" + "load" not in text


def test_labels_read_as_the_problem_names_them():
    doc = ET.fromstring(sv.svg(load("problem6")))
    labels = ["".join(t.itertext()).replace("\u200b", "") for t in doc.iter(f"{NS}text")]
    assert {"W1", "x", "b1", "Z1", "H1", "σ", "ρ", "×", "+"} <= set(labels)
    subs = [t for t in doc.iter(f"{NS}tspan") if t.get("font-size")]
    assert {"1", "2", "3"} <= {t.text for t in subs}                   # W₁: the 1 is a subscript


@pytest.mark.parametrize("tex, runs", [
    (r"\frac{\partial \rho}{\partial W_{1}}", [("∂ρ/∂W", 0), ("1", -1)]),
    (r"(\cdot)^{\circ - \frac{1}{2}}", [("(·)", 0), ("∘-1/2", 1)]),
    (r"\hat{h}", [("h\u0302", 0)]),
    (r"\mathrm{output}_{\mathrm{size}}", [("output", 0), ("size", -1)]),
    (r"\sigma^{2}", [("σ", 0), ("2", 1)]),
    (r"\operatorname{ReLU}", [("ReLU", 0)]),
])
def test_label_runs(tex, runs):
    assert sv.label_runs(tex) == runs


def test_label_text_is_escaped():
    m = sv.label_markup(r"\mathrm{<script>}&")
    assert "<script>" not in m and "&lt;script&gt;" in m and "&amp;" in m


def test_svg_of_problem6_matches_golden():
    text = sv.svg(load("problem6"), title="Computational graph of two-hidden-deltas")
    assert text == (GOLDEN / "two-hidden-deltas.svg").read_text(encoding="utf-8")


def test_values_on_nodes_and_cli(tmp_path, capsys):
    out = tmp_path / "g.svg"
    assert main(["graph", "problem2", "--values", "--format", "svg", "-o", str(out)]) == 0
    doc = ET.fromstring(out.read_text())
    numbers = ["".join(t.itertext()) for t in doc.iter(f"{NS}text") if t.get("font-size") == "11"]
    assert "10.94" in numbers                         # x0: value 1, gradient 0.94 (seed 004 T1)
    capsys.readouterr()
    assert main(["graph", "problem6", "--format", "svg"]) == 0
    assert capsys.readouterr().out == (GOLDEN / "two-hidden-deltas.svg").read_text(encoding="utf-8")
