"""Closed forms a textbook prints: `tidy` (light rewrites while deriving) and `Simplifier`."""
from .closed import Simplifier
from .tidy import tidy

__all__ = ["Simplifier", "tidy"]
