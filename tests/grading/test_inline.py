"""A plain answer that is right is settled in the calling thread (Checker inline): the result is the
worker's, field for field; every other answer, and every answer that is not plain, goes to a worker
under the hard time limit."""
import pytest

import derive
from derive.batch.checking import checking
from derive.grading import job
from derive.grading.read import parse_answer, plain
from derive.problem.load import catalogue, load
from derive.runtime.pool import Pool
from derive.serve.api import make_checker


def _samples():
    return [(p.id, s.quantity, s.answer) for p in catalogue() for s in p.samples]


@pytest.fixture(scope="module")
def both():
    with derive.Checker(inline=True) as inline, derive.Checker(inline=False) as worker:
        yield inline, worker


def test_every_sample_answer_of_the_catalogue_gets_the_workers_result(both):
    inline, worker = both
    samples = _samples()
    assert len(samples) > 100
    settled = 0
    real = job.settle

    def count(*a, **k):
        nonlocal settled
        out = real(*a, **k)
        settled += out is not None
        return out
    job.settle, saved = count, job.settle
    try:
        import derive.grading.checker as checker_module
        checker_module.settle, saved_c = count, checker_module.settle
        for pid, qname, answer in samples:
            assert inline.check(pid, qname, answer) == worker.check(pid, qname, answer), (pid, qname, answer)
    finally:
        job.settle = saved
        checker_module.settle = saved_c
    assert settled > 30                  # the inline path was taken, and agreed


def test_a_right_plain_answer_never_reaches_a_worker_and_a_wrong_one_does(monkeypatch, both):
    inline, _ = both
    calls = []
    real = Pool.run
    monkeypatch.setattr(Pool, "run", lambda self, *a, **k: calls.append(a[0]) or real(self, *a, **k))
    assert inline.check("problem6", "drho/dW1", "delta2 x^T").verdict == "correct"
    assert calls == []
    r = inline.check("problem6", "drho/dW1", "2 delta2 x^T")
    assert r.verdict == "incorrect" and r.diagnosis and calls == [job.job]        # diagnosed by the worker
    r = inline.check("problem6", "drho/dW1", "x delta2^T")
    assert r.verdict == "incorrect" and "transpose" in r.diagnosis and len(calls) == 2


def test_a_property_answer_is_settled_inline_when_right(monkeypatch, both):
    inline, worker = both
    calls = []
    real = Pool.run
    monkeypatch.setattr(Pool, "run", lambda self, *a, **k: calls.append(a[0]) or real(self, *a, **k))
    assert inline.check("dead-relu", "b1_dead", "-w1 x - 3").verdict == "correct" and calls == []
    assert inline.check("dead-relu", "b1_dead", "1 - w1 x") == worker.check("dead-relu", "b1_dead", "1 - w1 x")
    assert len(calls) == 2              # the wrong one: in the inline checker's worker, and the other's


@pytest.mark.parametrize("answer", [
    "x^64^64^64 * x",                    # a power of a power
    "((((((1/3)^4)^4)^4)^4)^4)^4 delta2 x^T",   # 3^4096 and on: exact rationals grow without bound
    "(delta2^2)^2 x^T",
    "delta2 x^T ^ 5",
    "(delta2 x^T)^(1/2)",
    "sum(delta2, 1) x^T",               # a reduction
    "max(delta2) x^T",
    "diag(delta2) ones(3, 3)",
    " + ".join(["delta2 x^T"] * 12),     # more than PLAIN_NODES nodes
])
def test_what_is_not_plain(answer):
    p = load("problem6")
    try:
        tree = parse_answer(p, answer)
    except derive.AnswerError:
        return
    assert not plain(p, p.quantity("drho/dW1"), tree)


def test_an_answer_that_is_not_plain_is_never_graded_in_the_calling_thread(monkeypatch, both):
    inline, _ = both
    monkeypatch.setattr(job, "settle", lambda *a, **k: pytest.fail("settled inline"))
    import derive.grading.checker as checker_module
    monkeypatch.setattr(checker_module, "settle", lambda *a, **k: pytest.fail("settled inline"))
    r = inline.check("problem6", "drho/dW1", " + ".join(["delta2 x^T / 12"] * 12))
    assert r.verdict == "correct"


