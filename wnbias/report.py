"""Reports of claim rows: a rich table, JSON, and a markdown report with figures."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Optional, Sequence

VERDICT_STYLE = {"PASS": "bold green", "FAIL": "bold red", "SKIP": "yellow"}


def fmt(v) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    if v == 0:
        return "0"
    a = abs(v)
    return f"{v:.4g}" if 1e-3 <= a < 1e4 else f"{v:.2e}"


def summary(rows: Sequence) -> Counter:
    return Counter(r.verdict for r in rows)


def table(rows: Sequence, title: str = "wnbias verify", reasons: bool = True):
    """A :class:`rich.table.Table` of the rows."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    t.add_column("claim", no_wrap=True)
    t.add_column("setting")
    t.add_column("measured", justify="right", no_wrap=True)
    t.add_column("", justify="center", no_wrap=True)
    t.add_column("bound / tol", justify="right", no_wrap=True)
    t.add_column("verdict", no_wrap=True)
    if reasons:
        t.add_column("note", overflow="fold", ratio=1)
    for r in rows:
        cells = [escape(r.claim), escape(r.setting), fmt(r.measured), r.relation if math.isfinite(r.bound) else "",
                 fmt(r.bound), f"[{VERDICT_STYLE[r.verdict]}]{r.verdict}[/]"]
        if reasons:
            cells.append(escape(r.reason))
        t.add_row(*cells)
    return t


def print_table(rows: Sequence, console=None, title: str = "wnbias verify") -> None:
    from rich.console import Console

    if console is None:
        console = Console()
        if not console.is_terminal:  # a file or a pipe: wide enough that the notes stay readable
            console = Console(width=max(console.width, 200))
    console.print(table(rows, title))
    c = summary(rows)
    console.print(f"{c.get('PASS', 0)} PASS, {c.get('FAIL', 0)} FAIL, {c.get('SKIP', 0)} SKIP")


def write_json(rows: Sequence, path, meta: Optional[dict] = None) -> Path:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta or {}, "summary": dict(summary(rows)), "rows": [r.as_dict() for r in rows]}
    path.write_text(json.dumps(doc, indent=1, allow_nan=False))
    return path


# -- markdown report with figures ---------------------------------------------------------


def _series_rows(rows, *keys):
    for r in rows:
        s = r.details.get("series") if isinstance(r.details, dict) else None
        if s and all(k in s for k in keys) and len(s[keys[0]]) > 1:
            yield r, s


def _fig_series(rows, path, claims, key, ylabel, title):
    """Log-log plot of the recorded series ``key`` against ``t`` for the rows of ``claims``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    n = 0
    for r, s in _series_rows([r for r in rows if r.claim in claims], "t", key):
        t = [a for a, b in zip(s["t"], s[key]) if a > 0 and b > 0]
        v = [b for a, b in zip(s["t"], s[key]) if a > 0 and b > 0]
        if len(t) > 1:
            ax.loglog(t, v, marker=".", lw=1, label=f"{r.claim} {r.setting}"[:60])
            n += 1
    if not n:
        plt.close(fig)
        return False
    ax.set_xlabel("t")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _fig_invariant(rows, path):
    return _fig_series(rows, path, ("C3", "C4", "C9", "C1"), "invariant_residual",
                       "‖P_ker(A) h(t)‖ / ‖h(t)‖ (integrator's record)", "Invariant residual along the flow")


def _fig_loss(rows, path):
    return _fig_series(rows, path, ("C8",), "loss", "loss", "Loss along the flow")


def _fig_gap(rows, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    n = 0
    for r, s in _series_rows([r for r in rows if r.claim == "C7"], "eta_tilde", "gap", "bound"):
        e = s["eta_tilde"]
        pts = sorted(zip(e, s["gap"], s["bound"]))
        e = [p[0] for p in pts]
        gap = [max(p[1], 1e-17) for p in pts]
        line, = ax.loglog(e, gap, marker="o", lw=1, label=f"gap: {r.setting}"[:60])
        ax.loglog(e, [p[2] for p in pts], ls="--", color=line.get_color(), label="§5 bound")
        n += 1
    if not n:
        plt.close(fig)
        return False
    ax.set_xlabel("η̃ = η_r / η_u")
    ax.set_ylabel("S − ‖z*‖₁")
    ax.set_title("ℓ1 gap and its §5 bound across η̃")
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _fig_drift(rows, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    n = 0
    for r, s in _series_rows([r for r in rows if r.claim == "C10"], "mu", "drift"):
        line, = ax.loglog(s["mu"], s["drift"], marker="o", lw=1, label=f"{r.setting}"[:60])
        m0, d0 = s["mu"][-1], s["drift"][-1]
        ax.loglog(s["mu"], [d0 * m / m0 for m in s["mu"]], ls=":", color=line.get_color())
        n += 1
    if not n:
        plt.close(fig)
        return False
    ax.set_xlabel("step μ")
    ax.set_ylabel("invariant drift at fixed T")
    ax.set_title("GD drift from the invariant (dotted: slope 1)")
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


FIGURES = (
    ("invariant.png", "Invariant residual vs time (C1/C3/C4/C9 runs)", _fig_invariant),
    ("loss.png", "Loss vs time (C8 runs)", _fig_loss),
    ("gap.png", "ℓ1 gap vs the §5 bound across η̃ (C7 sweeps)", _fig_gap),
    ("gd_drift.png", "GD invariant drift vs step size (C10)", _fig_drift),
)


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def write_report(rows: Sequence, directory, meta: Optional[dict] = None, claims: Iterable = ()) -> Path:
    """Write ``report.md`` (the table, the claims, figures) and ``rows.json`` into ``directory``."""
    import matplotlib

    matplotlib.use("Agg")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    meta = meta or {}
    c = summary(rows)
    lines = ["# wnbias verify report", ""]
    if meta:
        lines += [", ".join(f"{k}: {v}" for k, v in meta.items()), ""]
    lines += [f"**{c.get('PASS', 0)} PASS, {c.get('FAIL', 0)} FAIL, {c.get('SKIP', 0)} SKIP**", ""]
    claims = list(claims)
    if claims:
        lines += ["## Claims", "", "| id | claim | MATH.md | tolerance rule |", "|---|---|---|---|"]
        for cl in claims:
            tex = cl.statement.replace("\\|", "\\Vert ")  # a LaTeX norm bar would end the table cell
            lines.append(f"| {cl.id} | {_md_cell(cl.title)}: ${_md_cell(tex)}$ | {cl.section} | {_md_cell(cl.tolerance_rule)} |")
        lines.append("")
    lines += ["## Results", "", "| claim | setting | measured | | bound / tol | verdict | note |", "|---|---|---:|:-:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r.claim} | {_md_cell(r.setting)} | {fmt(r.measured)} | {r.relation if math.isfinite(r.bound) else ''} | "
                     f"{fmt(r.bound)} | **{r.verdict}** | {_md_cell(r.reason)} |")
    lines += ["", "## Figures", ""]
    for name, caption, fn in FIGURES:
        if fn(rows, d / name):
            lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    lines.append("Every number above is in `rows.json` (with the settings and wall time of each row).")
    (d / "report.md").write_text("\n".join(lines) + "\n")
    write_json(rows, d / "rows.json", meta)
    return d / "report.md"
