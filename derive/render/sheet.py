"""Question and solution sheets: Solution -> context -> jinja2 LaTeX template -> .tex (-> PDF).

The page layout lives in templates/*.j2 (LaTeX-safe delimiters \\VAR{} \\BLOCK{} \\#{}), the
notation in derive/notation/ (each problem's own spelling: notation/display.py); this module only
gathers what a sheet shows. Plain strings are escaped for LaTeX when they reach a template; values
wrapped in Tex (statements, printed math) are not.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

import sympy as sp

from derive.engine.backprop import forward_subs, numerator_form
from derive.errors import AnswerError, RenderError
from derive.expr import functions as fns
from derive.notation import display as notation
from derive.notation import latex as pr
from derive.notation import parser as mp
from derive.notation import words
from derive.notation.echo import tree_latex
from derive.problem.load import catalogue
from derive.problem.topics import with_topic
from derive.render import graph as gr
from derive.render import svg
from derive.render import typeset as ts
from derive.render.allowed_tex import allowed_tex
from derive.render.header import Header, SheetOptions
from derive.render.page import render_contexts, write_tex
from derive.render.templates import Tex, escape_tex
from derive.verify.solve import solve

LINE_WIDTH = 62          # glyphs of display math on one line of the sheet
CLOSED_MAX_NODES = 400   # a step's closed form bigger than this (SymPy tree nodes) even simplified is not printed


# ---- what a sheet shows -----------------------------------------------------------------------
def _lines(expr) -> list:
    return [Tex(s) for s in ts.latex_lines(expr, LINE_WIDTH)]


def display(lhs, *forms, suffix=None) -> list:
    """Rows of one displayed chain `lhs = form1 = form2 (= suffix)` for the templates' align
    macro: lead is 'lhs' (write `lhs &=`), 'eq' (`&=`) or 'cont' (a continued line)."""
    out = []
    for f, lines in enumerate(f for f in forms if f):
        for k, line in enumerate(lines):
            lead = ("lhs" if f == 0 else "eq") if k == 0 else "cont"
            out.append({"lead": lead, "lhs": lhs, "line": line, "suffix": None})
    if out and suffix:
        out[-1]["suffix"] = suffix
    return out


def _wide(rows) -> bool:
    """A display whose unbreakable line (a long product) is wider than the page: typeset scaled."""
    return any(ts.visible_width(f"{r['lhs']} = {r['line']}") > LINE_WIDTH * 1.15 for r in rows)


def _asks_for_graph(problem) -> bool:
    """A problem that asks the student to draw the graph does not get it on the question sheet."""
    return bool(re.search(r"\bdraw\b", problem.statement, re.IGNORECASE))


def _answers_in_forward(problem) -> set:
    """The forward equations a question sheet leaves out because they state an answer: every one of
    a problem that asks no gradient (its forward pass is the key: counts, sizes, formulas), else
    those of a node asked as a formula or a property (b1_dead), all of them where such a node feeds
    another equation (the forward values asked in the inputs, P8)."""
    everything = {e.name for e in problem.equations}
    if not any(q.kind.asks_gradient for q in problem.quantities):
        return everything
    used = {str(s) for e in problem.equations for s in e.expr.free_symbols}
    stated = {q.of for q in problem.quantities if q.kind.answered_by_forward(problem)}
    return everything if stated & used else stated      # z1 = W1 x + b1 asked, and z2 built on it: all


def answer_space(problem, q, shape) -> str:
    """How much room a question leaves: a line for a number or dimensions, a small box for a chain
    of numbers, a box for an expression and a tall one for a matrix expression."""
    if q.kind.sheet_layout in ("value", "dims"):
        return "line"
    if shape is not None and 1 not in shape:
        return "tall"
    return "small" if problem.values and q.kind.has_value else "box"


def problem_context(solution, questions: bool = False, options: SheetOptions | None = None,
                    number: int = 1) -> dict:
    """Everything the template shows for one problem (answers left out for a question sheet),
    printed in the problem's own notation."""
    options = options or SheetOptions(questions=questions)
    with notation.using(solution.problem.display, sums=True):
        return _context(solution, options, number)


