"""Hardening (issue 9): hostile problem files, TeX that may not read or run anything, CLI edge
cases, escaped echoes, long flat chains. Each test names the finding it guards."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from derive import ProblemSpecError, check, solve
from derive.cli import main
from derive.errors import LatexError
from derive.notation.latex import name_latex
from derive.problem.load import load_file
from derive.problem.index import catalogue_dir
from derive.render import pdf as pdf_build
from derive.runtime import limits
from derive.runtime.commandline import MARKER, is_ours, shown
from derive.validate import validate

ROOT = Path(__file__).resolve().parent.parent
HAS_LATEXMK = shutil.which("latexmk") is not None
needs_tex = pytest.mark.skipif(not HAS_LATEXMK, reason="latexmk is not installed")
CORRECT = "dL/dh3 f3' w3 f1' x"            # problem1 dL/dw1, the seed's answer in text form


def run(*args, stdin=None, env=None, timeout=120, **kw):
    full = {k: v for k, v in os.environ.items() if k != "DERIVE_PROBLEMS"} | {"PYTHONPATH": str(ROOT)}
    full.update(env or {})
    p = subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True, input=stdin,
                       env=full, timeout=timeout, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def cli(capsys, *args):
    """main() in this process: (exit status, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(code, err, text):
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("Error: "), err
    assert text in err, err


def user_copy(tmp_path, builtin="scalar-chain", old=None, new=None, name="mine"):
    """A built-in file under a new id (and without its alias), with one replacement."""
    text = (catalogue_dir() / f"{builtin}.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^alias = .*\n', "", text)
    text = re.sub(r'(?m)^id = .*$', f'id = "{name}"', text, count=1)
    if old is not None:
        assert old in text, old
        text = text.replace(old, new, 1)
    folder = tmp_path / "problems"
    folder.mkdir(exist_ok=True)
    f = folder / f"{name}.toml"
    f.write_text(text, encoding="utf-8")
    return f


# ---- 3. TeX: escaped names, no shell escape, no reading outside, a time limit, validate compiles ----
def test_names_are_text_in_tex_never_commands():
    for name in (r"\input{/etc/hostname}", r"\input{x}_1", "a%b", "x$y#z&~"):
        out = name_latex(name)
        assert not re.search(r"\\(input|write|openin)", out) and "%" not in out.replace(r"\%", ""), out


def test_a_tex_command_as_a_name_is_refused_by_the_loader(tmp_path):
    f = user_copy(tmp_path, old='[given]', new='[names]\n"\\\\input{/etc/hostname}" = "h1"\n\n[given]')
    with pytest.raises(ProblemSpecError, match="expected a name without spaces or TeX commands") as err:
        load_file(f)
    assert err.value.key == r"names.\input{/etc/hostname}"


def test_tex_is_started_without_shell_escape_and_with_paranoid_file_access():
    assert "-no-shell-escape" in pdf_build.tex_engine()
    assert pdf_build.TEX_ENV == {"openin_any": "p", "openout_any": "p", "shell_escape": "f"}


DOC = "\\documentclass{article}\\begin{document}\n%s\n\\end{document}\n"


@needs_tex
def test_tex_cannot_read_a_file_outside_its_folder(tmp_path):
    with pytest.raises(LatexError, match="hostname"):
        pdf_build.compile_pdf(DOC % r"\input{/etc/hostname}", tmp_path / "a.pdf")


@needs_tex
def test_tex_cannot_run_a_command(tmp_path):
    target = tmp_path / "pwned"
    try:
        pdf_build.compile_pdf(DOC % rf"\immediate\write18{{touch {target}}}ok", tmp_path / "a.pdf")
    except LatexError:
        pass
    assert not target.exists()


@needs_tex
def test_a_looping_statement_is_stopped_and_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_build, "TEX_TIMEOUT", 3.0)
    start = time.monotonic()
    with pytest.raises(LatexError, match=r"did not finish within 3 s .*loops"):
        pdf_build.compile_pdf(DOC % r"\def\a{\a}\a", tmp_path / "a.pdf")
    assert time.monotonic() - start < 30


@needs_tex
@pytest.mark.parametrize("statement, message", [
    (r"Compute \end{itemize}.", r"typesets: LaTeX failed: .*sheet\.tex:\d+: LaTeX Error"),
    # what is not on the allow-list never reaches TeX (issue 20): the command is named
    (r"Compute \undefinedmacro{x}.", r"typesets: mine \(.*mine\.toml\), statement: \\undefinedmacro is not allowed"),
    (r"\input{/etc/passwd}", r"typesets: .*statement: \\input is not allowed"),
])
def test_validate_compiles_the_sheet_and_fails_with_the_tex_error(tmp_path, statement, message):
    f = user_copy(tmp_path, old="Compute the derivatives", new=statement + " Compute the")   # in a TOML literal string
    [report] = validate([f])
    assert not report.ok
    [line] = [x for x in report.lines if not x.ok]
    assert re.search(message, line.text), line.text


@needs_tex
def test_validate_stops_a_looping_statement(tmp_path, monkeypatch):
    import derive.validate as v
    monkeypatch.setattr(v, "TEX_CHECK_TIMEOUT", 3.0)
    f = user_copy(tmp_path, old="Compute the derivatives", new="\\def\\a{\\a}\\a Compute the")
    [report] = validate([f])          # \def is not on the allow-list: refused before TeX could loop
    assert not report.ok and "statement: \\def is not allowed" in report.lines[-1].text


@needs_tex
def test_validate_on_good_files_says_the_sheet_typesets(tmp_path):
    [report] = validate([user_copy(tmp_path)])
    assert report.ok and report.lines[-1].text == "typesets: the solution sheet compiles"


# ---- 4. a broken file in a problems folder is reported and skipped ---------------------------------
def test_broken_files_in_a_folder_are_skipped_with_a_warning_and_the_rest_works(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "nonutf.toml").write_bytes(b'id = "a\xff"\n')
    (d / "badtoml.toml").write_text("id = [\n")
    (d / "types.toml").write_text('id = 3\ntitle = "t"\nquantities = ["x"]\n')
    os.mkfifo(d / "x.toml")
    user_copy(tmp_path, name="fine").rename(d / "fine.toml")
    code, out, err = run("check", "problem1", "dL/dw1", CORRECT, "--problems", str(d), "--timeout", "30", timeout=90)
    assert code == 0 and out.splitlines()[1] == "correct", out + err
    assert f"warning: skipped {d / 'nonutf.toml'}: not UTF-8 text (byte 8" in err
    assert f"warning: skipped {d / 'badtoml.toml'}: not valid TOML" in err
    assert f"warning: skipped {d / 'types.toml'}, key 'id': expected a non-empty id" in err
    assert "x.toml" not in err and "Traceback" not in err
    code, out, err = run("list", "--json", "--problems", str(d), timeout=90)
    assert code == 0 and {"fine", "scalar-chain"} <= {r["id"] for r in json.loads(out)}


def test_a_fifo_given_by_name_is_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "x.toml")
    code, out, err = run("validate", str(tmp_path / "x.toml"), timeout=60)
    assert code == 2 and "not a regular file" in out and "Traceback" not in out + err


