"""Grading answers: read, reference, shapes, decide, diagnose (one module each), the worker's job,
and the Checker that owns the pool of workers and the caches."""
from derive.grading.checker import DEFAULT_TIMEOUT, Checker, check, default_checker
from derive.grading.result import CheckResult
from derive.grading.verdicts import CHECK_VERDICTS, INVALID_CODES, VERDICTS

__all__ = ["Checker", "check", "default_checker", "CheckResult", "VERDICTS", "CHECK_VERDICTS", "INVALID_CODES",
           "DEFAULT_TIMEOUT"]
