"""Question and solution sheets: Solution -> context -> jinja2 LaTeX template -> .tex (-> PDF).

The page layout lives in templates/*.j2 (LaTeX-safe delimiters \\VAR{} \\BLOCK{} \\#{}), the
notation in derive/notation.py; this module only gathers what a sheet shows. Plain strings are escaped
for LaTeX when they reach a template; values wrapped in Tex (statements, printed math) are not.
"""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from .. import notation as pr
from ..errors import DeriveError
from ..pipeline import solve

INSTALL_HINT = ("no TeX engine found (latexmk or pdflatex); install one to get the PDF, e.g. on Debian: "
                "apt-get install latexmk texlive-latex-base texlive-latex-recommended texlive-pictures")
LINE_WIDTH = 62          # glyphs of display math on one line of the sheet
CLOSED_MAX_LINES = 3     # longer closed forms are left as "substitute the steps above"
CLOSED_MAX_NODES = 120   # closed forms bigger than this (SymPy tree nodes) are not even printed


class RenderError(DeriveError):
    """A sheet could not be rendered or compiled."""


class LatexError(RenderError):
    """pdflatex failed; the message carries the relevant lines of the log."""


class HeaderError(RenderError):
    """A sheet header config file is unreadable."""


# ---- templates ------------------------------------------------------------------------------
from .graph import Tex  # noqa: E402  (a str that is already LaTeX: passed through unescaped)


_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in _SPECIAL))


def escape_tex(s: str) -> str:
    """Plain prose -> LaTeX: the ten special characters escaped."""
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m[0]], s)


def templates_dir() -> Path:
    """templates/ beside the package in a checkout; derive/templates once installed."""
    here = Path(__file__).resolve().parent.parent
    for cand in (here / "templates", here.parent / "templates"):
        if (cand / "sheet.tex.j2").is_file():
            return cand
    raise RenderError("the sheet templates are missing from this installation")


@functools.lru_cache(maxsize=2)
def environment(escape: bool = True):
    import jinja2
    import markupsafe

    def finalize(v):
        if v is None:
            return ""
        if isinstance(v, (Tex, markupsafe.Markup)) or not escape:
            return v
        return escape_tex(str(v))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False, finalize=finalize, undefined=jinja2.StrictUndefined)
    return env


def render_template(name: str, escape: bool = True, **context) -> str:
    return environment(escape).get_template(name).render(**context)


# ---- what a sheet shows -----------------------------------------------------------------------
@dataclass(frozen=True)
class Header:
    course: str = ""
    assignment: str = ""
    date: str = ""

    def __bool__(self):
        return bool(self.course or self.assignment or self.date)


def read_header(path=None, course=None, assignment=None, date=None) -> Header:
    """Header from a small TOML file (keys course, assignment, date; top level or [header]),
    overridden by explicit options."""
    data = {}
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise HeaderError(f"{path}: cannot read: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise HeaderError(f"{path}: not valid TOML: {e}") from None
        data = raw.get("header", raw)
        unknown = set(data) - {"course", "assignment", "date"}
        if unknown:
            raise HeaderError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                              "known: course, assignment, date")
    vals = {k: str(data.get(k, "")) for k in ("course", "assignment", "date")}
    for k, v in (("course", course), ("assignment", assignment), ("date", date)):
        if v is not None:
            vals[k] = v
    return Header(**vals)


def _lines(expr) -> list:
    return [Tex(s) for s in pr.latex_lines(expr, LINE_WIDTH)]


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


def _closed_or_nothing(lines) -> list:
    """A closed form worth printing: a few lines that fit; otherwise nothing."""
    return lines if len(lines) <= CLOSED_MAX_LINES and pr.fits(lines, LINE_WIDTH) else []


def _asks_for_graph(problem) -> bool:
    """A problem that asks the student to draw the graph does not get it on the question sheet."""
    return bool(re.search(r"\bdraw\b", problem.statement, re.IGNORECASE))


