"""derive: backpropagation homework as data — derive, verify, render and grade gradients."""
from .errors import AnswerError, DeriveError, ProblemSpecError, UnknownError
from .pipeline import Solution, solve
from .problem import Problem, catalogue, load

__all__ = ["load", "solve", "catalogue", "Problem", "Solution", "DeriveError", "ProblemSpecError",
           "AnswerError", "UnknownError"]
__version__ = "0.1.0"
from .check import CheckResult, check  # noqa: E402
__all__ += ["check", "CheckResult"]
