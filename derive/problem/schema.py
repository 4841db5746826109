"""The types and bounds of a problem file's keys, checked before anything is built from them.

A problem file is semi-trusted: whatever it holds, loading it ends in a Problem or in one
ProblemSpecError naming the file, the key and what was expected (never a TypeError from deep
inside the loader). The bounds keep deriving and verifying an unknown file small in time and
memory: verification allocates matrices of the integer dimensions written in the file.
"""
from __future__ import annotations

import math
import re

from derive.errors import ProblemSpecError
from derive.notation import display

MAX_FILE_BYTES = 512 * 1024   # one problem file
MAX_DIM = 1024                # an integer dimension in [symbols] (a 1024x1024 matrix is 8 MB)
MAX_SYMBOLS = 200             # symbols, dimensions, functions
MAX_EQUATIONS = 200           # forward equations (the depth-50 MLP of bench/ has 100)
MAX_QUANTITIES = 100
MAX_ANSWERS = 1000            # sample answers
MAX_VALUE = 1e12              # |a given value|

IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")                   # symbols, dims, functions, nodes
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")              # id, alias
WRITTEN = re.compile(r"[A-Za-z][A-Za-z0-9_^/(){}=',;+-]*")     # dL/dh_i, P(y=i), W^(1), hat{y}, f(x;theta)

TOP_LEVEL_TEXT = ("title", "source", "statement")
TOPIC = re.compile(r"[a-z0-9][a-z0-9-]*")                      # losses, normalization, matrix-calculus


def _fail(path, key, message):
    raise ProblemSpecError(message, file=str(path), key=key)


def _type(v) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(v), type(v).__name__)


def _str(path, key, v, pattern=None, what="a string"):
    if not isinstance(v, str):
        _fail(path, key, f"expected {what}, not {_type(v)} ({v!r})"[:300])
    if pattern is not None and not pattern.fullmatch(v):
        _fail(path, key, f"expected {what}, not {v!r}"[:300])
    return v


def _list(path, key, v, limit, what="an array"):
    if not isinstance(v, list):
        _fail(path, key, f"expected {what}, not {_type(v)}")
    if len(v) > limit:
        _fail(path, key, f"{len(v)} entries; at most {limit} are allowed")
    return v


def _table(path, key, v, limit=MAX_SYMBOLS):
    if not isinstance(v, dict):
        _fail(path, key, f"expected a table, not {_type(v)}")
    if len(v) > limit:
        _fail(path, key, f"{len(v)} entries; at most {limit} are allowed")
    return v


def _names(path, key, v, pattern=IDENT, what="a name like W1 or d_H"):
    for i, x in enumerate(_list(path, key, v, MAX_SYMBOLS, f"an array of strings ({what})")):
        _str(path, f"{key}[{i}]", x, pattern, what)


def _mapping(path, key, v, keys=WRITTEN, values=WRITTEN):
    for k, x in _table(path, key, v).items():
        _str(path, f"{key}.{k}", k, keys, "a name without spaces or TeX commands")
        _str(path, f"{key}.{k}", x, values, "a name without spaces or TeX commands")