def _context(solution, options, number) -> dict:
    p, d = solution.problem, solution.derivation
    questions = options.questions
    sym = p.scope.symbols
    numbers = gr.node_numbers(solution) if p.values and not questions else {}
    hidden = _answers_in_forward(p) if questions else set()
    drawn = dataclasses.replace(p, equations=tuple(e for e in p.equations if e.name not in hidden)) if hidden else p
    show_graph = options.graph and not (questions and (_asks_for_graph(p) or p.output in hidden))
    forward = []
    for e in p.equations if options.forward else ():
        if e.name in hidden:
            continue
        value = Tex(ts.number_latex(numbers[e.name][0])) if e.name in numbers else None
        forward += display(Tex(pr.latex(sym[e.name])), _as_written(p, e), suffix=value)
    shapes = {r.quantity.name: r.shape for r in d.results}
    graph = svg.drawn(drawn, numbers) if show_graph and drawn.equations else None
    ctx = {
        "id": p.id, "alias": p.alias, "title": p.title, "number": number,
        "source": p.source if options.show_source else "",
        "statement": allowed_tex(p.statement.strip(), f"{p.id} ({p.path}), statement"),
        "graph": Tex(gr.tikz(graph, bends=svg.bends(graph))) if graph else None,
        "need": _room(graph, len(p.equations) if forward else 0),
        "forward": forward,
        "asked": [{"name": Tex(pr.name_latex(q.name)), "space": answer_space(p, q, shapes.get(q.name))}
                  for q in p.quantities if q.kind.graded],          # prose: in the statement
        "prose_space": _prose_labels(p) if questions and options.space else [],
        "space": options.space,
        "draw_space": questions and options.space and options.graph and _asks_for_graph(p),
        "steps": [], "results": [], "where": [], "meanings": [], "tables": None, "verified": solution.verified,
        "verification": [],
    }
    if questions:
        return ctx
    boxed = {r.quantity.wrt: _readable(p, r.quantity, r.expr)[0] for r in d.results   # a step ends in its box
             if r.quantity.kind.asks_gradient and r.quantity.of == p.output and r.index_form is None}
    steps = d.steps if options.all_steps else solution.steps_on_path()
    for s in steps if options.steps else ():
        name = Tex(pr.name_latex(s.name))
        shape, general = p.node_shape(s.node), s.general
        r = boxed.get(s.node)
        if r is not None:                                          # ends in the boxed form
            closed_expr, huge = r, False
        else:
            closed_expr = d.closed_form(s.closed) if s.closed != s.general else None   # nothing to substitute
            huge = closed_expr is not None and sum(1 for _ in sp.preorder_traversal(closed_expr)) > CLOSED_MAX_NODES
        if p.layout == "numerator" and shape and shape != (1, 1):  # as the problem asks: rows for columns
            general = numerator_form(p, general)
            if r is None and closed_expr is not None and not huge:
                closed_expr = numerator_form(p, closed_expr)
        closed = [] if closed_expr is None or huge or closed_expr == general else _lines(closed_expr)
        rows = display(name, _lines(general), closed)
        ctx["steps"].append({"name": name, "node": Tex(pr.latex(sym[s.node])), "rule": rule_latex(s.rule),
                             "rows": rows, "wide": _wide(rows), "closed_omitted": huge})
    labels = iter(_prose_labels(p))                        # (a), 1(b): the statement's own labels
    for r in d.results:
        model = r.quantity.kind.sheet_layout == "model"
        ctx["results"].append(_result(solution, p, r, _answer_label(r.quantity, next(labels, "")) if model else ""))
    # the forward nodes the boxed results are written with, defined once under them all
    ctx["where"] = list(dict.fromkeys(w for r in ctx["results"] for w in r["where"]))
    used = [e for r in d.results if isinstance(r.expr, sp.Basic) for e in sp.preorder_traversal(r.expr)]
    ctx["meanings"] = [Tex(m) for m in dict.fromkeys([getattr(e, "meaning", "") for e in used] + _primes(used)) if m]
    if options.verification:
        ctx["verification"] = verification_lines(solution)
    if numbers:
        ctx["tables"] = _tables(solution, numbers)
    return ctx


