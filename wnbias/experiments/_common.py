"""Shared pieces of the experiments: problems, metrics, aggregation, figures, output files."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

TRUTH_KINDS = {"sparse": "sparse_signed", "gaussian": "gaussian"}
"""Truths of docs/math.md §7 and the generator kind that draws them (signed model, x = w₊^L − w₋^L)."""


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
    drawn: dict = None
    """What the figure shows of each CSV row: ``{panel: {kind: [row indices]}}`` (see
    :class:`RunPlot`); ``None`` for an experiment that does not record it."""
    run_counts: dict = None
    """``{kind: count}`` over the CSV rows (:func:`run_counts`), as stated in the caption."""

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
            **({"drawn": self.drawn} if self.drawn is not None else {}),
            **({"run_counts": self.run_counts} if self.run_counts is not None else {}),
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
    """A problem of docs/math.md §7: Gaussian ``A``, a sparse (``k`` nonzeros) or Gaussian truth."""
    from numerics._problem import generate

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
    from numerics._lp import l1_min

    res = l1_min(problem)
    if res.status is not Status.CONVERGED:
        raise RuntimeError(f"the ℓ1 reference LP did not converge: {res.message}")
    return float(res.value), np.asarray(res.z, dtype=float)


def user_x(problem, x_eff: np.ndarray) -> np.ndarray:
    """Effective ``x`` rows ``(B, n)`` → user coordinates ``(B, N)``."""
    return problem.to_user(np.atleast_2d(x_eff))


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
    """``log ρ`` (docs/math.md §4) by :func:`numerics._formulas.log_rho`, elementwise; nan where r
    is not positive and finite."""
    from numerics import _formulas as F

    r = np.asarray(r_final, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = F.log_rho(r, np.asarray(r0, dtype=float), np.asarray(eta_tilde, dtype=float))
    return np.where(np.isfinite(r) & (r > 0), out, np.nan)


def log_alpha_eff(r0, n: int, logrho):
    """``log α_eff`` for the uniform ``u₀``, by :func:`numerics._formulas.log_alpha_eff`."""
    from numerics import _formulas as F

    with np.errstate(invalid="ignore"):
        return F.log_alpha_eff(np.asarray(r0, dtype=float), int(n), np.asarray(logrho, dtype=float))


def gap_bound(L: int, l1_opt: float, S: float, n: int, logalpha: float) -> float:
    """The §5 a-posteriori bound on ``S − ‖z*‖₁`` (absolute), from
    :func:`numerics._quantities.l1_bound_from_log_alpha`; ``nan`` where the bound does not apply
    (``L = 2`` needs ``α_eff < 1``) or the inputs are not finite."""
    from numerics._quantities import l1_bound_from_log_alpha

    if not (math.isfinite(logalpha) and math.isfinite(S) and S > 0):
        return float("nan")
    bound = l1_bound_from_log_alpha(L, l1_opt, S, n, logalpha)
    return float("nan") if bound is None else bound


def methods(rows: Sequence[dict]) -> list[str]:
    """The ``method`` values of ``rows``, each once, in order of first appearance."""
    return list(dict.fromkeys(r["method"] for r in rows))


def status_names(status: Iterable) -> list[str]:
    """The values of a sequence of :class:`numerics._status.Status` members (for the CSV)."""
    from numerics._status import Status

    return [Status(s).value for s in status]


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
    kw.setdefault("marker", "o")  # the experiments that draw every run pass marker="none"
    kw.setdefault("ms", 3)
    (line,) = ax.plot(x, med, label=label, **kw)
    ax.fill_between(x, q1, q3, color=line.get_color(), alpha=0.25, lw=0)
    return line


class OutputWriteError(OSError):
    """An experiment computed its results but could not write them.  ``caption`` (the measured
    values) and ``rows`` (the CSV's rows) are kept, so the caller can print them instead."""

    def __init__(self, name: str, path, cause: OSError, caption: str, rows: Sequence[dict]):
        self.name, self.path, self.cause, self.caption, self.rows = name, Path(path), cause, caption, list(rows)
        super().__init__(cause.errno, f"{name}: cannot write {path} ({cause.strerror or cause})")


def save_outputs(out_dir, name: str, fig, rows: Sequence[dict], caption: str) -> tuple[Path, Path, Path]:
    """Write ``<name>.png``, ``<name>.csv`` and ``<name>.md`` (the caption) into ``out_dir``, each
    through a temporary file unique to this process.  :class:`OutputWriteError` (carrying the
    caption and rows) if a file cannot be written."""
    from wnbias.io import atomic_write, write_csv

    out_dir = Path(out_dir)
    png, csv, cap = out_dir / f"{name}.png", out_dir / f"{name}.csv", out_dir / f"{name}.md"
    target = out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        target = png
        atomic_write(png, lambda fh: fig.savefig(fh, dpi=110, bbox_inches="tight", format="png"), mode="wb")
        target = csv
        write_csv(csv, rows)
        target = cap
        text = caption.strip() + "\n"
        atomic_write(cap, lambda fh: fh.write(text))
    except OSError as exc:
        raise OutputWriteError(name, target, exc, caption, rows) from exc
    finally:
        plt().close(fig)
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
    return np.abs(problem.to_eff(np.asarray(x_user, dtype=float)))


def top_singular2(B, *, rtol: float = 1e-6) -> float:
    """``‖B‖₂²`` by ``scipy.sparse.linalg.svds`` (ARPACK, ``k = 1``, a fixed start: deterministic).

    ``B`` is an array or a ``LinearOperator``.  A full SVD of a 1500 × 20000 matrix takes half a
    minute; this takes about a second.  ``rtol`` is ARPACK's relative tolerance."""
    from scipy.sparse.linalg import svds

    if min(B.shape) == 1:  # ARPACK needs k < min(shape)
        dense = B @ np.eye(B.shape[1]) if not isinstance(B, np.ndarray) else B
        return float(np.linalg.norm(dense) ** 2)
    s1 = svds(B, k=1, tol=rtol, return_singular_vectors=False, random_state=0)[0]
    return float(s1) ** 2


def curvature(problem, L: int, w_ref: np.ndarray, *, rtol: float = 1e-6, on_A: bool = False) -> float:
    """``‖L · A_eff diag(w_ref^{L−1})‖₂²``: the loss Hessian's largest eigenvalue at zero residual
    and weights ``w_ref`` (the Gauss–Newton part, exact at a solution).  ``A_eff`` may be a matrix-free
    ``LinearOperator`` (then so is the product).  ``rtol``: ARPACK's relative tolerance
    (:func:`top_singular2`).

    ``on_A``: the same eigenvalue from the products of ``problem.A`` alone, with no ``[A, −A]`` or
    scaled copy formed (for sizes where each would take gigabytes): for the signed model
    ``A_eff diag(d)² A_effᵀ = A diag(d₊² + d₋²) Aᵀ`` (``d = L w_ref^{L−1}`` split into its two
    halves), so ``‖A_eff diag(d)‖₂² = ‖A diag(√(d₊² + d₋²))‖₂²``, at half the cost per product; the
    operator is matrix-free even for a dense ``A``."""
    from scipy.sparse.linalg import LinearOperator

    d = L * np.asarray(w_ref, dtype=float) ** (L - 1)
    if on_A:
        A = problem.A
        N = A.shape[1]
        e = np.sqrt(d[:N] ** 2 + d[N:] ** 2) if problem.model == "signed" else d
        B = LinearOperator(A.shape, matvec=lambda v: A @ (e * np.ravel(v)),
                           rmatvec=lambda r: e * (A.T @ np.ravel(r)), dtype=float)
        return top_singular2(B, rtol=rtol)
    A = problem.A_eff
    if isinstance(A, np.ndarray):
        return top_singular2(A * d[None, :], rtol=rtol)
    B = LinearOperator(A.shape, matvec=lambda v: A @ (d * np.ravel(v)), rmatvec=lambda r: d * (A.T @ np.ravel(r)),
                       dtype=float)
    return top_singular2(B, rtol=rtol)


def gd_step(problem, L: int, alpha: float, z_ref: np.ndarray, c: float = 1.0, *, rtol: float = 1e-6,
            on_A: bool = False) -> float:
    """The GD step ``μ = c / λ_max`` with the curvature at ``w_ref = max(z_ref^{1/L}, α)``.

    ``z_ref`` (user coordinates) is where the run is expected to end; the ℓ1 minimiser is a good
    choice for small ``α``.  ``c < 2`` is stable near that point; ``c = 1`` leaves a factor 2.
    ``rtol``, ``on_A``: how the curvature is computed (:func:`curvature`).
    """
    w = np.maximum(effective(problem, z_ref) ** (1.0 / L), float(alpha))
    return c / curvature(problem, L, w, rtol=rtol, on_A=on_A)


def wn_step(problem, L: int, r0: float, eta_tilde: float, z_ref: np.ndarray, c: float = 1.0, *,
            rtol: float = 1e-6, on_A: bool = False, base: float | None = None) -> float:
    """The WN-GD step (``η_u = 1``): the GD step divided by ``max(r², η̃)``.

    One WN-GD step moves ``w`` by about ``μ r²`` tangentially and ``μ η̃`` radially, so this keeps
    the effective step of ``w`` near the GD one, with ``r`` bounded by ``max(r₀, ‖w_ref‖)``.
    ``base``: the GD step at ``α = r₀/√n`` (:func:`gd_step` with the same ``c``, ``rtol``, ``on_A``)
    when the caller has it already, so that its curvature is not computed twice.
    """
    w = effective(problem, z_ref) ** (1.0 / L)
    r_est2 = float(np.sum(w * w))
    if base is None:
        base = gd_step(problem, L, r0 / math.sqrt(problem.n), z_ref, c, rtol=rtol, on_A=on_A)
    return base / max(r0 * r0, r_est2, float(eta_tilde))


def tidy_log_axis(ax) -> None:
    """Log axes without crowded minor tick labels."""
    from matplotlib.ticker import NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())


