"""What the page and the JSON API say, without any web framework: the catalogue, one problem,
a preview (parse only) and a check (through the shared checker).

Problems are looked up only by id or alias in the catalogue read at start: a request can never
name a file. Solving (derive + verify) runs in the request's thread under limits.SOLVE_TIMEOUT
and is cached per problem, failures too, so a problem over the limit holds a thread once; a
check goes through the checker's worker pool under its per-answer time limit (deriving the
reference there is under the same solve limit).
"""
from __future__ import annotations

import functools
import re
import threading
from pathlib import Path

from derive.errors import (
    AnswerError,
    ProblemSpecError,
    UnknownError,
    Unsolvable,
    UnsupportedError,
)
from derive.grading import DEFAULT_TIMEOUT, Checker, CheckResult
from derive.grading.read import parse_answer, shape_pieces
from derive.notation import display
from derive.notation import formats
from derive.notation import latex as pr
from derive.problem.load import Problem, catalogue
from derive.render.svg import svg
from derive.runtime.limits import TimeLimit
from derive.notation.echo import tree_latex
from derive.variants import variant_of
from derive.verify.solve import Solution, solve

FORMATS = formats.NAMES
MAX_SOLVED = 2048         # solutions kept (a course server's students each have their variant of a problem)


def make_checker(workers: int = 1, timeout: float = DEFAULT_TIMEOUT) -> Checker:
    """The one checker a server uses: its pool of warm workers, created at start, closed at shutdown."""
    return Checker(workers=workers, timeout=timeout, inline=False)   # the web process keeps to the web


class _Preview:
    """The parse-only reading of an answer, per quantity kind (kinds.Kind.grade picks the method)."""

    def __init__(self, p: Problem, answer: str, fmt: str):
        self.p, self.answer, self.fmt = p, answer, fmt

    def equivalence(self) -> str:
        return tree_latex(parse_answer(self.p, self.answer, self.fmt))

    properties = equivalence

    def shape(self) -> str:
        return r" \times ".join(tree_latex(t) for _, t in shape_pieces(self.p, self.answer, self.fmt))

    def prose(self) -> str:
        return ""


class Catalogue:
    """The problems a server offers, by id and alias, with cached solutions and graphs."""

    def __init__(self, extra=None, solutions: bool = True):
        self.problems = tuple(catalogue(extra))
        self.by_name = {k: p for p in self.problems for k in (p.id, p.alias) if k}
        self.solutions = solutions
        self._lock = threading.Lock()
        self._solving: dict[str, threading.Lock] = {}          # one per problem: others are not held up
        self._solved: dict[str, Solution | str] = {}           # a str: why it cannot be solved
        self._failed: dict[str, str] = {}                      # problems whose reference is over the limit
        self._graphs: dict[str, str | None] = {}

    def get(self, name: str) -> Problem:
        try:
            return self.by_name[name]
        except KeyError:
            shown = repr(name[:60]) + ("..." if len(name) > 60 else "")      # never echo 100 KB back
            raise UnknownError(f"unknown problem {shown}; see /api/problems for the list") from None

    def solution(self, p: Problem) -> Solution:
        """derive.solve, once per problem or variant (ProblemSpecError if it cannot be, the same every time)."""
        key = p.id if p.variant is None else f"{p.id}@{p.variant}"
        with self._lock:
            lock = self._solving.setdefault(key, threading.Lock())
        with lock:
            out = self._solved.get(key)
            if out is None:
                try:
                    out = solve(p)                    # under limits.SOLVE_TIMEOUT, in any thread
                except (ProblemSpecError, UnsupportedError) as e:
                    out = _public(p, e)
                with self._lock:
                    self._solved[key] = out
                    while len(self._solved) > MAX_SOLVED:     # a class's variants: the oldest are forgotten
                        old = next((k for k in self._solved if "@" in k), None)
                        if old is None:
                            break
                        del self._solved[old]
                        self._solving.pop(old, None)
        if isinstance(out, str):
            raise Unsolvable(out)
        return out

    def graph(self, p: Problem) -> str | None:
        key = p.id if p.variant is None else f"{p.id}@{p.variant}"
        with self._lock:
            if key not in self._graphs:
                self._graphs[key] = svg(p, title=f"Computational graph: {p.title}") if p.equations else None
            return self._graphs[key]

    def listing(self) -> list[dict]:
        return [{"id": p.id, "alias": p.alias, "title": p.title, "source": p.source,
                 "quantities": [q.name for q in p.quantities]} for p in self.problems]

    def detail(self, name: str, seed: int | None = None) -> dict:
        """One problem; with `seed`, the student's variant of it (a problem without [variants]: itself)."""
        p = variant_of(self.get(name), seed)
        out = {"id": p.id, "alias": p.alias, "title": p.title, "source": p.source, "variant": p.variant,
               "statement": statement_parts(p.statement),
               "quantities": [{"name": q.name, "latex": pr.name_latex(q.name), "kind": str(q.kind),
                               "graded": q.graded} for q in p.quantities],
               "graph_svg": self.graph(p),
               "solutions": self.solutions, "solution": None}
        if self.solutions:
            sol = self.solution(p).to_dict()
            for q in sol["quantities"]:
                q["name_latex"] = pr.name_latex(q["name"])
                if not q["graded"]:
                    q["parts"] = statement_parts(q["text"])
            out["solution"] = {"steps": sol["steps"], "quantities": sol["quantities"]}
        return out

    def check(self, checker, name: str, quantity: str, answer: str, fmt: str = "auto",
              seed: int | None = None) -> CheckResult:
        p = self.get(name)
        variant = seed if seed is not None and p.variants is not None else None
        q = p.quantity(quantity)
        if not q.kind.graded and not self.solutions:       # its feedback would be the model answer
            return CheckResult(p.id, q.name, answer, "undecided",
                               feedback=("this question is not auto-graded; your instructor reads the answer",))
        if p.id in self._failed:
            raise Unsolvable(self._failed[p.id])
        try:
            return checker.check(p, q.name, answer, fmt, variant=variant)
        except (ProblemSpecError, UnsupportedError) as e:
            if isinstance(e, TimeLimit):       # deriving the reference took too long: it always will
                self._failed[p.id] = _public(p, e)
            raise Unsolvable(_public(p, e)) from None

    def preview(self, name: str, quantity: str, answer: str, fmt: str = "auto") -> dict:
        """Parse only: the LaTeX of what was read, or the error with its offset."""
        p = self.get(name)
        q = p.quantity(quantity)
        out = {"problem": p.id, "quantity": q.name, "answer": answer, "ok": True, "interpreted": "",
               "error": None, "offset": None, "code": None}
        if not answer.strip():
            return out
        try:
            out["interpreted"] = q.kind.grade(_Preview(p, answer, fmt))
        except AnswerError as e:
            out.update(ok=False, error=e.message, offset=e.offset, code=e.code)
        return out