# ---- 5. the loader checks every key's type and range ----------------------------------------------
CHAIN = ",\n".join(f'"h{i + 1} = sigma(h{i})"' for i in range(500))


WRONG_KEYS = [
    ("two-hidden-deltas", 'x = ["d", 1]', "x = [1000000000, 1]", "symbols.x",
     "dimension 1000000000 is out of range: integer dimensions are 1 to 1024"),
    ("scalar-chain", "[given]", "[values]\nx = nan\n\n[given]", "values.x", "expected a finite number"),
    ("scalar-chain", "[given]", "[values]\nx = inf\n\n[given]", "values.x", "expected a finite number"),
    ("scalar-chain", 'id = "mine"', 'id = ""', "id", "expected a non-empty id"),
    ("scalar-chain", 'w4 = "scalar"', '"w 4" = "scalar"', "symbols.w 4", "expected a symbol name like W1"),
    ("two-hidden-deltas", 'quantities = ["delta4",', 'quantities = ["dW1/drho", "delta4",', "quantities[0]",
     "dW1/drho: a Jacobian dA/dB needs A computed by a forward equation from B, and W1 is an input"),
    ("scalar-chain", '[given]\n"dL/dh3" = "h3"', "", "output",
     "'L' is not computed by any equation; define it in forward, or give its upstream gradient in [given]"),
    ("scalar-chain", '"dL/dh3" = "h3"', '"dL/dh3" = 3', "given.dL/dh3", "expected a name"),
    ("two-hidden-deltas", 'dims = ["d", "d_H"]', 'dims = "d"', "dims", "expected an array of strings"),
    ("two-hidden-deltas", 'vectors = "column"', "vectors = 3", "conventions.vectors", "expected a string"),
    ("two-hidden-deltas", "forward = [", "forward = [3, ", "forward[0]", "expected an equation"),
    ("two-hidden-deltas", 'quantities = ["delta4",', 'quantities = [{name = 3}, "delta4",',
     "quantities[0].name", "expected a quantity name"),
    ("scalar-chain", "[symbols]", "names = 3\n\n[symbols]", "names", "expected a table"),
    ("scalar-chain", 'forward = [\n  "h1', f"forward = [\n{CHAIN},\n  \"h1", "forward",
     "503 entries; at most 200 are allowed"),
    ("scalar-chain", '"h1 = f1(w1*x + b1)"', '"h1 = ' + "+".join(["x"] * 1000) + '"', "forward[0]",
     "the expression chains more than 200 operations"),
]


