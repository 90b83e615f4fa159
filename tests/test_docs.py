"""The Python examples in the README and in docs/ run as written (they are documentation, so
they must not rot).  The blocks of one page run in order, in one namespace, as a reader would."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", "docs/api.md", "docs/extending.md"]


def _blocks(page):
    return re.findall(r"^```python\n(.*?)^```", (ROOT / page).read_text(encoding="utf-8"), flags=re.S | re.M)


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page, tmp_path, monkeypatch):
    blocks = _blocks(page)
    assert blocks, f"{page} has no python example"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__docs__"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{page}[block {k}]", "exec"), namespace)