def _as_written(problem, e) -> list:
    """A forward equation's right-hand side in the file's order (w_1 x + b_1, as the statement has
    it); a mean or a sum along an axis is shown as SymPy writes it out (1/N Σ_rows h)."""
    try:
        tree = mp.parse(e.text.split("=", 1)[1].strip(), "text", names=problem.scope.aliases,
                        functions=problem.scope.callable_names())
    except AnswerError:
        return _lines(e.expr)
    todo, calls = [tree], []
    while todo:
        node = todo.pop()
        calls += [node] if isinstance(node, mp.Call) else []
        todo += mp.children(node)
    if any(c.fn in ("mean", "sum") and len(c.args) == 2 for c in calls):
        return _lines(e.expr)
    return [Tex(tree_latex(tree, textbook=True))]


def _room(graph, equations: int) -> str:
    """The room a problem's start needs on a page: its heading and statement with the graph (or,
    without one, the forward pass), so a start too tall for the rest of a page moves whole."""
    if graph is None:
        return f"{min(12.0, 5.0 + 0.7 * equations):.1f}cm"
    ys = [y for _, y in gr.coordinates(graph).values()]
    return f"{min(22.0, 6.0 + max(ys) - min(ys) + (1.0 if graph.numbers else 0.0)):.1f}cm"


def _result(solution, p, r, label: str = "") -> dict:
    q = r.quantity
    c = solution.check_for(q.name)
    name = Tex(pr.name_latex(q.name))
    value = Tex(ts.number_latex(c.value)) if c.value is not None else None
    where, layout = [], q.kind.sheet_layout
    if layout == "value":               # u_1 = w_1 x_1 = -0.08; z_2 = σ(z_1) = σ(W_1 x + b_1)
        rhs = _forward_rhs(p, q.of)
        rows = display(name, _lines(rhs), _lines(r.expr) if q.allowed and r.expr != rhs else [], suffix=value)
    elif layout == "dims":              # A = n_1 x batch = 1024 x 32
        dims = [Tex(r" \times ".join(pr.latex(x) if x.is_Atom else rf"\left({pr.latex(x)}\right)" for x in t))
                for t in (r.expr, r.closed)]
        rows = display(name, [dims[0]], [dims[1]] if dims[1] != dims[0] else [])
    elif layout == "model":
        rows = []
    else:
        shown, where = _readable(p, q, r.expr)
        rows = display(name, _lines(shown), suffix=value)
    return {
        "name": name, "label": label, "layout": layout, "rows": rows,
        "model": allowed_tex(q.model_answer.strip(), f"{p.id} ({p.path}), {q.name}: model_answer")
        if layout == "model" else q.model_answer.strip(),  # prose is LaTeX, like statements
        "properties": property_text(q) if layout == "properties" else "",
        "where": where,
        "index": Tex(pr.latex(r.index_form)) if r.index_form is not None else None,
        "matrix_form": _matrix_form(q, r) if r.index_form is not None else None,
        "shape": Tex(pr.shape_latex(r.shape)),
    }