@pytest.mark.parametrize("builtin, old, new, key, message", WRONG_KEYS,
                         ids=[f"{case[3]}-{i}" for i, case in enumerate(WRONG_KEYS)])
def test_a_wrong_key_is_one_message_naming_file_key_and_what_is_expected(tmp_path, capsys, builtin, old, new,
                                                                          key, message):
    f = user_copy(tmp_path, builtin, old, new)
    with pytest.raises(ProblemSpecError) as err:
        load_file(f)
    assert err.value.file == str(f) and err.value.key == key and message in str(err.value), str(err.value)
    assert main(["solve", str(f)]) == 2
    one_error_line(2, capsys.readouterr().err, message)


def test_deriving_an_exploding_problem_file_stops_at_the_time_limit(tmp_path):
    eqs = ",\n".join(f'"h{i + 1} = sigma(h{i}) + h{i}"' for i in range(120))
    f = tmp_path / "explode.toml"
    f.write_text(f'id = "explode"\ntitle = "t"\nforward = [{eqs}]\nquantities = ["dh120/dh0"]\n'
                 'output = "h120"\n[symbols]\nh0 = "scalar"\n', encoding="utf-8")
    start = time.monotonic()
    with pytest.raises(limits.TimeLimit, match="took longer than 2 s"):
        solve(f, timeout=2.0)
    assert time.monotonic() - start < 15


# ---- 6. every CLI path: one Error line, exit 2 --------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "1e300", "-1", "0"])
def test_timeout_must_be_a_finite_positive_number(capsys, value):
    code, out, err = cli(capsys, "check", "problem1", "dL/dw1", "x", "--timeout", value)
    one_error_line(code, err, "--timeout is a number of seconds above 0 and at most 3600")


def test_output_into_a_missing_folder_or_onto_a_folder(tmp_path, capsys):
    code, _, err = cli(capsys, "sheet", "problem1", "-o", str(tmp_path / "nowhere" / "s.tex"))
    one_error_line(code, err, f"the folder {tmp_path / 'nowhere'} does not exist")
    (tmp_path / "d.tex").mkdir()
    code, _, err = cli(capsys, "sheet", "problem1", "-o", str(tmp_path / "d.tex"))
    one_error_line(code, err, "it is a folder")
    code, _, err = cli(capsys, "graph", "problem1", "-o", str(tmp_path / "nowhere" / "g.tikz"))
    one_error_line(code, err, "does not exist")


