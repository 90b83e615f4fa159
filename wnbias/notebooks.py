"""Execute and render the plain-text notebooks of ``notebooks/``.

Notebooks are stored as jupytext percent-format ``.py`` files so they diff well.  The test
suite executes each one (:func:`execute`); ``make notebooks`` renders them to HTML with
their outputs (:func:`render`).

    python -m wnbias.notebooks render notebooks notebooks/_build
    python -m wnbias.notebooks run notebooks/01_derivations.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def read(path):
    """Read a percent-format notebook into an ``nbformat`` notebook."""
    import jupytext

    return jupytext.read(str(path))


def execute(path, *, timeout: int = 600, cwd=None):
    """Execute the notebook at ``path``; raise ``nbclient`` ``CellExecutionError`` on a failing cell."""
    from nbclient import NotebookClient

    path = Path(path)
    nb = read(path)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    env_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd or path.parent)}},
        )
        client.execute()
    finally:
        if env_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_backend
    return nb


def render(src_dir, out_dir, *, timeout: int = 900) -> list[Path]:
    """Execute every ``*.py`` notebook in ``src_dir`` and write HTML (and ``.ipynb``) to ``out_dir``."""
    import nbformat
    from nbconvert import HTMLExporter

    src_dir, out_dir = Path(src_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(src_dir.glob("[0-9]*.py")):
        t0 = time.perf_counter()
        nb = execute(src, timeout=timeout)
        html, _ = HTMLExporter().from_notebook_node(nb)
        out = out_dir / (src.stem + ".html")
        out.write_text(html, encoding="utf-8")
        nbformat.write(nb, str(out_dir / (src.stem + ".ipynb")))
        written.append(out)
        print(f"{src.name}: {time.perf_counter() - t0:.1f} s -> {out}", file=sys.stderr)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wnbias.notebooks")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="execute notebooks and write HTML")
    r.add_argument("src", nargs="?", default="notebooks")
    r.add_argument("out", nargs="?", default="notebooks/_build")
    x = sub.add_parser("run", help="execute one notebook")
    x.add_argument("path")
    args = parser.parse_args(argv)
    if args.cmd == "render":
        render(args.src, args.out)
    else:
        execute(args.path)
        print(f"{args.path}: ok", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