def verification_lines(solution) -> list:
    """One sentence per way of checking (finite differences, the forward pass, ...): the quantities it
    proved and the largest relative error; a quantity that failed gets its own line."""
    groups: dict = {}
    failed = []
    for r in solution.derivation.results:
        q, c = r.quantity, solution.check_for(r.quantity.name)
        dims = q.kind.sheet_layout == "dims"           # checked, but has no error to show
        if not (q.kind.shows_error or dims):
            continue
        if not c.verified:
            failed.append({"ok": False, "names": [Tex(pr.name_latex(q.name))], "by": q.kind.checked_by,
                           "error": Tex(ts.error_latex(c.max_rel_error))})
            continue
        g = groups.setdefault(q.kind.checked_by, {"ok": True, "names": [], "by": q.kind.checked_by, "err": 0.0})
        g["names"].append(Tex(pr.name_latex(q.name)))
        g["err"] = max(g["err"], c.max_rel_error)
        g["dims"] = dims
    return [{**g, "error": None if g.pop("dims") else Tex(ts.error_latex(g.pop("err")))}
            for g in groups.values()] + failed


def rule_latex(rule: str) -> Tex:
    """A step's rule in words, its function and node names in math: 'the chain rule through $\\sigma$'."""
    printers = {"function": pr.function_latex, "name": pr.name_latex}
    return Tex("".join(escape_tex(s) if kind == "text" else f"${words.name_with_primes(s, printers[kind])}$"
                       for kind, s in words.rule_parts(rule)))


def _primes(used) -> list:
    """f'(z) written out for a derivative a result leaves as f' and a student may not know (GELU',
    SiLU'); sigma', tanh' (the textbook's p(1 - p)) and ReLU' (an indicator) need no sentence."""
    out = []
    for e in used:
        if isinstance(e, (fns.Fn, fns.Apply)) and e.order >= 1 and e.fname in fns.FUNCTIONS:
            row = fns.FUNCTIONS[e.fname]
            if row.identity is None and not row.prime_latex and not row.prime and e.order == 1:
                z = sp.Symbol("z")
                body = fns.activation_derivative(e.fname, 1).subs(fns.x_, z)
                out.append(rf"${pr.latex(fns.Fn(e.fname, 1, z))} = {pr.latex(body)}$")
    return out


def _answer_label(q, label: str) -> str:
    """What a model answer is headed with: none where it starts with its own label ("6(f) x.to(...)")."""
    if label and q.model_answer.lstrip().startswith(str(label)):
        return ""
    return Tex(f"Answer {label}:" if label.isdigit() else f"Answer to {label}:" if label else "Answer:")


def _prose_labels(problem) -> list:
    """The labels of a problem's prose questions for their answer space: the statement's own item
    labels where it has one per question ((a), 1(b)), else 1, 2, ..."""
    prose = [q for q in problem.quantities if not q.kind.graded]
    labels = re.findall(r"\\item\[([^\]]{1,12})\]", problem.statement)
    if len(labels) != len(prose):
        labels = [str(k + 1) for k in range(len(prose))] if len(prose) > 1 else [""]
    return [Tex(escape_tex(label)) for label in labels] if prose else []


def _matrix_form(q, r) -> Tex:
    """The sentence after an index quantity's entry form: the whole vector or matrix."""
    named = rf"{pr.name_latex(f'd{q.of}/d{q.wrt}')} = " if q.kind.index_names_matrix else ""
    words = "As a vector" if r.shape and 1 in r.shape and not named else q.kind.index_words   # no row j, column i
    return Tex(rf"{words}: ${named}{pr.latex(r.expr)} \in {pr.shape_latex(r.shape)}$.")


def _readable(problem, q, expr) -> tuple:
    """An answer in the allowed inputs folded back into the forward nodes (σ(W_1 x + b_1) -> z_2),
    with the definitions of the nodes it uses: what a TA writes, and it fits on a line."""
    if not q.allowed or not q.kind.folds_forward:     # a formula is asked in its inputs
        return expr, []
    sym = problem.scope.symbols
    subs = forward_subs(problem, keep=set(q.allowed))
    folded = expr.xreplace({v: k for k, v in reversed(subs.items())})   # outermost match wins
    if folded == expr:
        return expr, []
    used, names = set(), {str(s) for s in folded.free_symbols}
    for eq in reversed(problem.equations):           # the used nodes and the nodes they use
        if eq.name in names and sym[eq.name] in subs:
            used.add(eq.name)
            names |= {str(s) for s in eq.expr.free_symbols}
    where = [Tex(f"{pr.latex(sym[e.name])} = {pr.latex(e.expr)}") for e in problem.equations if e.name in used]
    return folded, where


