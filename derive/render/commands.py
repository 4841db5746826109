"""The `sheet` and `graph` sub-commands: arguments in, one library call, the file written out."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import graph as gr
from . import sheet
from .roster import render_roster


def cmd_sheet(args) -> int:
    header = sheet.read_header(args.config, args.course, args.assignment, args.date)
    extra = getattr(args, "problems", None)
    if args.roster:                      # one sheet per student; questions unless --solutions
        tex = render_roster(args.problem, args.roster, args.questions is not False, header,
                            salt=args.salt, all_=args.all, extra=extra)
    elif args.salt is not None:
        raise sheet.RenderError("--salt goes with --roster (it makes each student's seed)")
    else:
        tex = sheet.render_sheet(sheet.resolve(args.problem, args.all, extra), bool(args.questions), header)
    if not args.output:
        sys.stdout.write(tex)
        return 0
    return _wrote(*sheet.write_tex(tex, args.output))


def _wrote(path, note) -> int:
    print(f"wrote {path}")
    if note:
        print(note, file=sys.stderr)
    return 0


def cmd_graph(args) -> int:
    sol = sheet._solve(args.problem, getattr(args, "problems", None))
    if not sol.problem.equations:
        raise sheet.RenderError(f"{sol.problem.id} has no forward equations (its questions are all prose), "
                                "so it has no computational graph")
    numbers = gr.node_numbers(sol) if args.values else None
    out = gr.tikz(sol.problem, numbers) if args.format == "tikz" else gr.dot(sol.problem, numbers)
    if args.output:
        Path(args.output).write_text(out, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(out)
    return 0


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "sheet", help="question or solution sheet (LaTeX or PDF)",
        description="Render a question or solution sheet for one or more problems: statement, "
                    "computational graph, forward pass, every backward step with its rule, boxed "
                    "results with shapes and their numeric verification. Without -o the LaTeX "
                    "goes to standard output.",
        epilog="examples:\n  derive sheet problem6 -o deltas.pdf\n"
               "  derive sheet residual-relu --roster roster.csv --salt fall26 -o handouts.pdf\n"
               "  derive sheet --all --questions -o questions.tex --course 'CS 101' --date 2025-05-01",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", nargs="*", help="ids (scalar-chain), aliases (problem1) or .toml files")
    p.add_argument("--all", action="store_true", help="every problem of the catalogue")
    p.add_argument("-o", "--output", metavar="FILE", help="FILE.tex (LaTeX only) or FILE.pdf")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--questions", action="store_true", default=None, help="the problems without answers")
    kind.add_argument("--solutions", action="store_false", dest="questions",
                      help="the worked solutions (default; with --roster, each student's answer key)")
    p.add_argument("--roster", metavar="CSV", help="one sheet per student of this CSV (columns id, name, "
                   "optionally seed), each with their own variant; questions unless --solutions")
    p.add_argument("--salt", help="with --roster: the course's salt, mixed into each student's seed")
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
