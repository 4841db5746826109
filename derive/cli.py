"""The command line: parse arguments, call one library function, print. Nothing else."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap

from derive import __version__
from derive.errors import DeriveError, UsageError
from derive.notation import formats
from derive.runtime import commandline as cliutil
from derive.runtime.limits import CHECK_TIMEOUT

EXIT_OK, EXIT_INCORRECT, EXIT_UNUSABLE = 0, 1, 2


def cmd_list(args) -> int:
    from derive.problem import load as problem_mod, topics
    rows = topics.index_rows(topics.with_topic(problem_mod.catalogue(args.problems), args.topic))
    if args.json:
        return print(json.dumps(rows, indent=2, ensure_ascii=False)) or EXIT_OK
    a, i, t = (max([len(r[k]) for r in rows] + [2]) for k in ("alias", "id", "topic"))     # as wide as the longest
    pad = "\n" + " " * (a + i + t + 6)
    for r in rows:
        print(f"{r['alias']:<{a}}  {r['id']:<{i}}  {r['topic'] or '-':<{t}}  {r['title']}" + (f"{pad}source: {r['source']}"
              if r["source"] else "") + f"{pad}quantities: {', '.join(r['quantities'])}")
    return EXIT_OK


def cmd_solve(args) -> int:
    from derive.verify import solve as pipeline
    sol = pipeline.solve(args.problem, args.problems)
    if args.quantity:
        sol.problem.quantity(args.quantity)          # unknown -> UnknownError listing the names
    data = sol.to_dict(sol.problem.quantity(args.quantity).name if args.quantity else None)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(format_solution(sol, data, args.all_steps))
    return EXIT_OK if sol.verified else EXIT_UNUSABLE


def format_solution(sol, data, all_steps: bool = False) -> str:
    from derive.notation.latex import shape_text
    from derive.notation.text import text
    p = sol.problem
    out = [f"{p.alias} ({p.id}): {p.title}" if p.alias else f"{p.id}: {p.title}", f"source: {p.source}"]
    if p.equations:
        out += ["", "Forward pass:"] + [f"  {e.text}" for e in p.equations]
    if p.scope.matrix_mode:
        out += ["", "Dimensions:"]
        names = list(p.inputs) + [e.name for e in p.equations]
        out += [f"  {n} ∈ R^({shape_text(p.node_shape(n))})" for n in names]
    asked = data["quantities"][0]["name"] if len(data["quantities"]) == 1 else None
    steps = sol.derivation.steps if all_steps else sol.steps_on_path(asked)     # JSON keeps every step
    out += ["", "Backward pass:"] if steps else []
    for s in steps:
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
    if args.submission:
        return cmd_check_submission(args)
    if args.quantity is None or args.answer is None:
        raise UsageError("give a QUANTITY and an ANSWER, or --submission FILE to grade a whole derivation")
    if args.ecf is not None:
        raise UsageError("--ecf applies to a whole derivation: use it with --submission FILE")
    from derive.grading.checker import check
    answer = cliutil.read_stdin().strip() if args.answer == "-" else args.answer
    problem = args.problem
    if args.variant is not None:            # the student's own numbers (derive variant PROBLEM --seed N)
        from derive import variants
        from derive.problem import load as problem_mod
        problem = variants.variant_of(problem_mod.load(args.problem, args.problems), args.variant)
    res = check(problem, args.quantity, answer, args.format, timeout=args.timeout, extra=args.problems,
                reveal=args.reveal)
    if args.json:
        print(json.dumps(res.to_dict(), indent=2, ensure_ascii=False))
    else:
        if res.interpreted:
            print(f"interpreted as: {cliutil.shown(res.interpreted)}")
        if res.offset is not None and res.verdict == "invalid":
            shown = cliutil.shown(answer)
            print(f"  {shown}\n  {' ' * len(cliutil.shown(answer[:res.offset]))}^")
        tags = f" [{', '.join(res.diagnosis)}]" if res.diagnosis else ""
        print(f"{res.verdict}{tags}")
        for line in res.feedback:
            print(f"  {cliutil.shown(line)}")
    return {"correct": EXIT_OK, "incorrect": EXIT_INCORRECT}.get(res.verdict, EXIT_UNUSABLE)


def cmd_check_submission(args) -> int:
    if args.quantity is not None:
        raise UsageError("--submission grades the whole file: give only the PROBLEM, not a quantity or answer")
    from derive import variants
    from derive.batch import answer_file as submission
    from derive.grading.checker import default_checker
    from derive.grading.steps import check_submission
    from derive.problem import load as problem_mod
    p = problem_mod.load(args.problem, args.problems)
    if args.variant is not None:
        p = variants.variant_of(p, args.variant)
    answers = submission.for_problem(submission.read_path(args.submission), p, args.submission)
    res = check_submission(p, answers, args.ecf, default_checker(), format=args.format, timeout=args.timeout)
    if args.json:
        print(json.dumps(res.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_submission(res))
    verdicts = {s.verdict for s in res.steps}
    if verdicts <= {"invalid", "undecided"}:
        return EXIT_UNUSABLE
    return EXIT_OK if verdicts == {"correct"} else EXIT_INCORRECT


def format_submission(res) -> str:
    out = [res.headline, f"score {res.score:g} / {res.max_score:g}"
           + (f" (a step consistent with an earlier mistake earns {res.ecf:g} of its points)"
              if any(s.verdict == "consistent" for s in res.steps) else ""), ""]
    width = max(len(s.quantity) for s in res.steps)
    for s in res.steps:
        tags = f" [{', '.join(s.diagnosis)}]" if s.diagnosis else ""
        points = f"{s.score:g} / {s.max_score:g}" if s.asked else "not asked"
        out.append(f"  {s.quantity:<{width}}  {s.verdict}{tags}  ({points})")
        out.append(f"  {'':<{width}}  answer: {s.answer}")
        out += [f"  {'':<{width}}  {line}" for line in s.feedback]
    return "\n".join(out)


def _add_check(sub) -> None:
    p = sub.add_parser(
        "check", help="check one answer to a quantity",
        description="Check a typed answer (plain text or LaTeX) against the derived, verified gradient, "
                    "or with --submission a whole derivation: every quantity an answer file answers, "
                    "step by step, with the first wrong step and credit for later steps consistent "
                    "with it (error carried forward). Exit status: 0 correct, 1 incorrect (a "
                    "submission: some step not correct), 2 invalid or undecided (a submission: "
                    "unusable, or no step could be graded).",
        epilog="example: derive check problem1 dL/dw1 \"dL/dh3 * f3' * w3 * f1' * x\"   "
               "(an answer starting with '-' goes after --; ANSWER - reads standard input);   "
               "a whole derivation: derive check problem6 --submission answers.txt --ecf 0.5")
    p.add_argument("problem", help="id (scalar-chain), alias (problem1) or a .toml file")
    p.add_argument("quantity", nargs="?", help="the quantity as the problem names it, e.g. dL/dw1")
    p.add_argument("answer", nargs="?", help="the answer; - reads it from standard input")
    p.add_argument("--submission", metavar="FILE", help="grade every answer of this answer file "
                   "(`QUANTITY: ANSWER` lines, as `derive template` writes them) as one derivation")
    p.add_argument("--ecf", type=float, help="with --submission: the share of a step's points earned by "
                   "a step consistent with an earlier mistake (default: the problem's ecf, else 1)")
    p.add_argument("--format", choices=formats.NAMES, default="auto", help=formats.help_text().replace("%", "%%"))
    p.add_argument("--timeout", type=float, default=CHECK_TIMEOUT, help="seconds per check (default 2)")
    p.add_argument("--reveal", action="store_true",
                   help="feedback may show the expression a mistake concerns (by default it names it by "
                        "its role: 'a factor is missing: the local derivative at h1')")
    p.add_argument("--variant", type=int, metavar="SEED", help="grade against this seed's variant of the problem")
    p.add_argument("--json", action="store_true", help="print the CheckResult as JSON")
    p.set_defaults(func=cmd_check)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; sub-commands of later stages register themselves (see _extensions).
    With `command`, a later stage's module is imported only if it registers that command."""
    ap = argparse.ArgumentParser(prog="derive", description="Backpropagation homework: derive, verify, "
                                 "render and grade gradients.",
                                 epilog="example: derive solve problem1")
    ap.add_argument("--problems", metavar="DIR", help="also read problem files from DIR "
                    "(or set DERIVE_PROBLEMS)")
    ap.add_argument("--version", action="version", version=f"derive {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="show the catalogue", epilog="examples: derive list --json; derive list --topic recurrent")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--topic", metavar="T", help="only the problems of topic T (derive list shows the topics)")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("solve", help="derive and verify a problem's gradients",
                       epilog="example: derive solve problem6 --quantity drho/dW1")
    p.add_argument("problem", help="id (scalar-chain), alias (problem1) or a .toml file")
    p.add_argument("--quantity", "-q", help="only this quantity, e.g. dL/dw1")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--all-steps", action="store_true", help="every backward step, not only those an asked one needs")
    p.set_defaults(func=cmd_solve)
    if command not in ("list", "solve", "check"):
        from derive.batch import commands as batch_commands
        batch_commands.register_cli(sub)
    _add_check(sub)
    for register in _extensions(command):
        register(sub)
    for p in sub.choices.values():   # `derive solve X --problems DIR` as well as `derive --problems DIR solve X`
        if not any(a.dest == "problems" for a in p._actions):
            p.add_argument("--problems", metavar="DIR", default=argparse.SUPPRESS,
                           help="also read problem files from DIR (or set DERIVE_PROBLEMS)")
    return ap


