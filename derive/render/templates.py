"""The jinja2 environment: LaTeX-safe delimiters (\\VAR{} \\BLOCK{} \\#{}); plain strings are escaped
for LaTeX when they reach a template, values wrapped in Tex (statements, printed math) are not."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from derive.errors import RenderError


class Tex(str):
    """Already LaTeX (the templates pass it through unescaped)."""




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
    import jinja2  # here, not at the top: `derive check` never renders
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
