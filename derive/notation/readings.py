"""Every reading of an answer: the juxtapositions the parser met that read two ways (parser.choose)
and the sum(X, dim) of Matlab, whose dims count from 1. The README's rule: the natural reading
decides unless it is wrong and another reading is right."""
from __future__ import annotations

import itertools
import re
from dataclasses import replace

from derive.errors import AnswerError
from derive.notation import formats
from derive.notation.lexers import tokenize
from derive.notation.parser import BinOp, Call, Neg, Num, Parser, Transpose
from derive.notation.tokens import MAX_LENGTH

MAX_CHOICES = 3            # ambiguous juxtapositions read both ways (2**3 readings at most)
REDUCTIONS = ("sum", "mean")


def matlab_dims(tree, text: str = ""):
    """The tree with sum(X, 1) and sum(X, 2) read as Matlab's (down the columns, along the rows:
    numpy's axis 0 and 1); None when it has no such sum. Any other dim is refused: 1.0 or 3-2 read
    with numpy's axes would count the other way."""
    if isinstance(tree, Call):
        args = tuple(matlab_dims(a, text) or a for a in tree.args)
        if tree.fn in REDUCTIONS and len(args) == 2 and isinstance(args[1], (Num, BinOp, Neg)):
            dim = args[1].text if isinstance(args[1], Num) else ""
            if dim.replace(".", "", 1).isdigit() and float(dim) in (1, 2):
                return replace(tree, args=(args[0], Num(str(int(float(dim)) - 1), args[1].pos)))
            raise AnswerError(f"Matlab's {tree.fn}(X, dim) takes dim 1 (down each column) or 2 (along each row)",
                              args[1].pos, code="syntax", text=text)
        return replace(tree, args=args) if args != tree.args else None
    if isinstance(tree, BinOp):
        left, right = matlab_dims(tree.left, text), matlab_dims(tree.right, text)
        return None if left is right is None else replace(tree, left=left or tree.left, right=right or tree.right)
    if isinstance(tree, (Neg, Transpose)):
        inner = matlab_dims(tree.operand, text)
        return None if inner is None else replace(tree, operand=inner)
    return None


MATLAB_NOTE = "read sum(…, 1) and sum(…, 2) with Matlab's dimensions, counted from 1"
NUMPY_STAR_NOTE = "read * as numpy's entrywise (broadcasting) product, as the .T suggests"
_NUMPY_T = re.compile(r"[\w)\]]\.T\b")        # numpy's transpose after a name or a bracket


def readings(text: str, fmt: str = "auto", *, names: dict[str, str] | None = None,
             functions: frozenset[str] = frozenset(), nodes: frozenset[str] = frozenset(),
             max_length: int = MAX_LENGTH) -> list[tuple[object, tuple]]:
    """Every reading of `text`: [(tree, notes)], the natural one first; each other takes the second
    meaning of some ambiguous juxtapositions (the first MAX_CHOICES of them). The notes say how
    each ambiguous juxtaposition was read. Raises AnswerError when the natural reading does not parse."""
    tokens = tokenize(text, fmt, names, max_length)
    first = Parser(tokens, text, functions, nodes)
    out = [(first.parse(), tuple(first.points))]
    m = min(len(first.points), MAX_CHOICES)
    for plan in itertools.product((0, 1), repeat=m):
        if not any(plan):
            continue
        p = Parser(tokens, text, functions, nodes, plan)
        try:
            out.append((p.parse(), tuple(p.points)))
        except AnswerError:
            continue
    # Matlab's dims where the answer is written in Matlab (' .* ./ .^), and only those: in derive's own
    # text notation sum(X, 1) sums each row, as derive prints it; reading either answer both ways
    # would accept whichever axis is right, a guess made free
    detected = formats.detect(text) if fmt == "auto" else fmt
    if detected == "matlab" and ("sum" in text or "mean" in text):
        matlab = [(t, notes + (MATLAB_NOTE,)) for t, notes in ((matlab_dims(t, text), n) for t, n in out) if t is not None]
        out = matlab or out
    if detected == "text" and "*" in text and _NUMPY_T.search(text):      # (yhat - y) * a1.T: numpy's *
        try:
            np_tokens = tokenize(text, "numpy", names, max_length)
            out.append((Parser(np_tokens, text, functions, nodes).parse(), (NUMPY_STAR_NOTE,)))
        except AnswerError:
            pass
    return out

