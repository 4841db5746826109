"""The catalogue index: a name is found from the files' headers, in the catalogue's order, and
anything the index is not sure of is left to the catalogue (same errors, same warnings)."""
import os
import subprocess
import sys

import pytest

from derive.errors import ProblemSpecError, UnknownError
from derive.problem import index
from derive.problem.load import catalogue, load
from derive.problem.index import catalogue_dir


def test_the_index_lists_the_catalogue_in_its_order():
    listed = index.entries(index.problem_dirs())
    assert [(pid, alias) for pid, alias, _ in listed] == [(p.id, p.alias) for p in catalogue()]


def test_a_name_is_found_without_building_the_other_problems(monkeypatch):
    import derive.problem.load as load_mod
    monkeypatch.setattr(load_mod, "catalogue", lambda extra=None: pytest.fail("built the catalogue"))
    assert load("problem6").id == load("two-hidden-deltas").id == "two-hidden-deltas"


def _copy(d, pid, alias=""):
    text = (catalogue_dir() / "scalar-chain.toml").read_text(encoding="utf-8")
    text = text.replace('alias = "problem1"', f'alias = "{alias}"').replace('id = "scalar-chain"', f'id = "{pid}"')
    (d / f"{pid}-{alias}.toml").write_text(text, encoding="utf-8")


def test_a_reused_id_is_still_an_error(tmp_path):
    _copy(tmp_path, "twice")
    _copy(tmp_path, "twice", "problem99")
    with pytest.raises(ProblemSpecError, match="already used"):
        load("problem1", tmp_path)


def test_a_broken_file_is_still_reported_and_skipped(tmp_path):
    (tmp_path / "bad.toml").write_text("id = [\n")
    _copy(tmp_path, "fine")
    with pytest.warns(UserWarning, match="not valid TOML"):
        assert load("fine", tmp_path).id == "fine"
    with pytest.warns(UserWarning), pytest.raises(UnknownError, match="unknown problem 'nope'"):
        load("nope", tmp_path)


def test_a_command_imports_only_what_it_needs():
    code = ("import sys\nfrom derive.cli import main\n"
            "assert main(['check', 'problem1', 'dL/db3', \"dL/dh3 f3'\"]) == 0\n"
            "print(sorted(m for m in ('jinja2', 'derive.batch.run', 'derive.render.sheet', 'zipfile') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "[]"


def test_a_second_sheet_of_unchanged_files_does_not_import_sympy(tmp_path):
    code = ("import sys\nfrom derive.cli import main\n"
            f"assert main(['sheet', 'problem1', 'problem2', '-o', {str(tmp_path / 'a.tex')!r}, '--force']) == 0\n"
            "print('sympy' in sys.modules)\n")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120) for _ in range(2)]
    assert [r.stdout.splitlines()[-1] for r in runs] == ["True", "False"], runs[-1].stderr


def test_a_file_nested_too_deep_leaves_the_answer_to_the_catalogue(tmp_path):
    (tmp_path / "deep.toml").write_text("x = " + "[" * 600 + "]" * 600 + "\n")
    assert index.find("problem1", [tmp_path]) is None


def test_the_index_is_kept_on_disk_until_a_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "mine"
    d.mkdir()
    _copy(d, "kept", "problem98")
    dirs = index.problem_dirs() + [d]
    first = index.entries(dirs)
    index._header.cache_clear()
    monkeypatch.setattr(index, "_header", lambda *a: pytest.fail("read a header again"))
    assert index.entries(dirs) == first                      # from the disk cache
    monkeypatch.undo()
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path / "cache"))
    text = (d / "kept-problem98.toml").read_text(encoding="utf-8").replace('alias = "problem98"', 'alias = "problem97"')
    (d / "kept-problem98.toml").write_text(text, encoding="utf-8")
    os.utime(d / "kept-problem98.toml", ns=(1, 1))
    assert ("kept", "problem97") in [(pid, alias) for pid, alias, _ in index.entries(dirs)]