# ------------------------------------------------------------ every run accounted for
RUN_KINDS = ("converged", "not_converged", "diverged", "failed")
"""How a run ended, as the figures draw it: reached the threshold; spent its budget (steps, time,
or the precision's noise floor) without reaching it; diverged; failed (the solver gave up)."""

RUN_STYLE = {
    "converged": dict(marker="o", filled=True, label="converged (filled)"),
    "not_converged": dict(marker="o", filled=False, label="threshold not reached (open)"),
    "diverged": dict(marker="x", filled=True, label="diverged (×)"),
    "failed": dict(marker="+", filled=True, label="failed (+)"),
}
"""One marker per run kind, shared by every figure: filled = converged, open = not converged,
× = diverged, + = failed."""


def run_kind(status) -> str:
    """The :data:`RUN_KINDS` entry of a status (a :class:`numerics._status.Status` or its value).
    ``not_converged``, ``noise_floor`` and ``time_limit`` are runs that ended without reaching the
    threshold; ``inconsistent`` and ``failed`` are failures; ``trivial`` counts as converged."""
    from numerics._status import Status

    try:
        st = Status(status)  # a member, or its value as read back from a CSV
    except ValueError:
        raise ValueError(f"unknown run status {status!r}") from None
    if st in (Status.CONVERGED, Status.TRIVIAL):
        return "converged"
    if st is Status.DIVERGED:
        return "diverged"
    if st in (Status.FAILED, Status.INCONSISTENT):
        return "failed"
    if st in (Status.NOT_CONVERGED, Status.NOISE_FLOOR, Status.TIME_LIMIT):
        return "not_converged"
    raise ValueError(f"run status {status!r} is not a run's outcome")


