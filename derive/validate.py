"""Authoring: validate problem files — parse, solve, verify, and run their own sample answers.

`derive validate FILE...` is what an instructor runs on a new problem file, and what CI runs on
the whole catalogue. Every stage reports one line, `ok` or `FAIL`; a file whose schema is wrong
stops at the first stage with the file, the key and (where known) the column.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from derive.engine.backprop import derive
from derive.errors import DeriveError, LatexError, ProblemSpecError, RenderError
from derive.grading import CHECK_VERDICTS, DEFAULT_TIMEOUT, check, mutants
from derive.problem.load import load_file
from derive.problem.index import catalogue_dir
from derive.runtime.commandline import same_file
from derive.render import pdf as pdf_build, sheet
from derive.variants import instantiate
from derive.verify.causes import likely_cause
from derive.verify.solve import solve

TOP_KEYS = {"id", "alias", "title", "source", "statement", "dims", "symbols", "functions", "forward",
            "output", "given", "names", "aliases", "quantities", "values", "answers", "conventions",
            "onehot", "positive", "keep", "notes", "reveal", "variants", "points", "ecf", "topic", "display"}
ANSWER_KEYS = {"quantity", "answer", "verdict", "note"}
CONVENTIONS = {"vectors": ("column", "row"), "layout": ("shape", "numerator")}


@dataclass(frozen=True)
class Line:
    ok: bool
    text: str


@dataclass(frozen=True)
class FileReport:
    path: str
    lines: tuple            # Line, one per stage and sample answer
    seconds: float
    solution: object = field(default=None, repr=False, compare=False)   # for the TeX stage

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines)


def _schema(path: Path) -> list:
    """Checks beyond what loading enforces: unknown keys, sample answers' shape."""
    if not path.is_file():           # never open a FIFO; load_file says what the path is
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return []                    # load_file reports these with the file's name
    errors = []
    for key in sorted(set(data) - TOP_KEYS):
        errors.append(str(ProblemSpecError(f"unknown key; known: {', '.join(sorted(TOP_KEYS))}",
                                           file=str(path), key=key)))
    conv = data.get("conventions", {})
    for k, v in (conv.items() if isinstance(conv, dict) else ()):   # the loader reads layout, silently
        if k not in CONVENTIONS:
            errors.append(str(ProblemSpecError(f"unknown key; known: {', '.join(CONVENTIONS)}",
                                               file=str(path), key=f"conventions.{k}")))
        elif v not in CONVENTIONS[k]:
            errors.append(str(ProblemSpecError(f"{v!r} is not one of {', '.join(CONVENTIONS[k])}",
                                               file=str(path), key=f"conventions.{k}")))
    answers = data.get("answers", [])
    for i, a in enumerate(answers if isinstance(answers, list) else []):   # schema.check reports the type
        key = f"answers[{i}]"
        if not isinstance(a, dict):
            errors.append(str(ProblemSpecError("an answer is a table with quantity, answer, verdict",
                                               file=str(path), key=key)))
            continue
        for k in sorted(set(a) - ANSWER_KEYS):
            errors.append(str(ProblemSpecError(f"unknown key {k!r}; known: {', '.join(sorted(ANSWER_KEYS))}",
                                               file=str(path), key=key)))
        for k in ("quantity", "answer", "verdict"):
            if not isinstance(a.get(k), str):
                errors.append(str(ProblemSpecError(f"missing or not a string: {k}", file=str(path), key=key)))
        if isinstance(a.get("verdict"), str) and a["verdict"] not in CHECK_VERDICTS:
            errors.append(str(ProblemSpecError(f"verdict {a['verdict']!r} is not one of {', '.join(CHECK_VERDICTS)}",
                                               file=str(path), key=f"{key}.verdict")))
    return errors


def _clash(p, path: Path) -> str:
    """A user's file may not reuse a built-in id (or alias)."""
    builtin_dir = catalogue_dir().resolve()
    if path.resolve().parent == builtin_dir:
        return ""
    for f in sorted(builtin_dir.glob("*.toml")):
        if same_file(f, path):           # the installed copy of this very file: not a clash
            return ""
        other = load_file(f)
        if p.id in (other.id, other.alias):
            return str(ProblemSpecError(f"id {p.id!r} is already used by the built-in {f.name}",
                                        file=str(path), key="id"))
        if p.alias and p.alias in (other.alias, other.id):
            return str(ProblemSpecError(f"alias {p.alias!r} is already used by the built-in {f.name}",
                                        file=str(path), key="alias"))
    return ""


