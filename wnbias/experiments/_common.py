"""Shared pieces of the experiments: problems, metrics, aggregation, figures, output files."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

TRUTH_KINDS = {"sparse": "sparse_signed", "gaussian": "gaussian"}
"""Truths of MATH.md §7 and the generator kind that draws them (signed model, x = w₊^L − w₋^L)."""


@dataclass(frozen=True)
class ExperimentOutput:
    """What one experiment wrote, and the parameters it ran with."""

    name: str
    figure: Path
    csv: Path
    caption: Path
    params: dict
    wall_time: float
    rows: int
    notes: tuple = ()

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "figure": self.figure.name,
            "csv": self.csv.name,
            "caption": self.caption.name,
            "params": self.params,
            "wall_time_s": round(self.wall_time, 3),
            "rows": self.rows,
            "notes": list(self.notes),
        }


class Ticker:
    """Progress callback wrapper: ``tick(n)`` advances by ``n`` units (no-op without a callback)."""

    def __init__(self, callback: Optional[Callable[[float], None]] = None):
        self._cb = callback

    def __call__(self, n: float = 1.0) -> None:
        if self._cb is not None:
            self._cb(n)


# ---------------------------------------------------------------------------- problems
def make_problem(truth: str, N: int, M: int, seed: int, *, model: str = "signed", k: Optional[int] = None):
    """A problem of MATH.md §7: Gaussian ``A``, a sparse (``k`` nonzeros) or Gaussian truth."""
    from numerics.problem import generate

    if truth not in TRUTH_KINDS:
        raise ValueError(f"truth must be one of {sorted(TRUTH_KINDS)}, got {truth!r}")
    kind = TRUTH_KINDS[truth]
    if model == "positive" and truth == "sparse":
        kind = "sparse_positive"
    return generate(kind, N, M, seed, k=k, model=model)


def k_of(s: dict) -> int:
    """Number of nonzeros of a sparse truth: ``max(1, round(k_frac · M))``."""
    return max(1, int(round(s.get("k_frac", 0.1) * s["M"])))


def l1_reference(problem) -> tuple[float, np.ndarray]:
    """``(min ‖z‖₁, z*)`` subject to ``Az = y`` (and ``z ≥ 0`` in the positive model), by LP;
    ``z*`` in user coordinates."""
    from numerics._status import Status
    from numerics.lp import l1_min

    res = l1_min(problem)
    if res.status is not Status.CONVERGED:
        raise RuntimeError(f"the ℓ1 reference LP did not converge: {res.message}")
    return float(res.value), np.asarray(res.z, dtype=float)


def user_x(problem, x_eff: np.ndarray) -> np.ndarray:
    """Effective ``x`` rows ``(B, n)`` → user coordinates ``(B, N)``."""
    x_eff = np.atleast_2d(x_eff)
    if problem.model == "positive":
        return x_eff
    N = problem.N
    return x_eff[:, :N] - x_eff[:, N:]


def rel_error(problem, x_eff: np.ndarray) -> np.ndarray:
    """``‖x − x_true‖₂ / ‖x_true‖₂`` for each row."""
    x = user_x(problem, x_eff)
    xt = np.asarray(problem.x_true)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.linalg.norm(x - xt, axis=1) / np.linalg.norm(xt)


def l1_gap(problem, x_eff: np.ndarray, l1_opt: float) -> np.ndarray:
    """Relative ℓ1 gap ``(‖x‖₁ − ‖z*‖₁)/‖z*‖₁`` of each row (user coordinates)."""
    x = user_x(problem, x_eff)
    with np.errstate(invalid="ignore", over="ignore"):
        return (np.sum(np.abs(x), axis=1) - l1_opt) / l1_opt


def log_rho(r_final, r0, eta_tilde):
    """``log ρ = log(r₀/r) + (r² − r₀²)/(2η̃)`` (MATH.md §4), elementwise; nan where r is not positive."""
    r = np.asarray(r_final, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = np.log(r0 / r) + (r * r - np.asarray(r0) ** 2) / (2.0 * np.asarray(eta_tilde))
    return np.where(np.isfinite(r) & (r > 0), out, np.nan)


def log_alpha_eff(r0, n: int, logrho):
    """``log α_eff = log(r₀/(√n ρ))`` for the uniform ``u₀``."""
    return np.log(r0) - 0.5 * math.log(n) - np.asarray(logrho)


def gap_bound(L: int, l1_opt: float, S: float, n: int, logalpha: float) -> float:
    """The §5 a-posteriori bound on ``S − ‖z*‖₁`` (absolute), from
    :func:`numerics.quantities.l1_bound_from_log_alpha`; ``nan`` where the bound does not apply
    (``L = 2`` needs ``α_eff < 1``) or the inputs are not finite."""
    from numerics.quantities import l1_bound_from_log_alpha

    if not (math.isfinite(logalpha) and math.isfinite(S) and S > 0):
        return float("nan")
    bound = l1_bound_from_log_alpha(L, l1_opt, S, n, logalpha)
    return float("nan") if bound is None else bound


def methods(rows: Sequence[dict]) -> list[str]:
    """The ``method`` values of ``rows``, each once, in order of first appearance."""
    return list(dict.fromkeys(r["method"] for r in rows))


def status_names(status: Iterable) -> list[str]:
    return [getattr(s, "value", str(s)) for s in status]


# -------------------------------------------------------------------------- statistics
def median_iqr(values) -> tuple[float, float, float]:
    """Median and the 25th/75th percentiles of the finite values (nan if none)."""
    v = np.asarray([x for x in np.ravel(values) if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return (float("nan"),) * 3
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return float(med), float(q1), float(q3)


def group_stats(rows: Sequence[dict], by: Sequence[str], value: str) -> list[dict]:
    """Median/IQR of ``value`` for each distinct combination of the ``by`` columns."""
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault(tuple(r[b] for b in by), []).append(r[value])
    out = []
    for key in sorted(groups, key=lambda t: tuple((str(type(x)), x) for x in t)):
        med, q1, q3 = median_iqr(groups[key])
        out.append({**dict(zip(by, key)), "median": med, "q1": q1, "q3": q3, "count": len(groups[key])})
    return out


# ------------------------------------------------------------------------------ output
def plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as pyplot

    return pyplot


def band(ax, x, stats: list[dict], label: str, **kw):
    """Median line with an IQR band."""
    x = np.asarray(x, dtype=float)
    med = np.array([s["median"] for s in stats])
    q1 = np.array([s["q1"] for s in stats])
    q3 = np.array([s["q3"] for s in stats])
    (line,) = ax.plot(x, med, marker="o", ms=3, label=label, **kw)
    ax.fill_between(x, q1, q3, color=line.get_color(), alpha=0.25, lw=0)
    return line


def save_outputs(out_dir, name: str, fig, rows: Sequence[dict], caption: str) -> tuple[Path, Path, Path]:
    """Write ``<name>.png``, ``<name>.csv`` and ``<name>.md`` (the caption) into ``out_dir``."""
    from wnbias.sweep import write_csv

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    tmp = out_dir / f".{name}.png.tmp"
    fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    os.replace(tmp, png)
    plt().close(fig)
    csv = write_csv(rows, out_dir / f"{name}.csv")
    cap = out_dir / f"{name}.md"
    cap.write_text(caption.strip() + "\n")
    return png, csv, cap


def clean(v):
    """JSON/CSV-friendly scalar."""
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def fmt(v: float, digits: int = 2) -> str:
    if v is None or not np.isfinite(v):
        return "nan"
    return f"{v:.{digits}g}"


# ------------------------------------------------------------------------ step sizes
def effective(problem, x_user: np.ndarray) -> np.ndarray:
    """Split a user vector into the effective ``(x₊, x₋)`` of the signed model (``|x|`` if positive)."""
    x = np.asarray(x_user, dtype=float)
    if problem.model == "signed":
        return np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)])
    return np.abs(x)


def top_singular2(B: np.ndarray, *, rtol: float = 1e-6, max_iter: int = 1000) -> float:
    """``‖B‖₂²`` by power iteration on ``BᵀB`` from a fixed start (deterministic).

    A full SVD of a 1500 × 20000 matrix takes half a minute; this takes a second.  The estimate
    approaches from below; ``rtol`` is the relative change at which it stops.
    """
    v = np.ones(B.shape[1]) / math.sqrt(B.shape[1])
    lam = 0.0
    for _ in range(max_iter):
        u = B @ v
        wv = B.T @ u
        new = float(np.linalg.norm(wv))
        if new == 0.0:
            return 0.0
        v = wv / new
        if abs(new - lam) <= rtol * new:
            return new
        lam = new
    return lam


def curvature(problem, L: int, w_ref: np.ndarray) -> float:
    """``‖L · A_eff diag(w_ref^{L−1})‖₂²``: the loss Hessian's largest eigenvalue at zero residual
    and weights ``w_ref`` (the Gauss–Newton part, exact at a solution)."""
    return float(L * L * top_singular2(problem.A_eff * (w_ref ** (L - 1))[None, :]))


def gd_step(problem, L: int, alpha: float, z_ref: np.ndarray, c: float = 1.0) -> float:
    """The GD step ``μ = c / λ_max`` with the curvature at ``w_ref = max(z_ref^{1/L}, α)``.

    ``z_ref`` (user coordinates) is where the run is expected to end; the ℓ1 minimiser is a good
    choice for small ``α``.  ``c < 2`` is stable near that point; ``c = 1`` leaves a factor 2.
    """
    w = np.maximum(effective(problem, z_ref) ** (1.0 / L), float(alpha))
    return c / curvature(problem, L, w)


def wn_step(problem, L: int, r0: float, eta_tilde: float, z_ref: np.ndarray, c: float = 1.0) -> float:
    """The WN-GD step (``η_u = 1``): the GD step divided by ``max(r², η̃)``.

    One WN-GD step moves ``w`` by about ``μ r²`` tangentially and ``μ η̃`` radially, so this keeps
    the effective step of ``w`` near the GD one, with ``r`` bounded by ``max(r₀, ‖w_ref‖)``.
    """
    w = effective(problem, z_ref) ** (1.0 / L)
    r_est2 = float(np.sum(w * w))
    base = gd_step(problem, L, r0 / math.sqrt(problem.n), z_ref, c)
    return base / max(r0 * r0, r_est2, float(eta_tilde))


def tidy_log_axis(ax) -> None:
    """Log axes without crowded minor tick labels."""
    from matplotlib.ticker import NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
