"""The one parser: text and LaTeX give the same trees; errors point at the place."""
import pytest

from derive.errors import AnswerError
from derive.notation import lexers
from derive.notation import parser as mp
from derive.notation.latex_lexer import lex_latex

NAMES = {"W^3": "W3", "delta^4": "delta4", "hat{h}": "hhat", "P(y=i)": "P_i", "Z^2": "Z2", "sigma^2": "var", "dL/dh3": "dL/dh3"}
FUNCS = frozenset({"sigma", "exp", "log", "relu", "ReLU", "f1", "f3", "tanh", "sqrt"})


def tree(text, fmt):
    return mp.parse(text, fmt, names=NAMES, functions=FUNCS)


@pytest.mark.parametrize("latex,text", [
    (r"\frac{\partial L}{\partial h_3} f'_3 w_3 f'_1 x", "dL/dh3 f3' w3 f1' x"),
    (r"\frac{1}{1+e^{-h}}", "1/(1+e^(-h))"),
    (r"\sigma'(Z^2) \odot (W^{3})^T \delta^4", "sigma'(Z2) ⊙ (W3)^T delta4"),
    (r"\sigma'(Z^2) \odot (W^{3})^{\top} \delta^{4}", "sigma'(Z2) ⊙ W3.T delta4"),
    (r"\hat{h} \cdot \frac{a+b}{2}", "hhat * ((a+b)/2)"),
    (r"\delta_{ij} P_j - P_i P_j", "delta_ij P_j - P_i P_j"),
    (r"\frac12 x^{2}", "(1/2) x^2"),
    (r"\partial L / \partial h_3", "dL/dh3"),
    (r"\mathrm{ReLU}(x)", "ReLU(x)"),
    (r"\left( a + b \right)^\top", "(a+b)^T"),
    (r"f_3'(x)", "f3'(x)"),
    (r"w_{1} x \times 2", "w1 x * 2"),
    (r"\exp\left(-h\right)", "exp(-h)"),
    (r"\sqrt{\sigma^2 + \epsilon}", "sqrt(var + eps)"),
    (r"P(y=i) - y_i", "P(y=i) - y_i"),
    (r"\tanh(x)^2", "tanh(x)^2"),
])
def test_latex_and_text_agree(latex, text):
    assert tree(latex, "latex") == tree(text, "text")


def test_auto_detects_latex():
    assert lexers.detect_format(r"\frac{a}{b}") == "latex" and lexers.detect_format("a/b") == "text"
    assert tree(r"\frac{a}{b}", "auto") == tree("a/b", "text")


def test_derivative_names():
    kinds = [(t.kind, t.value) for t in lex_latex(r"\frac{\partial \rho}{\partial W^2} + \frac{dL}{dy}")]
    assert kinds[:3] == [("name", "drho/dW^2"), ("op", "+"), ("name", "dL/dy")]


@pytest.mark.parametrize("text,fmt,message", [
    ("x +", "text", "syntax error at column 4: an operand is missing after '+'"),
    ("x + * y", "text", "syntax error at column 5: an operand is missing after '+'"),
    ("(x", "text", "syntax error at column 3: the '(' at column 1 is never closed"),
    ("ones((3, 3))", "numpy", "syntax error at column 8: a bracket holding a list, as at column 6, is not understood "
                              "here (a tuple or a shape such as (3, 3))"),     # its brackets are closed
    ("x)", "text", "syntax error at column 2: a closing ')' has no matching '('"),
    ("", "text", "syntax error at column 1: the answer is empty"),
    ("x $ y", "text", "unexpected character '$' at column 3"),
    (r"\frac{a}{b", "latex", "syntax error at column 9: the '{' at column 9 is never closed"),
    (r"\int x", "latex", r"syntax error at column 1: the LaTeX command \int is not understood here"),
    (r"x}", "latex", "syntax error at column 2: a closing '}' has no matching '{'"),
    (r"\frac{a}", "latex", "the denominator"),
    ("'x", "latex", "a prime (') must follow a function name"),
    ("0,62", "text", "a decimal comma at column 2: write 0.62 with a point"),
    ("2 x + 0,5", "text", "a decimal comma at column 8: write 0.5 with a point"),
    ("d ⊗ x", "text", "unexpected character '⊗' at column 3; write an outer product of column vectors as a b^T"),
    (r"d \otimes x", "latex", r"the LaTeX command \otimes is not understood here; write an outer product"),
    ("∇W", "text", "write a gradient by its name"),
    ("ones(1, N) * g", "text", "syntax error at column 7: ones is not a function that an answer may call, and a "
                               "bracket holding a list, as at column 5"),
    (r"x \in \mathbb{R}^{n}", "latex", r"the LaTeX command \in is not understood here; an answer is the expression"),
])
def test_errors_point_at_the_place(text, fmt, message):
    with pytest.raises(AnswerError) as e:
        tree(text, fmt)
    assert e.value.message.startswith(message) or message in e.value.message
    assert e.value.offset is not None


def test_bounds():
    with pytest.raises(AnswerError, match="nested more than 50 levels") as e:
        tree("(" * 60 + "x" + ")" * 60, "text")
    assert e.value.code == "too_complex"
    with pytest.raises(AnswerError, match="more than 15 digits"):
        tree("1234567890123456789", "text")
    with pytest.raises(AnswerError, match="the limit is 2000"):
        tree("x" * 2001, "text")


def test_caret_points_at_the_column():
    with pytest.raises(AnswerError) as e:
        tree("w1 x +", "text")
    assert e.value.caret() == "w1 x +\n      ^"


def test_a_space_after_a_bare_derivative_multiplies():
    assert tree("f3' (x + 1)", "text") == tree("f3' * (x + 1)", "text")
    assert tree("f3'(x + 1)", "text") == mp.Call("f3", (tree("x + 1", "text"),), 1)
    assert tree("sigma (x)", "text") == tree("sigma(x)", "text")


def test_unicode_names_take_subscripts():
    assert tree("δ_ij P_j", "text") == tree("delta_ij P_j", "text")


def _answers():
    """Every answer of the notation corpora, with its problem (problem files name the symbols)."""
    import csv
    from pathlib import Path
    for f in sorted((Path(__file__).parent.parent / "data" / "notation").glob("*.tsv")):
        with open(f, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row.get("problem") and row.get("answer"):
                    yield row["problem"], row["answer"]


def test_a_tree_has_at_most_nodes_per_token_nodes_per_token():
    """The parser skips its height walk for short answers on this bound (NODES_PER_TOKEN): every
    answer of the corpora and every catalogue sample keeps it."""
    from derive.problem.load import catalogue, load

    def count(node):
        return 1 + sum(count(k) for k in mp.children(node))
    pairs = list(_answers()) + [(p.id, s.answer) for p in catalogue() for s in p.samples]
    checked = 0
    for pid, text in pairs:
        p = load(pid)
        names, functions = p.scope.aliases, p.scope.callable_names()
        try:
            node = mp.parse(text, "auto", names=names, functions=functions)
        except AnswerError:
            continue
        tokens = lexers.tokenize(text, "auto", names)
        assert count(node) <= mp.NODES_PER_TOKEN * len(tokens), text
        checked += 1
    assert checked > 500
    x_inv_t = mp.parse("x^{-T}", "latex", names={}, functions=frozenset())    # the densest token
    assert count(x_inv_t) == 4 and len(lexers.tokenize("x^{-T}", "latex")) == 3
