"""The sheet's disk cache: a second sheet of unchanged files derives nothing; an edit of the problem
file or a new version of derive is never served from the cache."""
import os
import time

import pytest

import derive
from derive.render import cached, page, sheet
from derive.render.header import SheetOptions
from derive.runtime import diskcache

from cache_doubles import problem_copy, record_calls


@pytest.fixture
def counted(monkeypatch):
    return record_calls(monkeypatch, sheet, "solved", sheet.solved.__wrapped__)


def _copy(tmp_path):
    return problem_copy(tmp_path, "cached-chain")


def _tex(f):
    return page.render_contexts(cached.contexts([str(f)]))


def test_a_second_sheet_is_read_from_the_cache_and_is_the_same(tmp_path, counted):
    f, _ = _copy(tmp_path)
    first = _tex(f)
    assert counted == [str(f)]
    assert _tex(f) == first and counted == [str(f)]          # not derived again
    assert first == sheet.render_sheet([sheet.solve(str(f))])


def test_an_edited_problem_file_is_not_served_from_the_cache(tmp_path, counted):
    f, text = _copy(tmp_path)
    first = _tex(f)
    f.write_text(text.replace("h3 = f3(", "h3 = 2*f3("), encoding="utf-8")
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))
    second = _tex(f)
    assert len(counted) == 2 and second != first and "2 f_{3}" in second.replace("2 \\cdot f_{3}", "2 f_{3}")


def test_a_new_version_of_derive_is_not_served_from_the_cache(tmp_path, counted, monkeypatch):
    f, _ = _copy(tmp_path)
    _tex(f)
    monkeypatch.setattr(derive, "__version__", derive.__version__ + ".post1")
    _tex(f)
    assert len(counted) == 2


def test_an_edited_source_file_of_derive_is_a_new_version(tmp_path, monkeypatch):
    before = diskcache.version()
    diskcache._code_digest.cache_clear()
    monkeypatch.setattr(diskcache, "PACKAGE", tmp_path)
    (tmp_path / "x.py").write_text("a = 1\n")
    one = diskcache.version()
    diskcache._code_digest.cache_clear()
    (tmp_path / "x.py").write_text("a = 22\n")
    two = diskcache.version()
    diskcache._code_digest.cache_clear()
    assert len({before, one, two}) == 3


@pytest.mark.parametrize("setting", ["off", "0", ""])
def test_the_cache_can_be_turned_off(tmp_path, counted, monkeypatch, setting):
    monkeypatch.setenv("DERIVE_CACHE", setting)
    f, _ = _copy(tmp_path)
    _tex(f)
    _tex(f)
    assert len(counted) == 2 and diskcache.folder() is None


def test_the_cache_goes_where_derive_cache_says_and_is_safe_to_delete(tmp_path, counted, monkeypatch):
    where = tmp_path / "elsewhere"
    monkeypatch.setenv("DERIVE_CACHE", str(where))
    f, _ = _copy(tmp_path)
    first = _tex(f)
    assert any(where.rglob("*.pickle"))
    for p in where.rglob("*.pickle"):
        p.write_bytes(b"not a pickle")               # a damaged entry is a miss, not an error
    assert _tex(f) == first and len(counted) == 2
    import shutil
    shutil.rmtree(where)
    assert _tex(f) == first and len(counted) == 3


def test_a_folder_others_may_write_to_is_not_used(tmp_path, counted, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("DERIVE_CACHE", str(shared))
    f, _ = _copy(tmp_path)
    _tex(f)
    _tex(f)
    assert len(counted) == 2 and not any(shared.iterdir()) and diskcache.usable() is None


def test_what_a_sheet_shows_is_part_of_the_key(tmp_path, counted):
    f, _ = _copy(tmp_path)
    full = _tex(f)
    bare = page.render_contexts(cached.contexts([str(f)], options=SheetOptions(graph=False, steps=False)))
    assert len(counted) == 2                                  # not the full sheet's cached context
    assert r"\begin{tikzpicture}" in full and r"\begin{tikzpicture}" not in bare
    assert "Backward pass" in full and "Backward pass" not in bare
    again = page.render_contexts(cached.contexts([str(f)], options=SheetOptions(graph=False, steps=False)))
    assert again == bare and len(counted) == 2


def test_problems_are_numbered_in_the_order_given_whatever_was_cached(tmp_path, counted):
    f, _ = _copy(tmp_path)
    _tex(f)                                                   # cached as the first problem of a sheet
    tex = page.render_contexts(cached.contexts(["problem4", str(f)]))
    assert tex.index("Problem 1:") < tex.index("Problem 2:") and "Problem 3:" not in tex
