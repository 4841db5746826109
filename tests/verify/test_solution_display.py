"""Solution in a notebook: the whole derivation (steps with their rules, results, verification)."""
import derive


def test_markdown_shows_steps_rules_results_and_one_verification_line():
    md = derive.solve("problem6")._repr_markdown_()
    assert md.startswith("**problem6: Backpropagation through two sigmoid hidden layers")
    steps = md.split("Backward pass:")[1].split("Results:")[0]
    assert r"{\delta^{3}} &= \sigma'\left({Z^{2}}\right) \odot \frac{\partial \rho}{\partial {H^{2}}}" in steps
    assert r"\text{the chain rule through } \sigma" in steps and r"\text{the power rule}" in steps
    assert r"\frac{\partial \rho}{\partial x}" not in steps                     # not on the path to an answer
    results = md.split("Results:")[1]
    assert r"\frac{\partial \rho}{\partial {W^{1}}} &= {\delta^{2}} x^{\top} \in \mathbb{R}^{d_{H} \times d}" in results
    assert md.count("Verified numerically") == 1


def test_latex_shows_the_whole_derivation():
    tex = derive.solve("problem4")._repr_latex_()
    assert tex.startswith(r"$\displaystyle \begin{aligned}") and r"\text{the softmax Jacobian}" in tex
    assert r"P \sum \left(P \odot \frac{\partial L}{\partial P}\right)" in tex      # a sum, not 1^T
    assert r"\frac{\partial L}{\partial h_{i}} &= P_{i} - y_{i}" in tex


def test_prose_problems_show_their_model_answers():
    md = derive.solve("problem25")._repr_markdown_()
    assert "*sgd_algorithm* (model answer): (a) Initialize" in md and "Backward pass" not in md
