"""The command line: parse arguments, call one library function, print. Nothing else."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap
from pathlib import Path

from . import pipeline, problem as problem_mod, validate
from .errors import DeriveError, RenderError
from .grading import DEFAULT_TIMEOUT, check
from .notation import shape_text, text
from .render import graph as gr, sheet

EXIT_OK, EXIT_INCORRECT, EXIT_UNUSABLE = 0, 1, 2


def cmd_list(args) -> int:
    problems = problem_mod.catalogue(args.problems)
    rows = [{"id": p.id, "alias": p.alias, "title": p.title, "source": p.source,
             "quantities": [q.name for q in p.quantities]} for p in problems]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{r['alias']:<10} {r['id']:<24} {r['title']}")
    return EXIT_OK


def cmd_solve(args) -> int:
    sol = pipeline.solve(args.problem, args.problems)
    if args.quantity:
        sol.problem.quantity(args.quantity)          # unknown -> UnknownError listing the names
    data = sol.to_dict(sol.problem.quantity(args.quantity).name if args.quantity else None)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(format_solution(sol, data))
    return EXIT_OK if sol.verified else EXIT_UNUSABLE


def format_solution(sol, data) -> str:
    p = sol.problem
    out = [f"{p.alias} ({p.id}): {p.title}" if p.alias else f"{p.id}: {p.title}", f"source: {p.source}"]
    if p.equations:
        out += ["", "Forward pass:"] + [f"  {e.text}" for e in p.equations]
    if p.scope.matrix_mode:
        out += ["", "Dimensions:"]
        names = list(p.inputs) + [e.name for e in p.equations]
        out += [f"  {n} ∈ R^({shape_text(p.node_shape(n))})" for n in names]
    if sol.derivation.steps:
        out += ["", "Backward pass:"]
    for s in sol.derivation.steps:
        out.append(f"  {s.name} = {text(s.general)}")
        out.append(f"      [{s.rule}]")
    out += ["", "Results:"]
    for q in data["quantities"]:
        if not q["graded"]:
            out.append(f"  {q['name']} (not auto-graded), model answer:")
            out += textwrap.wrap(q["text"], 92, initial_indent="    ", subsequent_indent="    ")
            continue
        shape = f"   ({q['shape']})" if q["shape"] else ""
        value = f"   = {q['value']:g}" if q["value"] is not None else ""
        out.append(f"  {q['name']} = {q['text']}{value}{shape}")
    checked = [q for q in data["quantities"] if q["graded"]]
    if checked:
        out += ["", "Verification (relative error, against):"]
    for q in checked:
        mark = "verified" if q["verified"] else "NOT VERIFIED"
        out.append(f"  {q['name']:<12} {mark}, max relative error {q['max_rel_error']:.1e}  [{q['checked_by']}]")
    return "\n".join(out)


def cmd_check(args) -> int:
    answer = sys.stdin.read().strip() if args.answer == "-" else args.answer
    res = check(args.problem, args.quantity, answer, args.format, timeout=args.timeout, extra=args.problems)
    if args.json:
        print(json.dumps(res.to_dict(), indent=2, ensure_ascii=False))
    else:
        if res.interpreted:
            print(f"interpreted as: {res.interpreted}")
        if res.offset is not None and res.verdict == "invalid":
            print(f"  {answer}\n  {' ' * res.offset}^")
        tags = f" [{', '.join(res.diagnosis)}]" if res.diagnosis else ""
        print(f"{res.verdict}{tags}")
        for line in res.feedback:
            print(f"  {line}")
    return {"correct": EXIT_OK, "incorrect": EXIT_INCORRECT}.get(res.verdict, EXIT_UNUSABLE)


def _add_check(sub) -> None:
    p = sub.add_parser(
        "check", help="check one answer to a quantity",
        description="Check a typed answer (plain text or LaTeX) against the derived, verified gradient. "
                    "Exit status: 0 correct, 1 incorrect, 2 invalid or undecided.",
        epilog="example: derive check problem1 dL/dw1 \"dL/dh3 * f3' * w3 * f1' * x\"   "
               "(an answer starting with '-' goes after --; ANSWER - reads standard input)")
    p.add_argument("problem", help="id (scalar-chain), alias (problem1) or a .toml file")
    p.add_argument("quantity", help="the quantity as the problem names it, e.g. dL/dw1")
    p.add_argument("answer", help="the answer; - reads it from standard input")
    p.add_argument("--format", choices=("auto", "text", "latex"), default="auto",
                   help="how to read the answer (auto: LaTeX if it has a backslash or a brace)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per check (default 2)")
    p.add_argument("--json", action="store_true", help="print the CheckResult as JSON")
    p.set_defaults(func=cmd_check)


def cmd_sheet(args) -> int:
    header = sheet.read_header(args.config, args.course, args.assignment, args.date)
    solutions = sheet.resolve(args.problem, args.all, getattr(args, "problems", None))
    if not args.output:
        sys.stdout.write(sheet.render_sheet(solutions, args.questions, header))
        return 0
    path, note = sheet.write_sheet(solutions, args.output, args.questions, header)
    print(f"wrote {path}")
    if note:
        print(note, file=sys.stderr)
    return 0


def cmd_graph(args) -> int:
    sol = sheet.solved(args.problem, getattr(args, "problems", None))
    if not sol.problem.equations:
        raise RenderError(f"{sol.problem.id} has no forward equations (its questions are all prose), "
                          "so it has no computational graph")
    numbers = gr.node_numbers(sol) if args.values else None
    out = gr.tikz(sol.problem, numbers) if args.format == "tikz" else gr.dot(sol.problem, numbers)
    if args.output:
        Path(args.output).write_text(out, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(out)
    return 0


def cmd_validate(args) -> int:
    files = []
    for f in args.files:
        path = Path(f)
        files += sorted(path.glob("*.toml")) if path.is_dir() else [path]
    reports = validate.validate(files, args.timeout)
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


def _add_sheet_and_graph(subparsers) -> None:
    p = subparsers.add_parser(
        "sheet", help="question or solution sheet (LaTeX or PDF)",
        description="Render a question or solution sheet for one or more problems: statement, "
                    "computational graph, forward pass, every backward step with its rule, boxed "
                    "results with shapes and their numeric verification. Without -o the LaTeX "
                    "goes to standard output.",
        epilog="examples:\n  derive sheet problem6 -o deltas.pdf\n"
               "  derive sheet --all --questions -o questions.tex --course 'CS 101' --date 2025-05-01",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", nargs="*", help="ids (scalar-chain), aliases (problem1) or .toml files")
    p.add_argument("--all", action="store_true", help="every problem of the catalogue")
    p.add_argument("-o", "--output", metavar="FILE", help="FILE.tex (LaTeX only) or FILE.pdf")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--questions", action="store_true", help="the problems without answers")
    kind.add_argument("--solutions", action="store_false", dest="questions",
                      help="the worked solutions (default)")
    p.add_argument("--course", help="header: course name")
    p.add_argument("--assignment", help="header: assignment name")
    p.add_argument("--date", help="header: date")
    p.add_argument("--config", metavar="HEADER.toml", help="header from a TOML file "
                   "(course, assignment, date); options override it")
    p.set_defaults(func=cmd_sheet)

    g = subparsers.add_parser(
        "graph", help="the computational graph of a problem (TikZ or DOT)",
        description="Draw a problem's computational graph from its forward equations: inputs, "
                    "parameters, operators and named intermediates, laid out by depth.",
        epilog="examples:\n  derive graph problem6\n  derive graph problem2 --values --format dot -o g.dot",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("problem", help="id, alias or .toml file")
    g.add_argument("--format", choices=("tikz", "dot"), default="tikz", help="output format (default tikz)")
    g.add_argument("--values", action="store_true",
                   help="annotate forward values and gradients (problems with given numbers)")
    g.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    g.set_defaults(func=cmd_graph)


def _add_validate(subparsers) -> None:
    p = subparsers.add_parser(
        "validate", help="check problem files: schema, solve, verify, sample answers",
        description="Validate problem files: the schema (errors name the file, the key and the column), "
                    "then solve and verify every quantity, then check each [[answers]] sample against its "
                    "expected verdict. One ok/FAIL line per stage and sample; exit status 0 only if all pass "
                    "(2 otherwise). A directory stands for its *.toml files. The schema is in docs/problems.md.",
        epilog="example: derive validate mine.toml    (the whole catalogue: derive validate problems/*.toml)")
    p.add_argument("files", nargs="+", metavar="FILE", help="problem files (.toml) or directories of them")
    p.add_argument("--quiet", "-q", action="store_true", help="print only failures and the summary")
    p.add_argument("--timeout", type=float, default=None, help="seconds per sample check (default 2)")
    p.set_defaults(func=cmd_validate)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; sub-commands of later stages register themselves (see _extensions)."""
    ap = argparse.ArgumentParser(prog="derive", description="Backpropagation homework: derive, verify, "
                                 "render and grade gradients.",
                                 epilog="example: derive solve problem1")
    ap.add_argument("--problems", metavar="DIR", help="also read problem files from DIR "
                    "(or set DERIVE_PROBLEMS)")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="show the catalogue", epilog="example: derive list --json")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("solve", help="derive and verify a problem's gradients",
                       epilog="example: derive solve problem6 --quantity drho/dW1")
    p.add_argument("problem", help="id (scalar-chain), alias (problem1) or a .toml file")
    p.add_argument("--quantity", "-q", help="only this quantity, e.g. dL/dw1")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_solve)
    _add_check(sub)
    _add_sheet_and_graph(sub)
    _add_validate(sub)
    for register in _extensions():
        register(sub)
    for p in sub.choices.values():   # `derive solve X --problems DIR` as well as `derive --problems DIR solve X`
        if not any(a.dest == "problems" for a in p._actions):
            p.add_argument("--problems", metavar="DIR", default=argparse.SUPPRESS,
                           help="also read problem files from DIR (or set DERIVE_PROBLEMS)")
    return ap


