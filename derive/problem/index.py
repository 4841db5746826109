"""The catalogue's folders and its index: which file holds an id or alias, read from the files'
headers only (finding `problem6` used to build all 28 problems; reading the TOML is a tenth of that).

The index only answers when it is sure: a file it cannot read cleanly or an id or alias used twice
leaves the answer to the full catalogue (load.catalogue), which reports and skips broken files.
Nothing here imports SymPy.
"""
from __future__ import annotations

import functools
import os
import re
import stat
import tomllib
from pathlib import Path

from derive.errors import ProblemSpecError, UsageError
from derive.problem import schema
from derive.runtime import diskcache
from derive.runtime.memo import Recent


def catalogue_dir() -> Path:
    """problems/ beside the package in a checkout; derive/problems once installed."""
    here = Path(__file__).resolve().parent.parent
    for cand in (here / "problems", here.parent / "problems"):
        if cand.is_dir():
            return cand
    raise ProblemSpecError("the problem catalogue is missing from this installation")


def library_dir() -> Path:
    """The library beside the seeds' catalogue: problems a course assigns, each with a topic."""
    return catalogue_dir() / "library"


def problem_dirs(extra=None, library: bool = True) -> list[Path]:
    """The catalogue (the seeds, then the library), then the folders given (--problems) and
    DERIVE_PROBLEMS; a folder that does not exist is an error (a misspelled one would silently hide
    a course's problems)."""
    dirs = [catalogue_dir()] + ([library_dir()] if library and library_dir().is_dir() else [])
    env = os.environ.get("DERIVE_PROBLEMS")
    given = [(d, "--problems") for d in ([extra] if isinstance(extra, (str, Path)) else list(extra or []))]
    for d, where in given + ([(env, "DERIVE_PROBLEMS=")] if env else []):
        if not Path(d).is_dir():
            raise UsageError(f"{where}{'' if where.endswith('=') else ' '}{d}: "
                             f"{'not a folder' if Path(d).exists() else 'no such folder'} (a folder of problem files, *.toml)")
        if Path(d).resolve() not in {x.resolve() for x in dirs}:   # --problems D with DERIVE_PROBLEMS=D
            dirs.append(Path(d))
    return dirs


def alias_number(alias: str) -> int:
    m = re.fullmatch(r"problem(\d+)", alias)
    return int(m.group(1)) if m else 10**6


@functools.lru_cache(maxsize=1024)
def _header(path: str, mtime_ns: int, size: int) -> tuple | None:
    """(id, alias) of a problem file as it is now, or None when the file is not plainly readable."""
    if size > schema.MAX_FILE_BYTES:
        return None
    try:
        with open(path, "rb") as f:
            data = tomllib.loads(f.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    pid, alias, topic = data.get("id"), data.get("alias", ""), data.get("topic", "")
    if not isinstance(pid, str) or not pid or not isinstance(alias, str) or not isinstance(topic, str):
        return None
    return pid, alias, topic


def entries(dirs) -> list[tuple[str, str, str]] | None:
    """(id, alias, path) of every problem file in catalogue order, or None when the index is not sure.
    Kept in the disk cache under every file's path, modification time and size (the headers are
    otherwise read with a TOML parse of every file: most of finding one problem in a fresh process)."""
    listing = []
    builtin = (catalogue_dir().resolve(), library_dir().resolve())
    for d in dirs:
        rank = 0 if Path(d).resolve() in builtin else 1        # the user's folders come last, as in catalogue()
        try:
            files = [e for e in os.scandir(d) if e.name.endswith(".toml")]
        except OSError:
            return None
        for e in sorted(files, key=lambda e: e.name):
            try:
                st = e.stat()
            except OSError:
                return None
            listing.append((rank, e.path, st.st_mtime_ns, st.st_size, stat.S_ISREG(st.st_mode)))
    key = repr(listing)
    kept = diskcache.get("catalogue-index", key)
    if isinstance(kept, list):
        return kept
    out, seen = [], set()
    for rank, path, mtime_ns, size, regular in listing:
        head = _header(path, mtime_ns, size) if regular else None
        if head is None or head[0] in seen or head[1] in seen:
            return None            # unreadable, or used twice: the catalogue says which is an error
        seen.update(n for n in head[:2] if n)
        out.append((alias_number(head[1]), rank, head[2], head[0], head[1], path))
    found = [(pid, alias, path) for *_, pid, alias, path in sorted(out)]
    diskcache.put("catalogue-index", (key,), found)
    return found


_listed = Recent(entries)      # a batch's many names: the folders listed once a second


def find(name: str, dirs) -> str | None:
    """The path of the file whose id or alias is `name`, or None when the index is not sure. A hint
    up to a second old: load() checks the file it names and falls back to the catalogue."""
    for pid, alias, path in _listed(tuple(str(d) for d in dirs)) or ():
        if name and name in (pid, alias):          # (a library problem's alias is empty)
            return path
    return None
