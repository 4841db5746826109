"""The computational graph as a standalone SVG, from the layout the sheets' TikZ uses.

Coordinates, edge bends and node kinds come from graph.py; labels are the same LaTeX the
sheets print, turned into Unicode text with sub- and superscripts (a small converter for the
handful of commands node labels use: Greek letters, \\frac, \\mathrm, \\odot, ^{\\top}). The SVG has
no scripts, no external references and no styles beyond presentation attributes, so it can be
shown as an <img>. The markup lives in templates/graph.svg.j2 (XML-escaped by jinja2).
"""
from __future__ import annotations

import functools
import math
import re

import jinja2
import markupsafe

from derive.expr import functions as fns
from derive.notation import display as notation
from derive.render import graph as gr
from derive.render.templates import templates_dir

PX_PER_CM = 46
MARGIN = 34
CHAR_PX = 7.6            # average glyph width of the 13 px label font
NODE_HEIGHT = 24

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "theta": "θ",
          "lambda": "λ", "mu": "μ", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "Sigma": "Σ", "Delta": "Δ"}
_SYMBOLS = {"partial": "∂", "odot": "⊙", "times": "×", "cdot": "·", "circ": "∘", "top": "⊤", ",": "\u2009",
            "_": "_", "sum": "Σ", "infty": "∞", "color": ""}     # and the function table's commands (\tanh)
_WRAPPERS = {"mathrm", "operatorname", "text", "mathbf", "mathit"}
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([{}^_])|([^\\{}^_]+)")


def label_runs(tex: str) -> list[tuple[str, int]]:
    """Node-label LaTeX -> [(text, level)]: level 0 on the line, -1 subscript, +1 superscript."""
    tokens = [(m[1], m[2], m[3]) for m in _TOKEN.finditer(tex)]
    out: list = []

    def emit(s, level):
        if s:
            if out and out[-1][1] == level:
                out[-1] = (out[-1][0] + s, level)
            else:
                out.append((s, level))

    def group(i, level):
        """One argument (a braced group or a single token) from tokens[i]; returns the next index."""
        if i < len(tokens) and tokens[i][1] == "{":
            i += 1
            while i < len(tokens) and tokens[i][1] != "}":
                i = item(i, level)
            return i + 1
        return item(i, level) if i < len(tokens) else i

    def item(i, level):
        cmd, punct, text = tokens[i]
        if text is not None:
            emit(text.replace(" ", ""), level)
            return i + 1
        if punct in ("_", "^"):
            return group(i + 1, max(-1, min(1, level + (-1 if punct == "_" else 1))))
        if punct == "{":
            return group(i, level)
        if punct == "}":
            return i + 1
        if cmd == "frac":
            i = group(i + 1, level)
            emit("/", level)
            return group(i, level)
        if cmd == "hat":
            start = len("".join(s for s, _ in out))
            i = group(i + 1, level)
            if "".join(s for s, _ in out)[start:]:
                emit("\u0302", level)
            return i
        if cmd in _WRAPPERS:
            return group(i + 1, level)
        emit(_GREEK.get(cmd, _SYMBOLS[cmd] if cmd in _SYMBOLS else fns.svg_words().get(cmd, cmd)), level)
        return i + 1

    i = 0
    while i < len(tokens):
        i = item(i, 0)
    return out


def label_markup(tex: str, font_px: float = 13) -> markupsafe.Markup:
    """SVG <tspan>s for a label; every piece of text is XML-escaped."""
    parts, at = [], 0
    for text, level in label_runs(tex):
        shift = -level * round(font_px * 0.35)
        size = f' font-size="{round(font_px * 0.75)}"' if level else ""
        parts.append(markupsafe.Markup('<tspan dy="{}"{}>{}</tspan>').format(shift - at, markupsafe.Markup(size), text))
        at = shift
    if at:
        parts.append(markupsafe.Markup('<tspan dy="{}">\u200b</tspan>').format(-at))
    return markupsafe.Markup("").join(parts)


def label_width(tex: str, font_px: float = 13) -> float:
    return sum(len(s) * (0.75 if level else 1) for s, level in label_runs(tex)) * CHAR_PX * font_px / 13