def run_counts(rows: Sequence[dict], key: str = "status") -> dict:
    """``{kind: count}`` for every kind of :data:`RUN_KINDS` (zeros included)."""
    counts = {k: 0 for k in RUN_KINDS}
    for r in rows:
        counts[run_kind(r[key])] += 1
    return counts


def run_count_sentence(rows: Sequence[dict], key: str = "status", noun: str = "runs") -> str:
    """The caption's account of every run: ``"Runs: n of m runs converged; k did not reach the
    threshold (…); d diverged; f failed."``, with the statuses behind the second number."""
    counts = run_counts(rows, key)
    m = len(rows)
    detail: dict[str, int] = {}
    for r in rows:
        if run_kind(r[key]) == "not_converged":
            v = getattr(r[key], "value", r[key])
            detail[v] = detail.get(v, 0) + 1
    names = {"not_converged": "budget spent", "noise_floor": "noise floor", "time_limit": "time limit"}
    why = ", ".join(f"{names.get(v, v)}: {c}" for v, c in sorted(detail.items(), key=lambda t: names.get(t[0], t[0])))
    return (f"Runs: {counts['converged']} of {m} {noun} converged; {counts['not_converged']} did not reach the "
            f"threshold{' (' + why + ')' if why else ''}; {counts['diverged']} diverged; {counts['failed']} failed. "
            "Every run is drawn: filled = converged, open = threshold not reached, × = diverged, + = failed.")


