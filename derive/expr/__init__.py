"""Expressions: the matrix vocabulary (shapes, ones-vectors, broadcasting), the function table
(one row per named function) and numeric evaluation of SymPy trees over numpy.

Modules: matrix, functions, numeric."""
