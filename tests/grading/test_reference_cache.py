"""The derivation a worker grades against is kept on disk per problem file and version of derive."""
import dataclasses

import pytest

import derive
from derive.grading import reference as ref_mod
from derive.problem.load import build, load


@pytest.fixture
def derives(monkeypatch):
    calls = []
    real = ref_mod.derive
    monkeypatch.setattr(ref_mod, "derive", lambda p: calls.append(p.id) or real(p))
    return calls


def _same(a, b):
    assert [(r.quantity.name, r.expr, r.closed, r.shape) for r in a.results] == \
           [(r.quantity.name, r.expr, r.closed, r.shape) for r in b.results]
    assert [(s.name, s.general, s.closed) for s in a.steps] == [(s.name, s.general, s.closed) for s in b.steps]


def test_a_derivation_is_read_back_from_disk_and_is_the_same(derives):
    p = load("problem6")
    first = ref_mod.derived(p)
    second = ref_mod.derived(p)
    assert derives == ["two-hidden-deltas"]
    assert second.problem is p
    _same(first, second)


def test_an_edited_problem_or_a_new_version_is_derived_again(derives, monkeypatch):
    p = load("problem1")
    ref_mod.derived(p)
    data = {**p.data, "forward": [e.replace("h3 = f3(", "h3 = 2*f3(") for e in p.data["forward"]]}
    edited = build(data, p.path)
    d = ref_mod.derived(edited)
    assert derives == ["scalar-chain"] * 2 and d.results[0].closed != ref_mod.derived(p).results[0].closed
    monkeypatch.setattr(derive, "__version__", derive.__version__ + ".post1")
    ref_mod.derived(p)
    assert derives == ["scalar-chain"] * 3


def test_a_variant_is_not_kept(derives):
    from derive.variants import variant_of
    p = variant_of(load("residual-relu"), 3)
    ref_mod.derived(p)
    ref_mod.derived(p)
    assert len(derives) == 2
    assert dataclasses.is_dataclass(p)
