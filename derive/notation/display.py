"""One notation per problem: how each name of a problem is printed (W1 -> W^{1}, hhat -> \\hat{h}).

A problem's [display] table maps a name to its LaTeX; names it leaves out take the spelling of
the statement where an alias records it (`"W^(1)" = "W1"` prints W1 as W^{(1)}). The printers
ask `shown(name)` while a problem's table is in force (`with using(table):`), so the graph, the
steps, the results and the web page print one spelling.
"""
from __future__ import annotations

import contextlib
import contextvars
import re

_TABLE: contextvars.ContextVar = contextvars.ContextVar("derive_display", default=None)

# what a [display] entry may hold: letters, digits, scripts, braces, parentheses, primes and the
# accent, font and Greek commands; never a command that reaches outside math (\input, \def, ...)
COMMANDS = frozenset({
    "hat", "bar", "tilde", "vec", "mathrm", "mathbf", "mathcal", "boldsymbol", "prime", "top", "ell",
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega"})
_ALLOWED = re.compile(r"(?:\\([A-Za-z]+)|[A-Za-z0-9_^{}()\[\]',+\- ])*")
MAX_LENGTH = 60

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "rho", "sigma", "tau",
          "phi", "psi", "omega", "xi", "pi"}


def check(latex: str) -> str | None:
    """Why `latex` cannot be a display entry, or None when it can."""
    if not isinstance(latex, str) or not latex.strip():
        return "a display entry is the name's LaTeX, e.g. \"W^{(1)}\" or \"\\\\hat{h}\""
    if len(latex) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    if not _ALLOWED.fullmatch(latex):
        return "only letters, digits, _ ^ { } ( ) [ ] ' , + - and accent, font and Greek commands are allowed"
    bad = sorted({c for c in re.findall(r"\\([A-Za-z]+)", latex)} - COMMANDS)
    if bad:
        return f"\\{bad[0]} is not allowed (allowed: {', '.join(sorted(COMMANDS))[:120]}...)"
    if re.search(r"[\^_]\s*(?:$|[}^_])", latex):
        return "a ^ or _ needs its script after it, e.g. W^{1}"
    depth = 0
    for ch in latex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return "unbalanced braces"
    return "unbalanced braces" if depth else None


def _base(word: str) -> str:
    return f"\\{word}" if word in _GREEK else word


def from_alias(alias: str) -> str | None:
    """The LaTeX an alias spells: W^1 -> W^{1}, W^(1) -> W^{(1)}, delta^4 -> \\delta^{4},
    hat{y} -> \\hat{y}; None for an alias that is only another way to type the name (Z_1, nin)."""
    m = re.fullmatch(r"([A-Za-z]+)\^(\(?[A-Za-z0-9]+\)?|\{[A-Za-z0-9()]+\})", alias)
    if m and (len(m[1]) == 1 or m[1] in _GREEK):
        return f"{_base(m[1])}^{{{m[2].strip('{}')}}}"
    m = re.fullmatch(r"(hat|bar|tilde)\{([A-Za-z]+)\}", alias)
    if m and (len(m[2]) == 1 or m[2] in _GREEK):
        return f"\\{m[1]}{{{_base(m[2])}}}"
    return None


def table(explicit: dict, aliases: dict) -> dict:
    """name -> LaTeX: the explicit [display] entries, then what the aliases spell (first wins)."""
    out = dict(explicit)
    for alias, name in aliases.items():
        spelled = from_alias(alias)
        if spelled is not None and isinstance(name, str):
            out.setdefault(name, spelled)
    return out


_SUMS: contextvars.ContextVar = contextvars.ContextVar("derive_sums", default=False)


@contextlib.contextmanager
def using(names: dict | None, sums: bool = False):
    """Print with this problem's display table (None or {}: the default spelling); with `sums`, a
    ones-vector product as the sum a textbook writes (sheets and notebooks: read, not typed back)."""
    token = _TABLE.set((tuple(sorted(names.items())), dict(names)) if names else None)
    sums_token = _SUMS.set(sums)
    try:
        yield
    finally:
        _SUMS.reset(sums_token)
        _TABLE.reset(token)


def current() -> tuple:
    """The table in force and the sums setting, hashable (they key the printers' caches)."""
    t = _TABLE.get()
    return (t[0] if t else None, _SUMS.get())


def sums() -> bool:
    """Whether ones-vector products print as sums (\\sum_{rows} X) rather than 1^T X."""
    return _SUMS.get()


def shown(name: str) -> str | None:
    """The display LaTeX of `name` in the table in force, or None."""
    t = _TABLE.get()
    return t[1].get(name) if t else None
