"""The disk cache: an entry refers to the objects the caller shares with it, without a copy."""
import pickle

from derive.engine.backprop import derive
from derive.grading import reference
from derive.problem.load import load
from derive.runtime import diskcache


class _Big:
    def __init__(self):
        self.payload = list(range(5000))


def test_a_shared_object_is_stored_by_name_and_given_back_itself():
    big = _Big()
    value = {"answer": 42, "context": big}
    diskcache.put("test-shared", ("k",), value, shared={"context": big})
    again = diskcache.get("test-shared", "k", shared={"context": big})
    assert again["answer"] == 42 and again["context"] is big
    stored = diskcache._entry("test-shared", ("k",)).read_bytes()
    assert len(stored) < len(pickle.dumps(big)) / 10              # the payload is not in the entry


def test_a_derivation_kept_on_disk_is_the_problems_own_and_keeps_no_simplifier_memo():
    p = load("problem6")
    first = reference.derived(p)                                   # derived, then stored
    assert first.problem is p
    stored = reference.derived(p)                                  # read from the disk
    assert stored is not first and stored.problem is p
    assert stored.results == first.results
    assert first.simplifier.passes and not stored.simplifier.passes
    assert [r.closed for r in stored.results] == [r.closed for r in derive(p).results]
