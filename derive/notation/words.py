"""A backward step's rule in words (`the chain rule through sigma'`), split into its prose and the
names it mentions, so each printer writes the names in the problem's notation."""
from __future__ import annotations

import re

_NAMES = re.compile(r"(?<=\bthrough )[A-Za-z]\w*'*|(?<=\binto )[A-Za-z]\w*|(?<=\(via )[A-Za-z][\w, ]*")


def rule_parts(rule: str) -> list[tuple[str, str]]:
    """[("text", prose) | ("function", sigma') | ("name", node)] in order; a list of names is split."""
    out, last = [], 0
    for m in _NAMES.finditer(rule):
        out.append(("text", rule[last:m.start()]))
        kind = "function" if rule[:m.start()].endswith("through ") else "name"
        for k, name in enumerate(n.strip() for n in m[0].split(",")):
            if k:
                out.append(("text", ", "))
            out.append((kind, name))
        last = m.end()
    out.append(("text", rule[last:]))
    return [(kind, s) for kind, s in out if s]


def name_with_primes(name: str, name_latex) -> str:
    """sigma'' -> \\sigma'' (the primes of a derivative stay outside the name's LaTeX)."""
    bare = name.rstrip("'")
    return name_latex(bare) + "'" * (len(name) - len(bare))
