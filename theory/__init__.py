"""Symbolic derivations (sympy) of MATH.md §2–§5, each a value that checks itself."""
