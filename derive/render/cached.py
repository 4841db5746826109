"""A sheet's problems, each kept on disk (runtime.diskcache) per problem file and version of derive:
a second `derive sheet` of unchanged files neither derives, verifies nor imports SymPy."""
from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

from derive.errors import RenderError
from derive.problem import index
from derive.render.header import SheetOptions
from derive.runtime import diskcache


def contexts(names, all_: bool = False, extra=None, options: SheetOptions = SheetOptions(),
             topic: str | None = None) -> list:
    """sheet.problem_context of each named problem (or every problem with all_, or the named ones and
    then those of `topic`), numbered 1..n in order."""
    dirs = index.problem_dirs(extra)
    listed = index.entries(dirs)
    if topic and not all_:
        from derive.problem.load import catalogue
        from derive.problem.topics import with_topic
        names = list(names or []) + [p.id for p in with_topic(catalogue(extra), topic) if p.id not in (names or [])]
    if all_:
        if listed is None:                       # the index is not sure: the catalogue decides
            from derive.problem.load import catalogue
            names = [p.id for p in catalogue(extra)]
        else:
            names = [pid for pid, _, _ in listed]
    if not names:
        raise RenderError("name at least one problem, or use --all or --topic T")
    out = []
    shown = astuple(options)                     # the options are part of the key: each shows other parts
    for number, name in enumerate(names, 1):
        path = _path(str(name), listed)
        digest = diskcache.file_digest(path) if path else None
        ctx = diskcache.get("sheet", digest, shown) if digest else None
        if ctx is None:
            from derive.render import sheet
            sol = sheet.solved(name, extra)
            ctx = sheet.problem_context(sol, options=options)
            if digest and diskcache.file_digest(sol.problem.path) == digest and sol.problem.variant is None:
                diskcache.put("sheet", (digest, shown), ctx)
        out.append({**ctx, "number": number})
    return out


def _path(name: str, listed) -> str | None:
    if name.endswith(".toml") and Path(name).is_file():
        return name
    for pid, alias, path in listed or ():
        if name in (pid, alias):
            return path
    return None
