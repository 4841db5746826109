"""Notation: reading (lexers for text and LaTeX, one allow-listed parser, the builder from a
syntax tree to SymPy against a problem's scope) and writing (the LaTeX and plain-text printers,
the size of an expression).

Modules: tokens, lexers, latex_lexer, parser, build (reading); latex, text, size (writing)."""