@dataclass
class Placed:
    """Plot positions of one value per run (:func:`place`)."""

    y: np.ndarray
    floor: Optional[float]
    missing: Optional[float]
    n_floored: int
    n_missing: int


def place(values, *, log: bool = True, floor: Optional[float] = None, missing: str = "top") -> Placed:
    """Where to draw each run's value, so that none is left out.  Finite values are drawn as they
    are; a value below ``floor`` (or ``≤ 0`` on a log axis) is drawn at the floor (``floor`` if
    given, else a decade below the smallest positive value); a missing (non-finite) value is drawn
    on a separate level, a decade above the largest (``missing="top"``) or below the smallest drawn
    value (``"bottom"``).  The figure labels both levels (:func:`mark_levels`)."""
    v = np.array([np.nan if x is None else float(x) for x in np.ravel(values)], dtype=float)
    fin = np.isfinite(v)
    ok = fin & ((v > 0) if log else True)
    if floor is not None:
        ok &= v >= floor
    y = v.copy()
    good = v[ok]
    low = fin & ~ok
    fl = None
    if low.any():
        fl = floor if floor is not None else (float(good.min()) / 10 if good.size else 1.0)
        y[low] = fl
    elif floor is not None:
        fl = floor
    miss = ~fin
    lv = None
    if miss.any():
        ref = y[fin]
        if log:
            base = ref[ref > 0]
            lv = float(base.max()) * 10 if missing == "top" and base.size else (
                float(base.min()) / 10 if base.size else 1.0)
        else:
            span = float(np.ptp(ref)) if ref.size else 1.0
            span = span if span > 0 else 1.0
            lv = float(ref.max()) + 0.2 * span if missing == "top" and ref.size else (
                float(ref.min()) - 0.2 * span if ref.size else 0.0)
        y[miss] = lv
    return Placed(y, fl, lv, int(low.sum()), int(miss.sum()))


def mark_levels(ax, placed: Placed, *, floor_label: str = "below this level: drawn here",
                missing_label: str = "no value: drawn here") -> None:
    """Dotted lines at the floor and missing levels of :func:`place` (only those used)."""
    if placed.n_floored and placed.floor is not None:
        ax.axhline(placed.floor, color="gray", ls=":", lw=1, label=floor_label)
    if placed.n_missing and placed.missing is not None:
        ax.axhline(placed.missing, color="tab:red", ls=":", lw=1, label=missing_label)


