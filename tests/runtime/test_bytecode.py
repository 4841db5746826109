"""With bytecode writing off, derive's compiled modules are kept in its cache folder (and only there)."""
import os
import subprocess
import sys


def _run(cache, code):
    env = dict(os.environ, DERIVE_CACHE=str(cache), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_bytecode_is_kept_in_the_cache_and_used_by_the_next_process(tmp_path):
    code = ("import derive.problem.load as m, sys; print(type(m.__spec__.loader).__name__, "
            "'sympy' in sys.modules)")
    first = _run(tmp_path, code)
    assert first.returncode == 0, first.stderr
    kept = sorted(p.name for p in (tmp_path / "bytecode").iterdir())
    assert any(k.startswith("derive.problem.load.") and k.endswith(f".{sys.implementation.cache_tag}.pyc")
               for k in kept), kept
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "bytecode").iterdir()}
    second = _run(tmp_path, code)
    assert second.returncode == 0 and second.stdout == first.stdout == "_Loader True\n"
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "bytecode").iterdir()} == before   # read, not rewritten


def test_a_damaged_entry_is_compiled_again(tmp_path):
    assert _run(tmp_path, "import derive.problem.index").returncode == 0
    [entry] = (tmp_path / "bytecode").glob(f"derive.problem.index.*.{sys.implementation.cache_tag}.pyc")
    entry.write_bytes(entry.read_bytes()[:20])
    out = _run(tmp_path, "from derive.problem.index import alias_number; print(alias_number('problem7'))")
    assert out.returncode == 0 and out.stdout == "7\n", out.stderr


def test_nothing_is_kept_when_python_writes_bytecode_itself_or_the_cache_is_off(tmp_path):
    env = dict(os.environ, DERIVE_CACHE=str(tmp_path / "c"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", "import derive.problem.index"], env=env, check=True, timeout=120)
    assert not (tmp_path / "c" / "bytecode").exists()
    env = dict(os.environ, DERIVE_CACHE="off", PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", "import derive.problem.index as m; print(type(m.__spec__.loader).__name__)"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout == "SourceFileLoader\n"


def test_two_checkouts_never_load_each_others_code(tmp_path):
    """Files of one module in two checkouts with the same size and modification time (a checkout
    writes many files in one second) but different text: each loads its own."""
    from derive.runtime import bytecode
    a, b = tmp_path / "a" / "mod.py", tmp_path / "b" / "mod.py"
    for path, text in ((a, "VALUE = 1\n"), (b, "VALUE = 2\n")):
        path.parent.mkdir()
        path.write_text(text)
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    seen = []
    for _ in range(2):                        # compiled, then read back from the cache
        for path in (a, b):
            loader = bytecode._Loader("derive.fake_mod", str(path))
            loader.folder = tmp_path / "cache"
            ns = {}
            exec(loader.get_code("derive.fake_mod"), ns)
            seen.append(ns["VALUE"])
    assert seen == [1, 2, 1, 2]
    assert len(list((tmp_path / "cache").iterdir())) == 2
