"""Notation: reading (lexers for text and LaTeX, one allow-listed parser, the builder from a
syntax tree to SymPy against a problem's scope) and writing (the LaTeX and plain-text printers in
each problem's own spelling, the size of an expression).

Modules: formats, normalise, tokens, lexers, latex_lexer, readings, parser, build, build_ops
(reading); display (a problem's spelling of its names), words, latex, text, plain, echo, size
(writing)."""