def problem_context(solution, questions: bool = False) -> dict:
    """Everything the template shows for one problem (answers left out for a question sheet)."""
    from . import graph as gr
    p, d = solution.problem, solution.derivation
    sym = p.scope.symbols
    numbers = gr.node_numbers(solution) if p.values and not questions else {}
    show_graph = not (questions and _asks_for_graph(p))
    forward = []
    for e in p.equations:
        value = Tex(pr.number_latex(numbers[e.name][0])) if e.name in numbers else None
        forward += display(Tex(pr.latex(sym[e.name])), _lines(e.expr), suffix=value)
    ctx = {
        "id": p.id, "alias": p.alias, "title": p.title, "source": p.source,
        "statement": Tex(p.statement.strip()),
        "graph": Tex(gr.tikz(p, numbers)) if show_graph and p.equations else None,
        "forward": forward,
        "asked": [Tex(pr.name_latex(q.name)) for q in p.quantities if q.kind != "prose"],  # prose: in the statement
        "steps": [], "results": [], "tables": None, "verified": solution.verified,
    }
    if questions:
        return ctx
    for s in d.steps:
        name = Tex(pr.name_latex(s.name))
        huge = sum(1 for _ in sp.preorder_traversal(s.closed)) > CLOSED_MAX_NODES
        raw_closed = [Tex("...")] * (CLOSED_MAX_LINES + 1) if huge else \
            _lines(s.closed) if s.closed != s.general else []
        closed = _closed_or_nothing(raw_closed)
        ctx["steps"].append({"name": name, "node": Tex(pr.latex(sym[s.node])), "rule": s.rule,
                             "rows": display(name, _lines(s.general), closed),
                             "closed_omitted": bool(raw_closed) and not closed})
    for r in d.results:
        q = r.quantity
        c = solution.check_for(q.name)
        name = Tex(pr.name_latex(q.name))
        value = Tex(pr.number_latex(c.value)) if c.value is not None else None
        where = []
        if q.kind == "value":               # u_1 = w_1 x_1 = -0.08; z_2 = σ(z_1) = σ(W_1 x + b_1)
            rhs = _forward_rhs(p, q.of)
            rows = display(name, _lines(rhs), _lines(r.expr) if q.allowed and r.expr != rhs else [], suffix=value)
        elif q.kind == "shape":             # A = n_1 x batch = 1024 x 32
            dims = [Tex(r" \times ".join(pr.latex(x) if x.is_Atom else rf"\left({pr.latex(x)}\right)" for x in t))
                    for t in (r.expr, r.closed)]
            rows = display(name, [dims[0]], [dims[1]] if dims[1] != dims[0] else [])
        elif q.kind == "prose":
            rows = []
        else:
            shown, where = _readable(p, q, r.expr)
            rows = display(name, _lines(shown), suffix=value)
        ctx["results"].append({
            "name": name, "label": q.name.replace("_", " ").capitalize(), "kind": q.kind, "rows": rows,
            "model": Tex(q.model_answer.strip()) if q.kind == "prose" else q.model_answer.strip(),  # prose is LaTeX, like statements
            "properties": property_text(q) if q.kind == "property" else "",
            "where": where,
            "index": Tex(pr.latex(r.index_form)) if r.index_form is not None else None,
            "matrix_name": Tex(pr.name_latex(f"d{q.of}/d{q.wrt}")),
            "matrix": Tex(pr.latex(r.expr)),
            "shape": Tex(pr.shape_latex(r.shape)),
            "verified": c.verified, "error": Tex(pr.error_latex(c.max_rel_error)),
        })
    if numbers:
        ctx["tables"] = _tables(solution, numbers)
    return ctx


def _readable(problem, q, expr) -> tuple:
    """An answer in the allowed inputs folded back into the forward nodes (σ(W_1 x + b_1) -> z_2),
    with the definitions of the nodes it uses: what a TA writes, and it fits on a line."""
    if not q.allowed or q.kind not in ("gradient", "jacobian"):     # a formula is asked in its inputs
        return expr, []
    from ..backprop import forward_subs
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
    given = Tex(pr.given_latex())
    fwd = [{"node": Tex(pr.latex(sym[n])), "expr": given, "value": Tex(pr.number_latex(numbers[n][0]))}
           for n in p.inputs if n in numbers]
    fwd += [{"node": Tex(pr.latex(sym[e.name])), "expr": Tex(pr.latex(e.expr)),
             "value": Tex(pr.number_latex(numbers[e.name][0]))} for e in p.equations if e.name in numbers]
    bwd = []
    if all(g is None for _, g in numbers.values()):
        return {"forward": fwd, "backward": bwd}
    if p.output in numbers:
        bwd.append({"node": Tex(pr.name_latex(f"d{p.output}/d{p.output}")), "expr": Tex(pr.seed_latex()),
                    "value": Tex(pr.number_latex(1.0))})
    for s in d.steps:
        bwd.append({"node": Tex(pr.name_latex(s.name)), "expr": Tex(pr.latex(s.general)),
                    "value": Tex(pr.number_latex(numbers[s.node][1]))})
    return {"forward": fwd, "backward": bwd}


