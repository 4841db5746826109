"""Sheets an instructor hands out unedited (issue 22): numbering, answer space, no internal names,
one notation per problem, solutions that show only what a TA writes, and the options to trim them."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import derive
from derive.cli import main
from derive.errors import ProblemSpecError
from derive.notation import display
from derive.notation.latex import latex, name_latex
from derive.notation.text import text
from derive.problem.load import catalogue
from derive.render import pdf as pdf_build
from derive.render import sheet
from derive.render.graph import tikz
from derive.variants import variant_code

needs_tex = pytest.mark.skipif(shutil.which("latexmk") is None and shutil.which("pdflatex") is None,
                               reason="no TeX engine")
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="no pdftotext")


def render(*names, **options):
    questions = options.pop("questions", False)
    return sheet.render_sheet(sheet.resolve(list(names)),
                              options=sheet.SheetOptions(questions=questions, **options))


# ---- question sheets ---------------------------------------------------------------------------
def test_questions_are_a_numbered_list_with_room_sized_by_the_answer():
    tex = render("problem11", "problem6", "problem2", questions=True)
    items = re.findall(r"\\item \\answer(\w+)\{", tex)
    assert r"\begin{enumerate}" in tex and r"\begin{itemize}" not in tex.split(r"\begin{document}")[1] \
        .split("Problem 2")[0]
    assert {"line", "box", "tall", "small"} <= set(items)
    assert r"\answertall{\frac{\partial \rho}{\partial {W^{2}}}}" in tex        # a matrix: a tall box
    assert r"\answerbox{{\delta^{4}}}" in tex                                  # a symbolic scalar: a box
    assert r"\answersmall{\frac{\partial z}{\partial w_{0}}}" in tex            # a number from a chain


def test_a_question_sheet_does_not_print_the_answers():
    xavier = render("problem13", questions=True)                        # asks the formulas themselves
    assert r"\sqrt" not in xavier and "Forward pass" not in xavier and "tikzpicture" not in xavier
    assert r"\sqrt" in render("problem13")
    dead = render("problem16", questions=True)                          # a property's model answer
    assert "dead}} =" not in dead and "- w_{1} x - 1" not in dead and "tikzpicture" in dead
    assert "- w_{1} x - 1" in render("problem16")
    counts = render("problem11", questions=True)                        # asks no gradient: the key
    assert "Forward pass" not in counts and r"\answerline{\mathrm{params}_{1}}" in counts
    layers = render("problem8", questions=True)                         # asks z1..yhat in the inputs
    assert "Forward pass" not in layers and "tikzpicture" not in layers and "Forward pass" in render("problem8")
    residual = render("problem2", questions=True)                       # values at the given numbers
    assert "Forward pass" in residual and "tikzpicture" in residual


def test_a_problem_that_asks_for_a_drawing_leaves_room_for_it():
    tex = render("problem3", questions=True)                 # "(1) draw the computational graph"
    assert r"\answerprose[7cm]{(your drawing)}" in tex and "tikzpicture" not in tex
    assert "your drawing" not in render("problem3", questions=True, space=False)


def test_no_space_gives_the_compact_list():
    tex = render("problem6", questions=True, space=False)
    assert r"\answer" not in tex.split(r"\begin{document}")[1]
    assert r"\item $\displaystyle {\delta^{4}}$" in tex


def test_prose_questions_get_room_under_the_statement():
    tex = render("problem22", questions=True)
    assert re.findall(r"\\answerprose(?:\[3cm\])?\{([^}]*)\}", tex)[:2] == ["(a)", "(b)"]   # 5: smaller boxes
    assert r"\answerprose" not in render("problem22").split(r"\begin{document}")[1]   # not on the solutions


def test_problems_are_numbered_in_the_order_given():
    tex = render("problem6", "problem2", questions=True)
    titles = re.findall(r"\\section\*\{Problem (\d+): ([^}]*)\}", tex)
    assert [(n, t[:15]) for n, t in titles] == [("1", "Backpropagation"), ("2", "Forward and bac")]


def test_no_internal_file_names_unless_asked():
    for questions in (True, False):
        tex = render("problem6", questions=questions)
        assert "003_fcb4b32e0622ac27" not in tex and "problem6" not in tex and "two-hidden-deltas" not in tex
    shown = render("problem6", show_source=True)
    assert r"Source: problem6 (two-hidden-deltas), 003\_fcb4b32e0622ac27.txt" in shown


def test_no_catalogue_statement_names_another_problem_by_its_internal_name():
    for p in catalogue():
        assert not re.search(r"\bproblem\d+\b|\.txt\b", p.statement), p.id
        assert not any(q.id in p.statement for q in catalogue() if q.id != p.id and "-" in q.id), p.id


def test_roster_headers_show_a_short_variant_code_not_the_seed(tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text("id,name\ns1,Ada\ns2,Bo\n")
    from derive.render.roster import render_roster
    tex = render_roster(["residual-relu"], roster, True, salt="x")
    codes = re.findall(r"\\fancyhead\[R\]\{\\small variant ([^}]*)\}", tex)
    assert len(codes) == 2 and all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}", c) for c in codes)
    assert codes[0] != codes[1]
    assert not re.search(r"variant \d{6,}", tex)
    assert variant_code(941899519) == variant_code(941899519) != variant_code(941899518)


def test_every_page_of_a_key_says_solutions():
    tex = render("problem6")
    assert r"\chead{\small Solutions}" in tex and r"\fancyhf{}" in tex
    from derive.render.roster import render_parts
    key = render_parts([{"id": "s1", "name": "Ada", "seed": 1, "code": "ABCDE",
                         "problems": [sheet.problem_context(sheet.solved("problem6"))]}], questions=False)
    assert r"\fancyhead[C]{\small Solutions}" in key


@needs_tex
@needs_pdftotext
def test_every_pdf_page_of_a_key_says_solutions(tmp_path):
    pdf = pdf_build.compile_pdf(render("problem6", "problem5"), tmp_path / "k.pdf")
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 3 and all("Solutions" in p for p in pages)


# ---- one notation per problem --------------------------------------------------------------------
def test_the_statement_spelling_is_used_everywhere_on_the_sheet():
    tex = render("problem6")
    body = tex.split(r"\begin{document}")[1]
    for drift in (r"W_{1}", r"\delta_{4}", r"Z_{2}", r"H_{1}"):
        assert drift not in body, drift
    assert r"\delta^{4}" in body and r"{W^{1}}" in body and r"W^{3\top}" in body
    with display.using(derive.load("problem6").display):
        assert "W^{1}" in tikz(derive.load("problem6"))                          # the graph too
    assert r"W^{(1)}" in render("problem8")                                     # W^(1) in that statement


def test_multi_letter_names_are_upright_and_hats_are_hats():
    assert name_latex("hprev") == r"\mathrm{hprev}"
    assert name_latex("xhat") == r"\hat{x}"
    assert name_latex("var") == r"{\sigma^{2}}"


def test_a_display_table_in_the_problem_file_sets_the_spelling(tmp_path):
    src = (derive.load("problem6").path)
    text_ = open(src, encoding="utf-8").read()
    f = tmp_path / "p.toml"
    f.write_text(text_.replace('id = "two-hidden-deltas"', 'id = "mine"').replace('alias = "problem6"\n', "")
                 + '\n[display]\nH1 = "h^{[1]}"\nW1 = "\\\\mathbf{W}_{1}"\n', encoding="utf-8")
    tex = sheet.render_sheet([derive.solve(str(f))])
    assert r"{h^{[1]}}" in tex and r"\mathbf{W}_{1}" in tex and "H^{1}" not in tex
    bad = tmp_path / "bad.toml"
    bad.write_text(text_.replace('id = "two-hidden-deltas"', 'id = "bad"').replace('alias = "problem6"\n', "")
                   + '\n[display]\nH1 = "\\\\input{x}"\n', encoding="utf-8")
    with pytest.raises(ProblemSpecError, match=r"display.H1.*\\input is not allowed"):
        derive.load(str(bad))


def test_the_web_page_prints_the_sheet_notation():
    from derive.serve.api import Catalogue
    cat = Catalogue()
    page = cat.detail("problem6")
    names = {q["name"]: q["latex"] for q in page["quantities"]}
    assert names["drho/dW1"] == r"\frac{\partial \rho}{\partial {W^{1}}}" and names["delta4"] == r"{\delta^{4}}"
    steps = " ".join(s["latex"] for s in page["solution"]["steps"])
    assert r"W^{3\top}" in steps and "W_{3}" not in steps
    assert ">W</tspan>" in page["graph_svg"] and "W_{1}" not in page["graph_svg"]
    assert "W^{1}" in cat.preview("problem6", "drho/dW1", "delta2 x^T")["interpreted"] or \
        r"\delta^{2}" in cat.preview("problem6", "drho/dW1", "delta2 x^T")["interpreted"]
    sheet_tex = render("problem6")
    assert names["drho/dW1"] in sheet_tex                       # the same spelling as the sheet's


# ---- solutions a TA would write --------------------------------------------------------------------
def test_only_steps_on_the_way_to_an_asked_quantity():
    tex = render("problem5")
    steps = re.findall(r"the gradient at \$([^$]*)\$", tex)
    assert r"\epsilon" not in steps and "X" not in steps and "W" not in steps and "b" not in steps
    assert r"\hat{h}" in steps and "c" in steps and r"\mu" in steps
    everything = re.findall(r"the gradient at \$([^$]*)\$", render("problem5", all_steps=True))
    assert {r"\epsilon", "X", "W", "b"} <= set(everything)


def test_rules_are_in_words():
    tex = render("problem6", "problem8", "problem5")
    notes = re.findall(r"\\rulenote\{([^}]*(?:\}[^}]*)*?)\}\.", tex)
    assert notes and not any(";" in n or n.strip() in ("", "[]") for n in notes)
    assert "the power rule" in tex and r"the chain rule through $\sigma$" in tex
    assert "the gradient of a matrix product" in tex and "the identity" in tex
    for name in ("problem6", "problem8"):
        out = "\n".join(s.rule for s in derive.solve(name).derivation.steps)
        assert "; " not in out and "entrywise power" not in out and all(s.rule for s in derive.solve(name).derivation.steps)


def test_a_sum_of_entries_and_a_broadcast_have_their_own_words():
    rules = {s.node: s.rule for s in derive.solve("problem8").derivation.steps}
    assert rules["yhat"].startswith("the gradient of a sum of entries")          # l = sum((yhat - y)^2)
    rules = {s.node: s.rule for s in derive.solve("problem5").derivation.steps}
    assert rules["mu"] == "the gradient of a broadcast (summed over the copies)"   # c = h - 1_N mu
    for f in ("trace", "det", "norm", "conv2d"):                                  # words, no formula in code
        rules = {s.rule for s in derive.solve(f"bench/matrix_ops/{f}.toml").derivation.steps}
        assert not any(c in r for r in rules for c in ("=", "^", "‖", "conv("))


def test_model_answers_are_labelled_by_the_statement_not_by_an_internal_name():
    tex = render("problem22")                                  # its model answers start with (a), (b), ...
    assert r"{\sloppy(a) No." in tex and "not auto-graded" not in tex and r"\textbf{Answer" not in tex
    assert r"\textbf{Answer:}" in render("problem19")           # one question: no label to repeat
    assert "Graded by properties" not in render("problem15") and "Any answer is right that" in render("problem15")


def test_an_entrywise_quotient_is_written_as_one():
    import sympy as sp
    p, y = sp.MatrixSymbol("p", 3, 1), sp.MatrixSymbol("y", 3, 1)
    assert latex(-sp.HadamardProduct(sp.HadamardPower(p, -1), y)) == r"- y \oslash p"     # not -(1 ⊘ p) ⊙ y
    assert latex(sp.OneMatrix(1, 1) - p.T * p) == r"1 - p^{\top} p"
    v = sp.MatrixSymbol("v", 4, 1)
    assert latex(v * (sp.OneMatrix(1, 3) - p.T)) == r"v \left(\mathbf{1}_{3} - p\right)^{\top}"   # not 1^T + (-p)^T


def test_the_operations_a_result_uses_are_said_in_words():
    tex = render("bench/matrix_ops/conv1d-maxpool.toml")
    assert r"Here $\operatorname{flip}(K)$ is $K$ turned by $180^\circ$" in tex and "unpool" in tex
    assert "Here " not in render("problem6")                   # sigma' is the textbook's p(1 - p)
    assert r"Here $\operatorname{GELU}'\left(z\right) = " in render("gelu-layer")


def test_the_forward_pass_writes_roots_and_bars_as_a_textbook():
    tex = render("causal-attention", "gaussian-loglik", "cnn1d-maxpool")
    forward = "".join(part.split(r"\subsection*")[0] for part in tex.split("Forward pass}")[1:])
    assert r"\sqrt{d_{k}}" in forward and "sqrt" not in forward.replace(r"\sqrt", "")
    assert r"\operatorname{conv1d}" in forward


def test_a_display_too_wide_for_the_page_is_scaled_to_it():
    tex = render("rnn-bptt-3")
    assert r"\fitwidth{$\displaystyle\begin{aligned}" in tex                 # the long products of step 12
    assert r"\fitwidth{$\displaystyle\begin{aligned}" not in render("problem6")


def test_a_step_ends_in_the_boxed_form_of_an_answer_in_allowed_names_too():
    tex = render("problem9")                                 # dl/dz3 is asked in x, y, W, b and named gradients
    steps, results = tex.split(r"\subsection*{Results}")
    box = re.search(r"\\frac\{\\partial \\ell\}\{\\partial z_\{3\}\} &= (.*)", results)[1]
    assert f"&= {box}" in steps.split("Step 2:")[1].split("Step 3:")[0]


def test_one_verification_line_per_problem():
    tex = render("problem6", "problem8")
    assert tex.count("Verified numerically") == 2       # one sentence each (problem8: two ways of checking)
    assert tex.count("Verified numerically") < len(re.findall(r"\\boxed", tex))


def test_sums_not_ones_vectors():
    assert r"\mathbf{1}" not in render("problem5", "problem4").split(r"\begin{document}")[1]
    assert r"\sum_{i=1}^{N}" in render("problem5") and r"\text{rows}" not in render("problem5")   # an index, not a word
    dLdh = next(s for s in derive.solve("problem4").derivation.steps if s.name == "dL/dh")
    assert text(dLdh.general) == "dL/dP ⊙ P - P*sum(P ⊙ dL/dP)"
    assert "*1*" not in text(dLdh.general)


def test_a_step_ends_in_the_boxed_form():
    tex = render("problem6")
    step = tex.split(r"\textbf{Step 1:}")[1].split(r"\end{align*}")[0]
    assert step.rstrip().endswith(r"&= 2 \left(f - y\right)")
    assert r"\boxed{\begin{aligned}" + "\n" + r"{\delta^{4}} &= 2 \left(f - y\right)" in tex


@pytest.mark.parametrize("flag,gone", [("graph", r"\begin{tikzpicture}"), ("forward", "Forward pass"),
                                       ("steps", "Backward pass"), ("verification", "Verified numerically")])
def test_each_part_can_be_left_out(flag, gone):
    assert gone in render("problem6")
    assert gone not in render("problem6", **{flag: False})


def test_cli_flags_reach_the_sheet(capsys):
    assert main(["sheet", "problem6", "--no-graph", "--no-verification", "--show-source"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tikzpicture}" not in out and "Verified numerically" not in out and "Source:" in out
    assert main(["sheet", "problem6", "--questions", "--no-space"]) == 0
    assert r"\item $\displaystyle" in capsys.readouterr().out


def test_plain_text_solve_has_no_artefacts(capsys):
    main(["solve", "problem4"])
    out = capsys.readouterr().out
    assert "*1*" not in out and "[]" not in out
    main(["solve", "problem8"])
    assert "[]" not in capsys.readouterr().out
    main(["solve", "problem5"])
    assert "dL/deps =" not in capsys.readouterr().out                   # nobody asked it
    main(["solve", "problem5", "--all-steps"])
    assert "dL/deps =" in capsys.readouterr().out


def test_latex_of_a_sum_reads_like_a_textbook():
    p = derive.load("problem5")
    r = derive.solve("problem5").derivation.result("dL/dbeta")
    with display.using(p.display, sums=True):
        assert latex(r.expr) == r"\sum_{i=1}^{N} \frac{\partial L}{\partial y}"
    with display.using(p.display):                       # elsewhere (JSON, echo): a form that reads back
        assert r"\mathbf{1}" in latex(r.expr)


def test_a_numerator_layout_problem_is_in_numerator_layout_throughout():
    tex = render("problem8")
    steps = tex.split("Backward pass")[1].split(r"\subsection*{Results}")[0]
    assert r"\frac{\partial \ell}{\partial {W^{(2)}}} &= z_{2} \frac{\partial \ell}{\partial z_{3}}" in steps   # m x K
    assert r"\frac{\partial \ell}{\partial z_{3}} z_{2}^{\top}" not in steps                               # K x m
    assert r"\frac{\partial \ell}{\partial z_{2}} &= \frac{\partial \ell}{\partial z_{3}} {W^{(2)}}" in steps  # a row
    results = tex.split(r"\subsection*{Results}")[1]
    assert r"\frac{\partial \ell}{\partial {W^{(2)}}} &= z_{2}" in results and r"\in \mathbb{R}^{m \times K}" in results
    assert results.count(r"{\small Here $z_{1}") == 1 and "substitut" not in results      # one line of definitions


def test_the_forward_pass_is_written_as_the_statement_writes_it():
    tex = render("problem1", questions=True)
    assert r"h_{1} &= f_{1}\left(w_{1} x + b_{1}\right)" in tex               # not b_1 + w_1 x
    assert r"h_{3} &= f_{3}\left(w_{3} h_{1} + w_{4} h_{2} + b_{3}\right)" in tex
    assert r"\mu &= \frac{1}{N} \sum_{i=1}^{N} h" in render("problem5")     # a mean written out


def test_shape_checks_join_the_one_verification_sentence():
    tex = render("problem11")
    assert "Checked: every dimension" not in tex and tex.count("Verified numerically") == 1
    assert r"$\mathrm{shape}_{C}$ (positive integer dimensions at the given sizes); $\mathrm{params}_{1}$" in tex


def test_a_header_file_can_leave_parts_out(tmp_path, capsys):
    cfg = tmp_path / "h.toml"
    cfg.write_text('course = "CS 101"\n[show]\ngraph = false\nverification = false\n', encoding="utf-8")
    assert main(["sheet", "problem6", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tikzpicture}" not in out and "Verified numerically" not in out and "CS 101" in out
    assert "Forward pass" in out
    cfg.write_text("[show]\ngraph = 0\n", encoding="utf-8")
    assert main(["sheet", "problem6", "--config", str(cfg)]) == 2
    assert "show.graph must be true or false" in capsys.readouterr().err
