"""Reports of claim rows: a rich table, JSON, and a markdown report with figures.

Certified runs (``wnbias verify --certify``; docs/certify.md): rows carry a ``certificate``
mapping; the table and the markdown report then get a ``certificate`` column (its width in
digits and what was proven), the summary counts ``CERTIFIED`` rows (a success, like PASS) and
says how many FAILs are certified, and the JSON carries the balls as mid/rad strings."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Optional, Sequence

VERDICT_STYLE = {"CERTIFIED": "bold cyan", "PASS": "bold green", "FAIL": "bold red", "SKIP": "yellow"}


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


def is_certified_run(rows: Sequence) -> bool:
    """Whether any row carries a certificate (``verify --certify``) or is CERTIFIED."""
    return any(getattr(r, "certificate", None) is not None or r.verdict == "CERTIFIED" for r in rows)


def certified_fails(rows: Sequence) -> int:
    """How many FAIL rows are certified FAILs (the comparison fails on the whole enclosure)."""
    n = 0
    for r in rows:
        c = getattr(r, "certificate", None)
        if r.verdict == "FAIL" and c and c.get("applied") and c.get("decision") == "certified_fail":
            n += 1
    return n


def certificate_cell(cert) -> str:
    """The certificate column: ``"40.1 d: gap ≤ bound"``, ``"certified FAIL 39 d: gap > bound"``,
    ``"not certified: <why>"`` or ``"n/a"`` (a row without enclosed quantities)."""
    if not cert:
        return ""
    decision = cert.get("decision")
    if decision == "not_applicable":
        return "n/a"
    digits = cert.get("digits")
    width = f"{digits:.1f} d" if isinstance(digits, (int, float)) and math.isfinite(digits) else "—"
    if cert.get("applied"):
        head = "certified FAIL " if decision == "certified_fail" else ""
        return f"{head}{width}: {cert.get('short') or cert.get('proven', '')}"
    if decision in ("certified", "certified_fail"):  # proven on the enclosure, but not of the claim's own quantity
        return f"not certified ({width}: {cert.get('short', '')} on a root not proven unique)"
    why = str(cert.get("reason") or "undecided")
    return "not certified: " + (why if len(why) <= 60 else why[:57] + "…")


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
    certified = is_certified_run(rows)
    if certified:
        t.add_column("certificate", overflow="fold")
    if reasons:
        t.add_column("note", overflow="fold", ratio=1)
    for r in rows:
        cells = [escape(r.claim), escape(r.setting), fmt(r.measured), r.relation if math.isfinite(r.bound) else "",
                 fmt(r.bound), f"[{VERDICT_STYLE.get(r.verdict, 'bold')}]{r.verdict}[/]"]
        if certified:
            cells.append(escape(certificate_cell(getattr(r, "certificate", None))))
        if reasons:
            cells.append(escape(r.reason))
        t.add_row(*cells)
    return t


def summary_line(rows: Sequence, strict: bool = False) -> str:
    """``"P PASS, F FAIL, S SKIP"`` (every count, zeros included); with ``strict`` a note when SKIPs fail the run."""
    c = summary(rows)
    line = f"{c.get('PASS', 0)} PASS, {c.get('FAIL', 0)} FAIL, {c.get('SKIP', 0)} SKIP"
    if is_certified_run(rows):  # CERTIFIED first (a success); how many FAILs are certified last
        line = f"{c.get('CERTIFIED', 0)} CERTIFIED, {line} ({certified_fails(rows)} FAIL certified)"
    if strict and c.get("SKIP", 0):
        line += " (--strict: a SKIP counts as a failure)"
    return line


def print_table(rows: Sequence, console=None, title: str = "wnbias verify", strict: bool = False) -> None:
    from rich.console import Console

    if console is None:
        console = Console()
        if not console.is_terminal:  # a file or a pipe: wide enough that the notes stay readable
            console = Console(width=max(console.width, 200))
    console.print(table(rows, title))
    console.print(summary_line(rows, strict), markup=False, highlight=False)


def document(rows: Sequence, meta: Optional[dict] = None) -> dict:
    """The JSON document of a verify run: ``meta``, ``summary`` (counts of PASS/FAIL/SKIP; with
    certificates also CERTIFIED and FAIL_certified, the certified FAILs among the FAILs) and ``rows``
    (each with its ``certificate``: balls as ``{"mid", "rad", "digits"}`` strings)."""
    c = summary(rows)
    counts = {v: c.get(v, 0) for v in ("PASS", "FAIL", "SKIP")}
    if is_certified_run(rows):
        counts = {"CERTIFIED": c.get("CERTIFIED", 0), **counts, "FAIL_certified": certified_fails(rows)}
    return {"meta": meta or {}, "summary": counts, "rows": [r.as_dict() for r in rows]}


def write_json(rows: Sequence, path, meta: Optional[dict] = None):
    """Write :func:`document` to ``path`` (``"-"``: standard output) by :func:`wnbias.io.write_json`
    (strict JSON, atomic); a missing parent directory is created."""
    from wnbias import io

    if str(path) != "-":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return io.write_json(path, document(rows, meta), indent=1)


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
    lines = ["# wnbias verify report", ""]
    if meta:
        lines += [", ".join(f"{k}: {v}" for k, v in meta.items()), ""]
    lines += [f"**{summary_line(rows)}**", ""]
    claims = list(claims)
    if claims:
        lines += ["## Claims", "", "| id | claim | docs/math.md | tolerance rule |", "|---|---|---|---|"]
        for cl in claims:
            tex = cl.statement.replace("\\|", "\\Vert ")  # a LaTeX norm bar would end the table cell
            lines.append(f"| {cl.id} | {_md_cell(cl.title)}: ${_md_cell(tex)}$ | {cl.section} | {_md_cell(cl.tolerance_rule)} |")
        lines.append("")
    certified = is_certified_run(rows)
    head = "| claim | setting | measured | | bound / tol | verdict |" + (" certificate |" if certified else "") + " note |"
    rule = "|---|---|---:|:-:|---:|---|" + ("---|" if certified else "") + "---|"
    lines += ["## Results", "", head, rule]
    for r in rows:
        cert = f" {_md_cell(certificate_cell(getattr(r, 'certificate', None)))} |" if certified else ""
        lines.append(f"| {r.claim} | {_md_cell(r.setting)} | {fmt(r.measured)} | {r.relation if math.isfinite(r.bound) else ''} | "
                     f"{fmt(r.bound)} | **{r.verdict}** |{cert} {_md_cell(r.reason)} |")
    lines += ["", "## Figures", ""]
    for name, caption, fn in FIGURES:
        if fn(rows, d / name):
            lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    lines.append("Every number above is in `rows.json` (with the settings and wall time of each row).")
    (d / "report.md").write_text("\n".join(lines) + "\n")
    write_json(rows, d / "rows.json", meta)
    return d / "report.md"
