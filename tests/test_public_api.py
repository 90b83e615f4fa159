"""The public API: the flat names of ``numerics`` and ``wnbias`` import, the user-facing pages use
only them, and the README's tour runs (docs/api.md, docs/ARCHITECTURE.md)."""

from __future__ import annotations

import doctest
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_PAGES = ["README.md", "docs/api.md", "docs/certify.md", "docs/matrix.md", "docs/claims.md",
                "docs/sharpness.md", "docs/precision.md", "docs/notebooks.md"]
"""The pages a user reads. docs/ARCHITECTURE.md and docs/extending.md describe the inside (for
contributors) and may name private modules; their code examples still use public names."""
NOTEBOOKS = ["notebooks/01_derivations.py", "notebooks/02_verification.py", "notebooks/03_magnification.py",
             "notebooks/05_matrix_sensing.py"]
PRIVATE = re.compile(r"\bnumerics\._(?!_)\w+|\bfrom numerics import _\w+")
"""A private module named in user-facing text or code (``numerics.__all__`` is fine)."""
PRIVATE_FILE = re.compile(r"\bnumerics/_(?!_)\w+\.py")
"""A private file: the README and docs/api.md do not send a user to one (contributor pages may)."""

CONTRACT_NAMES = (
    "Problem", "generate", "FlowConfig", "integrate", "FlowResult", "SteadyState", "Float64Diagnostics",
    "TaylorDiagnostics", "limit_solve", "LimitResult", "bregman_projection", "ProjectionResult", "analyze",
    "LimitReport", "l1_min", "L1Result", "gd", "wn_gd", "GDResult", "Status", "NumericalError", "tol", "workdps",
    "check_dps", "MIN_DPS", "DPS_FLOAT64", "K_ROUNDOFF", "K_ACCUMULATED", "K_SOLVE", "SubsampledDCT", "as_operator",
    "certify_limit", "certify_l1", "certify_projection", "MatrixSensingProblem", "MatrixFlowConfig",
    "MatrixFlowResult",
)


@pytest.mark.parametrize("package", ["numerics", "wnbias"])
def test_every_public_name_imports(package):
    mod = importlib.import_module(package)
    assert mod.__all__, f"{package}.__all__ is empty"
    for name in mod.__all__:
        value = getattr(mod, name)
        assert value is not None, f"{package}.{name}"
        exec(f"from {package} import {name}", {})  # the form a user writes
    with pytest.raises(AttributeError):
        getattr(mod, "no_such_name")


def test_the_contract_names_are_public():
    import numerics

    missing = [n for n in CONTRACT_NAMES if n not in numerics.__all__]
    assert not missing, f"not in numerics.__all__: {missing}"
    import wnbias

    assert {"verify", "VerifyResult", "Claim", "Row", "all_claims", "get", "register"} <= set(wnbias.__all__)


def test_public_names_are_the_implementations():
    import numerics
    from numerics import _integrate, _results, _status

    assert numerics.integrate is _integrate.integrate
    assert numerics.FlowResult is _results.FlowResult and numerics.Status is _status.Status


def test_importing_numerics_is_light():
    """``import numerics`` loads no implementation module and never sympy (names load on first use)."""
    code = ("import sys, numerics; from numerics import Status; "
            "print(sorted(m for m in sys.modules if m.startswith('numerics.')), 'sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['numerics._status'] False", out.stdout


@pytest.mark.parametrize("page", PUBLIC_PAGES + NOTEBOOKS)
def test_user_pages_name_no_private_module(page):
    path = ROOT / page
    if not path.exists():
        pytest.skip(f"{page} does not exist")
    patterns = [PRIVATE] + ([PRIVATE_FILE] if page in ("README.md", "docs/api.md") else [])
    hits = [(i + 1, m.group(0)) for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())
            for pat in patterns for m in pat.finditer(line)]
    assert not hits, f"{page} names private modules (use the public numerics.<name>): {hits}"


