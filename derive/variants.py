"""Per-student variants: a seed fixes the drawn values and activations of a problem's [variants].

    instantiate(problem, seed) -> Problem    the same problem (same id) at the drawn values
    seed_for(student_id, salt) -> int        a roster's seed for one student
    structure(problem)                        the rule of every backward step and the active
                                              branch of every kink at the given values

Draws come from sha256 of (problem id, seed, attempt, name), so a seed gives the same variant
on every machine and Python version (no hash(), no set order, no random module). A draw that
breaks a `require` condition, or whose derivation differs from the base problem's (a ReLU that
switches off, a step with another rule), is redrawn; after MAX_ATTEMPTS the spec is unusable.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derive.engine.backprop import derive, forward_subs
from derive.errors import AnswerError, DeriveError, ProblemSpecError
from derive.expr import functions as sy
from derive.expr.numeric import evaluate
from derive.notation import build as reader
from derive.problem import variant_table as givens
from derive.problem.load import Problem, build, load, load_file
from derive.verify import instances
from derive.verify.solve import solve

MAX_ATTEMPTS = 200        # draws tried per seed before the spec is declared unsatisfiable
SEED_RANGE = 10**9        # roster seeds are below this (short enough to type)
_OPS = {">": lambda a, b, t: a > b + t, ">=": lambda a, b, t: a >= b - t,    # t: rounding, so
        "<": lambda a, b, t: a < b - t, "<=": lambda a, b, t: a <= b + t,    # 1.5*0.2 - 0.3 > 0 fails
        "==": lambda a, b, t: np.abs(a - b) <= t, "!=": lambda a, b, t: np.abs(a - b) > t}


class VariantError(ProblemSpecError):
    """No variant satisfies the problem's [variants] (or the problem has none)."""


