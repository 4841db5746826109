"""A set of textbook problems (bench/textbook/ of issue 11 by default; bench/matrix_ops/ of issue 26):
its problem files, the textbook form of each result (forms.toml), and the two sizes compared.
Shared by the bench scripts and their tests.
"""
from __future__ import annotations

import functools
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from derive.notation.size import size
from derive.problem import load as problem_mod
from derive.problem import schema

FOLDER = Path(__file__).resolve().parent / "textbook"
TARGET = 1.3              # every derived result within 1.3x the textbook form's size


@dataclass(frozen=True)
class Form:
    problem: str          # file stem in the set's folder
    quantity: str
    text: str             # the textbook closed form, in derive's answer syntax
    folder: Path = FOLDER

    @property
    def path(self) -> Path:
        return self.folder / f"{self.problem}.toml"


def problem_files(folder: Path = FOLDER) -> list[Path]:
    return sorted(p for p in folder.glob("*.toml") if p.name != "forms.toml")


@functools.lru_cache(maxsize=4)
def forms(folder: Path = FOLDER) -> tuple[Form, ...]:
    data = tomllib.loads((folder / "forms.toml").read_text(encoding="utf-8"))
    return tuple(Form(f["problem"], f["quantity"], f["text"], folder) for f in data["form"])


def fresh_load(path: Path):
    """A Problem built anew from the file (problem.load_file memoizes by path and mtime)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    schema.check(path, data)
    return problem_mod.build(data, path)


def derived_text(solution, quantity: str) -> str:
    """The result as `derive solve` shows it (its final form, after any ` = `)."""
    q = solution.problem.quantity(quantity)
    shown = next(d for d in solution.to_dict()["quantities"] if d["name"] == q.name)["text"]
    return shown.split(" = ")[-1]


def sizes(solution, form: Form) -> tuple[int, int]:
    """(derived size, textbook size) in operands, both read with the problem's names."""
    scope = solution.problem.scope
    return (size(derived_text(solution, form.quantity), scope.aliases, scope.functions),
            size(form.text, scope.aliases, scope.functions))
