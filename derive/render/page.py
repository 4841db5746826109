"""A sheet's page: its header, the template filled with each problem's context, the file written.
Light (no SymPy), so a sheet whose problems are cached (render.cached) renders without it."""
from __future__ import annotations

from pathlib import Path

from derive.errors import RenderError
from derive.render.fonts import header_plan
from derive.render.header import Header
from derive.render.pdf import INSTALL_HINT, compile_pdf, tex_engine
from derive.render.templates import render_template
from derive.runtime import commandline as cliutil


def render_contexts(problems: list, questions: bool = False, header: Header | None = None) -> str:
    """The LaTeX source of a sheet of these problem contexts."""
    fonts, header, _ = header_plan(header or Header())     # a course name in another script
    return render_template("sheet.tex.j2", problems=problems, questions=questions, header=header, fonts=fonts,
                           kind="Questions" if questions else "Solutions")


def write_tex(tex: str, output, force: bool = False) -> tuple[Path, str]:
    """LaTeX source to FILE.tex, or compiled to FILE.pdf (the .tex and a hint where TeX is missing).
    A file derive did not write is overwritten only with force (cliutil.check_output)."""
    output = Path(output)
    if output.suffix.lower() not in (".tex", ".pdf"):
        raise RenderError(f"{output}: the output must end in .tex or .pdf")
    cliutil.check_output(output, force)
    if output.suffix.lower() == ".tex":
        return cliutil.write_text(output, tex, force), ""
    if tex_engine() is None:
        return cliutil.write_text(output.with_suffix(".tex"), tex, force), INSTALL_HINT
    return compile_pdf(tex, output), ""
