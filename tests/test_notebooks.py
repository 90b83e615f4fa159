"""Every notebook in notebooks/ runs top to bottom (a failing cell fails the suite)."""

from pathlib import Path

import pytest

from wnbias.notebooks import execute

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.py"))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    execute(path, timeout=900, cwd=tmp_path)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4, f"expected the four notebooks of docs, found {[p.name for p in NOTEBOOKS]}"
