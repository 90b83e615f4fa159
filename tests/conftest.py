"""Shared test configuration: hypothesis profiles, mpmath precision hygiene, and the runner of
the documentation's examples (sybil)."""

from __future__ import annotations

import doctest
import os
from pathlib import Path

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


# -- the documentation's examples (tests/test_docs.py, tests/test_public_api.py) -----------------

ROOT = Path(__file__).resolve().parent.parent
DOC_OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def doc_sybil():
    """sybil for Markdown: a ```python block starting with ``>>>`` is a doctest (printed output
    compared; ``...`` elides), any other ```python block runs as code; ``<!-- skip: next -->`` skips."""
    from sybil import Sybil
    from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

    return Sybil(parsers=[PythonCodeBlockParser(doctest_optionflags=DOC_OPTIONS), SkipParser()])


@pytest.fixture
def run_doc_page(tmp_path, monkeypatch):
    """``run_doc_page("docs/api.md")``: evaluate every example of the page in order, in one
    namespace, in a temporary directory (as a reader would); a failing example fails the test."""

    def run(page: str) -> list:
        document = doc_sybil().parse(ROOT / page)
        examples = list(document)
        assert examples, f"{page} has no python example"
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("MPLBACKEND", "Agg")
        document.namespace["__name__"] = "__docs__"
        for example in examples:
            example.evaluate()
        return examples

    return run