def test_output_overwrites_only_its_own_files_unless_forced(tmp_path, capsys):
    mine, theirs = tmp_path / "mine.tex", tmp_path / "theirs.tex"
    assert cli(capsys, "sheet", "problem1", "-o", str(mine))[0] == 0
    first = mine.read_text(encoding="utf-8")
    assert first.startswith(f"% {MARKER}") and is_ours(mine)
    assert cli(capsys, "sheet", "problem2", "-o", str(mine))[0] == 0           # ours: overwritten
    assert mine.read_text(encoding="utf-8") != first
    theirs.write_text("my thesis\n")
    code, _, err = cli(capsys, "sheet", "problem1", "-o", str(theirs))
    one_error_line(code, err, "exists and was not written by derive; use --force to overwrite it")
    assert theirs.read_text() == "my thesis\n"
    assert cli(capsys, "sheet", "problem1", "-o", str(theirs), "--force")[0] == 0
    assert is_ours(theirs)
    graph = tmp_path / "g.dot"
    graph.write_text("digraph mine {}\n")
    assert cli(capsys, "graph", "problem1", "--format", "dot", "-o", str(graph))[0] == 2
    assert cli(capsys, "graph", "problem1", "--format", "dot", "-o", str(graph), "--force")[0] == 0
    assert graph.read_text(encoding="utf-8").startswith(f"// {MARKER}")
    with pytest.raises(SystemExit):
        main(["sheet", "--help"])
    assert "--force" in capsys.readouterr().out.replace("\n", " ")


def test_a_pdf_is_ours_by_its_creator_field(tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.5\n...\n<< /Creator (" + MARKER.encode() + b") >>\n%%EOF\n")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.5\n...\n<< /Creator (LaTeX) >>\n%%EOF\n")
    assert is_ours(tmp_path / "a.pdf") and not is_ours(tmp_path / "b.pdf")


@pytest.mark.parametrize("content, message", [
    (b"header = 5\n", "key 'header' must be a table"),
    (b'course = ["x"]\n', "key 'course' must be text, not list"),
    (b'course = "\xff"\n', "not UTF-8 text"),
])
def test_a_bad_config_file_is_one_error_line(tmp_path, capsys, content, message):
    cfg = tmp_path / "h.toml"
    cfg.write_bytes(content)
    code, _, err = cli(capsys, "sheet", "problem1", "--config", str(cfg))
    one_error_line(code, err, message)


def test_answer_from_a_closed_stdin():
    p = subprocess.run(f'"{sys.executable}" -m derive.cli check problem1 dL/dw1 - <&-', shell=True,
                       capture_output=True, text=True, timeout=60, env=os.environ | {"PYTHONPATH": str(ROOT)})
    one_error_line(p.returncode, p.stderr, "no standard input to read the answer from")


def test_non_utf8_stdin_under_strict_utf8():
    code, _, err = run("check", "problem1", "dL/dw1", "-", stdin=b"x\xff",
                       env={"PYTHONIOENCODING": "utf-8:strict"})
    one_error_line(code, err, "standard input is not UTF-8 text (byte 2)")


def test_non_utf8_argument_under_strict_utf8_is_echoed_escaped():
    full = os.environ | {"PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8:strict"}
    p = subprocess.run([sys.executable.encode(), b"-m", b"derive.cli", b"check", b"problem1", b"dL/dw1", b"x\xff"],
                       capture_output=True, timeout=60, env=full)
    assert p.returncode == 2 and b"Traceback" not in p.stderr
    assert b"unexpected character '\\udcff' at column 2" in p.stdout


def test_an_ascii_terminal_gets_escapes_not_a_crash():
    code, out, err = run("solve", "problem6", env={"PYTHONIOENCODING": "ascii"})
    assert code == 0 and "Traceback" not in err, err
    assert "sigma'(Z2) \\u2299 drho/dH2" in out


