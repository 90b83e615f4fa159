"""The Python examples in the README and in docs/ run as written, and print what they say they
print (they are documentation, so they must not rot).

The pages are parsed by sybil: a ```python block whose first line starts with ``>>>`` is a doctest
(its printed output is compared, with ``...`` for elided text), any other ```python block is run
as code.  The blocks of one page run in order, in one namespace, as a reader would run them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["docs/api.md", "docs/extending.md", "docs/certify.md", "docs/matrix.md"]
"""The README's tour runs in tests/test_public_api.py (the same sybil check, run_doc_page in conftest)."""
CHECKED_OUTPUT = ["README.md", "docs/api.md"]
"""Pages whose examples must print checked output (at least one doctest block each)."""


@pytest.mark.parametrize("page", PAGES)
def test_examples_run_and_print_what_they_say(page, run_doc_page):
    run_doc_page(page)


@pytest.mark.parametrize("page", CHECKED_OUTPUT)
def test_pages_check_their_printed_output(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    doctests = re.findall(r"^```python\n>>> ", text, flags=re.M)
    assert doctests, f"{page}: no doctest-style example, so no printed output is checked"


def test_a_wrong_printed_output_fails(tmp_path, monkeypatch):
    """The check can fail: a doctest whose printed output differs is a failure."""
    from sybil.example import SybilFailure

    from conftest import doc_sybil

    page = tmp_path / "page.md"
    page.write_text("```python\n>>> print(1 + 1)\n3\n```\n", encoding="utf-8")
    document = doc_sybil().parse(page)
    with pytest.raises(SybilFailure):
        for example in document:
            example.evaluate()
