"""Mutation fuzzing of problem files (issue 9, item 5), small budget; bench/fuzz_problems.py runs
the same harness with a larger one. A mutant must load or fail with one ProblemSpecError, and a
loaded one must solve or fail with a DeriveError: never any other exception."""
from fuzz_problems import dumps, fuzz, mutate


def test_mutated_catalogue_files_never_raise_anything_but_a_derive_error(tmp_path):
    out = fuzz(count=80, seed=11, folder=tmp_path, deadline=25.0)
    assert out["runs"] >= 20
    assert out["failures"] == [], out["failures"][0][1]


def test_the_mutator_writes_toml_the_loader_reads_back():
    import random
    import tomllib
    data = {"id": "x", "values": {"a": float("nan")}, "quantities": [{"name": "q", "shape": [1, "n"]}]}
    back = tomllib.loads(dumps(data))
    assert back["quantities"] == data["quantities"] and back["values"]["a"] != back["values"]["a"]
    rng = random.Random(3)
    assert any(mutate(data, rng) != data for _ in range(5))
