"""The library (problems/library/) against torch autograd: each problem's forward pass written with
torch's own functions (softmax, cross_entropy, layer_norm, rms_norm, lstm_cell, gru_cell, ...), its
gradients taken by autograd, and compared with (a) every result derive derives and states, and
(b) every sample answer recorded as correct (the textbook's answer). Named gradients (delta_c,
gh2, ...) in a stated result or an answer take torch's values, so nothing here trusts derive's
own backward pass. The expectations come from torch only.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent))      # library_problems.py (import-mode=importlib)
from library_problems import DRAWS, LIBRARY, TORCH, sample_expr  # noqa: E402

from derive.expr.numeric import evaluate, rel_error  # noqa: E402
from derive.verify.instances import forward, point  # noqa: E402

SEEDS = (3, 4)
TOLERANCE = 1e-9


def _tensors(env: dict, problem) -> dict:
    out = {}
    for name in list(problem.inputs) + list(problem.given):
        out[name] = torch.tensor(np.asarray(env[name], dtype=float), dtype=torch.float64, requires_grad=True)
    return out


def _autograd(problem, inst, env):
    """torch's gradient of the output at every node the problem's quantities and names mention."""
    t = _tensors(env, problem)
    dims = {str(k): v for k, v in inst.dims.items()}
    loss, nodes = TORCH[problem.id](t, dims)
    for v in nodes.values():
        v.retain_grad()
    loss.backward()
    grads = {}
    for node, gname in problem.adjoint_names.items():
        tensor = t.get(node, nodes.get(node))
        if tensor is not None:
            grad = tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)
            grads[gname] = grad.detach().numpy().reshape(_shape(problem, node, inst))
    return grads


def _shape(problem, node, inst):
    shape = problem.node_shape(node)
    return () if shape is None else tuple(int(sp.sympify(d).xreplace(inst.dims)) for d in shape)


@pytest.mark.parametrize("pid", sorted(TORCH), ids=str)
def test_library_problem_equals_torch_autograd(solved, pid):
    sol = solved(LIBRARY[pid])
    p = sol.problem
    for seed in SEEDS:
        inst, env = point(p, seed)
        if pid in DRAWS:
            rng = np.random.default_rng(seed)
            for name, draw in DRAWS[pid].items():
                inst.env[name] = draw(rng, np.shape(inst.env[name]))
            env = forward(p, inst)
        grads = _autograd(p, inst, env)
        named = {k: v for k, v in grads.items() if k not in p.given}
        full = {**env, **named}
        for q in p.quantities:
            if not q.kind.asks_gradient:
                continue
            r = sol.derivation.result(q.name)
            expected = grads[p.adjoint_names[q.wrt]]
            for label, expr in (("closed form", r.closed), ("as stated", r.expr)):
                got = np.broadcast_to(evaluate(expr, full, inst.dims), expected.shape)
                assert rel_error(got, expected) < TOLERANCE, (pid, q.name, label, seed)
            for s in p.samples:
                if s.verdict == "correct" and p.quantity(s.quantity).name == q.name:
                    got = np.broadcast_to(evaluate(sample_expr(p, s.answer), full, inst.dims), expected.shape)
                    assert rel_error(got, expected) < TOLERANCE, (pid, q.name, s.answer, seed)


def test_every_library_problem_has_a_torch_forward_pass():
    assert sorted(TORCH) == sorted(LIBRARY)
