import functools
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DERIVE_CACHE", tempfile.mkdtemp(prefix="derive-test-cache-"))   # never the user's
sys.path.insert(0, str(ROOT / "bench"))
# helper modules beside the tests (serve/serving.py, grading/oracles.py) import by their bare name
for _helpers in sorted({p.parent for p in (ROOT / "tests").glob("*/*.py") if not p.name.startswith("test_")}):
    sys.path.insert(0, str(_helpers))


@functools.lru_cache(maxsize=None)
def _solved(name):
    from derive import solve
    return solve(name)


@pytest.fixture
def solved():
    """solve(name), cached across the session (solving is deterministic)."""
    return _solved


@pytest.fixture
def data_dir():
    return Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _own_disk_cache(tmp_path_factory, monkeypatch):
    """Each test starts from an empty disk cache of its own (commands it runs inherit it)."""
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path_factory.mktemp("derive-cache")))
