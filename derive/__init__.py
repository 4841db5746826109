"""derive: backpropagation homework as data — derive, verify, render and grade gradients."""
from .errors import AnswerError, DeriveError, ProblemSpecError, UnknownError, UnsupportedError
from .grading import Checker, CheckResult, check
from .pipeline import Solution, solve
from .problem import Problem, catalogue, load

__all__ = ["load", "solve", "catalogue", "check", "Checker", "CheckResult", "Problem", "Solution",
           "DeriveError", "ProblemSpecError", "AnswerError", "UnknownError", "UnsupportedError"]
__version__ = "0.1.0"
