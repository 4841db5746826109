"""Mutation fuzzing of problem files: every catalogue file, mutated at random, must load into a
Problem or fail with one ProblemSpecError; a loaded one must solve or fail with a DeriveError;
nothing may raise anything else, hang or print a traceback.

    python bench/fuzz_problems.py [--mutants 600] [--seed 1]

tests/problem/test_problem_fuzz.py runs the same harness with a small budget.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import tomllib
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derive import DeriveError
from derive.problem.index import catalogue_dir
from derive.problem.load import load_file
from derive.verify.solve import solve

SOLVE_LIMIT = 10.0     # seconds per mutant: a mutant may ask for a large closed form

# values a key may be replaced by: wrong types, bounds, hostile strings
ODD = [0, -1, 10**9, 10**30, 2.5, math.nan, math.inf, -math.inf, True, "", " ", "w 4", "scalar",
       "\\input{/etc/hostname}", "dW1/drho", "x" * 3000, "é\u202e\x1b[2K", [], [1], ["d", "d"], [10**9, 1],
       ["a", "b", "c"], {}, {"a": 1}, {"name": 3}, [{"x": 1}], "h = h", "L = L + 1", "x" + "+x" * 700]


# ---- a small TOML writer for the mutated data (the standard library only reads TOML) --------------
def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def dumps(data: dict) -> str:
    return "".join(f"{json.dumps(str(k))} = {_value(v)}\n" for k, v in data.items())


# ---- mutations ------------------------------------------------------------------------------------
def _paths(data, prefix=()):
    """Every (container, key) in the data, nested ones included."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for k, v in items:
        yield data, k
        if isinstance(v, (dict, list)):
            yield from _paths(v, prefix + (k,))


def mutate(data: dict, rng: random.Random) -> dict:
    data = json.loads(json.dumps(data))          # a deep copy (the catalogue is JSON-compatible)
    for _ in range(rng.randint(1, 3)):
        spots = list(_paths(data))
        container, key = rng.choice(spots)
        action = rng.random()
        if action < 0.6:
            container[key] = json.loads(json.dumps(rng.choice(ODD)))   # a copy: ODD stays as it is
        elif action < 0.75 and isinstance(container, dict):
            del container[key]
        elif action < 0.9 and isinstance(container[key], list):
            container[key] = container[key] * rng.choice([0, 2, 60])     # empty, doubled, hundreds
        else:
            container[key] = str(container[key])[::-1]
    return data


def text_mutants(text: str, rng: random.Random) -> bytes:
    """Byte-level damage: a cut, a stray byte (not UTF-8), a duplicated line."""
    raw = text.encode("utf-8")
    i = rng.randrange(len(raw) + 1)
    kind = rng.random()
    if kind < 0.33:
        return raw[:i]
    if kind < 0.66:
        return raw[:i] + bytes([rng.choice([0xff, 0xc3, 0x00, 0x80])]) + raw[i:]
    lines = text.splitlines(keepends=True)
    j = rng.randrange(len(lines))
    return "".join(lines[:j + 1] + lines[j:]).encode("utf-8")


def run_one(path: Path, stats: dict | None = None) -> str | None:
    """None if the file is handled with a result or a DeriveError; else the traceback."""
    stats = {} if stats is None else stats
    try:
        p = load_file(path)
    except DeriveError:
        return None
    except Exception:                    # noqa: BLE001 - what the fuzzer is looking for
        return traceback.format_exc()
    stats["loaded"] = stats.get("loaded", 0) + 1
    try:
        solve(p, timeout=SOLVE_LIMIT)
    except DeriveError:
        return None
    except NotImplementedError:          # the engine's documented "cannot derive this op" (validate says so)
        return None
    except Exception:                    # noqa: BLE001
        return traceback.format_exc()
    return None


def fuzz(count: int, seed: int, folder: Path, deadline: float | None = None) -> dict:
    """Write and run `count` mutants; returns {'runs', 'failures': [(name, traceback)], 'seconds'}."""
    rng = random.Random(seed)
    files = sorted(catalogue_dir().glob("*.toml"))
    sources = [(f, f.read_text(encoding="utf-8")) for f in files]
    failures, start, runs, stats = [], time.perf_counter(), 0, {}
    for n in range(count):
        if deadline is not None and time.perf_counter() - start > deadline:
            break
        f, text = rng.choice(sources)
        path = folder / f"m{n}-{f.name}"
        if rng.random() < 0.25:
            path.write_bytes(text_mutants(text, rng))
        else:
            path.write_text(dumps(mutate(tomllib.loads(text), rng)), encoding="utf-8")
        runs += 1
        tb = run_one(path, stats)
        if tb is not None:
            failures.append((path.name, tb))
        else:
            path.unlink()
    return {"runs": runs, "loaded": stats.get("loaded", 0), "failures": failures,
            "seconds": time.perf_counter() - start}


def main() -> int:
    import tempfile
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="derive-fuzz-") as tmp:
        out = fuzz(args.mutants, args.seed, Path(tmp))
        for name, tb in out["failures"][:5]:
            print(f"--- {name}\n{tb}")
    print(f"{out['runs']} mutants ({out['loaded']} loaded), {len(out['failures'])} tracebacks, "
          f"{out['seconds']:.1f} s")
    return 1 if out["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
