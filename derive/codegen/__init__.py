"""`derive code`: a problem's forward and derived backward pass as a numpy or torch module.

Public: code(problem_or_solution, framework). Modules: writer (the module writer), layout (its
helpers and template), printers (SymPy to numpy / torch)."""
from derive.codegen.writer import code

__all__ = ["code"]
