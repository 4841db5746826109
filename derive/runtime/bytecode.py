"""derive's own compiled modules kept in the disk cache when Python will not write them itself.

With PYTHONDONTWRITEBYTECODE (or -B) an editable install compiles every module of derive again on
each start: a third of a cold `derive check`. Then, and only then, derive's modules are loaded by a
loader that keeps their bytecode in DERIVE_CACHE/bytecode (checked against the source's size and
modification time, as Python's own __pycache__ is, and kept per source path: two checkouts of
derive, whose files may share a size and a second, never load each other's code); other packages
are left alone.
"""
from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import tempfile
from pathlib import Path


class _Loader(importlib.machinery.SourceFileLoader):
    folder: Path

    def get_code(self, fullname):
        source_path = self.get_filename(fullname)
        st = os.stat(source_path)
        header = importlib.util.MAGIC_NUMBER + b"\0\0\0\0" + (
            (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little"))
        where = hashlib.sha256(os.path.abspath(source_path).encode()).hexdigest()[:12]   # one file per checkout
        cached = self.folder / f"{fullname}.{where}.{sys.implementation.cache_tag}.pyc"
        try:
            data = cached.read_bytes()
            if data[:16] == header:
                return marshal.loads(data[16:])
        except (OSError, ValueError, EOFError, TypeError):
            pass
        code = compile(self.get_data(source_path), source_path, "exec", dont_inherit=True)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(header + marshal.dumps(code))
            os.replace(tmp, cached)
        except OSError:
            pass
        return code


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, folder: Path):
        self.folder = folder

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith("derive."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            loader = _Loader(spec.loader.name, spec.loader.path)
            loader.folder = self.folder
            spec.loader = loader
        return spec


def install(folder: Path | None) -> None:
    """Keep derive's bytecode under `folder` if Python writes none (once per process)."""
    if folder is None or not sys.dont_write_bytecode or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder(folder / "bytecode"))