def test_the_private_pattern_catches_private_names():
    for text in ("from numerics._flow64 import integrate", "numerics._limit.limit_solve",
                 "from numerics import _certify as C"):
        assert PRIVATE.search(text), text
    assert PRIVATE_FILE.search("see numerics/_matrix.py") and not PRIVATE_FILE.search("numerics/__init__.py")
    for text in ("numerics.integrate", "from numerics import integrate", "numerics.MIN_DPS", "numerics.__all__"):
        assert not PRIVATE.search(text), text


def test_readme_tour_runs_and_prints_what_it_says(run_doc_page):
    """The tour (sybil: its doctest blocks' printed output is compared)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "numerics.integrate(" in text and re.search(r"^```python\n>>> ", text, flags=re.M)
    run_doc_page("README.md")


def test_numerics_docstring_example_runs():
    import numerics

    failures, tried = doctest.testmod(numerics, optionflags=doctest.ELLIPSIS, verbose=False)
    assert tried and not failures


# -- the house rules of docs/ARCHITECTURE.md ------------------------------------------------------

LAYERS = {
    "base": ("_status", "_precision", "_derived", "_formulas", "_config", "_operators", "_arith", "_exact64"),
    "data": ("_mp_linalg", "_problem", "_results", "_fields"),
    "solvers": ("_steady", "_bregman", "_lp", "_lp_polish", "_vertex2", "_gd"),
    "engines": ("_flow64", "_taylor", "_limit", "_matrix"),
    "drivers": ("_quantities", "_certify", "_integrate"),
}
"""The layers of the diagram in docs/ARCHITECTURE.md, bottom up: a module imports its own layer or lower."""


def _numerics_imports() -> dict:
    import ast

    graph = {}
    for path in sorted((ROOT / "numerics").glob("_*.py")):
        if path.name == "__init__.py":
            continue
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # every import, lazy ones inside functions included (ast.walk visits them all): a
            # module outside numerics is recorded by its top-level name, so a numerics → wnbias
            # import (``from wnbias.errors import …``) is caught below
            if isinstance(node, ast.ImportFrom):
                if node.level:  # a relative import stays inside numerics
                    deps.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
                elif node.module.startswith("numerics."):
                    deps.add(node.module.split(".")[1])
                elif node.module == "numerics":
                    deps.update(a.name for a in node.names)
                else:
                    deps.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".")[1] if a.name.startswith("numerics.") else a.name.split(".")[0]
                            for a in node.names)
        graph[path.stem] = deps - {path.stem}
    return graph


def test_numerics_modules_import_only_their_layer_or_below():
    rank = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}
    graph = _numerics_imports()
    unplaced = sorted(set(graph) - set(rank))
    assert not unplaced, f"place these modules in a layer of docs/ARCHITECTURE.md (and LAYERS here): {unplaced}"
    upward = [(m, d) for m, deps in graph.items() for d in deps if d in rank and rank[d] > rank[m]]
    assert not upward, f"imports against the layering of docs/ARCHITECTURE.md: {upward}"
    through_package = [(m, d) for m, deps in graph.items() for d in deps
                       if d not in rank and not d.startswith("_") and d in _public_names()]
    assert not through_package, f"a private module imports a public name through numerics/__init__: {through_package}"
    outside = [(m, d) for m, deps in graph.items() for d in deps if d in ("sympy", "theory", "wnbias")]
    assert not outside, f"numerics imports sympy, theory or wnbias: {outside}"


def _public_names() -> set:
    import numerics

    return set(numerics.__all__)


def test_importing_every_numerics_module_loads_no_sympy():
    """Through ``sys.modules``, after importing every module of numerics (issue 15)."""
    mods = sorted(p.stem for p in (ROOT / "numerics").glob("_*.py") if p.name != "__init__.py")
    code = ("import importlib, sys\n"
            f"for m in {mods!r}:\n    importlib.import_module('numerics.' + m)\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('sympy', 'theory', 'wnbias')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("page", ["docs/extending.md"])
def test_contributor_pages_code_uses_public_names(page):
    """The code a contributor copies (```py / ```python blocks) imports public names only."""
    text = (ROOT / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```py(?:thon)?\n(.*?)^```", text, flags=re.S | re.M)
    assert blocks, f"{page} has no code example"
    hits = [m.group(0) for b in blocks for m in PRIVATE.finditer(b)]
    assert not hits, f"{page}: code examples name private modules: {hits}"