def _start_pdf_build(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = os.environ | {"PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "derive.cli", "sheet", "--all", "-o", str(tmp_path / "all.pdf")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + 90
    while not list(tmp.glob("derive-sheet-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)                                        # TeX is running now
    return proc, tmp


def _tex_processes_in(folder) -> list:
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if str(cwd.resolve()).startswith(str(folder)):
                found.append(cwd.parent.name)
        except OSError:
            pass
    return found


@needs_tex
@pytest.mark.parametrize("sig, code, line", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_an_interrupt_prints_one_line_and_leaves_no_temp_folder_or_tex_running(tmp_path, sig, code, line):
    proc, tmp = _start_pdf_build(tmp_path)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code and err == f"{line}\n", err
    assert list(tmp.iterdir()) == []
    time.sleep(0.2)
    assert _tex_processes_in(tmp) == []


# ---- 8. control characters in echoed input ----------------------------------------------------------
def test_control_characters_are_echoed_escaped(capsys):
    code, out, err = cli(capsys, "check", "problem1", "dL/dw1", "\x1b[2K\rcorrect")
    assert code == 2 and "\x1b" not in out + err and "\r" not in out + err
    assert "\\x1b[2K\\x0dcorrect" in out and "invalid [syntax]" in out
    code, out, _ = cli(capsys, "check", "problem1", "dL/dw1", "\x1b[2K\rcorrect", "--json")
    assert json.loads(out)["answer"] == "\x1b[2K\rcorrect"
    assert shown("a\u202eb\tc") == "a\\u202eb\\x09c"


# ---- 9. long flat chains are too complex, not a RecursionError ---------------------------------------
@pytest.mark.parametrize("answer", ["+".join(["x"] * 1000), " ".join(["x"] * 1000), "W1" + ".T" * 999,
                                    "⊙".join(["x"] * 601)], ids=["sum", "juxtaposed", "transposes", "hadamard"])
def test_a_long_flat_chain_is_too_complex(answer):
    assert len(answer) <= 2000
    r = check("problem6", "drho/dW1", answer)
    assert r.verdict == "invalid" and r.diagnosis == ("too_complex",), r
    assert "chains more than 200 operations" in r.feedback[0]


# ---- 10. a derivative order bound; no numpy warning on the output --------------------------------------
def test_thirteen_primes_are_refused_at_once():
    start = time.monotonic()
    r = check("problem1", "dL/dw1", "f2'''''''''''''(x)")
    assert r.verdict == "invalid" and r.diagnosis == ("too_complex",)
    assert r.feedback == ("f2 has 13 primes at column 1; derivatives up to order 3 are understood",)
    assert time.monotonic() - start < 1.5
    assert check("problem1", "dL/dw1", "f2'''(x)").verdict == "incorrect"


def test_an_overflow_while_verifying_prints_no_numpy_warning(tmp_path):
    f = tmp_path / "ovf.toml"
    f.write_text('id = "ovf"\ntitle = "t"\nforward = ["y = exp(exp(x))"]\nquantities = ["dy/dx", "y"]\n'
                 '[symbols]\nx = "scalar"\n[values]\nx = 10.0\n', encoding="utf-8")
    code, out, err = run("solve", str(f), env={"PYTHONWARNINGS": "default"})
    assert "Warning" not in err and "warning" not in err and ".py:" not in err, err


OVERFLOWING = '''id = "overflows"
title = "A given value that overflows"
forward = ["h = exp(exp(exp(w)))"]
output = "L"
quantities = ["dL/dw", "h"]
[symbols]
w = "scalar"
[values]
w = 1000000000000
[given]
"dL/dh" = "h"
'''


@pytest.mark.parametrize("command", [["solve"], ["sheet", "-o", "out.tex"], ["validate"]])
def test_given_values_that_overflow_are_refused_naming_the_node(tmp_path, capsys, command):
    """h = exp(exp(exp(w))) at w = 10^12 was "verified" as inf (and dL/dw printed as -inf), and the
    sheet ended in a traceback: the file is refused, naming the node."""
    f = tmp_path / "overflows.toml"
    f.write_text(OVERFLOWING, encoding="utf-8")
    args = [a if a != "out.tex" else str(tmp_path / a) for a in command]
    assert main([args[0], str(f), *args[1:]]) == 2
    out = capsys.readouterr()
    said = out.err + out.out
    assert "at the given values h = exp(exp(exp(w))) is not a finite number" in said and "Traceback" not in said
