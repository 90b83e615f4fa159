"""House rules of the code base (issue 15): numerics never imports sympy, each formula has one home,
no import cycles among the numerics modules."""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMERICS = sorted(p for p in (ROOT / "numerics").glob("*.py"))


# ----------------------------------------------------------------------------- (a) no sympy in numerics
def test_numerics_never_imports_sympy():
    """Import every module of numerics in a fresh interpreter (and the public names, which load
    lazily), then look at ``sys.modules``: no sympy, not even indirectly."""
    mods = [f"numerics.{p.stem}" for p in NUMERICS if p.stem != "__init__"]
    code = (
        "import importlib, json, sys\n"
        "import numerics\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "for name in getattr(numerics, '__all__', []):\n"
        "    getattr(numerics, name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'sympy' or m.startswith('sympy.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"numerics imported sympy: {loaded[:5]}"


def test_the_sympy_check_sees_an_import():
    """The check above can fail: the same probe on a module that imports sympy reports it."""
    code = "import sys, json\nimport theory.export\nprint(json.dumps('sympy' in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and json.loads(out.stdout.strip().splitlines()[-1]) is True


# ----------------------------------------------------------------------------- (b) each formula once
# The homes: the generated numerics/_derived.py and numerics/_formulas.py; the one independent
# hand-written check numerics/_fields.py; certify's ball-arithmetic versions (numerics/_certify.py,
# a third arithmetic); theory/ (the derivations).  Everything else must call numerics._formulas.
ALLOWED = {"numerics/_derived.py", "numerics/_formulas.py", "numerics/_fields.py", "numerics/_certify.py"}
SCANNED = ("numerics", "wnbias", "benchmarks")

FORMULA_DEF = re.compile(
    r"^_?(log_L|h_eta|invariant_h|h_plain|plain_invariant|wn_invariant|log_rho(_of|_t|_mp)?|logrho|rho|"
    r"log_beta(_of|_mp|_arb|_T)?|log_alpha_eff|log_direction|s_of_r|"
    r"range_basis|kernel_basis|kernel_projector|null_space|orth)$")
"""Names of functions that would be a home of a formula of the issue's table (log_L, h, log ρ,
log β, α_eff, the bases).  A function of such a name that calls numerics._formulas is a wrapper,
not a copy."""

FORMULA_BODY = {
    "log_L": re.compile(r"\*\*\s*\(\s*2\s*-\s*L\s*\)\s*-\s*1(\.0)?\s*\)\s*/\s*\(\s*2\s*-\s*L\s*\)"),
    # expm1((2 - L) * …) and expm1((2 - L) / L * …) (the latter: log_L(v^{1/L}) from log v); the
    # scanned code has a space between every token, so "expm1 (" as well as "expm1("
    "h (log form)": re.compile(r"expm1\s*\(\s*\(\s*2\s*-\s*L\s*\)\s*(/\s*\(?\s*L\s*\)?\s*)?\*"),
    "s(r), log ρ": re.compile(r"\(\s*r\w*\s*(\*\s*r\w*|\*\*\s*2)\s*-\s*(\w+\s*\.\s*)?r0\w*\s*"
                              r"(\*\s*(\w+\s*\.\s*)?r0\w*|\*\*\s*2)\s*\)\s*/\s*\(\s*2(\.0)?\s*\*"),
    "log ρ": re.compile(r"log\s*\(\s*(\w+\s*\.\s*)?r0\w*\s*/\s*r\w*\s*\)"),
    "log β": re.compile(r"\bL\s*\*\s*\(\s*\w+\s*-\s*\w*log_?rho\w*\s*\)"),
    "log α_eff": re.compile(r"log\(\s*n\s*\)\s*/\s*2"),
    "bases (rank cut)": re.compile(r"Vt\[\s*:\s*rank\s*\]"),
}

def _code_without_strings_and_comments(src: str) -> str:
    """The source with comments and string literals (docstrings included) blanked out."""
    out = []
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, IndentationError):  # pragma: no cover - a broken file fails elsewhere
        return src
    for tok in toks:
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            continue
        out.append(tok.string if tok.type != tokenize.NEWLINE else "\n")
        out.append(" ")
    return "".join(out)


