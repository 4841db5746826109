"""A Gradescope autograder bundle for some problems, and the grading run inside it.

The zip holds what Gradescope expects at its root (setup.sh, run_autograder) plus a wheel of
this very installation of derive (built here from the package's own files, dependencies pinned
to the versions installed here), the problem files that are not built in, the answer template
and autograder.json (which questions the assignment has). Gradescope unpacks it into
/autograder/source; every submission is graded by `derive autograder --run /autograder`.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import io
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

from derive import __version__
from derive.batch import answer_file as submission
from derive.batch import gradescope
from derive.batch import run as grade
from derive.errors import DeriveError, InputError
from derive.problem.load import load
from derive.problem.index import catalogue_dir
from derive.render.templates import templates_dir

DEPENDENCIES = ("sympy", "numpy", "jinja2")
CONFIG = "autograder.json"
MAX_UPLOAD = 256 << 10        # bytes of the answer file: the filled template of a long assignment is ~10 KB
MAX_FILES = 1000              # files looked at in an upload
MAX_ANSWERS = 400             # answers in one upload (each is checked, up to its time limit)

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while building the autograder image: a Python >= 3.11
# (installed from the distribution when the image has none), a venv, and this bundle's derive.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY=""
for c in python3.13 python3.12 python3.11 python3; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY="$c"; break
  fi
done
if [ -z "$PY" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q python3.11 python3.11-venv
  PY=python3.11
fi
"$PY" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install -q "$ROOT"/source/derive-*.whl
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade $ROOT/submission into $ROOT/results/results.json.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${DERIVE_PYTHON:-$ROOT/venv/bin/python}"
mkdir -p "$ROOT/results"
exec "$PY" -m derive.cli autograder --run "$ROOT"
"""


def build(problems: list, out, extra=None) -> Path:
    """Write the bundle for these problems (ids, aliases or files) to `out`; returns its path."""
    if not problems:
        raise DeriveError("name the problems of the assignment, e.g. derive autograder residual-relu -o autograder.zip")
    loaded = [load(p, extra) for p in problems]
    builtin = catalogue_dir().resolve()
    questions = [[p.id, q.name] for p in loaded for q in p.quantities if q.graded]
    if not questions:
        raise DeriveError("these problems have no auto-graded questions (prose questions are graded by hand)")
    config = {"derive": __version__, "problems": [p.id for p in loaded], "questions": questions}
    name, wheel_bytes = wheel()
    out = Path(out)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16
            z.writestr(info, text)
        z.writestr(name, wheel_bytes)
        z.writestr(CONFIG, json.dumps(config, indent=2))
        z.writestr("answers.txt", submission.template(loaded))
        for p in loaded:
            if Path(p.path).resolve().parent != builtin:
                z.write(p.path, f"problems/{Path(p.path).name}")
    return out


def wheel() -> tuple[str, bytes]:
    """(file name, bytes) of a py3-none-any wheel of the running derive package."""
    pkg = Path(__file__).resolve().parent.parent
    files = {f"derive/{f.relative_to(pkg).as_posix()}": f for f in sorted(pkg.rglob("*"))
             if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"}
    for sub, src, patterns in (("problems", catalogue_dir(), ("*.toml",)),
                               ("templates", templates_dir(), ("*.j2", "*.tex", "*.sty"))):
        for pat in patterns:
            for f in sorted(src.glob(pat)):
                files.setdefault(f"derive/{sub}/{f.name}", f)
    info = f"derive-{__version__}.dist-info"
    pins = "".join(f"Requires-Dist: {d}=={md.version(d)}\n" for d in DEPENDENCIES)
    meta = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: derive\nVersion: {__version__}\n"
                                f"Summary: Backpropagation homework as data\nRequires-Python: >=3.11\n{pins}",
            f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: derive autograder\nRoot-Is-Purelib: true\n"
                             "Tag: py3-none-any\n",
            f"{info}/entry_points.txt": "[console_scripts]\nderive = derive.cli:main\n",
            f"{info}/top_level.txt": "derive\n"}
    buf, record = io.BytesIO(), []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in [(a, f.read_bytes()) for a, f in files.items()] + \
                         [(a, t.encode()) for a, t in meta.items()]:
            z.writestr(zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0)), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{arc},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        z.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)), "\n".join(record) + "\n")
    return f"derive-{__version__}-py3-none-any.whl", buf.getvalue()


def find_submission(folder: Path) -> Path:
    """The student's answer file: answers.txt, else the only file, else the only .txt file.
    Symbolic links are never followed (answers.txt -> /etc/passwd is not an answer file) and a file
    over MAX_UPLOAD is refused."""
    files, links = [], []
    for top, dirs, names in os.walk(folder):          # followlinks=False: a linked folder is not entered
        for n in sorted(names) + sorted(d for d in dirs if os.path.islink(os.path.join(top, d))):
            f = Path(top) / n
            if n.startswith(".") or len(files) >= MAX_FILES:
                continue
            mode = os.lstat(f).st_mode
            if stat.S_ISLNK(mode):
                links.append(f.name)
            elif stat.S_ISREG(mode):
                files.append(f)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    files.sort()
    named = [f for f in files if f.name == "answers.txt"]
    txt = [f for f in files if f.suffix == ".txt"]
    for cands in (named, files if len(files) == 1 else [], txt if len(txt) == 1 else []):
        if cands:
            size = os.lstat(cands[0]).st_size
            if size > MAX_UPLOAD:
                raise InputError(f"{cands[0].name} is {size / 1024:,.0f} KB; an answer file is at most "
                                 f"{MAX_UPLOAD >> 10} KB (upload the filled-in template, answers.txt)")
            return cands[0]
    found = ", ".join(f.name for f in files[:5]) or "no files"
    skipped = f"; symbolic links are not read ({', '.join(links[:5])})" if links else ""
    raise InputError(f"no answer file found in the submission ({found}){skipped}; upload the filled-in "
                     "template, answers.txt")


def points(expected: list, extra=None) -> dict:
    """(problem id, quantity) -> its points, so that an unanswered question still counts its points."""
    out = {}
    for pid, q in expected:
        try:
            out[pid, q] = load(pid, extra).points_of(q)
        except DeriveError:
            out[pid, q] = 1.0
    return out


def run(root) -> dict:
    """Grade root/submission into root/results/results.json (also returned); never raises for
    anything a student uploads: an unusable upload gets a results.json saying what is wrong."""
    root = Path(root)
    config = json.loads((root / "source" / CONFIG).read_text(encoding="utf-8"))
    problems = root / "source" / "problems"
    extra = str(problems) if problems.is_dir() else None
    expected = points([tuple(q) for q in config["questions"]], extra)
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        sub = find_submission(root / "submission")
        n = len(submission.read(sub.read_text(encoding="utf-8", errors="replace")))
        if n > max(MAX_ANSWERS, 4 * len(expected)):
            raise InputError(f"{sub.name} holds {n:,} answers; this assignment has {len(expected)} questions "
                             f"(upload the filled-in template, answers.txt)")
        with tempfile.TemporaryDirectory() as tmp:
            grade.grade_file(sub, Path(tmp) / "report.csv", gradescope_out=out, student="submission",
                             extra=extra, expected=expected,
                             force=True)          # results/ is Gradescope's folder for exactly this file
        return json.loads(out.read_text(encoding="utf-8"))
    except InputError as e:
        data = gradescope.results([], expected)
        data["output"] = f"{e}\n{data['output']}"
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        return data