def _draw(problem_id: str, seed: int, attempt: int, name: str, count: int) -> int:
    digest = hashlib.sha256(f"{problem_id}\0{seed}\0{attempt}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def seed_for(student_id: str, salt: str = "") -> int:
    """A student's seed from sha256(salt, id): the same roster and salt give the same seeds."""
    digest = hashlib.sha256(f"{salt}\0{str(student_id).strip()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_RANGE


def _base(problem) -> Problem:
    p = load(problem)
    return load_file(p.path) if p.variant is not None else p     # a variant's base is its file's


def _base_structure(base: Problem) -> tuple:
    try:
        return _structure_of_file(str(base.path), Path(base.path).stat().st_mtime_ns)
    except OSError:
        return structure(base)


@functools.lru_cache(maxsize=128)
def _structure_of_file(path: str, mtime_ns: int) -> tuple:
    return structure(load_file(path))


def instantiate(problem, seed: int) -> Problem:
    """The variant of `problem` for `seed`: a new frozen Problem (same id, `variant` = seed)."""
    base = _base(problem)
    spec = base.variants
    if spec is None:
        raise VariantError(f"{base.id} declares no [variants], so every seed would give the same problem; "
                           "a [variants] table says what may vary (docs/problems.md#variants)",
                           file=base.path, key="variants")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise VariantError(f"a seed is a non-negative integer, not {seed!r}")
    want = _base_structure(base)
    reasons = {}
    for attempt in range(MAX_ATTEMPTS):
        values = tuple((r.name, r.point(_draw(base.id, seed, attempt, r.name, r.count))) for r in spec.ranges)
        choices = tuple((s.name, s.choices[_draw(base.id, seed, attempt, s.name, len(s.choices))])
                        for s in spec.slots)
        p, why = _drawn(base, values, choices, want)
        if why:
            reasons[why] = reasons.get(why, 0) + 1
            continue
        return dataclasses.replace(p, variant=seed)
    why = "; ".join(f"{k} ({n}x)" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    raise VariantError(f"no variant for seed {seed} in {MAX_ATTEMPTS} draws: {why}", file=base.path, key="variants")


_DRAWN: dict = {}


def _drawn(base: Problem, values: tuple, choices: tuple, want: tuple) -> tuple:
    """The problem at one draw and why it is refused ("" if it is not). Seeds that draw the same
    numbers share it (a slot of three activations has three derivations, not one per seed)."""
    try:
        stamp = Path(base.path).stat().st_mtime_ns      # an edited file draws afresh
    except OSError:
        stamp = None
    key = (base.path, stamp, values, choices)
    if key not in _DRAWN:
        if len(_DRAWN) > 4096:
            _DRAWN.clear()
        data = copy.deepcopy(base.data)
        data.setdefault("values", {}).update(dict(values))
        p = build(data, base.path, variant=0, choices=dict(choices))
        failed = failed_conditions(p)
        why = failed[0] if failed else "" if structure(p) == want else \
            "the derivation's steps or active branches differ from the base problem's"
        _DRAWN[key] = (p, why)
    return _DRAWN[key]


# ---- conditions and structure ----------------------------------------------------------------
def _at_values(p: Problem) -> tuple:
    inst = instances.instance(p, 0, use_values=True)
    return inst, instances.forward(p, inst)


def failed_conditions(p: Problem) -> list[str]:
    """The `require` conditions that do not hold at p's given values (every entry must hold)."""
    if p.variants is None or not p.variants.require:
        return []
    inst, env = _at_values(p)
    out = []
    for c in p.variants.require:
        try:
            a, b = (np.asarray(evaluate(reader.read(side, p.scope, "text"), env, inst.dims, inst.functions), dtype=float)
                    for side in (c.lhs, c.rhs))
        except AnswerError as e:
            raise ProblemSpecError(f"{c.text!r}: {e.message}", file=p.path, key="variants.require") from None
        tol = 1e-9 * max(1.0, float(np.max(np.abs(a), initial=0)), float(np.max(np.abs(b), initial=0)))
        with np.errstate(all="ignore"):
            if not np.all(_OPS[c.op](a, b, tol)):
                out.append(f"require {c.text!r} fails")
    return out


def _slot_calls(p: Problem) -> dict:
    """(equation, activation) -> slot, for each call a function slot made: only these calls are
    written as the slot when comparing structures (a slot's tanh and a fixed sigma elsewhere)."""
    raw = p.data.get("forward", [])
    out = {}
    for slot, fn in p.choices.items():
        for line, eq in zip(raw, p.equations):
            if givens.uses_slot([line], slot):
                out[(eq.name, fn)] = slot
    return out


def structure(p: Problem) -> tuple:
    """What makes two variants equally hard: each backward step's name and rule, and the sign
    pattern of every kink's argument (ReLU on or off) that the given values decide. A function
    slot's activation is written as the slot, so sigma and tanh in a slot compare equal."""
    calls = _slot_calls(p)
    through = {}                               # node -> (activation, slot) of a slot call on it
    for eq in p.equations:
        for call in eq.expr.atoms(sy.Fn, sy.Apply):
            if (eq.name, call.fname) in calls:
                for s in call.args[2].free_symbols:
                    through[str(s)] = (call.fname, calls[(eq.name, call.fname)])
    steps = []
    for st in derive(p).steps:
        rule = st.rule
        if st.node in through:
            fn, slot = through[st.node]
            rule = re.sub(rf"\b{re.escape(fn)}\b", f"<{slot}>", rule)
        steps.append((st.name, rule))
    inst, env = _at_values(p)
    valued = set(p.values) | set(sy.ACTIVATIONS) | set(p.scope.functions)   # Fn's name is a Symbol
    subs = forward_subs(p)
    branches = []
    for eq in p.equations:
        for call in sorted(eq.expr.atoms(sy.Fn, sy.Apply), key=str):
            if call.fname not in sy.KINKS:
                continue
            if not {str(s) for s in call.args[2].xreplace(subs).free_symbols} <= valued:
                continue                      # a random point decides it, not the given values
            arg = np.asarray(evaluate(call.args[2], env, inst.dims, inst.functions), dtype=float).reshape(-1)
            signs = tuple(0 if abs(x) < instances.KINK_MARGIN else int(np.sign(x)) for x in arg)   # 0: at the kink
            slot = calls.get((eq.name, call.fname))
            if slot is not None and all(x > 0 for x in signs):
                continue                      # a slot's ReLU that is on reads like a smooth function
            branches.append((eq.name, f"<{slot}>" if slot else call.fname, signs))
    return tuple(steps), tuple(branches)


# ---- what grading and sheets need -----------------------------------------------------------------
@dataclass(frozen=True)
class Student:
    id: str
    name: str
    seed: int


_CODE_LETTERS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"    # Crockford's base 32: no I, L, O, U to misread


def variant_code(seed: int) -> str:
    """A 5-character label for a seed, for a handout's header (a seed is a 9-digit number)."""
    n = int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:4], "big")
    return "".join(_CODE_LETTERS[(n >> (5 * k)) & 31] for k in range(5))


MAX_ROSTER_BYTES = 16 << 20     # a roster of 100,000 students is about 5 MB
MAX_SEED_DIGITS = 18
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u0085]")


def read_roster(path, salt: str = "") -> list[Student]:
    """A roster CSV with a header: `id` (or student_id) and `name` columns, an optional `seed`
    column (otherwise seed_for(id, salt)). A file that is not a regular UTF-8 file, a seed that is
    not a plain number and an id or name that is not one line of text are errors naming the line."""
    path = Path(path)
    text = _roster_text(path)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))     # rows end at \r or \n only, not U+2028
    fields = {f.strip().lower(): f for f in (rows[0].keys() if rows else []) if f is not None}
    idcol = fields.get("id") or fields.get("student_id") or fields.get("student")
    if not rows or idcol is None:
        raise DeriveError(f"{path}: a roster is a CSV with a header line naming an `id` column "
                          "(and usually `name`, optionally `seed`)")
    out, seen = [], set()
    for n, row in enumerate(rows, start=2):
        sid = (row.get(idcol) or "").strip()
        if not sid:
            raise DeriveError(f"{path}, line {n}: the student id is empty")
        if sid in seen:
            raise DeriveError(f"{path}, line {n}: student id {sid[:40]!r} appears twice")
        seen.add(sid)
        name = (row.get(fields.get("name", ""), "") or sid).strip()
        for what, v in (("id", sid), ("name", name)):
            bad = _NOT_ONE_LINE.search(v)
            if bad:
                raise DeriveError(f"{path}, line {n}: the {what} {v[:40]!r} holds U+{ord(bad[0]):04X}, a line break "
                                  "or control character; a name is one line of text")
        raw = (row.get(fields["seed"]) or "").strip() if "seed" in fields else ""
        if raw and not re.fullmatch(f"[0-9]{{1,{MAX_SEED_DIGITS}}}", raw):
            raise DeriveError(f"{path}, line {n}: seed {raw[:40]!r}{'...' if len(raw) > 40 else ''} is not a "
                              f"non-negative integer of at most {MAX_SEED_DIGITS} digits (0-9)")
        out.append(Student(sid, name, int(raw) if raw else seed_for(sid, salt)))
    return out


