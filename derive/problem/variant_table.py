"""What a problem file says may vary: the `[variants]` table, read and checked, and the
`\\given{name}` placeholders of statements and titles filled in.

    [variants]
    w0 = {min = -0.5, max = 0.5, step = 0.1}   # a given value, drawn on this grid
    f = ["sigma", "tanh"]                      # a function slot: `f(z1)` in the forward equations
    require = ["v1 > 0"]                       # conditions on the forward values at the drawn numbers

Numbers stay exact (Decimal) from the file to the printed sheet, so 0.1 * 3 prints as 0.3.
Drawing and checking variants is variants.py; this module only reads and fills.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from derive.expr import functions as sy
from derive.expr import matrix as mx

MAX_GRID = 10_000            # points of one range: a range is a short list an instructor could write
COMPARISONS = (">=", "<=", "==", "!=", ">", "<")
_COMPARE = re.compile(r"^(?P<lhs>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<rhs>.+)$", re.S)
GIVEN = re.compile(r"\\given\{([A-Za-z][A-Za-z0-9_]*)\}")



class SpecError(ValueError):
    """A malformed [variants] entry: (key, message); problem.py adds the file."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(message)


@dataclass(frozen=True)
class Range:
    name: str
    low: Decimal
    step: Decimal
    count: int               # grid points: low, low + step, ..., low + (count - 1) step

    def point(self, k: int) -> Decimal:
        return self.low + k * self.step


@dataclass(frozen=True)
class Slot:
    name: str                # as the forward equations call it: f(z1)
    choices: tuple           # activation names; the first is the base problem's


@dataclass(frozen=True)
class Condition:
    text: str                # as written: "v1 > 0"
    lhs: str
    op: str
    rhs: str


@dataclass(frozen=True)
class VariantSpec:
    ranges: tuple            # Range, in file order
    slots: tuple             # Slot, in file order
    require: tuple           # Condition

    @property
    def names(self) -> tuple:
        return tuple(r.name for r in self.ranges) + tuple(s.name for s in self.slots)


def _decimal(v, key: str, what: str) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(key, f"{what} must be a number, not {v!r}")
    try:
        return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)   # repr: 0.1 stays 0.1
    except InvalidOperation:
        raise SpecError(key, f"{what} must be a finite number, not {v!r}") from None


def read_spec(table, symbols: dict, functions) -> VariantSpec:
    """The [variants] table -> VariantSpec; SpecError names the key and what would be right."""
    if not isinstance(table, dict):
        raise SpecError("variants", "[variants] is a table: name = {min, max, step}, slot = [choices], require")
    ranges, slots, require = [], [], []
    for name, v in table.items():
        key = f"variants.{name}"
        if name == "require":
            if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
                raise SpecError(key, 'require is a list of conditions like ["v1 > 0", "y0 > 0"]')
            for i, c in enumerate(v):
                m = _COMPARE.match(c.strip())
                if not m:
                    raise SpecError(f"{key}[{i}]", f"{c!r} is not a comparison; write A > B (or >=, <, <=, ==, !=)")
                require.append(Condition(c.strip(), m["lhs"].strip(), m["op"], m["rhs"].strip()))
        elif isinstance(v, dict):
            ranges.append(_range(key, name, v, symbols))
        elif isinstance(v, list):
            slots.append(_slot(key, name, v, symbols, functions))
        else:
            raise SpecError(key, f"{name} = {{min = ..., max = ..., step = ...}} for a given value, "
                                 f'or {name} = ["sigma", "tanh"] for a function slot, not {v!r}')
    if not ranges and not slots:
        raise SpecError("variants", "nothing varies: give a range or a function slot")
    return VariantSpec(tuple(ranges), tuple(slots), tuple(require))


def _range(key, name, v, symbols) -> Range:
    if name not in symbols:
        raise SpecError(key, f"{name} is not a symbol of this problem; a range varies a given value")
    if mx.shape_of(symbols[name]) not in (None, (1, 1)):
        raise SpecError(key, f"{name} is a matrix; only scalar given values vary")
    unknown = set(v) - {"min", "max", "step"}
    if unknown or not {"min", "max", "step"} <= set(v):
        raise SpecError(key, f"a range is {{min = ..., max = ..., step = ...}}; got keys {', '.join(sorted(v))}")
    low, high, step = (_decimal(v[k], key, k) for k in ("min", "max", "step"))
    if step <= 0 or high < low:
        raise SpecError(key, f"need step > 0 and min <= max (got min {low}, max {high}, step {step})")
    span = (high - low) / step
    if span != span.to_integral_value():
        raise SpecError(key, f"max - min ({high - low}) is not a whole number of steps of {step}")
    if span + 1 > MAX_GRID:
        raise SpecError(key, f"{int(span) + 1} grid points; at most {MAX_GRID}")
    return Range(name, low, step, int(span) + 1)


def _slot(key, name, v, symbols, functions) -> Slot:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name) or name in symbols or name in functions \
            or name in sy.ACTIVATIONS or name in sy.FUNCTION_ALIASES:
        raise SpecError(key, f"a function slot needs a new name (not a symbol, function or activation): {name!r}")
    if not v or not all(isinstance(c, str) for c in v) or len(set(v)) != len(v):
        raise SpecError(key, f'a function slot lists distinct activations, e.g. ["sigma", "tanh"]; got {v!r}')
    for c in v:
        if sy.FUNCTION_ALIASES.get(c, c) not in sy.ACTIVATIONS:
            raise SpecError(key, f"{c!r} is not an activation; known: {', '.join(sy.ACTIVATIONS)}")
    return Slot(name, tuple(sy.FUNCTION_ALIASES.get(c, c) for c in v))


def fill_slots(line: str, choices: dict) -> str:
    """A forward equation with each slot call `f(` written as the chosen activation."""
    for slot, fn in choices.items():
        line = re.sub(rf"(?<![\w']){re.escape(slot)}(?=\s*\()", fn, line)
    return line


def uses_slot(lines, slot: str) -> bool:
    return any(re.search(rf"(?<![\w']){re.escape(slot)}\s*\(", line) for line in lines)


def number_text(v) -> str:
    """A given value as an instructor writes it: the drawn Decimal, or the file's own number."""
    if isinstance(v, Decimal):              # 2.0 -> 2, 0.30 -> 0.3, never 1E+3
        return str(int(v)) if v == v.to_integral_value() else format(v.normalize(), "f")
    return repr(v) if isinstance(v, float) else str(v)


def _name_tex(name: str) -> str:
    """A name without a value, as statements write it: n_in -> n_{in}, w0 -> w_{0}, a -> a."""
    base, sep, sub = name.partition("_")
    if not sep:
        m = re.fullmatch(r"([A-Za-z]+?)(\d+)", name)
        base, sub = (m[1], m[2]) if m else (name, "")
    return f"{base}_{{{sub}}}" if sub else base


def fill(text: str, values: dict, choices: dict, latex: bool) -> str:
    """`\\given{name}` -> the value (or chosen activation) of name; a name without a value prints
    as itself. `latex` picks the statement's form (\\sigma) or the title's (sigmoid)."""
    def one(m):
        name = m[1]
        if name in choices:
            row = sy.FUNCTIONS[choices[name]]          # a statement's form (\sigma) or a title's (sigmoid)
            return row.tex if latex else row.word or row.name
        if name in values:
            return number_text(values[name])
        return _name_tex(name) if latex else name
    return GIVEN.sub(one, text)
