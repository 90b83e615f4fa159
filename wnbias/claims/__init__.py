"""The claims `wnbias verify` checks: a registry of :class:`Claim` values (MATH.md §3–§6)."""

from wnbias.claims.registry import (  # noqa: F401
    FAIL, PASS, SKIP, AssumptionFailed, Case, Claim, Row, Unavailable, all_claims, get, need, select,
)
