"""What a new instructor hits first (issue 20, item 9): --version, did-you-mean, `derive list` with
its columns aligned and the source and quantities the README promises."""
import tomllib

from derive import __version__
from derive.cli import main
from derive.problem.index import catalogue_dir
from derive.problem.load import catalogue


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert capsys.readouterr().out == f"derive {__version__}\n"


def test_an_unknown_problem_or_quantity_suggests_the_near_miss(capsys):
    assert main(["check", "scalar-chian", "dL/db3", "0"]) == 2
    assert capsys.readouterr().err.startswith("Error: unknown problem 'scalar-chian'; did you mean scalar-chain?; known: ")
    assert main(["check", "problem1", "dL/db33", "0"]) == 2
    assert "did you mean dL/db3" in capsys.readouterr().err
    assert main(["check", "nothing-like-it", "x", "0"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_list_aligns_its_columns_and_shows_source_and_quantities(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    firsts = [line for line in lines if not line.lstrip().startswith(("source: ", "quantities: "))]
    files = {tomllib.loads(f.read_text(encoding="utf-8"))["id"]: tomllib.loads(f.read_text(encoding="utf-8"))
             for f in catalogue_dir().rglob("*.toml")}           # the seeds and the library
    assert len(firsts) == len(files)
    shown = {p.id: p for p in catalogue()}
    pid_of = {line: line.split()[0] if line.startswith(" ") else line.split()[1] for line in firsts}
    title_at = {line.index(shown[pid_of[line]].title) for line in firsts}
    assert len(title_at) == 1                                   # every title starts in the same column
    topic_at = {line.index(" " + shown[pid_of[line]].topic + " ") for line in firsts if shown[pid_of[line]].topic}
    assert len(topic_at) == 1                                   # and every topic (the library's)
    scalar = lines.index(next(line for line in firsts if "scalar-chain" in line.split()))
    source, quantities = lines[scalar + 1], lines[scalar + 2]
    assert source.strip() == "source: " + files["scalar-chain"]["source"]
    assert quantities.strip() == "quantities: " + ", ".join(files["scalar-chain"]["quantities"])
    assert len(source) - len(source.lstrip()) == title_at.pop()