def _variant_lines(p, count: int) -> list:
    """Draw `count` seeds: each must instantiate (require met, same step structure), solve and verify."""
    distinct, bad = {}, []
    for seed in range(count):
        try:
            v = instantiate(p, seed)
        except DeriveError as e:
            return [Line(False, f"variants: seed {seed}: {e}")]
        key = (tuple(v.value_text.items()), tuple(v.choices.items()))
        if key not in distinct:          # seeds that draw the same numbers are the same problem
            sol = solve(v)
            distinct[key] = [c.name for c in sol.checks if not c.verified]
        if distinct[key]:
            bad.append(f"seed {seed} ({', '.join(f'{k} = {x}' for k, x in key[0] + key[1])}): "
                       f"{', '.join(distinct[key])} NOT verified")
    if bad:
        return [Line(False, f"variants: {b}") for b in bad[:5]]
    return [Line(True, f"variants: {count} seeds ({len(distinct)} distinct) solve, verify and keep the "
                       "base problem's steps")]


MUTANTS = {"all": None, "sample": 1}     # --mutants: every mutant, or one of each kind per quantity


def validate_file(path, timeout: float | None = None, variants: int = 20, mutants: str = "all") -> FileReport:
    """Parse, solve, verify and run the sample answers of one problem file (and its variants); then
    grade the classic wrong answers made from each graded quantity's derivation (`mutants`: all,
    sample or none)."""
    start = time.perf_counter()
    path = Path(path)
    lines = []
    errors = _schema(path)
    try:
        p = load_file(path)
    except DeriveError as e:
        errors.insert(0, str(e))
    if not errors:
        clash = _clash(p, path)
        if clash:
            errors.append(clash)
    if errors:
        lines += [Line(False, f"schema: {e}") for e in errors]
        return FileReport(str(path), tuple(lines), time.perf_counter() - start)
    graded = [q for q in p.quantities if q.graded]
    lines.append(Line(True, f"parses: {p.id}{f' ({p.alias})' if p.alias else ''}, {len(p.quantities)} "
                            f"quantities ({len(p.quantities) - len(graded)} not auto-graded), "
                            f"{len(p.samples)} sample answers"))
    try:
        sol = solve(path)
    except DeriveError as e:
        lines.append(Line(False, f"solve: {e}"))
        return FileReport(str(path), tuple(lines), time.perf_counter() - start)
    except (NotImplementedError, ValueError, TypeError, ArithmeticError) as e:
        lines.append(Line(False, f"solve: the engine cannot derive this problem ({type(e).__name__}: {e})"))
        return FileReport(str(path), tuple(lines), time.perf_counter() - start)
    except MemoryError:                      # this file's sizes: the folder's other files are still checked
        lines.append(Line(False, "solve: out of memory; the problem's dimensions or equations are too large"))
        return FileReport(str(path), tuple(lines), time.perf_counter() - start)
    bad = [c for c in sol.checks if not c.verified]
    worst = max((c.max_rel_error for c in sol.checks), default=0.0)
    if bad:
        for c in bad:
            lines.append(Line(False, f"verify: {c.name} NOT verified (relative error {c.max_rel_error:.2g}); "
                                     f"likely cause: {likely_cause(sol.derivation, c)}"))
    else:
        lines.append(Line(True, f"solves and verifies: {len(sol.checks)} quantities, "
                                f"max relative error {worst:.1e}"))
    if p.variants is not None and variants:
        lines += _variant_lines(p, variants)
    for i, s in enumerate(p.samples):
        shown = " ".join(s.answer.split())
        shown = shown if len(shown) <= 48 else shown[:45] + "..."
        try:
            r = check(p, s.quantity, s.answer, timeout=timeout or DEFAULT_TIMEOUT)
        except DeriveError as e:
            lines.append(Line(False, f"answers[{i}] {s.quantity}: {e}"))
            continue
        got = r.verdict + (f" [{', '.join(r.diagnosis)}]" if r.diagnosis else "")
        ok = r.verdict == s.verdict
        text = f"answers[{i}] {s.quantity} = {shown!r}: {got}"
        if not ok:
            text += f", expected {s.verdict}" + (f" ({s.note})" if s.note else "")
            if r.feedback:
                text += f"; feedback: {r.feedback[0]}"
        lines.append(Line(ok, text))
    if mutants != "none" and mutants_of(p):
        rep = mutant_report(p, timeout, MUTANTS[mutants])
        text = f"mutants: {rep.line()}"
        if rep.rejected < rep.total:
            text += "; accepted: " + "; ".join(f"{q} = {t!r} ({k})" for q, k, t, v, _ in rep.failures
                                               if v != "incorrect")[:400]
        lines.append(Line(rep.rejected == rep.total, text))
    return FileReport(str(path), tuple(lines), time.perf_counter() - start, sol)