class RunPlot:
    """Draws runs with the shared markers (:data:`RUN_STYLE`) and records what it drew.

    ``draw(ax, panel, x, y, kinds, rows)`` draws one point per run; ``rows`` are the runs' CSV
    row indices.  A *panel* names one quantity drawn for every run; it may span several axes (one
    per truth or model, say), and each run must appear in it exactly once.  :meth:`drawn` reads the points back from the figure's artists (only those with
    finite coordinates, positive on a log axis, inside the axis limits: the points a reader
    sees) and returns ``{panel: {kind: [row indices]}}``; the test checks it against the CSV."""

    GID = "wnbias-runs"

    def __init__(self):
        self._artists = []  # (panel, kind, collection, rows)

    def draw(self, ax, panel: str, x, y, kinds: Sequence[str], rows: Sequence[int], *, color=None, colors=None,
             cmap=None, vmin=None, vmax=None, s: float = 22, zorder: float = 4, **kw):
        """Scatter one point per run; ``color`` one colour for all, or ``colors`` values for ``cmap``."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        kinds = list(kinds)
        rows = [int(r) for r in rows]
        if not (len(x) == len(y) == len(kinds) == len(rows)):
            raise ValueError("x, y, kinds and rows must have one entry per run")
        cvals = None if colors is None else np.asarray(colors, dtype=float)
        mappable = None
        if cvals is not None and (vmin is None or vmax is None):
            raise ValueError("colors need vmin and vmax")
        for kind in RUN_KINDS:
            idx = [i for i, k in enumerate(kinds) if k == kind]
            if not idx:
                continue
            st = RUN_STYLE[kind]
            args = dict(marker=st["marker"], s=s, zorder=zorder, **kw)
            rgba = None
            if cvals is not None:
                rgba = plt().get_cmap(cmap)((cvals[idx] - vmin) / ((vmax - vmin) or 1.0))
            col = color if color is not None else "k"
            if st["filled"]:
                if rgba is not None:
                    args["c"] = rgba
                else:
                    args["color"] = col
            else:
                args["facecolors"] = "none"
                args["edgecolors"] = rgba if rgba is not None else col
            coll = ax.scatter(x[idx], y[idx], **args)
            coll.set_gid(f"{self.GID}:{panel}:{kind}")
            self._artists.append((panel, kind, coll, [rows[i] for i in idx]))
            mappable = coll
        return mappable

    @staticmethod
    def legend_handles(kinds: Iterable[str] = RUN_KINDS, color="k") -> list:
        """Legend entries for the run kinds (proxy artists)."""
        from matplotlib.lines import Line2D

        out = []
        for kind in kinds:
            st = RUN_STYLE[kind]
            out.append(Line2D([], [], ls="none", marker=st["marker"], color=color, ms=6,
                              mfc=color if st["filled"] else "none", label=st["label"]))
        return out

    def kinds_drawn(self) -> list:
        return [k for k in RUN_KINDS if any(a[1] == k for a in self._artists)]

    def drawn(self, fig, *, settle: bool = True) -> dict:
        """``{panel: {kind: [row indices]}}`` of the points visible in ``fig``.  ``settle=False``
        when ``fig`` was rendered since its last change (``savefig`` settles the autoscaled limits
        as a draw does): the limits are then read as they are, without a second render."""
        if settle:
            fig.canvas.draw()  # settle the autoscaled limits
        live = {id(c) for ax in fig.axes for c in ax.collections}
        out: dict = {}
        for panel, kind, coll, rows in self._artists:
            if id(coll) not in live:
                continue
            ax = coll.axes
            off = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
            if len(off) != len(rows):
                raise AssertionError(f"{panel}: {len(off)} points drawn for {len(rows)} runs")
            (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
            vis = np.isfinite(off).all(axis=1)
            vis &= (off[:, 0] >= x0) & (off[:, 0] <= x1) & (off[:, 1] >= y0) & (off[:, 1] <= y1)
            if ax.get_xscale() == "log":
                vis &= off[:, 0] > 0
            if ax.get_yscale() == "log":
                vis &= off[:, 1] > 0
            bucket = out.setdefault(panel, {}).setdefault(kind, [])
            bucket.extend(int(r) for r, v in zip(rows, vis) if v)
        for panel in out:
            for kind in out[panel]:
                out[panel][kind].sort()
        return out


def row_kinds(rows: Sequence[dict], key: str = "status") -> list:
    return [run_kind(r[key]) for r in rows]


def finish(out_dir, name: str, fig, runplot: RunPlot, rows: Sequence[dict], caption: str, params: dict,
           t0: float, key: str = "status") -> ExperimentOutput:
    """Read back what ``fig`` shows of each run, write the three files, return the output record."""
    import time

    png, csv, cap = save_outputs(out_dir, name, fig, rows, caption)  # renders the figure once
    drawn = runplot.drawn(fig, settle=False)  # what that render showed
    return ExperimentOutput(name, png, csv, cap, params, time.perf_counter() - t0, len(rows), drawn=drawn,
                            run_counts=run_counts(rows, key))


def legend_with_runs(ax, runplot: RunPlot, fontsize: float = 7, **kw) -> None:
    """The axis's own legend entries followed by one entry per run kind drawn in the figure."""
    handles, labels = ax.get_legend_handles_labels()
    extra = runplot.legend_handles(runplot.kinds_drawn())
    ax.legend(handles + extra, labels + [h.get_label() for h in extra], fontsize=fontsize, **kw)


def jitter(x, k: int, n: int, *, log: bool = True, width: float = 0.04) -> np.ndarray:
    """``x`` shifted for the ``k``-th of ``n`` series, so that markers at one x do not hide each other."""
    x = np.asarray(x, dtype=float)
    off = (k - (n - 1) / 2) * width
    return x * 10 ** off if log else x + off


def mem_available_bytes():
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (None where there is none)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