@functools.lru_cache(maxsize=1)
def _environment():
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _clip(centre, towards, half_w, half_h, pad=2.0):
    """The point where the segment centre->towards leaves a box of half sizes (half_w, half_h)."""
    (cx, cy), (tx, ty) = centre, towards
    dx, dy = tx - cx, ty - cy
    if dx == dy == 0:
        return centre
    s = min((half_w + pad) / abs(dx) if dx else math.inf, (half_h + pad) / abs(dy) if dy else math.inf)
    return (round(cx + dx * s, 1), round(cy + dy * s, 1))


def drawn(problem, numbers: dict | None = None) -> gr.Graph:
    """The problem's graph laid out so that no edge runs through a box or a label where a layout
    does: the barycentre ordering's usual 6 sweeps, else the sweep count (1-12, from each level's
    order or its mirror) that crosses least."""
    built, best = gr.build(problem, numbers), None
    for sweeps in (6, 2, 4, 8, 5, 7, 3, 9, 10, 11, 12, 1, -6, -2, -4, -8, -5, -7, -3, -9, -10, -11, -12, -1):
        g = built if sweeps == 6 else gr.laid_out(built, sweeps)
        crossed = len(crossings(g))
        if best is None or crossed < best[0]:
            best = (crossed, g)
        if not crossed:
            break
    return best[1]


def svg(problem_or_graph, numbers: dict | None = None, title: str = "") -> str:
    """The graph as an SVG document (templates/graph.svg.j2), its labels in the problem's notation."""
    g = problem_or_graph if isinstance(problem_or_graph, gr.Graph) else drawn(problem_or_graph, numbers)
    with notation.using(dict(g.display)):
        return _svg(g, title)


def crossings(problem_or_graph, numbers: dict | None = None) -> list[str]:
    """Where an edge of the drawn graph runs through a node's box, a node's name or its numbers
    (its own ends excepted): ["n3->n5 crosses the name of n5", ...]; empty for a clean drawing."""
    g = problem_or_graph if isinstance(problem_or_graph, gr.Graph) else drawn(problem_or_graph, numbers)
    with notation.using(dict(g.display)):
        geo = _geometry(g)
    return [f"{src}->{dst} crosses the {what} of {owner}"
            for (src, dst), points in geo["edges"] for owner, what in _hits(points, src, dst, geo["obstacles"])]


def bends(g) -> list:
    """The bend of each edge as drawn (for TikZ as for SVG): routes() first; an edge that still
    runs through a box or a label then takes the smallest bend that crosses the fewest."""
    with notation.using(dict(g.display)):
        return _geometry(g)["bends"]


def _hits(points, src, dst, obstacles) -> list:
    out = []
    for owner, what, (x0, y0, x1, y1) in obstacles:
        if what == "box" and owner in (src, dst):
            continue
        inner = points[2:-2] if what != "box" else points      # an arrow's tip meets its node's name
        if any(x0 + 1 < x < x1 - 1 and y0 + 1 < y < y1 - 1 for x, y in inner):
            out.append((owner, what))
    return out


def _svg(g, title: str) -> str:
    geo = _geometry(g)
    box, nodes, edges = geo["extent"], geo["nodes"], geo["paths"]
    left, top = min(b[0] for b in box) - MARGIN, min(b[1] for b in box) - MARGIN
    right, bottom = max(b[2] for b in box) + MARGIN, max(b[3] for b in box) + MARGIN
    return _environment().get_template("graph.svg.j2").render(
        graph=g, nodes=nodes, edges=edges, dx=round(-left, 1), dy=round(-top, 1),
        width=math.ceil(right - left), height=math.ceil(bottom - top),
        title=title or f"Computational graph of {g.problem_id}")


