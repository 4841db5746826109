"""The computational graph of a problem's forward equations, laid out by depth, as TikZ or DOT
(SVG: render/svg.py, from the same layout).

Nodes are the problem's inputs and parameters (leaves), constants, operators, and the named
intermediates (an equation's name sits on the operator that computes it). Broadcasting by a
ones-vector is drawn as a plain edge. Layout: each node's level is its depth in the data flow
(a leaf sits one level before its first use); within a level, nodes are ordered by the
barycentre of their neighbours, then spread to a minimum distance. Plain pdflatex TikZ only.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from derive.notation import display as notation
from derive.notation import latex as pr
from derive.notation import text as tn
from derive.problem.load import Problem
from derive.render import typeset as ts
from derive.render.operators import decompose
from derive.render.templates import Tex, render_template

PARAMETER_PREFIXES = ("w", "W", "b", "gamma", "beta", "theta")


@dataclass(frozen=True)
class Node:
    id: str               # TikZ/DOT-safe name
    kind: str             # input | parameter | constant | op | intermediate | output
    name: str = ""        # the problem's name (leaves, intermediates, output)
    op: str = ""          # operator kind (see notation.OP_LABELS)
    param: object = None  # operator parameter (exponent, function name)
    level: int = 0
    pos: float = 0.0      # position across the levels
    value: float | None = None
    grad: float | None = None

    @property
    def label(self) -> str:
        """LaTeX shown inside the node."""
        if self.kind in ("op", "intermediate"):
            return Tex(ts.op_latex(self.op, self.param))
        if self.kind == "constant":
            return Tex(pr.latex(self.param))
        return Tex(pr.name_latex(self.name))

    @property
    def name_latex(self) -> str:
        return Tex(pr.name_latex(self.name) if self.name else "")

    def name_side(self, direction: str) -> str:
        """Where the name goes: above (left of a top-down graph); a long name leans away from
        its neighbours, left on even levels and right on odd ones, so adjacent names do not collide."""
        if direction != "right":
            return "left"
        if ts.visible_width(pr.name_latex(self.name)) <= 6:
            return "above"
        return "above left" if self.level % 2 == 0 else "above right"

    @property
    def text(self) -> str:
        """Plain-text label (Graphviz)."""
        if self.kind == "intermediate":
            return f"{self.name} ({ts.op_text(self.op, self.param)})"
        if self.kind == "op":
            return ts.op_text(self.op, self.param)
        if self.kind == "constant":
            return tn.text(self.param)
        return self.name

    value_latex = property(lambda self: Tex(ts.number_latex(self.value)))
    grad_latex = property(lambda self: Tex(ts.number_latex(self.grad)))


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    dashed: bool = False


@dataclass(frozen=True)
class Graph:
    problem_id: str
    nodes: tuple
    edges: tuple
    direction: str        # "right" (levels left to right) or "down" (levels top to bottom)
    numbers: bool = False
    levels: int = 0
    display: tuple = ()   # the problem's notation, (name, LaTeX) pairs: labels print in it

    def node(self, id_: str) -> Node:
        return next(n for n in self.nodes if n.id == id_)


def _leaf_kind(name: str) -> str:
    return "parameter" if name.startswith(PARAMETER_PREFIXES) and name not in ("x",) else "input"


# ---- building ------------------------------------------------------------------------------------
def build(problem: Problem, numbers: dict | None = None) -> Graph:
    """The graph of problem.equations; `numbers` maps node name -> (value, gradient) to annotate."""
    names = set(problem.inputs) | {e.name for e in problem.equations}
    nodes: dict[str, dict] = {}
    edges: list[tuple] = []
    counter = [0]

    def new(kind, **kw):
        counter[0] += 1
        nid = f"n{counter[0]}"
        nodes[nid] = dict(id=nid, kind=kind, **kw)
        return nid

    named: dict[str, str] = {}

    def ref(name):
        if name not in named:
            named[name] = new(_leaf_kind(name), name=name)
        return named[name]

    def walk(e, into=None):
        """Add the subtree of e; returns its node id (into: the id for the root, if named)."""
        kind, param, children = decompose(e, names)
        if kind == "ref" and into is None:
            return ref(param)
        if kind == "const":
            return new("constant", param=param)
        if kind == "ref":                         # an equation that just renames a node
            kind, param, children = "id", None, (e,)
        nid = into or new("op", op=kind, param=param)
        if into:
            nodes[nid].update(op=kind, param=param)
        for c in children:
            edges.append((walk(c), nid, False))
        return nid

    for eq in problem.equations:
        nid = new("intermediate", name=eq.name)
        named[eq.name] = nid
        walk(eq.expr, into=nid)
    if problem.output not in named:               # L given only through its gradient
        out = new("output", name=problem.output)
        for node in problem.given.values():
            edges.append((named[node], out, True))
        named[problem.output] = out
    for name in problem.inputs:                    # declared but unused inputs still appear
        ref(name)
    if numbers:
        for name, nid in named.items():
            if name in numbers:
                nodes[nid]["value"], nodes[nid]["grad"] = numbers[name]

    levels = _levels(nodes, edges)
    pos = _positions(nodes, edges, levels)
    depth = max(levels.values()) + 1
    direction = "right" if depth <= 9 else "down"
    built = tuple(Node(level=levels[n], pos=pos[n], **nodes[n]) for n in nodes)
    return Graph(problem.id, built, tuple(Edge(*e) for e in edges), direction, bool(numbers), depth,
                 display=tuple(problem.display.items()))


def _levels(nodes, edges) -> dict:
    preds: dict = {n: [] for n in nodes}
    succs: dict = {n: [] for n in nodes}
    for a, b, _ in edges:
        preds[b].append(a)
        succs[a].append(b)
    level: dict = {}

    def depth(n):
        if n not in level:
            level[n] = 0 if not preds[n] else 1 + max(depth(p) for p in preds[n])
        return level[n]
    for n in nodes:
        depth(n)
    for n in nodes:                                # a leaf sits just before its first use
        if not preds[n] and succs[n]:
            level[n] = max(0, min(level[s] for s in succs[n]) - 1)
    return level


def laid_out(graph: Graph, sweeps: int) -> Graph:
    """The same graph with its levels ordered by another number of barycentre sweeps (svg.drawn
    tries several for a drawing that crosses nothing); the operator tree is not built again."""
    edges = [(e.src, e.dst, e.dashed) for e in graph.edges]
    pos = _positions([n.id for n in graph.nodes], edges, {n.id: n.level for n in graph.nodes}, sweeps)
    return dataclasses.replace(graph, nodes=tuple(dataclasses.replace(n, pos=pos[n.id]) for n in graph.nodes))


def _positions(nodes, edges, levels, sweeps: int = 6) -> dict:
    """Cross positions (in units of one node distance): barycentre ordering, then spreading; a
    negative `sweeps` starts from each level's mirrored order (another layout to try)."""
    by_level: dict = {}
    for n in nodes:
        by_level.setdefault(levels[n], []).append(n)
    if sweeps < 0:
        sweeps, by_level = -sweeps, {lv: ns[::-1] for lv, ns in by_level.items()}
    nbrs: dict = {n: [] for n in nodes}
    for a, b, _ in edges:
        nbrs[a].append(b)
        nbrs[b].append(a)
    pos = {}
    for lv, ns in by_level.items():
        for i, n in enumerate(ns):
            pos[n] = i - (len(ns) - 1) / 2
    top = max(by_level)
    for sweep in range(sweeps):
        order = range(top + 1) if sweep % 2 == 0 else range(top, -1, -1)
        for lv in order:
            ns = by_level.get(lv, [])
            want = {n: (sum(pos[m] for m in nbrs[n]) / len(nbrs[n]) if nbrs[n] else pos[n]) for n in ns}
            ns.sort(key=lambda n: (want[n], pos[n]))
            placed = []
            for n in ns:                              # left to right, at least 1 apart
                x = want[n] if not placed else max(want[n], placed[-1] + 1)
                placed.append(x)
            for k in range(len(placed) - 2, -1, -1):  # pull back towards the wanted places
                placed[k] = min(placed[k], placed[k + 1] - 1)
            shift = sum(want[n] - x for n, x in zip(ns, placed)) / len(ns)
            for n, x in zip(ns, placed):
                pos[n] = x + shift
    lo = min(pos.values())
    return {n: round(p - lo, 3) for n, p in pos.items()}