def mutants_of(p) -> bool:
    """Whether the problem has quantities graded by equivalence (the ones mutants are made for)."""
    return any(q.graded and q.kind.mutated for q in p.quantities)


@dataclass(frozen=True)
class MutantReport:
    total: int               # mutants made (equivalent ones left out)
    rejected: int            # graded incorrect
    named: int               # ... with a diagnosis that names the mistake
    failures: tuple          # (quantity, kind, text, verdict, diagnosis): accepted, invalid or unnamed

    def line(self) -> str:
        state = "all rejected" if self.rejected == self.total else f"{self.total - self.rejected} NOT rejected"
        return f"{self.total} mutants, {state}, diagnoses named {self.named}/{self.total}"


def mutant_report(p, timeout: float | None = None, per_kind: int | None = None) -> MutantReport:
    """Make the classic wrong answers to every graded quantity from its reference derivation and
    grade each through the public checker: each must be rejected, and its diagnosis should name it.
    `per_kind`: at most that many mutants of each kind per quantity (None: all)."""
    derivation = derive(p)
    total = rejected = named = 0
    failures = []
    seconds = timeout or DEFAULT_TIMEOUT
    for r in mutants.graded_results(derivation):
        base = check(p, r.quantity.name, mutants.reference_text(p, r), timeout=seconds)
        if not base.correct:
            failures.append((r.quantity.name, "reference", mutants.reference_text(p, r), base.verdict, base.diagnosis))
        made, count = mutants.distinct(derivation, r, mutants.mutants(derivation, r)), {}
        for m in made:
            count[m.kind] = count.get(m.kind, 0) + 1
            if per_kind is not None and count[m.kind] > per_kind:
                continue
            res = check(p, r.quantity.name, m.text, timeout=seconds)
            total += 1
            refused = res.verdict == "invalid" and "not_allowed" in res.diagnosis    # builds on a later node
            ok = res.verdict == "incorrect" or refused
            rejected += ok
            hit = ok and (refused or bool(set(res.diagnosis) & m.codes))
            named += hit
            if not hit:
                failures.append((r.quantity.name, m.kind, m.text, res.verdict, res.diagnosis))
    return MutantReport(total, rejected, named, tuple(failures))


def validate(paths, timeout: float | None = None, variants: int = 20, tex: bool = True,
             mutants: str = "all") -> list[FileReport]:
    """validate_file for each path; then, where latexmk is installed, every file that passed is
    typeset (one TeX run for all, one per file only to find the culprit when that run fails)."""
    reports = [validate_file(p, timeout, variants, mutants) for p in paths]
    if tex and shutil.which("latexmk"):
        reports = _typeset(reports)
    return reports


TEX_CHECK_TIMEOUT = 30.0     # seconds for the whole validate compile (the catalogue takes about 2)


def _typeset(reports: list) -> list:
    """Compile the solution sheet in draft mode (one pass, no PDF written) under the sheet's TeX
    sandbox; a file whose statement or model answers do not compile gets the TeX error lines."""
    ready = [i for i, r in enumerate(reports) if r.ok and r.solution is not None]
    if not ready or _tex_error([reports[i].solution for i in ready]) is None:
        return [replace(r, lines=r.lines + (Line(True, "typesets: the solution sheet compiles"),))
                if i in ready else r for i, r in enumerate(reports)]
    out = list(reports)
    for i in ready:
        err = _tex_error([reports[i].solution])
        line = Line(True, "typesets: the solution sheet compiles") if err is None else Line(False, f"typesets: {err}")
        out[i] = replace(reports[i], lines=reports[i].lines + (line,))
    return out