@pytest.mark.parametrize("answer", ["delta2 x^T", "sigma(Z1) x^T", "-2 (y - f) delta2 x^T / 3", "delta2 x' ⊙ 1",
                                    "(W2^T delta3) ⊙ sigma'(Z1) x^T", "exp(log(2)) delta2 x^T / 2", "delta2^2 x^T"])
def test_plain_answers(answer):
    p = load("problem6")
    assert plain(p, p.quantity("drho/dW1"), parse_answer(p, answer))


def test_an_index_quantity_is_never_plain():
    p = load("softmax-definition")
    q = p.quantity("softmax_i")
    assert not plain(p, q, parse_answer(p, "z_i"))


def test_who_decides_inline():
    assert derive.Checker(prefork=False).inline                       # one worker: the library's default
    assert not derive.Checker(workers=2, prefork=False).inline        # several: they share the checks
    assert not make_checker(1).inline                                 # a server's web process keeps to the web
    with checking(workers=1) as g:                                    # a batch: every check in a worker
        assert not g.checker.inline


MALFORMED = [("problem6", "drho/dW1", "delta2 x^T +"), ("problem6", "drho/dW1", "(" * 60 + "x" + ")" * 60),
             ("problem6", "drho/dW1", "x" * 3000), ("problem6", "drho/dW1", "1234567890123456789 x"),
             ("problem6", "drho/dW1", "delta2 @@ x"), ("conv-output-size", "output_shape", "C x"),
             ("conv-output-size", "output_shape", "(C, , 3)"), ("problem6", "drho/dW1", "")]


@pytest.mark.parametrize("pid, qname, answer", MALFORMED)
def test_an_unreadable_answer_is_the_same_invalid_whoever_parses_it(monkeypatch, both, pid, qname, answer):
    """Without inline the worker parses (the calling thread only sends): the same result."""
    inline, worker = both
    a = inline.check(pid, qname, answer)
    parsed_here = []
    real = job.parse_answer
    monkeypatch.setattr(job, "parse_answer", lambda *x, **k: parsed_here.append(x) or real(*x, **k))
    b = worker.check(pid, qname, answer)
    assert a == b and a.verdict in ("invalid", "incorrect"), (a, b)
    assert parsed_here == []            # not in this process: in the worker


def test_a_reference_that_cannot_be_prepared_here_is_not_tried_here_again(monkeypatch):
    with derive.Checker(inline=True) as c:                   # its workers' parent is forked now, unpatched
        tried = []

        def broken(*a):
            tried.append(a)
            raise RuntimeError("cannot derive here")
        monkeypatch.setattr(job, "reference", broken)       # in this process only
        for _ in range(3):
            assert c.check("problem6", "drho/dW1", "delta2 x^T").verdict == "correct"   # from the worker
        assert len(tried) == 1


def test_threads_settling_at_the_same_points_get_the_sequential_results():
    """The reference's points are shared by every thread that checks inline: evaluating a function
    body must not write its variable into them (a race that gave another thread's values)."""
    from concurrent.futures import ThreadPoolExecutor
    answers = [("problem6", "delta2", "(W2^T delta3) ⊙ sigma'(Z1)"), ("problem6", "drho/dW1", "delta2 x^T"),
               ("problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x"), ("problem6", "delta3", "sigma'(Z2) ⊙ (W3^T delta4)"),
               ("problem1", "dL/db1", "dL/dh3 f3' w3 f1'")]
    jobs = [(pid, q, a + " " * (k % 7)) for k in range(40) for pid, q, a in answers]
    with derive.Checker(inline=True) as c:
        want = [c.check(*j) for j in jobs]
        with ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda j: c.check(*j), jobs))
    assert got == want and all(r.verdict == "correct" for r in got)
