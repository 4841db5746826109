"""A sheet's page: its header, the template filled with each problem's context, the file written.
Light (no SymPy), so a sheet whose problems are cached (render.cached) renders without it."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from derive.errors import HeaderError, RenderError
from derive.render.fonts import header_plan
from derive.render.pdf import INSTALL_HINT, compile_pdf, tex_engine
from derive.render.templates import render_template
from derive.runtime import commandline as cliutil


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
        except UnicodeDecodeError as e:
            raise HeaderError(f"{path}: not UTF-8 text (byte {e.start + 1})") from None
        data = raw.get("header", raw)
        if not isinstance(data, dict):
            raise HeaderError(f"{path}: key 'header' must be a table with course, assignment, date")
        unknown = set(data) - {"course", "assignment", "date"}
        if unknown:
            raise HeaderError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                              "known: course, assignment, date")
        for k, v in data.items():
            if not isinstance(v, (str, int)) or isinstance(v, bool):
                raise HeaderError(f"{path}: key {k!r} must be text, not {type(v).__name__}")
    vals = {k: str(data.get(k, "")) for k in ("course", "assignment", "date")}
    for k, v in (("course", course), ("assignment", assignment), ("date", date)):
        if v is not None:
            vals[k] = v
    return Header(**vals)


def render_contexts(problems: list, questions: bool = False, header: Header | None = None) -> str:
    """The LaTeX source of a sheet of these problem contexts."""
    fonts, header, _ = header_plan(header or Header())     # a course name in another script
    return render_template("sheet.tex.j2", problems=problems, questions=questions, header=header, fonts=fonts,
                           kind="Questions" if questions else "Solutions")


def write_tex(tex: str, output, force: bool = False) -> tuple[Path, str]:
    """LaTeX source to FILE.tex, or compiled to FILE.pdf (the .tex and a hint where TeX is missing).
    A file derive did not write is overwritten only with force (cliutil.check_output)."""
    output = Path(output)
    if output.suffix not in (".tex", ".pdf"):
        raise RenderError(f"{output}: the output must end in .tex or .pdf")
    cliutil.check_output(output, force)
    if output.suffix == ".tex":
        return cliutil.write_text(output, tex, force), ""
    if tex_engine() is None:
        return cliutil.write_text(output.with_suffix(".tex"), tex, force), INSTALL_HINT
    return compile_pdf(tex, output), ""
