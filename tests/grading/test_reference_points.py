"""The reference's points come back from the disk cache as they were computed: the same values, the
same verdicts; a variant or another secret never reads another's points."""
import numpy as np
import pytest

from derive.grading import decide
from derive.grading.reference import Reference, derived
from derive.problem.load import load
from derive.verify import instances


def _same_point(a, b):
    (ia, ea), (ib, eb) = a, b
    assert ia.dims == ib.dims and ia.functions == ib.functions and ea.keys() == eb.keys()
    for k in ea:
        assert np.array_equal(np.asarray(ea[k], dtype=float), np.asarray(eb[k], dtype=float), equal_nan=True), k


@pytest.mark.parametrize("pid", ["problem1", "problem6", "dead-relu", "problem2"])
def test_points_from_disk_are_the_computed_ones(tmp_path, monkeypatch, pid):
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path))
    p = load(pid)
    first = Reference(p, derived(p))
    r = first.derivation.results[0]
    plan = decide._plan(p, r, "some answer")
    wanted = [(family, n) for family, numbers, _ in plan for n in list(numbers)[:3]]
    computed = {fn: first.point(*fn) for fn in wanted}
    for fail in ("point", "scaled_point", "instance", "adjoint_values"):
        monkeypatch.setattr(instances, fail, lambda *a, **k: pytest.fail("computed again"))
    second = Reference(p, derived(p))
    for fn in wanted:
        _same_point(second.point(*fn), computed[fn])


def test_another_secret_does_not_read_the_points_of_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path))
    from derive.grading import reference as ref_mod
    from derive.runtime import secret as secret_mod
    p = load("problem6")
    for key in (b"one", b"two"):
        for module in (ref_mod, secret_mod):
            monkeypatch.setattr(module, "secret", lambda key=key: key)
        if key == b"one":
            a = Reference(p, derived(p)).point("secret", 3)
    b = Reference(p, derived(p)).point("secret", 3)
    assert not np.array_equal(a[1]["x"], b[1]["x"])


def test_mutants_from_disk_are_the_made_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path))
    from derive.grading import mutants
    from derive.grading.reference import kept_mutants
    p = load("problem6")
    d = derived(p)
    r = d.result("drho/dW1")
    made = kept_mutants(d, r)
    assert made == mutants.mutants(d, r, with_text=False) and made
    monkeypatch.setattr(mutants, "mutants", lambda *a, **k: pytest.fail("made again"))
    assert kept_mutants(d, r) == made


@pytest.mark.parametrize("answer, steep", [("1000/1000 delta2 x^T", False), ("(2000 - 1999) delta2 x^T", False),
                                           ("delta2 (1 + tanh(1000 x^T))/2", True),
                                           ("delta2 tanh(x^T/0.001)", True)])
def test_small_scale_points_follow_the_constants_the_answer_keeps(answer, steep):
    """A large number in the text makes an answer steep only if the built answer keeps it: 1000/1000
    is 1, while tanh(1000 x) is a step (checked at small scales too, on a problem without kinks)."""
    from derive.grading.read import AnswerBuilder, parse_answer
    p = load("problem6")
    assert not instances.has_kink(p)
    builder = AnswerBuilder(p.scope, answer)
    expr = builder.build(parse_answer(p, answer))
    assert bool(decide.kink_scales(p, answer, expr)) is steep
    assert decide.kink_scales(p, answer)                    # the text alone: always steep
