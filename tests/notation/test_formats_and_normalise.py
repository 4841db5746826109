"""The one table of answer formats, its detection, and the normalisation of what phones, word
processors and notes put in and around an answer (offsets still point at what was typed)."""
import pytest

from derive import cli
from derive.errors import AnswerError
from derive.notation import formats
from derive.notation.lexers import tokenize
from derive.notation.normalise import normalise
from derive.notation.parser import BinOp, Name, Num, parse
from derive.problem.load import load
from derive.serve import api


def test_the_cli_and_the_api_read_the_one_table():
    assert api.FORMATS == formats.NAMES == ("auto", "text", "latex", "numpy", "matlab")
    check = next(a for a in cli.build_parser()._actions if a.dest == "command").choices["check"]
    assert next(a for a in check._actions if a.dest == "format").choices == formats.NAMES


@pytest.mark.parametrize("text, fmt", [
    (r"\delta_2 x^T", "latex"), ("x_{1}", "latex"), ("delta2 @ x.T", "numpy"), ("np.outer(d, x)", "numpy"),
    ("torch.sigmoid(z)", "numpy"), ("sum(g, axis=0)", "numpy"), ("sum(g, dim = 1)", "numpy"),
    ("a .* b", "matlab"), ("exp(-z) ./ (1 + exp(-z)).^2", "matlab"), ("delta2 x^T", "text"),
    ("W.T delta", "text"), ("sigma'(Z1) ⊙ d", "text"), ("6.2e-1", "text"), ("F.T", "text"),
])
def test_detection(text, fmt):
    assert formats.detect(text) == fmt


@pytest.mark.parametrize("typed, text, latex", [
    ("δ2 xᵀ", "delta2 x^T ", "δ2 x^T"),
    ("W₂ᵀδ₃", "W_{2}^T delta_{3}", "W_{2}^Tδ_{3}"),
    ("2 λ W", "2 λ W", "2 λ W"),                      # lambda_, a name no text spells: left to the lexer
    ("a₁² − y", "a_{1}^2  - y", "a_{1}^2 - y"),
    ("x²³", "x^(23) ", "x^{23}"),
    ("ŷ − y", "yhat - y", r"\hat{y} - y"),
    ("x̄ + x̃", "xbar + xtilde", r"\bar{x} + \tilde{x}"),
    ("a × b · c ∗ d", "a × b · c * d", "a × b · c * d"),
    ("ｙｈａｔ", "yhat", "yhat"),
    ("a\u00a0b\u200bc", "a bc", "a bc"),
    ("f’(x)", "f'(x)", "f'(x)"),
    ("z = 0.62.", "0.62", "0.62"),
    ("$x$,", "x", "x"),
    (r"\[ \displaystyle x \]", "x", "x"),
    (r"\left. x \right.", "x", "x"),
    ("P(y=i) - y = yhat - y", "yhat - y", "yhat - y"),
    ("a <= b", "a <= b", "a <= b"),
])
def test_normalise(typed, text, latex):
    assert normalise(typed)[0].strip() == text.strip()
    assert normalise(typed, latex=True)[0].strip() == latex.strip()


@pytest.mark.parametrize("typed, column", [("δ2 xᵀ ?", 7), ("z = x + ?", 9), ("$a ⊙ ?$", 6)])
def test_messages_point_at_what_was_typed(typed, column):
    with pytest.raises(AnswerError) as e:
        tokenize(typed)
    assert e.value.offset == column - 1 and f"column {column}" in e.value.message and e.value.text == typed


@pytest.mark.parametrize("text, tree", [
    ("6.2e-1", Num("6.2e-1")), ("1E3", Num("1E3")), ("2e", BinOp("*", Num("2"), Name("e"))),
    ("e^x", BinOp("^", Name("e"), Name("x"))),
])
def test_e_notation_and_eulers_e(text, tree):
    assert parse(text) == tree


def test_a_huge_exponent_is_too_complex():
    with pytest.raises(AnswerError, match="exponent beyond"):
        parse("1e31")


