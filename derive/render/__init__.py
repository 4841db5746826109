"""Rendering: LaTeX notation (printer.py), sheets and graphs (templates/)."""
