"""derive: backpropagation homework as data — derive, verify, render and grade gradients."""
from derive.errors import (
           AnswerError,
           DeriveError,
           ProblemSpecError,
           UnknownError,
           UnsupportedError,
)
from derive.grading import Checker, CheckResult, check
from derive.problem.load import Problem, catalogue, load
from derive.verify.solve import Solution, solve

__all__ = ["load", "solve", "catalogue", "check", "Checker", "CheckResult", "Problem", "Solution",
           "DeriveError", "ProblemSpecError", "AnswerError", "UnknownError", "UnsupportedError"]
__version__ = "0.1.0"
