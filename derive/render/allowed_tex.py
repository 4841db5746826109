"""The only way a problem file's own LaTeX (a statement, a model answer) reaches TeX: every command
and environment must be on this allow-list of text and math markup. Anything else (\\input,
\\pdfobj, \\def, \\catcode, \\csname, ^^5c, an unknown environment) is an error naming it, so a
problem file cannot read, write or run anything whatever TeX's own sandbox lets through."""
from __future__ import annotations

import re

from derive.errors import RenderError
from derive.render.templates import Tex

GREEK = ("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi "
         "varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi "
         "Sigma Upsilon Phi Psi Omega")
MATH = ("frac dfrac tfrac sqrt sum prod int oint lim limsup liminf partial nabla infty cdot cdots ldots dots "
        "vdots ddots times odot otimes oplus circ ast star pm mp div le leq ge geq ne neq approx equiv sim "
        "simeq propto in notin subset subseteq supset supseteq cup cap setminus emptyset forall exists to "
        "rightarrow leftarrow Rightarrow Leftarrow leftrightarrow Leftrightarrow mapsto implies iff top "
        "intercal perp parallel mid left right bigl bigr Bigl Bigr biggl biggr big Big bigg Bigg langle "
        "rangle lfloor rfloor lceil rceil lVert rVert lvert rvert vert Vert hat widehat tilde widetilde bar "
        "overline underline vec dot ddot prime mathbb mathrm mathbf mathit mathcal mathsf mathtt boldsymbol "
        "operatorname log ln exp sin cos tan tanh sinh cosh arg max min sup inf argmax argmin det dim ker "
        "Pr ell hbar imath jmath Re Im quad qquad binom over underbrace overbrace stackrel overset underset "
        "displaystyle textstyle")
TEXT = ("text textbf textit textrm textsf texttt textsc textup emph item par newline noindent medskip "
        "smallskip bigskip ldots dots enspace thinspace LaTeX TeX footnote textbackslash textasciitilde "
        "textasciicircum S P dag ddag copyright")
ALLOWED = frozenset(f"{GREEK} {MATH} {TEXT} begin end".split())
ENVIRONMENTS = frozenset(("itemize enumerate description center flushleft flushright quote matrix "
                          "pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix cases array aligned "
                          "gathered split align* equation* gather* tabular").split())
CONTROL_SYMBOLS = frozenset(" ,;:!\\{}$%&_#|[]()'`\"^~.-=/")   # \, \{ \[ ... : spacing and escapes

_TOKEN = re.compile(r"\\([A-Za-z]+|.?)|\^\^", re.S)
_ENV = re.compile(r"\s*\{([^{}]*)\}")


def allowed_tex(text: str, where: str) -> Tex:
    """`text` as Tex if every command and environment in it is allowed; RenderError naming the
    first one that is not (`where`: 'scalar-chain (file.toml), statement')."""
    for m in _TOKEN.finditer(text):
        if m[0] == "^^":
            _refuse(where, "^^ (TeX's character-code notation)")
        cmd = m[1]
        if len(cmd) == 1 and not cmd.isalpha():
            if cmd not in CONTROL_SYMBOLS:
                _refuse(where, f"\\{cmd}")
            continue
        if cmd not in ALLOWED:
            _refuse(where, f"\\{cmd}" if cmd else "a lone backslash at the end")
        if cmd in ("begin", "end"):
            env = _ENV.match(text, m.end())
            if env is None or env[1] not in ENVIRONMENTS:
                _refuse(where, f"\\{cmd}{{{env[1] if env else ''}}} (an environment not on the list)")
    return Tex(text)


def _refuse(where: str, what: str):
    raise RenderError(f"{where}: {what} is not allowed in a problem's LaTeX; statements and model answers "
                      "may use text and math markup only (the list is in docs/problems.md, "
                      "'LaTeX in problem files')")