def _tex_error(solutions) -> str | None:
    """None when the sheet of these solutions compiles, else the LaTeX error excerpt (or the command
    the allow-list refuses: such a file never reaches TeX)."""
    try:
        tex = sheet.render_sheet(solutions)
    except RenderError as e:
        return str(e)
    with tempfile.TemporaryDirectory(prefix="derive-validate-") as tmp:
        (Path(tmp) / "sheet.tex").write_text(tex, encoding="utf-8")
        cmd = ["pdflatex", "-draftmode", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
               "-file-line-error", "sheet.tex"]
        try:
            code, out = pdf_build.run_tex(cmd, tmp, TEX_CHECK_TIMEOUT)
        except LatexError as e:
            return str(e)
        if code == 0:
            return None
        log = Path(tmp) / "sheet.log"
        excerpt = pdf_build.log_excerpt(log.read_text(errors="replace") if log.exists() else out)
        return "LaTeX failed: " + " | ".join(line.strip() for line in excerpt.splitlines()[:3] if line.strip())


# ---- the command line ---------------------------------------------------------------------
def cmd_validate(args) -> int:
    files = []
    for f in args.files:
        path = Path(f)
        files += sorted(path.glob("*.toml")) if path.is_dir() else [path]
    reports = validate(files, args.timeout, args.variants, tex=not args.no_tex, mutants=args.mutants)
    failed = 0
    for rep in reports:
        if not args.quiet or not rep.ok:
            print(f"{rep.path}  ({rep.seconds:.1f} s)")
        for line in rep.lines:
            if not args.quiet or not line.ok:
                print(f"  {'ok  ' if line.ok else 'FAIL'}  {line.text}")
        failed += sum(1 for line in rep.lines if not line.ok)
    total = sum(len(r.lines) for r in reports)
    print(f"{len(reports)} file{'s' * (len(reports) != 1)}, {total} checks, {failed} failed "
          f"({sum(r.seconds for r in reports):.1f} s)")
    return 0 if failed == 0 and reports else 2


def docs_file() -> Path:
    """docs/problems.md: beside the package in a checkout, derive/docs once installed."""
    here = Path(__file__).resolve().parent
    for cand in (here / "docs" / "problems.md", here.parent / "docs" / "problems.md"):
        if cand.is_file():
            return cand
    raise DeriveError("docs/problems.md is missing from this installation")


def cmd_docs(args) -> int:
    f = docs_file()
    if args.path:
        print(f)
    else:
        sys.stdout.write(f.read_text(encoding="utf-8"))
    return 0


def register_cli(subparsers) -> None:
    d = subparsers.add_parser("docs", help="the problem-file reference (docs/problems.md)",
                              description="Print docs/problems.md, the reference for writing problem files "
                                          "(keys, kinds, notation, variants, the LaTeX allowed), as installed.",
                              epilog="examples:\n  derive docs | less\n  derive docs --path",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--path", action="store_true", help="print where the file is instead of its text")
    d.set_defaults(func=cmd_docs)
    p = subparsers.add_parser(
        "validate", help="check problem files: schema, solve, verify, sample answers",
        description="Validate problem files: the schema (errors name the file, the key and the column), "
                    "then solve and verify every quantity, then check each [[answers]] sample against its "
                    "expected verdict, then grade the classic wrong answers made from each quantity's derivation "
                    "(each must be rejected; the line says how many diagnoses name the mistake), then (where "
                    "latexmk is installed) typeset the solution sheet. One ok/FAIL line per "
                    "stage and sample; exit status 0 only if all pass "
                    "(2 otherwise). A directory stands for its *.toml files. The schema is in docs/problems.md "
                    "(`derive docs` prints it, installed or not).",
        epilog="example: derive validate mine.toml    (the whole catalogue: derive validate problems/*.toml)")
    p.add_argument("files", nargs="+", metavar="FILE", help="problem files (.toml) or directories of them")
    p.add_argument("--quiet", "-q", action="store_true", help="print only failures and the summary")
    p.add_argument("--timeout", type=float, default=None, help="seconds per sample check (default 2)")
    p.add_argument("--variants", type=int, default=20, metavar="N",
                   help="seeds drawn per problem with [variants], each solved and verified (default 20; 0: none)")
    p.add_argument("--mutants", choices=tuple(MUTANTS) + ("none",), default="all",
                   help="grade the classic wrong answers made from each quantity's derivation (sign, a "
                        "dropped path or factor, f for f', transposes, ...): all of them (default), one of "
                        "each kind per quantity, or none; each must be rejected")
    p.add_argument("--no-tex", action="store_true", help="skip typesetting the solution sheet (done only where "
                   "latexmk is installed; TeX may read only its own folder)")
    p.set_defaults(func=cmd_validate)
