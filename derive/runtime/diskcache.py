"""Results kept on disk between runs (closed forms, verified sheets), keyed by what they depend on.

A key is made of the problem file's bytes, this version of derive (its version number and the
size and modification time of every source file and template, so an edited checkout counts as a
new version) and the caller's own parts. The folder is safe to delete at any time.

DERIVE_CACHE=off (or 0, no, none) turns it off; DERIVE_CACHE=DIR puts it in DIR; by default it is
derive/ in the user's cache folder (XDG_CACHE_HOME, else ~/.cache). A folder that another user, or
a group, may write to is not used.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from derive.runtime.memo import Recent

OFF = ("off", "0", "no", "none", "false")
PACKAGE = Path(__file__).resolve().parent.parent


def folder() -> Path | None:
    """Where entries are kept now, or None when the cache is off."""
    env = os.environ.get("DERIVE_CACHE")
    if env is not None:
        return None if env.strip().lower() in OFF or not env.strip() else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "derive"


def usable() -> Path | None:
    """folder(), created if need be, when only this user can write to it; else None (off). Entries
    are loaded as code (pickles, bytecode), so a folder others may write to is never read. Looked
    at once a second, not per entry."""
    base = folder()
    return None if base is None else _owned(base)


def _check(base: Path) -> Path | None:
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(base)
    except OSError:
        return None
    return None if st.st_mode & 0o022 or (hasattr(os, "geteuid") and st.st_uid != os.geteuid()) else base


_owned = Recent(_check)


def version() -> str:
    """derive's version and a digest of its code as installed now."""
    import derive
    return f"{derive.__version__}-{_code_digest()}"


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    h = hashlib.sha256()
    roots = [PACKAGE, PACKAGE.parent / "templates", PACKAGE / "templates"]
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".py", ".j2", ".tex", ".html", ".js", ".css")):
                    st = os.stat(os.path.join(dirpath, name))
                    h.update(f"{os.path.relpath(os.path.join(dirpath, name), root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def file_digest(path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _entry(kind: str, parts: tuple) -> Path | None:
    base = usable()
    if base is None:
        return None
    key = hashlib.sha256(repr((version(),) + tuple(parts)).encode()).hexdigest()
    return base / kind / key[:2] / f"{key}.pickle"


def get(kind: str, *parts, shared: dict | None = None):
    """The value stored under (kind, parts) for this version of derive, or None. `shared`: the
    objects put() was given, by name, which the value refers to without a copy of its own."""
    path = _entry(kind, parts)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            reader = pickle.Unpickler(f)
            if shared:
                reader.persistent_load = shared.__getitem__
            return reader.load()
    except Exception:            # missing, half-written by a killed run, from an older Python: a miss
        return None


def kept(kind: str, parts: tuple, make, valid=lambda value: value is not None, shared: dict | None = None):
    """The value stored under (kind, parts) when `valid` accepts it, else make()'s, stored for the
    next run (objects in `shared` by name only, see get)."""
    value = get(kind, *parts, shared=shared)
    if not valid(value):
        value = make()
        put(kind, parts, value, shared=shared)
    return value


def put(kind: str, parts: tuple, value, shared: dict | None = None) -> None:
    """Store value under (kind, parts); a cache that cannot be written is simply not used. The
    objects in `shared` are stored by name (get is given them again), not copied."""
    path = _entry(kind, parts)
    if path is None:
        return
    names = {id(obj): name for name, obj in (shared or {}).items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            writer = pickle.Pickler(f, protocol=pickle.HIGHEST_PROTOCOL)
            if names:
                writer.persistent_id = lambda obj: names.get(id(obj))
            writer.dump(value)
        os.replace(tmp, path)
    except Exception:
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
