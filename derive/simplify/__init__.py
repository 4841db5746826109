"""Closed forms a textbook prints: `tidy` (light rewrites while deriving) and `closed_form`."""
from .closed import closed_form
from .size import operands
from .tidy import tidy

__all__ = ["closed_form", "operands", "tidy"]