def property_text(q) -> str:
    """What a property quantity accepts, in words: 'stays in [0, inf) for every z; ...'."""
    if "dead" in q.checks:
        zero = ", ".join(f"${pr.name_latex(z)}$" for z in q.zero)
        return Tex(f"gives ${pr.name_latex(q.sets)}$ a value with which the gradients {zero} "
                   "are zero and stay zero under gradient descent")
    low, high = q.bounds
    interval = ("(" if low == -sp.oo else "[") + f"{pr.latex(low)}, {pr.latex(high)}" + (")" if high == sp.oo else "]")
    words = {"range": f"stays in ${interval}$ for every ${pr.latex(sp.Symbol(q.var))}$",
             "reaches": "reaches or approaches both ends of that range",
             "monotone": "is monotone",
             "differentiable": "is differentiable almost everywhere with a gradient that does not vanish everywhere"}
    return Tex("; ".join(words[c] for c in q.checks if c in words))


def _forward_rhs(problem, name):
    for e in problem.equations:
        if e.name == name:
            return e.expr
    return problem.scope.symbols[name]


def _tables(solution, numbers) -> dict:
    """Forward and backward tables (node, expression, value) at the given numbers."""
    p, d = solution.problem, solution.derivation
    sym = p.scope.symbols
    given = Tex(ts.given_latex())
    fwd = [{"node": Tex(pr.latex(sym[n])), "expr": given, "value": Tex(ts.number_latex(numbers[n][0]))}
           for n in p.inputs if n in numbers]
    fwd += [{"node": Tex(pr.latex(sym[e.name])), "expr": Tex(" ".join(_as_written(p, e))),
             "value": Tex(ts.number_latex(numbers[e.name][0]))} for e in p.equations if e.name in numbers]
    bwd = []
    if all(g is None for _, g in numbers.values()):
        return {"forward": fwd, "backward": bwd}
    if p.output in numbers:
        bwd.append({"node": Tex(pr.name_latex(f"d{p.output}/d{p.output}")), "expr": Tex(ts.seed_latex()),
                    "value": Tex(ts.number_latex(1.0))})
    for s in d.steps:
        bwd.append({"node": Tex(pr.name_latex(s.name)), "expr": Tex(pr.latex(s.general)),
                    "value": Tex(ts.number_latex(numbers[s.node][1]))})
    return {"forward": fwd, "backward": bwd}


@functools.lru_cache(maxsize=64)
def solved(name, extra=None):
    """solve(name), once per process (sheets and graphs of the same problem share it)."""
    return solve(name, extra)


def resolve(names, all_: bool = False, extra=None, topic: str | None = None) -> list:
    """Problem names (or --all, or --topic T) -> Solutions, in catalogue order for --all and a topic
    (after the problems named), as given otherwise."""
    if all_:
        names = [p.id for p in catalogue(extra)]
    elif topic:
        names = list(names or []) + [p.id for p in with_topic(catalogue(extra), topic) if p.id not in (names or [])]
    if not names:
        raise RenderError("name at least one problem, or use --all or --topic T")
    return [solved(n, extra) for n in names]


def render_sheet(solutions, questions: bool = False, header: Header | None = None,
                 options: SheetOptions | None = None) -> str:
    """The LaTeX source of a sheet for these solutions, the problems numbered 1..n as given."""
    options = options or SheetOptions(questions=questions)
    return render_contexts([problem_context(s, options=options, number=k) for k, s in enumerate(solutions, 1)],
                           options.questions, header)


def write_sheet(solutions, output, questions=False, header=None, force=False, options=None) -> tuple[Path, str]:
    """Write .tex or .pdf; returns (path written, note). Without TeX a .pdf request writes the .tex."""
    return write_tex(render_sheet(solutions, questions, header, options), output, force)
