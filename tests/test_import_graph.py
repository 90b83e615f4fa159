"""The import graph of the toolkit has no cycles (issue 15, "No cycles").

Every module of ``wnbias``, ``numerics`` and ``theory`` is read with :mod:`ast`; an edge
``A → B`` is any ``import`` or ``from … import`` in ``A`` (at module level *or inside a
function*: a lazy import is still a dependency) that names ``B`` or a name defined in ``B``.
Imports under ``if TYPE_CHECKING:`` are not edges (they never run).  The graph must be acyclic,
and every module of ``wnbias`` and ``numerics`` must import.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("wnbias", "numerics", "theory")


def _modules() -> dict:
    mods = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = p
    return mods


MODULES = _modules()


def _owner(name: str):
    """The longest prefix of the dotted ``name`` that is one of our modules (or None)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree) -> set:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            t = node.test
            name = t.id if isinstance(t, ast.Name) else (t.attr if isinstance(t, ast.Attribute) else None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skip.update(id(n) for n in ast.walk(child))
    return skip


def _edges(module: str, path: Path) -> set:
    return _edges_of_source(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")


def _edges_of_source(module: str, source: str, is_pkg: bool) -> set:
    tree = ast.parse(source)
    skip = _type_checking_nodes(tree)
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [_owner(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module if is_pkg else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else _owner(base) for a in node.names]
        else:
            continue
        out.update(t for t in targets if t and t != module)
    return out


def import_graph() -> dict:
    return {m: _edges(m, p) for m, p in MODULES.items()}


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan), and self-loops."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):  # iterative enough for our depth; the graph has a few hundred nodes
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    assert sum(len(e) for e in graph.values()) > 100  # the graph was read (not an empty check)
    found = cycles(graph)
    assert not found, "import cycles (each a set of modules that import each other):\n" + "\n".join(
        " ⇄ ".join(c) for c in found)


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = import_graph()
    graph["wnbias.io"] = set(graph["wnbias.io"]) | {"wnbias.sweep"}  # sweep imports io: now a cycle
    assert any({"wnbias.io", "wnbias.sweep"} <= set(c) for c in cycles(graph))


def test_lazy_imports_are_edges_and_type_checking_imports_are_not():
    source = ("from typing import TYPE_CHECKING\n"
              "from wnbias import errors\n"
              "def f():\n    from wnbias.sweep import run_sweep\n    import numerics._status\n"
              "if TYPE_CHECKING:\n    from wnbias.commands.verify import verify\n")
    edges = _edges_of_source("wnbias.fake", source, is_pkg=False)
    assert edges == {"wnbias.errors", "wnbias.sweep", "numerics._status"}
    assert "wnbias.experiments.tasks" in import_graph()["wnbias.sweep"]  # a lazy import, found


def test_the_claim_registry_imports_no_claim_module_and_the_package_imports_each():
    from wnbias.claims.registry import CLAIM_MODULES

    graph = import_graph()
    assert not set(CLAIM_MODULES) & graph["wnbias.claims.registry"]
    assert set(CLAIM_MODULES) <= graph["wnbias.claims"]
    for m in CLAIM_MODULES:
        assert "wnbias.claims.registry" in graph[m]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] in ("wnbias", "numerics")
                                            and not m.endswith(".__main__")))  # __main__ runs the CLI
def test_every_module_imports(module):
    importlib.import_module(module)
