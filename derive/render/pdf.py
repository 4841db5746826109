"""The PDF build: LaTeX source -> PDF with TeX sandboxed.

TeX runs with -no-shell-escape, may read only its own temporary folder and its installation
(openin_any = p: nothing by absolute path or '..'; no TEXINPUTS or TEXMF* of the caller's), may
write only there, and is stopped after
TEX_TIMEOUT seconds; it runs in its own process group so that a timeout, Ctrl-C or SIGTERM kills
latexmk together with the pdflatex it started, and the temporary folder is always removed.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from derive.errors import LatexError, RenderError
from derive.runtime import commandline as cliutil

INSTALL_HINT = ("no TeX engine found (latexmk or pdflatex); install one to get the PDF, e.g. on Debian: "
                "apt-get install latexmk texlive-latex-base texlive-latex-recommended texlive-pictures")
TEX_TIMEOUT = 60.0       # seconds for one TeX run; the whole catalogue takes about 3
# TeX may read only the files of its own folder and its installation, write only there, run nothing
TEX_ENV = {"openin_any": "p", "openout_any": "p", "shell_escape": "f"}
# and nothing else of the caller's environment reaches it: TEXINPUTS, TEXMFCNF, TEXMF* or a
# kpathsea variable could add search paths or another texmf.cnf that lifts the rules above
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SOURCE_DATE_EPOCH", "SYSTEMROOT")


def tex_env() -> dict:
    """The environment TeX runs in: a few harmless variables of ours, then TEX_ENV."""
    return {k: v for k, v in os.environ.items() if k in PASSED_ENV} | TEX_ENV


def tex_engine(unicode: bool = False) -> list | None:
    """The command that compiles a .tex to PDF here (lualatex for a sheet set in fontspec's
    Unicode fonts, render/fonts.py), or None."""
    tex = "lualatex" if unicode else "pdflatex"
    if shutil.which("latexmk") and shutil.which(tex):
        return ["latexmk", f"-{'lualatex' if unicode else 'pdf'}", "-no-shell-escape", "-interaction=nonstopmode",
                "-halt-on-error", "-file-line-error"]
    if shutil.which(tex):
        return [tex, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
    return None


def run_tex(cmd: list, cwd, timeout: float | None = None) -> tuple[int, str]:
    """One TeX command, sandboxed by TEX_ENV, in its own process group so that a timeout, Ctrl-C or
    SIGTERM kills latexmk and the pdflatex it started. Returns (exit status, terminal output)."""
    timeout = timeout or TEX_TIMEOUT
    proc = subprocess.Popen(cmd, cwd=cwd, env=tex_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        log = Path(cwd) / "sheet.log"
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-6:]) if log.exists() else ""
        raise LatexError(f"LaTeX did not finish within {timeout:g} s and was stopped: a statement or model "
                         "answer probably loops (a macro that calls itself, such as \\def\\a{\\a}\\a)"
                         + (f"; the log ends:\n{tail}" if tail else "")) from None
    except BaseException:
        _kill_group(proc)
        raise
    return proc.returncode, out


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def log_excerpt(log: str, after: int = 4, limit: int = 40) -> str:
    """The error lines of a LaTeX log: lines starting with '!' (or file:line: errors) and a few after."""
    lines = log.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^ ]*\.tex:\d+: ", line):
            out.extend(lines[i:i + after + 1])
            out.append("")
    return "\n".join(out[:limit]).strip() or "\n".join(lines[-15:])


UNICODE_MARK = "\\usepackage{fontspec}"     # the preamble of a sheet with names in other scripts
_CROSS_REFS = re.compile(r"\\(?:label|ref|pageref|cite|tableofcontents)\b|lastpage|remember picture")


def compile_pdf(tex: str, pdf_path, keep_log: bool = False) -> Path:
    """Compile LaTeX source to pdf_path; raises LatexError with the relevant log lines."""
    unicode = UNICODE_MARK in tex
    engine = tex_engine(unicode)
    if engine is None:
        raise RenderError(INSTALL_HINT)
    pdf_path = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="derive-sheet-") as tmp:
        src = Path(tmp) / "sheet.tex"
        info = r"\pdfextension info" if unicode else r"\pdfinfo"
        src.write_text(f"{info}{{/Creator ({cliutil.MARKER})}}\n" + tex, encoding="utf-8")
        runs = [engine + ["sheet.tex"]] if engine[0] == "latexmk" else [engine + ["sheet.tex"]] * 2
        one = "lualatex" if unicode else "pdflatex"
        if not _CROSS_REFS.search(tex) and shutil.which(one):   # nothing for a second pass to fix
            runs = [[one, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                     "-file-line-error", "sheet.tex"]]
        for cmd in runs:
            code, out = run_tex(cmd, tmp)
            if code != 0:
                log = (Path(tmp) / "sheet.log")
                text = log.read_text(errors="replace") if log.exists() else out
                raise LatexError("LaTeX failed:\n" + log_excerpt(text))
        pdf_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "sheet.pdf", pdf_path)
        if keep_log:
            shutil.copyfile(Path(tmp) / "sheet.log", pdf_path.with_suffix(".log"))
    return pdf_path