def _roster_text(path: Path) -> str:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise DeriveError(f"{path}: a roster is a CSV file, and this is not a regular file")
        if st.st_size > MAX_ROSTER_BYTES:
            raise DeriveError(f"{path}: {st.st_size >> 20} MB is too large for a roster (at most "
                              f"{MAX_ROSTER_BYTES >> 20} MB)")
        data = path.read_bytes()
    except OSError as e:
        raise DeriveError(f"{path}: cannot read the roster: {e.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise DeriveError(f"{path} is not UTF-8 text (byte 0x{data[e.start]:02X} at line {line}); save the roster "
                          "as UTF-8 (Excel: 'CSV UTF-8'; iconv -f latin1 -t utf-8)") from None


@functools.lru_cache(maxsize=4096)     # a course server: every student of a class, each varying problem (~20 KB each)
def _cached(path: str, mtime_ns: int, seed: int) -> Problem:
    return instantiate(path, seed)


def variant_of(problem, seed: int | None) -> Problem:
    """The Problem to grade against: the base for seed None (or a problem without [variants]),
    else its variant, cached per (file, modification time, seed)."""
    p = load(problem)
    if seed is None or p.variants is None:
        return p
    if p.variant == seed:
        return p
    try:
        mtime = Path(p.path).stat().st_mtime_ns
    except OSError:
        return instantiate(p, seed)
    return _cached(str(p.path), mtime, int(seed))


def for_student(problem, student_id: str, roster=None, salt: str = "") -> Problem:
    """The Problem a student was given: their roster seed, or seed_for(id, salt)."""
    seeds = {s.id: s.seed for s in roster} if roster is not None else {}
    return variant_of(problem, seeds.get(str(student_id), seed_for(student_id, salt)))


# ---- the command line ---------------------------------------------------------------------------
def key_dict(p: Problem) -> dict:
    """A variant's given values, questions and answer key: what `derive variant --json` prints."""
    sol = solve(p)
    return {"id": p.id, "alias": p.alias, "variant": p.variant, "title": p.title,
            "values": dict(p.value_text), "choices": dict(p.choices), "statement": p.statement.strip(),
            "questions": [q.name for q in p.quantities], "verified": sol.verified,
            "key": sol.to_dict()["quantities"]}


def format_key(d: dict) -> str:
    head = f"{d['alias']} ({d['id']})" if d["alias"] else d["id"]
    out = [f"{head}, variant {d['variant']}: {d['title']}"]
    if d["values"]:
        out.append("given: " + ", ".join(f"{k} = {v}" for k, v in d["values"].items()))
    if d["choices"]:
        out.append("functions: " + ", ".join(f"{k} = {v}" for k, v in d["choices"].items()))
    out += ["", "Statement:"] + [f"  {line}" for line in d["statement"].splitlines()]
    out += ["", "Questions: " + ", ".join(d["questions"]), "", "Answer key:"]
    for q in d["key"]:
        if not q["graded"]:
            out.append(f"  {q['name']} (not auto-graded): {q['text']}")
            continue
        value = f" = {q['value']:.12g}" if q["value"] is not None and q["text"] != f"{q['value']:.12g}" else ""
        out.append(f"  {q['name']} = {q['text']}{value}")
    out += ["", "verified" if d["verified"] else "NOT VERIFIED"]
    return "\n".join(out)


def cmd_variant(args) -> int:
    p = instantiate(load(args.problem, getattr(args, "problems", None)), args.seed)
    d = key_dict(p)
    print(json.dumps(d, indent=2, ensure_ascii=False) if args.json else format_key(d))
    return 0 if d["verified"] else 2


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "variant", help="one seeded variant of a problem: given values, questions, answer key",
        description="Draw the variant of a problem that SEED fixes (from the problem's [variants]: "
                    "ranges of given values, function slots, require conditions) and print its given "
                    "values, questions and answer key. The same seed gives the same variant everywhere.",
        epilog="example: derive variant residual-relu --seed 17 --json")
    p.add_argument("problem", help="id (residual-relu), alias (problem2) or a .toml file")
    p.add_argument("--seed", type=int, required=True, help="the variant's seed (a non-negative integer)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_variant)
