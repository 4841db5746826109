"""The `grade`, `template` and `autograder` sub-commands: arguments in, one library call, a line out."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from derive.errors import DeriveError, Interrupted
from derive.runtime import commandline as cliutil
from derive.runtime.limits import CHECK_TIMEOUT

EXIT_OK = 0


class Progress:
    """A one-line progress bar on a terminal: rows done, rows/s, time left."""

    def __init__(self, stream, every: float = 0.1):
        self.stream, self.every = stream, every
        self.start = self.last = 0.0
        self.first = None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first, self.start = done - 1, now
        if now - self.last < self.every and done < total:
            return
        self.last = now
        rate = (done - self.first) / max(now - self.start, 1e-9)
        left = (total - done) / rate if rate > 0 else 0
        filled = int(30 * done / total) if total else 30
        self.stream.write(f"\r{done:>9,}/{total:,} [{'#' * filled}{'.' * (30 - filled)}] {rate:,.0f} rows/s "
                          f"ETA {int(left) // 60}:{int(left) % 60:02d} ")
        self.stream.flush()

    def clear(self) -> None:
        if self.first is not None:
            self.stream.write("\r\033[K")
            self.stream.flush()


MAX_STDIN = 512 * 2**20          # bytes of a class read from standard input


def _stdin_copy(folder: str, output: str | None) -> str:
    """`derive grade -`: the class on standard input, kept in `folder` (a batch reads its input twice)
    under the name its format needs: JSONL when it starts with '{', CSV when its first line has a
    comma and is no '#' comment, else an answer file."""
    if not output:
        raise DeriveError("derive grade -: the answers come from standard input, so name the report with "
                          "-o REPORT.csv (it cannot be written beside the input)")
    data = sys.stdin.buffer.read(MAX_STDIN + 1)
    if len(data) > MAX_STDIN:
        raise DeriveError(f"derive grade -: standard input is larger than {MAX_STDIN // 2**20} MiB; "
                          "write it to a file and grade the file")
    first = data.lstrip().split(b"\n", 1)[0]
    name = "stdin.jsonl" if first[:1] == b"{" else "stdin.csv" if b"," in first and first[:1] != b"#" else "stdin.txt"
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def cmd_grade(args) -> int:
    if args.answers == "-":
        with tempfile.TemporaryDirectory(prefix="derive-stdin-") as folder:
            path = _stdin_copy(folder, args.output)
            try:
                return _grade(args, path)
            except DeriveError as e:            # the copy's name means nothing to the user
                raise DeriveError(str(e).replace(path, "standard input")) from None
    return _grade(args, args.answers)


def _grade(args, answers: str) -> int:
    from derive.batch import run as grade
    progress = Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        out = grade.grade_file(answers, args.output, totals=args.totals, summary=args.summary,
                               gradescope_out=args.gradescope, workers=args.workers, timeout=args.timeout,
                               extra=args.problems, student=args.student, force=args.force, progress=progress)
    except Interrupted as e:
        if progress:
            progress.clear()
        print(f"{'Terminated' if e.terminated else 'Interrupted'}: {e.saved:,} of {e.total:,} rows are graded "
              f"and saved in {e.journal}; run the same command again to resume from there.", file=sys.stderr)
        return cliutil.EXIT_TERMINATED if e.terminated else cliutil.EXIT_INTERRUPTED
    except KeyboardInterrupt as e:               # before the first row: nothing to keep
        terminated = isinstance(e, cliutil.Terminated)
        print(f"{'Terminated' if terminated else 'Interrupted'} before any row was graded.", file=sys.stderr)
        return cliutil.EXIT_TERMINATED if terminated else cliutil.EXIT_INTERRUPTED
    finally:
        if progress:
            progress.clear()
    fresh = out.rows - out.resumed
    counts = ", ".join(f"{n:,} {v}" for v, n in out.counts.items() if n or v != "consistent")
    resumed = f", {out.resumed:,} more from the earlier run" if out.resumed else ""
    where = "; ".join(f"{k}: {p}" for k, p in out.written.items())
    print(f"graded {fresh:,} rows in {out.seconds:.1f} s ({fresh / max(out.seconds, 1e-9):,.0f} rows/s{resumed}): "
          f"{counts}; {where}")
    return EXIT_OK


def cmd_template(args) -> int:
    from derive.batch import answer_file as submission
    from derive.problem import load as problem_mod
    text = submission.template([problem_mod.load(p, args.problems) for p in args.problem])
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_autograder(args) -> int:
    from derive.batch import autograder
    if args.run:
        data = autograder.run(args.run)
        print(data["output"])
        return EXIT_OK
    if not args.output:
        raise DeriveError("say where the bundle goes: -o autograder.zip")
    path = autograder.build(args.problem, args.output, args.problems)
    print(f"wrote {path}: upload it as the assignment's autograder (Gradescope: Configure Autograder, "
          "Zip file upload); hand students the template from `derive template "
          f"{' '.join(args.problem)}`")
    return EXIT_OK


def register_cli(sub) -> None:
    p = sub.add_parser("grade", help="grade a class's answers (CSV, JSONL or one answer file)",
                       description="Grade every answer of a CSV or JSONL file (columns student, problem, "
                       "quantity, answer; optional variant, max_score) or of one student's answer file "
                       "(see `derive template`). The report has the input's columns plus verdict, score, "
                       "diagnosis and feedback, in input order. A run that was interrupted or killed "
                       "resumes when run again with the same -o. An existing output file is "
                       "overwritten only if derive wrote it (see --force). Exit status: 0 when every row "
                       "was graded, 2 when the input is unusable, 130 on Ctrl-C and 143 on SIGTERM "
                       "(the rows graded so far are kept for the next run).",
                       epilog="example: derive grade answers.csv -o report.csv --totals totals.csv "
                       "--summary summary.html --workers 2")
    p.add_argument("answers", help="a .csv or .jsonl file, or an answer file (any other name); - reads "
                   "standard input (then -o is needed)")
    p.add_argument("-o", "--output", help="the report, .csv or .jsonl (default: ANSWERS.report.csv)")
    p.add_argument("--totals", metavar="CSV", help="also write one row per student: score and verdict counts")
    p.add_argument("--summary", metavar="HTML", help="also write the class summary page")
    p.add_argument("--gradescope", metavar="JSON", help="also write Gradescope's results.json of one student (of a class's "
                   "file: the one named by --student)")
    p.add_argument("--student", help="whose answer file this is (default: the file's name); with a CSV or "
                   "JSONL of several students and --gradescope, the student whose results to write")
    p.add_argument("--workers", type=int, default=1, help="checking processes (default 1)")
    p.add_argument("--timeout", type=float, default=CHECK_TIMEOUT, help="seconds per answer (default 2)")
    p.add_argument("--force", action="store_true", help="overwrite the output files even if derive did not write them")
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("template", help="the answer file a student fills in",
                       description="Write the answer file for some problems: the statement as # comments, "
                       "one `QUANTITY: ANSWER` line per question. `derive grade` reads it back.",
                       epilog="example: derive template two-hidden-deltas -o answers.txt")
    p.add_argument("problem", nargs="+", help="ids (residual-relu), aliases (problem2) or .toml files")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_template)
    p = sub.add_parser("autograder", help="a Gradescope autograder bundle for some problems",
                       description="Build the zip Gradescope runs on every submission: setup.sh, "
                       "run_autograder, this version of derive as a wheel, the problems and the answer "
                       "template. Students upload the filled-in template (answers.txt).",
                       epilog="example: derive autograder residual-relu two-hidden-deltas -o autograder.zip")
    p.add_argument("problem", nargs="*", help="ids, aliases or .toml files of the assignment's problems")
    p.add_argument("-o", "--output", metavar="ZIP", help="where to write the bundle")
    p.add_argument("--run", metavar="ROOT", help=argparse.SUPPRESS)    # inside the bundle: grade ROOT/submission
    p.set_defaults(func=cmd_autograder)
