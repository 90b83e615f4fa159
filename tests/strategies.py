"""Hypothesis strategies for the property tests.

They are defined once, in :mod:`wnbias.claims.strategies` (``wnbias falsify`` draws from the
same strategies at run time), and re-exported here so tests import them from one place.
"""

from wnbias.claims.strategies import (  # noqa: F401
    MATRICES,
    TRUTHS,
    configs,
    edge_cases,
    eta_tildes,
    problems,
    settings_pairs,
)

EDGE = edge_cases()
"""Pinned edge cases: ``{name: (problem, config)}``."""