# which module registers which sub-command: a command runs without importing the others' modules
EXTENSIONS = {"derive.render.commands": ("sheet", "graph"), "derive.variants": ("variant",),
              "derive.validate": ("docs", "validate"), "derive.codegen.writer": ("code",),
              "derive.serve": ("serve", "links", "attempts")}
CORE = ("list", "solve", "grade", "template", "autograder", "check")    # this module and batch.commands


def _extensions(command: str | None = None):
    """Sub-commands registered by their stage's module (sheet/graph, variant, validate, code, serve):
    all of them, or only the one registering `command` (none for a command of this module)."""
    mods = list(EXTENSIONS)
    if command in CORE:
        mods = []
    elif any(command in names for names in EXTENSIONS.values()):
        mods = [m for m, names in EXTENSIONS.items() if command in names]
    out = []
    for mod in mods:
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
    """`derive check P Q -x*w3` : an answer that starts with '-' is not an option; put it after --.
    Options may stand anywhere among PROBLEM QUANTITY ANSWER (check P Q --json ANSWER)."""
    if "check" not in argv or "--" in argv:
        return argv
    sub = next(a for a in parser._actions if a.dest == "command").choices.get("check")
    if sub is None:
        return argv
    known = {o for a in sub._actions for o in a.option_strings}
    takes_value = {o for a in sub._actions if a.nargs is None and a.option_strings for o in a.option_strings
                   if not isinstance(a, (argparse._StoreTrueAction, argparse._HelpAction))}
    start = argv.index("check") + 1
    options, positionals, moved, i = [], [], False, start
    while i < len(argv):
        tok = argv[i]
        if tok in known or tok.split("=")[0] in known:
            n = 2 if tok in takes_value else 1
            options += argv[i:i + n]
            i += n
            continue
        moved = moved or (len(positionals) == 2 and tok.startswith("-") and tok != "-") or bool(options)
        positionals.append(tok)
        i += 1
    # every positional after --, so the optional QUANTITY and ANSWER are read together
    return argv[:start] + options + ["--"] + positionals if moved else argv