def _number(path, key, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        _fail(path, key, f"expected a number, not {_type(v)}")
    if not math.isfinite(v) or abs(v) > MAX_VALUE:
        _fail(path, key, f"expected a finite number of magnitude at most {MAX_VALUE:g}, not {v!r}")


def _symbol(path, key, spec):
    if spec == "scalar":
        return
    if not (isinstance(spec, list) and len(spec) == 2):
        _fail(path, key, f'a symbol is "scalar" or a shape like ["d_H", "d"], not {spec!r}'[:300])
    for d in spec:
        if isinstance(d, bool) or not isinstance(d, (int, str)):
            _fail(path, key, f"a dimension is an integer or a name from dims, not {_type(d)}")
        if isinstance(d, int) and not 1 <= d <= MAX_DIM:
            _fail(path, key, f"dimension {d} is out of range: integer dimensions are 1 to {MAX_DIM} "
                             "(use a name from dims for a large one: it stays symbolic)")


def _dim_list(path, key, v):
    for i, d in enumerate(_list(path, key, v, 8, 'a shape like ["n1", "batch"]')):
        if isinstance(d, bool) or not isinstance(d, (int, str)):
            _fail(path, f"{key}[{i}]", f"a dimension is an integer or an expression string, not {_type(d)}")


QUANTITY_TEXT = ("name", "kind", "of", "index", "var", "sets", "model_answer")


def _quantity(path, key, q):
    if isinstance(q, str):
        _str(path, key, q, WRITTEN, "a quantity name like dL/dW1 or delta3")
        return
    if not isinstance(q, dict):
        _fail(path, key, f"a quantity is a name or a table with name = ..., not {_type(q)}")
    if "name" not in q:
        _fail(path, key, "a quantity needs a name")
    _str(path, f"{key}.name", q["name"], WRITTEN, "a quantity name like dL/dW1 or delta3")
    for k in QUANTITY_TEXT[1:]:
        if k in q:
            _str(path, f"{key}.{k}", q[k])
    for k in ("allowed", "zero", "properties"):
        if k in q:
            _names(path, f"{key}.{k}", q[k], WRITTEN, "a name")
    if "shape" in q:
        _dim_list(path, f"{key}.shape", q["shape"])
    if "alternatives" in q:
        for i, a in enumerate(_list(path, f"{key}.alternatives", q["alternatives"], 24, "an array of shapes")):
            _dim_list(path, f"{key}.alternatives[{i}]", a)
    if "range" in q:
        rng = _list(path, f"{key}.range", q["range"], 2, 'a range [LOW, HIGH], e.g. ["0", "inf"]')
        for i, b in enumerate(rng):
            if isinstance(b, (int, float)) and not isinstance(b, bool):
                _number(path, f"{key}.range[{i}]", b)
            else:
                _str(path, f"{key}.range[{i}]", b, what='a bound such as "0", "inf" or a symbol')


def _answer(path, key, a):
    if not isinstance(a, dict):
        _fail(path, key, "an answer is a table with quantity, answer, verdict")
    for k in ("quantity", "answer", "verdict"):
        if not isinstance(a.get(k), str):
            _fail(path, f"{key}.{k}", f"expected a string, not {_type(a.get(k)) if k in a else 'nothing'}")
    if "note" in a:
        _str(path, f"{key}.note", a["note"])


def check(path, data: dict) -> None:
    """Raise ProblemSpecError at the first key whose type or range is wrong."""
    if "id" in data:                         # a missing one is the loader's "missing required key"
        _str(path, "id", data["id"], SLUG, "a non-empty id of letters, digits, '-', '_' or '.'")
    if data.get("alias", "") != "":
        _str(path, "alias", data["alias"], SLUG, "an alias of letters, digits, '-', '_' or '.'")
    for k in TOP_LEVEL_TEXT:
        if k in data:
            _str(path, k, data[k])
    if "topic" in data:
        _str(path, "topic", data["topic"], TOPIC, "a topic of lower-case letters, digits and '-' (e.g. losses)")
    if "output" in data:
        _str(path, "output", data["output"], IDENT, "a node name like L or rho")
    for k in ("dims", "functions"):
        if k in data:
            _names(path, k, data[k])
    for k in ("onehot", "positive", "keep"):
        if k in data:
            _names(path, k, data[k], WRITTEN, "a name")
    for name, spec in _table(path, "symbols", data.get("symbols", {})).items():
        _str(path, f"symbols.{name}", name, IDENT, "a symbol name like W1 or x (letters, digits, _)")
        _symbol(path, f"symbols.{name}", spec)
    for i, line in enumerate(_list(path, "forward", data.get("forward", []), MAX_EQUATIONS,
                                   "an array of equations")):
        _str(path, f"forward[{i}]", line, what='an equation "NAME = EXPRESSION"')
    for k in ("given", "names", "aliases"):
        if k in data:
            _mapping(path, k, data[k])
    for k, v in _table(path, "display", data.get("display", {})).items():
        _str(path, f"display.{k}", k, WRITTEN, "a name of this problem")
        why = display.check(v)
        if why:
            _fail(path, f"display.{k}", why)
    qs = _list(path, "quantities", data.get("quantities", []), MAX_QUANTITIES, "an array of quantities")
    if not qs:
        _fail(path, "quantities", "a problem asks at least one quantity")
    for i, q in enumerate(qs):
        _quantity(path, f"quantities[{i}]", q)
    for k, v in _table(path, "values", data.get("values", {})).items():
        _number(path, f"values.{k}", v)
    for k, v in _table(path, "conventions", data.get("conventions", {})).items():
        _str(path, f"conventions.{k}", v)
    for i, a in enumerate(_list(path, "answers", data.get("answers", []), MAX_ANSWERS, "an array of tables")):
        _answer(path, f"answers[{i}]", a)
    if "notes" in data:
        _table(path, "notes", data["notes"])
    if "variants" in data:                   # its entries are checked by variants.py
        _table(path, "variants", data["variants"])
    _output_is_defined(path, data)


def _output_is_defined(path, data) -> None:
    """The differentiated output is an equation's name, a symbol, or reached through [given]."""
    if "forward" not in data or "output" not in data or not all("=" in line for line in data["forward"]):
        return                               # the loader reports an equation without '='

    defined = set(data.get("symbols", {})) | {line.split("=", 1)[0].strip() for line in data["forward"]}
    out = data["output"]
    if out not in defined and not data.get("given") and any(
            not isinstance(q, dict) or q.get("kind") not in ("shape", "prose") for q in data["quantities"]):
        _fail(path, "output", f"{out!r} is not computed by any equation; define it in forward, or give its "
                              f"upstream gradient in [given] (e.g. \"d{out}/dh3\" = \"h3\")")