# ---- numbers on the nodes ---------------------------------------------------------------------
def node_numbers(solution) -> dict:
    """name -> (forward value, gradient of the output or None) at the problem's given values."""
    p = solution.problem
    if solution.given is None:
        return {}
    env, full = solution.given.env, solution.given.full
    known = set(p.values)                  # a symbol left free (C channels) has no number to show
    for e in p.equations:
        if {str(s) for s in e.expr.free_symbols} & set(p.scope.symbols) <= known:
            known.add(e.name)
    out = {}
    for name in [n for n in list(p.inputs) + [e.name for e in p.equations] if n in known]:
        value = float(np.asarray(env[name]).reshape(-1)[0])
        if not p.asks_gradients:           # shapes, counts, formulas: no gradient to show
            grad = None
        elif name == p.output:
            grad = 1.0
        else:
            g = full.get(p.adjoint_names.get(name, ""))
            grad = float(np.asarray(g).reshape(-1)[0]) if g is not None else 0.0
        out[name] = (value, grad)
    return out


# ---- output ------------------------------------------------------------------------------------
def coordinates(graph: Graph, level_step: float | None = None, cross_step: float | None = None) -> dict:
    """node id -> (x, y) in cm, fitted to about 15 cm across the page."""
    right = graph.direction == "right"
    span = max(1, graph.levels - 1)
    max_pos = max((n.pos for n in graph.nodes), default=0) or 1
    if level_step is None:
        level_step = min(2.2, 14.5 / span) if right else 1.1
    if cross_step is None:
        cross_step = (1.35 if not graph.numbers else 2.0) if right else min(2.6, 14.0 / max_pos)
    out = {}
    for n in graph.nodes:
        if right:
            out[n.id] = (round(n.level * level_step, 3), round(-n.pos * cross_step, 3))
        else:
            out[n.id] = (round(n.pos * cross_step, 3), round(-n.level * level_step, 3))
    return out


