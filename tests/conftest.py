"""Shared test configuration: hypothesis profiles and mpmath precision hygiene."""

from __future__ import annotations

import os

import mpmath
import pytest
from hypothesis import HealthCheck, settings

# `ci`: fast and deterministic (derandomised), for CI and `make test` with CI=true.
settings.register_profile(
    "ci",
    max_examples=8,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# `dev`: the default locally; a few more examples, still random.
settings.register_profile(
    "dev",
    max_examples=15,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# `thorough`: long runs hunting for counterexamples.
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _restore_mpmath_precision():
    """No test may leak a change of mpmath's global precision into another."""
    prec = mpmath.mp.prec
    yield
    assert mpmath.mp.prec == prec, "a test or library call left mpmath's precision changed"
    mpmath.mp.prec = prec