def _formulas_aliases(tree: ast.Module) -> set:
    """Names through which a module reaches numerics._formulas."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "numerics":
            names |= {a.asname or a.name for a in node.names if a.name == "_formulas"}
        elif isinstance(node, ast.ImportFrom) and node.module == "numerics._formulas":
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name == "numerics._formulas"}
    return names


def formula_copies(root: Path = ROOT) -> dict:
    """``{file: [what, ...]}`` for every file outside the homes that defines or writes out a formula."""
    found = {}
    for top in SCANNED:
        for p in sorted((root / top).rglob("*.py")):
            rel = p.relative_to(root).as_posix()
            if rel in ALLOWED:
                continue
            src = p.read_text(encoding="utf-8")
            try:
                tree = ast.parse(src)
            except SyntaxError:  # pragma: no cover
                continue
            aliases = _formulas_aliases(tree)
            hits = []
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and FORMULA_DEF.match(node.name):
                    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
                           {n.value.id for n in ast.walk(node) if isinstance(n, ast.Attribute)
                            and isinstance(n.value, ast.Name)}
                    if not (used & aliases):
                        hits.append(f"def {node.name} (line {node.lineno})")
            code = _code_without_strings_and_comments(src)
            for what, rx in FORMULA_BODY.items():
                if rx.search(code):
                    hits.append(f"writes out {what}")
            if hits:
                found[rel] = hits
    return found


def test_each_formula_is_defined_once():
    """log_L, h, log ρ, log β, α_eff and the bases live in numerics/_derived.py + numerics/_formulas.py
    (plus the independent check numerics/_fields.py and certify's ball versions).  Fails while any
    other file keeps its own copy; the message lists them."""
    copies = formula_copies()
    assert not copies, "formulas defined outside their home (call numerics._formulas instead):\n" + \
        "\n".join(f"  {f}: {', '.join(h)}" for f, h in sorted(copies.items()))


def test_the_formula_scan_finds_a_planted_copy(tmp_path):
    """The scan can fail: a file that writes out log_L, or defines log_rho without _formulas, is found;
    a wrapper that calls numerics._formulas is not."""
    pkg = tmp_path / "wnbias"
    pkg.mkdir()
    (pkg / "copy.py").write_text("def f(v, L):\n    return (v ** (2 - L) - 1) / (2 - L)\n", encoding="utf-8")
    (pkg / "own.py").write_text("import math\n\ndef log_rho(r, r0, et):\n    return math.log(r0 / r) + 1\n",
                                encoding="utf-8")
    (pkg / "wrap.py").write_text("from numerics import _formulas as F\n\ndef log_rho(r, r0, et):\n"
                                 "    return F.log_rho(r, r0, et)\n", encoding="utf-8")
    (pkg / "doc.py").write_text('"""log_L is (v ** (2 - L) - 1) / (2 - L)."""\n', encoding="utf-8")
    (pkg / "ratio.py").write_text("import math\n\ndef g(self, r):\n    return math.log(self.r0 / r)\n",
                                  encoding="utf-8")
    (pkg / "theta.py").write_text("import numpy as np\n\ndef g(logv, L):\n"
                                  "    return np.expm1((2 - L) / L * logv) / (2 - L)\n", encoding="utf-8")
    got = formula_copies(tmp_path)
    assert set(got) == {"wnbias/copy.py", "wnbias/own.py", "wnbias/ratio.py", "wnbias/theta.py"}, got


# ----------------------------------------------------------------------------- (c) no import cycles
def _imports(path: Path, modules: set) -> set:
    """numerics modules imported by ``path`` (anywhere in the file, lazy imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "numerics":
                out |= {a.name for a in node.names if a.name in modules} or {"__init__"}
            elif node.module.startswith("numerics."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("numerics.")}
            out |= {"__init__" for a in node.names if a.name == "numerics"}
    return out


def import_cycle(graph: dict):
    """One cycle of ``graph`` (a list of nodes, first = last) or None."""
    state = {}

    def visit(u, stack):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                c = visit(v, stack)
                if c:
                    return c
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state:
            c = visit(u, [])
            if c:
                return c
    return None


def test_no_import_cycles_among_numerics_modules():
    """The import graph of numerics/*.py (from the AST, lazy imports inside functions included; the
    package ``__init__`` is a node, reached by ``from numerics import <name>``) has no cycle."""
    modules = {p.stem for p in NUMERICS}
    graph = {p.stem: _imports(p, modules) - {p.stem} for p in NUMERICS if p.stem != "__init__"}
    cycle = import_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_check_sees_a_cycle():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
