"""A problem file is built once per content and version of derive: a fresh process reads the built
Problem from the disk cache; an edit of the file or a new version of derive builds it again."""
import derive
from derive.problem import load

from cache_doubles import problem_copy, record_calls


def _fresh_process():
    load._load_unchanged.cache_clear()           # what a new process starts without


def _built(monkeypatch):
    return record_calls(monkeypatch, load, "build")        # (each call's first argument: the file's table)


def _copy(tmp_path):
    return problem_copy(tmp_path, "kept-chain")


def test_a_second_process_reads_the_built_problem_and_it_is_the_same(tmp_path, monkeypatch):
    f, _ = _copy(tmp_path)
    built = _built(monkeypatch)
    first = load.load_file(f)
    _fresh_process()
    second = load.load_file(f)
    assert len(built) == 1                                     # built once, then read
    assert second is not first and second == first
    assert derive.check(second, "dL/db3", "dL/dh3 f3'").verdict == "correct"


def test_an_edited_problem_file_is_built_again(tmp_path, monkeypatch):
    f, text = _copy(tmp_path)
    built = _built(monkeypatch)
    assert load.load_file(f).title != "Edited"
    f.write_text(text.replace(text.split("title = ")[1].split("\n")[0], '"Edited"'), encoding="utf-8")
    _fresh_process()
    assert load.load_file(f).title == "Edited" and len(built) == 2


def test_a_new_version_of_derive_builds_it_again(tmp_path, monkeypatch):
    f, _ = _copy(tmp_path)
    built = _built(monkeypatch)
    load.load_file(f)
    monkeypatch.setattr(derive, "__version__", derive.__version__ + ".post1")
    _fresh_process()
    load.load_file(f)
    assert len(built) == 2


def test_a_file_that_fails_its_check_is_not_kept(tmp_path, monkeypatch):
    f, text = _copy(tmp_path)
    f.write_text(text.replace('id = "kept-chain"', 'id = 5'), encoding="utf-8")
    for _ in range(2):
        _fresh_process()
        try:
            load.load_file(f)
        except derive.ProblemSpecError as e:
            assert "id" in str(e)
        else:
            raise AssertionError("a file with a numeric id was accepted")