def _geometry(g) -> dict:
    """Node boxes, name and number labels, and edge paths of the drawing, in pixels."""
    cm = gr.coordinates(g)
    bends = gr.routes(g, cm)
    xy = {nid: (round(x * PX_PER_CM, 1), round(-y * PX_PER_CM, 1)) for nid, (x, y) in cm.items()}
    widths = {n.id: max(NODE_HEIGHT + 4 if n.kind in ("op", "intermediate") else 28, label_width(n.label) + 14)
              for n in g.nodes}
    half = NODE_HEIGHT / 2
    box = [(x - widths[nid] / 2, y - half, x + widths[nid] / 2, y + half + (26 if g.numbers else 0))
           for nid, (x, y) in xy.items()]
    obstacles = [(nid, "box", (x - widths[nid] / 2, y - half, x + widths[nid] / 2, y + half))
                 for nid, (x, y) in xy.items()]
    nodes = []
    for n in g.nodes:
        x, y = xy[n.id]
        name = None
        if n.kind == "intermediate":
            side = n.name_side(g.direction)
            w = label_width(n.name_latex)
            nx = {"left": x - widths[n.id] / 2 - 5 - w, "above": x - w / 2, "above left": x - w}.get(side, x)
            ny = y + 4.5 if side == "left" else y - half - 6
            box.append((nx, ny - 14, nx + w, ny))
            obstacles.append((n.id, "name", (nx, ny - 12, nx + w, ny)))
            name = dict(x=round(nx, 1), y=round(ny, 1), markup=label_markup(n.name_latex))
        value = None
        if g.numbers and n.value is not None:
            value = dict(x=x, y=y + half + 13, value=pr_number(n.value),
                         grad=pr_number(n.grad) if n.grad is not None else None)
            digits = max(len(value["value"]), len(value["grad"] or "")) * CHAR_PX * 11 / 13
            obstacles.append((n.id, "numbers", (x - digits / 2, y + half + 3, x + digits / 2,
                                                y + half + (26 if value["grad"] else 14))))
        nodes.append(dict(node=n, x=x, y=y, w=round(widths[n.id], 1), h=NODE_HEIGHT,
                          markup=label_markup(n.label), name=name, value=value))
    def edge(e, bend):
        a, b = xy[e.src], xy[e.dst]
        c1, c2 = gr.controls(a, b, -bend) if bend else (b, a)   # SVG's y axis points down
        start = _clip(a, c1, widths[e.src] / 2, half, pad=0)
        end = _clip(b, c2, widths[e.dst] / 2, half, pad=3)
        if bend:
            path = f"M{start[0]},{start[1]} C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} {end[0]},{end[1]}"
            return path, _bezier_extremes(start, c1, c2, end, 160), _bezier_extremes(start, c1, c2, end)
        path = f"M{start[0]},{start[1]} L{end[0]},{end[1]}"
        return path, [(start[0] + (end[0] - start[0]) * k / 160, start[1] + (end[1] - start[1]) * k / 160)
                      for k in range(161)], []      # dense enough to meet a small box's corner

    edges, paths = [], []
    for i, e in enumerate(g.edges):
        drawn = edge(e, bends[i])
        if _hits(drawn[1], e.src, e.dst, obstacles):
            tried = []
            for bend in (bends[i], 15, -15, 25, -25, 35, -35, 50, -50, 65, -65, 80, -80, 95, -95):
                d = edge(e, bend)
                tried.append((len(_hits(d[1], e.src, e.dst, obstacles)), abs(bend - bends[i]), bend, d))
            _, _, bends[i], drawn = min(tried, key=lambda t: t[:3])
        path, points, extremes = drawn
        box += [(c[0], c[1], c[0], c[1]) for c in extremes]
        paths.append(dict(path=path, dashed=e.dashed))
        edges.append(((e.src, e.dst), points))
    return {"nodes": nodes, "paths": paths, "edges": edges, "obstacles": obstacles, "extent": box,
            "bends": bends}


def _bezier_extremes(p0, p1, p2, p3, samples: int = 12) -> list:
    """Points along a cubic, enough to bound it."""
    out = []
    for i in range(samples + 1):
        u = i / samples
        c = ((1 - u) ** 3, 3 * (1 - u) ** 2 * u, 3 * (1 - u) * u ** 2, u ** 3)
        out.append((sum(k * p[0] for k, p in zip(c, (p0, p1, p2, p3))),
                    sum(k * p[1] for k, p in zip(c, (p0, p1, p2, p3)))))
    return out


def pr_number(v: float) -> str:
    """A node's value as short text: 0.62, -0.08, 1.2e-05."""
    return f"{v:.4g}"