@pytest.mark.parametrize("text, fmt, values", [
    (r"\delta3 x^T", "latex", ["delta3", "x", "^T"]),                  # a math field's typed delta3
    (r"\tilde{X} + \bar{x} + \check{y}", "latex", ["Xtilde", "+", "xbar", "+", "ycheck"]),
    ("|x| + 1", "text", ["abs", "|", "x", "|", "+", "1"]),
    (r"\left| x \right|", "latex", ["abs", "|", "x", "|"]),
    ("np.sum(x, axis=0, keepdims=True)", "numpy", ["sum", "(", "x", ",", "axis", "=", "0", ")"]),
    ("(W x)'", "matlab", ["(", "W", "x", ")", "'"]),
    ("a.dot(b)", "numpy", ["a", "@", "(", "b", ")"]),
])
def test_lexing(text, fmt, values):
    assert [t.value for t in tokenize(text, fmt)][:-1] == values


@pytest.mark.parametrize("problem, name, quantity", [
    ("problem10", "dl/dW^{(1)}", "dl/dW1"), ("problem10", "dl/dW^(1)", "dl/dW1"),
    ("problem10", r"\partial l/\partial W^{(1)}", "dl/dW1"), ("problem10", r"dl/d\hat{y}", "dl/dyhat"),
    ("problem6", "drho/dZ^1", "delta2"), ("problem6", "delta^2", "delta2"), ("problem6", "drho/dW1", "drho/dW1"),
])
def test_quantity_names_in_the_problems_aliases(problem, name, quantity):
    assert load(problem).quantity(name).name == quantity


@pytest.mark.parametrize("text", ["drho/dZ^1", r"\frac{\partial \rho}{\partial Z^{1}}", r"\partial\rho/\partial Z^1"])
def test_derivative_names_in_answers_use_aliases(text):
    p = load("problem6")
    (name, end) = tokenize(text, names=p.scope.aliases)
    assert p.scope.aliases.get(name.value, name.value) == "delta2" and end.kind == "end"


@pytest.mark.parametrize("typed, plain", [
    ("K^T g / √d_k", "K^T g / sqrt(d_k)"),
    ("(1/√dₖ) Kᵀ", "(1/sqrt(d_{k})) K^T"),
    ("√2 x", "sqrt(2) x"),
    ("√(d_k)", "sqrt(d_k)"),
    ("a√b", "a sqrt(b)"),
    ("σʹ(z)", "sigma'(z)"),
    ("Σ_i (p_i − y_i)", "sum_i (p_i - y_i)"),
    ("Σᵢ zᵢ", "sum_{i} z_{i}"),
])
def test_a_root_takes_the_name_after_it_and_every_prime_is_a_prime(typed, plain):
    text, where = normalise(typed)
    assert text == plain and len(where) == len(text) + 1


@pytest.mark.parametrize("answer", [r"\mu_{\mathcal{B}}", "mu_B", "sigma_B^2", "sigma^2_B", r"\mu_{\mathrm{B}}"])
def test_batchnorm_reads_the_statements_batch_statistics(answer):
    """The statement writes μ_𝓑 and σ²_𝓑; the problem's aliases and \\mathcal read them as its mu and var."""
    from derive.grading.read import AnswerBuilder, parse_answer
    p = load("batchnorm-layer")
    b = AnswerBuilder(p.scope, answer)
    assert str(b.build(parse_answer(p, answer))) in ("mu", "var")


@pytest.mark.parametrize("answer", ["P(y = i) - y_i", "P( y=i ) - y_i", "P(y= i)-y_i"])
def test_a_written_name_with_brackets_is_read_with_spaces_inside(answer):
    """problem4 names P(y=i); students type P(y = i)."""
    p = load("problem4")
    kinds = [(t.kind, t.value) for t in tokenize(answer, "text", p.scope.aliases)]
    assert kinds[0] == ("name", p.scope.aliases["P(y=i)"]) and kinds[1] == ("op", "-"), kinds


@pytest.mark.parametrize("method, function", [
    ("X.sum(axis=0)", "sum(X, axis=0)"), ("(g * x).mean()", "mean((g * x))"), ("X.T.sum(0)", "sum(X.T, 0)"),
    ("np.exp(z).sum()", "sum(np.exp(z))"), ("x.max()", "max(x)"),
])
def test_numpys_reducing_methods_are_the_functions(method, function):
    def kinds(t):
        return [(k.kind, k.value) for k in tokenize(t, "numpy")]
    assert kinds(method)[:-1] == kinds(function)[:-1]