def _public(p: Problem, e: Exception) -> str:
    """Why a problem cannot be solved, naming its file but not the server's folders."""
    return f"problem {p.id} cannot be solved here: " + str(e).replace(p.path, Path(p.path).name)


# ---- a problem's LaTeX prose -> paragraphs of text, math and emphasis -------------------------
_INLINE = re.compile(r"\$(?P<math>[^$]+)\$|\\emph\{(?P<em>[^{}]*)\}|\\textbf\{(?P<strong>[^{}]*)\}"
                     r"|\\texttt\{(?P<code>[^{}]*)\}")
_TEXT_ESCAPES = {r"\_": "_", r"\%": "%", r"\&": "&", r"\#": "#", r"\$": "$", "~": "\u00a0", "---": "—",
                 "--": "–", "``": "“", "''": "”"}
_ESCAPE_RE = re.compile("|".join(re.escape(k) for k in sorted(_TEXT_ESCAPES, key=len, reverse=True)))


def statement_parts(tex: str) -> list[dict]:
    """LaTeX prose -> [{"item": bool, "parts": [{"text"|"math"|"em"|"strong"|"code": str}]}].
    The page renders math with KaTeX and everything else as text nodes."""
    blocks: list[dict] = []
    tex = re.sub(r"\\(begin|end)\{(itemize|enumerate)\}", "\n\n", tex.replace(r"\$", "\x00"))
    for chunk in re.split(r"\n\s*\n|(?=\\item\b)", tex):
        item = chunk.lstrip().startswith(r"\item")
        chunk = re.sub(r"^\s*\\item\s*", "", chunk) if item else chunk
        chunk = " ".join(chunk.split())
        if not chunk:
            continue
        parts, at = [], 0
        for m in _INLINE.finditer(chunk):
            if m.start() > at:
                parts.append({"text": _text(chunk[at:m.start()])})
            kind = m.lastgroup
            parts.append({kind: m[kind] if kind == "math" else _text(m[kind])})
            at = m.end()
        if at < len(chunk):
            parts.append({"text": _text(chunk[at:])})
        blocks.append({"item": item, "parts": parts})
    return blocks


def _text(s: str) -> str:
    return _ESCAPE_RE.sub(lambda m: _TEXT_ESCAPES[m[0]], s).replace("\x00", "$")


def _in_own_notation(method):
    """Run a Catalogue method that prints a problem's names in that problem's notation."""
    @functools.wraps(method)
    def wrapped(self, name, *args, **kwargs):
        with display.using(self.get(name).display):
            return method(self, name, *args, **kwargs)
    return wrapped


# applied here, not as decorators, so the methods' own lines stay as the course server edits them
Catalogue.detail = _in_own_notation(Catalogue.detail)
Catalogue.preview = _in_own_notation(Catalogue.preview)


__all__ = ["Catalogue", "make_checker", "statement_parts", "FORMATS", "UnknownError"]