def controls(a, b, bend: float) -> tuple:
    """The two control points of TikZ's `to[bend left=bend]` from a to b (a cubic, looseness 1)."""
    (ax, ay), (bx, by) = a, b
    length = math.hypot(bx - ax, by - ay)
    phi = math.atan2(by - ay, bx - ax)
    t = math.radians(bend)
    k = 0.3915 * length
    return ((ax + k * math.cos(phi + t), ay + k * math.sin(phi + t)),
            (bx + k * math.cos(phi + math.pi - t), by + k * math.sin(phi + math.pi - t)))


def _curve(a, b, bend: float, samples: int = 16) -> list:
    """Points along the bent edge from a to b."""
    (ax, ay), (bx, by) = a, b
    p1, p2 = controls(a, b, bend)
    out = []
    for i in range(1, samples):
        u = i / samples
        c = ((1 - u) ** 3, 3 * (1 - u) ** 2 * u, 3 * (1 - u) * u ** 2, u ** 3)
        out.append((c[0] * ax + c[1] * p1[0] + c[2] * p2[0] + c[3] * bx,
                    c[0] * ay + c[1] * p1[1] + c[2] * p2[1] + c[3] * by))
    return out


def routes(graph: Graph, xy: dict, clearance: float = 0.55) -> list:
    """One bend angle per edge (0: straight): an edge that would pass through another node
    bends around it, to the side and by the angle that clears the most nodes."""
    def hits(points, skip):
        return sum(1 for nid, (x, y) in xy.items() if nid not in skip
                   for px, py in points if abs(px - x) < clearance + 0.25 and abs(py - y) < clearance)
    out = []
    for e in graph.edges:
        a, b = xy[e.src], xy[e.dst]
        skip = {e.src, e.dst}
        best = (hits(_curve(a, b, 0), skip), 0)
        if best[0]:
            for bend in (20, -20, 30, -30, 45, -45):
                h = hits(_curve(a, b, bend), skip)
                if h < best[0]:
                    best = (h, bend)
        out.append(best[1])
    return out


def tikz(problem_or_graph, numbers: dict | None = None, bends: list | None = None) -> str:
    """The graph as a tikzpicture (templates/graph.tikz.j2); `bends` as the SVG layout chose them
    (svg.bends: clear of labels too), else routes()."""
    g = problem_or_graph if isinstance(problem_or_graph, Graph) else build(problem_or_graph, numbers)
    xy = coordinates(g)
    edges = []
    for e, bend in zip(g.edges, bends or routes(g, xy)):
        c = [round(v, 3) for point in controls(xy[e.src], xy[e.dst], bend) for v in point] if bend else None
        edges.append((e, bend, c))
    with notation.using(dict(g.display)):
        return render_template("graph.tikz.j2", graph=g, xy=xy, edges=edges)


def dot(problem_or_graph, numbers: dict | None = None) -> str:
    """The graph in Graphviz DOT (templates/graph.dot.j2)."""
    g = problem_or_graph if isinstance(problem_or_graph, Graph) else build(problem_or_graph, numbers)
    return render_template("graph.dot.j2", graph=g, escape=False)
