"""A sheet's page header (course, assignment, date) and the parts it shows (SheetOptions), from
options or a small TOML file (`derive sheet --config header.toml`)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from derive.errors import HeaderError


@dataclass(frozen=True)
class Header:
    course: str = ""
    assignment: str = ""
    date: str = ""

    def __bool__(self):
        return bool(self.course or self.assignment or self.date)


@dataclass(frozen=True)
class SheetOptions:
    """What a sheet shows beside each problem's statement (the CLI's --no-* flags)."""
    questions: bool = False     # a question sheet: no answers
    space: bool = True          # answer space under each question (question sheets)
    show_source: bool = False   # the problem's catalogue name and source file
    graph: bool = True
    forward: bool = True
    steps: bool = True
    verification: bool = True
    all_steps: bool = False     # every backward step, not only those on the path to an asked quantity


def _read_toml(path) -> dict:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise HeaderError(f"{path}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise HeaderError(f"{path}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise HeaderError(f"{path}: not UTF-8 text (byte {e.start + 1})") from None


def read_header(path=None, course=None, assignment=None, date=None) -> Header:
    """Header from a small TOML file (keys course, assignment, date; top level or [header]),
    overridden by explicit options."""
    data = {}
    if path:
        raw = _read_toml(path)
        data = raw.get("header", {k: v for k, v in raw.items() if k != "show"})
        if not isinstance(data, dict):
            raise HeaderError(f"{path}: key 'header' must be a table with course, assignment, date")
        unknown = set(data) - {"course", "assignment", "date"}
        if unknown:
            raise HeaderError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                              "known: course, assignment, date (and a [show] table)")
        for k, v in data.items():
            if not isinstance(v, (str, int)) or isinstance(v, bool):
                raise HeaderError(f"{path}: key {k!r} must be text, not {type(v).__name__}")
    vals = {k: str(data.get(k, "")) for k in ("course", "assignment", "date")}
    for k, v in (("course", course), ("assignment", assignment), ("date", date)):
        if v is not None:
            vals[k] = v
    return Header(**vals)


SHOWN = ("graph", "forward", "steps", "verification", "space", "source")


def read_shown(path=None) -> dict:
    """The header file's [show] table: which parts a sheet shows (graph = false is --no-graph)."""
    if not path:
        return {}
    shown = _read_toml(path).get("show", {})
    if not isinstance(shown, dict):
        raise HeaderError(f"{path}: key 'show' must be a table of true/false ({', '.join(SHOWN)})")
    for k, v in shown.items():
        if k not in SHOWN:
            raise HeaderError(f"{path}: unknown key show.{k}; known: {', '.join(SHOWN)}")
        if not isinstance(v, bool):
            raise HeaderError(f"{path}: show.{k} must be true or false, not {v!r}")
    return shown
