"""Fuzzing the matrix operations (issue 26): random forward equations and random answers over
softmax/log_softmax/logsumexp along axes, max/min/argmax, tr/det/logdet/inv/norm, conv/pool and
their adjoints, with good and bad shapes, axes, strides and paddings. A problem must solve or fail
with a DeriveError; an answer must get a verdict or a DeriveError; never any other exception."""
import random
import time

from fuzz_problems import dumps

import derive
from derive.errors import DeriveError
from derive.problem.load import load_file
from derive.verify.solve import solve

SYMBOLS = {"X": ["n", "m"], "S": ["n", "n"], "x": ["n", 1], "K": ["k", "k"], "w": ["k", 1], "r": [1, "m"]}
OPS = ["softmax({a}, {ax})", "softmax({a}, axis={ax})", "log_softmax({a}, {ax})", "logsumexp({a}, {ax})",
       "logsumexp({a})", "max({a}, axis={ax})", "min({a})", "max({a})", "argmax({a}, axis={ax})", "tr({a})",
       "trace({a})", "det({a})", "logdet({a})", "inv({a})", "{a}^(-1)", "{a}^∘(-1)", "norm({a})",
       "conv2d({a}, {b})", "conv2d({a}, {b}, stride={s}, padding={p})", "conv1d({a}, {b}, padding={p})",
       "maxpool2d({a}, {s})", "maxpool1d({a}, {s})", "flip({a})", "dilate({a}, {s})", "unpool2d({a}, {b}, {s})",
       "sum({a}, axis={ax})", "{a} {b}", "{a} ⊙ {b}", "{a} + {b}", "{a}^T", "tanh({a})", "max({a}, {b})"]
AXES = ["0", "1", "1", "2", "-1", "x", "axis"]
STRIDES = ["1", "2", "2", "0", "k", "n", "x", "1.5"]
PADS = ["0", "1", "k - 1", "-1", "m"]


def expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(list(SYMBOLS))
    op = rng.choice(OPS)
    return op.format(a=f"({expression(rng, depth - 1)})", b=f"({expression(rng, depth - 1)})",
                     ax=rng.choice(AXES), s=rng.choice(STRIDES), p=rng.choice(PADS))


def problem(rng: random.Random, k: int):
    y = expression(rng, rng.randint(1, 3))
    forward = [f"Y = {y}", "L = sum(Y)"] if rng.random() < 0.7 else [f"L = {y}"]
    return {"id": f"fuzz-{k}", "title": "fuzz", "dims": ["n", "m", "k"], "forward": forward, "output": "L",
            "symbols": dict(SYMBOLS), "quantities": [f"dL/d{rng.choice(list(SYMBOLS))}"]}


def test_random_forward_equations_and_answers_never_raise_anything_else(tmp_path):
    rng = random.Random(26)
    failures, solved, checked = [], 0, 0
    end = time.monotonic() + 40
    for k in range(400):
        if time.monotonic() > end:
            break
        data = problem(rng, k)
        try:
            path = tmp_path / f"fuzz-{k}.toml"
            path.write_text(dumps(data), encoding="utf-8")
            p = load_file(path)
            sol = solve(p, timeout=5)
            solved += 1
        except DeriveError:
            continue
        except Exception as e:  # noqa: BLE001 - what the fuzzer looks for
            failures.append((data["forward"], repr(e)))
            continue
        for _ in range(3):
            answer = expression(rng, rng.randint(0, 2))
            if rng.random() < 0.3:                           # a bad cut: unbalanced brackets, a stray keyword
                answer = answer[:rng.randint(0, len(answer))] + rng.choice(["", ", axis=", "stride=2)", "="])
            try:
                derive.check(str(path), sol.problem.quantities[0].name, answer)
                checked += 1
            except DeriveError:
                pass
            except Exception as e:  # noqa: BLE001
                failures.append((data["forward"], answer, repr(e)))
    assert solved >= 10 and checked >= 20, (solved, checked)
    assert failures == [], "\n".join(map(str, failures[:20]))
