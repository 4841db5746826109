"""The course server's command line: `derive serve`'s course options, `derive links`, `derive attempts`.

Only the standard library (and derive's own roster reading) is imported here; the web stack,
the database drivers and the LTI libraries are imported when a command runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from derive.errors import DeriveError

SECRET_HELP = ("the file holding the server's secret that signs the tokens (default derive-secret.key, "
               "created on first use; or set DERIVE_SECRET). Keep it out of the database and of backups you share")


def add_course_options(p) -> None:
    g = p.add_argument_group("course server (students, attempts, dashboard, LTI)")
    g.add_argument("--roster", metavar="CSV", help="serve each student of this roster their own variant; "
                   "they open the personal links of `derive links`")
    g.add_argument("--salt", default="", help="the roster's salt (the same as for `derive sheet --roster`)")
    g.add_argument("--db", metavar="URL", help="where attempts are stored: a SQLite file (default "
                   "derive.sqlite) or postgresql://user:password@host/db")
    g.add_argument("--secret-file", default="derive-secret.key", metavar="FILE", help=SECRET_HELP)
    g.add_argument("--instructor-token", metavar="TOKEN", help="the dashboard's token (default: a signed one, "
                   "printed at start)")
    g.add_argument("--lti", metavar="CONFIG", help="an LTI 1.3 tool configuration (JSON: the platforms, the "
                   "tool's key); see the README")


def make_course(args):
    """The course.Course for `derive serve`'s options, or None for the open self-check page."""
    if not (args.roster or args.lti):
        if args.db or args.instructor_token:
            raise DeriveError("--db and --instructor-token need --roster or --lti (students to store attempts of)")
        return None
    from derive.serve.attempts import Store
    from derive.serve.course import Course
    from derive.serve.students import Roster, Tokens, load_secret
    if args.instructor_token is not None and len(args.instructor_token) < 16:
        raise DeriveError("--instructor-token must be at least 16 characters")
    tokens = Tokens(load_secret(args.secret_file))
    roster = Roster.read(args.roster, args.salt) if args.roster else None
    lti = None
    if args.lti:
        from derive.serve.lti import Tool
        lti = Tool.from_file(args.lti, roster)
    store = Store(args.db or "derive.sqlite")
    course = Course(tokens, store, roster, args.salt, lti, args.instructor_token or "")
    if lti is not None:
        lti.attach(store, tokens)
    return course


def started(course, url: str) -> str:
    """The start-up lines about the course: students, store, the dashboard's link."""
    from derive.serve.students import link
    token = course.instructor_token or course.tokens.make("instructor", "instructor", days=7)
    who = f"{len(course.roster.students)} students on the roster" if course.roster else "students from the LMS"
    lines = [f"course: {who}; attempts in {course.store.url.split('@')[-1]}",
             f"instructor dashboard: {link(url + 'instructor', token)}"]
    if course.lti is not None:
        base = course.lti.url or url
        lines.append(f"LTI 1.3: login {base}lti/login, launch (redirect URI) {base}lti/launch, keys {base}lti/jwks")
    return "\n".join(lines)


def cmd_attempts(args) -> int:
    from derive.serve.export import cmd_export
    if not args.db.startswith(("postgresql://", "postgres://")) and not Path(args.db.removeprefix("sqlite:///")).is_file():
        raise DeriveError(f"--db {args.db}: no such database file")
    return cmd_export(args)


def register_cli(subparsers) -> None:
    from derive.serve.students import register_links
    register_links(subparsers, SECRET_HELP)
    p = subparsers.add_parser(
        "attempts", help="the attempts a course server stored",
        description="Work with the attempts `derive serve --roster` stored.",
        epilog="examples:\n  derive attempts export --db derive.sqlite -o attempts.csv\n"
               "  derive attempts export --db postgresql://derive@db/course --best -o best.csv\n"
               "  derive grade best.csv -o report.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = sub.add_parser("export", help="write the attempts in the columns `derive grade` reads",
                       description="Write every stored attempt (or one per student and question) as CSV or JSONL "
                                   "in the columns `derive grade` reads: student, problem, variant, quantity, "
                                   "answer; then attempt, submitted, checked_verdict, checked_score.",
                       epilog="example: derive attempts export --db derive.sqlite --best -o best.csv")
    e.add_argument("--db", required=True, metavar="URL", help="the SQLite file or postgresql:// URL")
    e.add_argument("-o", "--output", metavar="FILE", help="FILE.csv or FILE.jsonl (default: CSV on stdout)")
    which = e.add_mutually_exclusive_group()
    which.add_argument("--best", action="store_true", help="one attempt per student and question: the best")
    which.add_argument("--last", action="store_true", help="one attempt per student and question: the latest")
    e.set_defaults(func=cmd_attempts)