@functools.lru_cache(maxsize=64)
def _solve(name, extra=None):
    """solve(name), cached per process (commands.cmd_graph and resolve use it)."""
    from ..pipeline import solve
    return solve(name, extra)


def resolve(names, all_: bool = False, extra=None) -> list:
    """Problem names (or --all) -> Solutions, in catalogue order for --all, as given otherwise."""
    from ..problem import catalogue
    if all_:
        names = [p.id for p in catalogue(extra)]
    if not names:
        raise RenderError("name at least one problem, or use --all")
    return [_solve(n, extra) for n in names]


def render_sheet(solutions, questions: bool = False, header: Header | None = None) -> str:
    """The LaTeX source of a sheet for these solutions."""
    problems = [problem_context(s, questions) for s in solutions]
    return render_template("sheet.tex.j2", problems=problems, questions=questions,
                           header=header or Header(),
                           kind="Questions" if questions else "Solutions")


# ---- PDF ------------------------------------------------------------------------------------
def tex_engine() -> list | None:
    """The command that compiles a .tex to PDF here, or None."""
    if shutil.which("latexmk"):
        return ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
    if shutil.which("pdflatex"):
        return ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
    return None


def log_excerpt(log: str, after: int = 4, limit: int = 40) -> str:
    """The error lines of a LaTeX log: lines starting with '!' (or file:line: errors) and a few after."""
    lines = log.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^ ]*\.tex:\d+: ", line):
            out.extend(lines[i:i + after + 1])
            out.append("")
    return "\n".join(out[:limit]).strip() or "\n".join(lines[-15:])


_CROSS_REFS = re.compile(r"\\(?:label|ref|pageref|cite|tableofcontents)\b|lastpage|remember picture")


def compile_pdf(tex: str, pdf_path, keep_log: bool = False) -> Path:
    """Compile LaTeX source to pdf_path; raises LatexError with the relevant log lines."""
    engine = tex_engine()
    if engine is None:
        raise RenderError(INSTALL_HINT)
    pdf_path = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="derive-sheet-") as tmp:
        src = Path(tmp) / "sheet.tex"
        src.write_text(tex, encoding="utf-8")
        runs = [engine + ["sheet.tex"]] if engine[0] == "latexmk" else [engine + ["sheet.tex"]] * 2
        if not _CROSS_REFS.search(tex) and shutil.which("pdflatex"):   # nothing for a second pass to fix
            runs = [["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "sheet.tex"]]
        for cmd in runs:
            try:
                proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=300,
                                      stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise LatexError("LaTeX did not finish within 300 s") from None
            if proc.returncode != 0:
                log = (Path(tmp) / "sheet.log")
                text = log.read_text(errors="replace") if log.exists() else proc.stdout
                raise LatexError("LaTeX failed:\n" + log_excerpt(text))
        pdf_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "sheet.pdf", pdf_path)
        if keep_log:
            shutil.copyfile(Path(tmp) / "sheet.log", pdf_path.with_suffix(".log"))
    return pdf_path


def write_sheet(solutions, output, questions=False, header=None) -> tuple[Path, str]:
    """Write .tex or .pdf; returns (path written, note). Without TeX a .pdf request writes the .tex."""
    return write_tex(render_sheet(solutions, questions, header), output)


def write_tex(tex: str, output) -> tuple[Path, str]:
    """LaTeX source to FILE.tex, or compiled to FILE.pdf (the .tex and a hint where TeX is missing)."""
    output = Path(output)
    if output.suffix == ".tex":
        output.write_text(tex, encoding="utf-8")
        return output, ""
    if output.suffix != ".pdf":
        raise RenderError(f"{output}: the output must end in .tex or .pdf")
    if tex_engine() is None:
        src = output.with_suffix(".tex")
        src.write_text(tex, encoding="utf-8")
        return src, INSTALL_HINT
    return compile_pdf(tex, output), ""


__all__ = ["render_sheet", "write_sheet", "compile_pdf", "problem_context", "read_header", "write_tex",
           "RenderError", "LatexError", "HeaderError", "Tex", "escape_tex"]