def _extensions():
    """Sub-commands of stages not folded in here yet (grade, variant): their module's register_cli."""
    out = []
    for mod in ("derive.grade", "derive.variant"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
            continue
        if hasattr(m, "register_cli"):
            out.append(m.register_cli)
    return out


def _answer_last(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`derive check P Q -x*w3` : an answer that starts with '-' is not an option; put it after --."""
    if "check" not in argv or "--" in argv:
        return argv
    sub = next(a for a in parser._actions if a.dest == "command").choices.get("check")
    if sub is None:
        return argv
    known = {o for a in sub._actions for o in a.option_strings}
    takes_value = {o for a in sub._actions if a.nargs is None and a.option_strings for o in a.option_strings
                   if not isinstance(a, (argparse._StoreTrueAction, argparse._HelpAction))}
    start = argv.index("check") + 1
    positionals, i = 0, start
    while i < len(argv):
        tok = argv[i]
        if tok in known:
            i += 2 if tok in takes_value else 1
            continue
        if positionals == 2 and tok.startswith("-") and tok != "-" and not tok.split("=")[0] in known:
            return argv[:i] + argv[i + 1:] + ["--", tok]
        positionals += 1
        i += 1
    return argv


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_answer_last(argv, parser))
    try:
        return args.func(args)
    except DeriveError as e:
        print(f"Error: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
