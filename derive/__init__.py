"""derive: backpropagation homework as data — derive, verify, render and grade gradients."""
from __future__ import annotations

import importlib

from derive.runtime import bytecode as _bytecode
from derive.runtime import diskcache as _diskcache

_bytecode.install(_diskcache.usable())      # before anything else of derive is imported

from derive.errors import (  # noqa: E402
           AnswerError,
           DeriveError,
           ProblemSpecError,
           UnknownError,
           UnsupportedError,
)

__all__ = ["load", "solve", "catalogue", "check", "Checker", "CheckResult", "Problem", "Solution",
           "DeriveError", "ProblemSpecError", "AnswerError", "UnknownError", "UnsupportedError"]
__version__ = "0.1.0"

# imported on first use, so a command that needs none of them (derive list, derive sheet) does
# not pay for the checker, and `import derive.cli` stays light
_LAZY = {"load": "derive.problem.load", "catalogue": "derive.problem.load", "Problem": "derive.problem.load",
         "solve": "derive.verify.solve", "Solution": "derive.verify.solve",
         "check": "derive.grading.checker", "Checker": "derive.grading.checker",
         "CheckResult": "derive.grading.result"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'derive' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
