"""Closed forms a textbook prints: `tidy` (light rewrites while deriving) and `Simplifier`."""
from derive.engine.simplify.closed import Simplifier
from derive.engine.simplify.tidy import tidy

__all__ = ["Simplifier", "tidy"]