def _command(argv: list[str]) -> str | None:
    """The sub-command argv names (None: none, or help asked for the whole command line)."""
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--problems":
            i += 2
            continue
        if tok.startswith("--problems="):
            i += 1
            continue
        return tok if not tok.startswith("-") else None
    return None


def main(argv=None) -> int:
    cliutil.setup_stdio()
    cliutil.install_signals()
    cliutil.install_warnings()
    real = argv is None              # a real command-line run, not a call from Python
    if real:
        cliutil.limit_memory()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command(argv))
    try:
        args = parser.parse_args(_answer_last(argv, parser))
        cliutil.check_seconds("--timeout", getattr(args, "timeout", None))
        code = args.func(args)
        return cliutil.end_at_once(code) if real and args.func is cmd_check else code
    except DeriveError as e:
        print(f"Error: {cliutil.shown(str(e))}", file=sys.stderr)
        return EXIT_UNUSABLE
    except cliutil.Terminated:
        print("terminated", file=sys.stderr)
        return cliutil.EXIT_TERMINATED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return cliutil.EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except RecursionError:        # a last guard: the parser and loader bound depth before this
        print("Error: the input is nested too deeply to process", file=sys.stderr)
        return EXIT_UNUSABLE
    except MemoryError:
        print("Error: out of memory; the problem's dimensions or equations are too large", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
