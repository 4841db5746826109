"""Closed forms a textbook prints: `tidy` (light rewrites while deriving) and `Simplifier`."""
from .closed import Simplifier, closed_form
from .tidy import tidy

__all__ = ["Simplifier", "closed_form", "tidy"]
