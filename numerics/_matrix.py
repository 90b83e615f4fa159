"""Matrix sensing with the symmetric factorisation ``X = UUᵀ`` (docs/math.md §9).

* :class:`MatrixSensingProblem`: ``m`` measurement matrices ``A_i ∈ R^{d×d}`` (an ``(m, d, d)``
  array), ``y_i = ⟨A_i, X*⟩`` and the low-rank PSD truth ``X*``; :func:`generate`, ``save``/``load``
  (``.npz``, never unpickled).
* :func:`integrate_matrix`: plain GF ``U̇ = −(G + Gᵀ)U`` and WN-GF in polar form ``U = r V/‖V‖_F``
  (docs/math.md §9.4), in float64 (scipy's DOP853 stepped one accepted step at a time, so the
  loss is compared at every accepted step) or at ``dps`` digits (``mpmath.odefun``, mpmath's
  Taylor-series integrator at the working precision; for small ``d·k`` only).
* :func:`gd_matrix` / :func:`wn_gd_matrix`: GD and WN-GD, vectorised over a batch of ``B``
  initialisations.
* :func:`nuclear_norm_min`: the reference ``min{tr X : ⟨A_i, X⟩ = y_i, X ⪰ 0}`` (for ``X ⪰ 0``
  ``‖X‖_* = tr X``), an SDP solved by cvxpy with Clarabel (or SCS) — the optional extra
  ``matrix``; without it :class:`numerics._status.MachineryMissing` names the extra.

Symmetric factorisation only sees the symmetric part of each ``A_i``: ``⟨A_i, UUᵀ⟩ =
⟨sym A_i, UUᵀ⟩`` and ``∇_Uℒ = (G + Gᵀ)U`` (docs/math.md §9.2, derivation ``matrix_sym_gradient``).
"""

from __future__ import annotations

import math
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import numpy as np

from numerics._status import MachineryMissing, Status

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import mpmath

KINDS = ("gaussian", "symmetric")
MATRIX_EXTRA = "matrix"
"""The optional extra that installs the SDP solver (``pip install 'wnbias[matrix]'``)."""

DIVERGENCE_FACTOR = 1e8


# ---------------------------------------------------------------------------- problem
def _real(name: str, value, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} has dtype {arr.dtype}: only real numeric (integer or floating) arrays are accepted")
    arr = np.array(arr, dtype=np.float64, copy=True)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite entries (nan or inf)")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class MatrixSensingProblem:
    """``A`` (``m×d×d``), ``y`` (``m``), optional ``X_true`` (``d×d``, symmetric PSD), ``kind``, ``seed``."""

    A: np.ndarray
    y: np.ndarray
    X_true: Optional[np.ndarray] = None
    kind: str = "gaussian"
    seed: Optional[int] = None

    def __post_init__(self):
        A = _real("A", self.A, 3)
        if A.shape[1] != A.shape[2]:
            raise ValueError(f"A must be m×d×d (square measurement matrices), got shape {A.shape}")
        y = _real("y", self.y, 1)
        if y.shape[0] != A.shape[0]:
            raise ValueError(f"shape mismatch: A holds {A.shape[0]} measurement matrices but y has {y.shape[0]} entries")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "y", y)
        if self.X_true is not None:
            X = _real("X_true", self.X_true, 2)
            if X.shape != A.shape[1:]:
                raise ValueError(f"X_true must be {A.shape[1]}×{A.shape[2]}, got shape {X.shape}")
            size = max(1.0, float(np.abs(X).max()))
            if not np.allclose(X, X.T, rtol=0, atol=1e-12 * size):
                raise ValueError("X_true must be symmetric")
            if float(np.linalg.eigvalsh(0.5 * (X + X.T))[0]) < -1e-10 * size:
                raise ValueError("X_true must be positive semidefinite (a negative eigenvalue was found)")
            object.__setattr__(self, "X_true", X)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer))):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        sym = 0.5 * (A + np.transpose(A, (0, 2, 1)))
        sym.setflags(write=False)
        object.__setattr__(self, "_A_sym", sym)

    # shapes, in the vocabulary of the registry's setting labels (a linear map R^{d×d} → R^m)
    model = "matrix"

    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    @property
    def d(self) -> int:
        return int(self.A.shape[1])

    @property
    def M(self) -> int:
        return self.m

    @property
    def N(self) -> int:
        return self.d * self.d

    @property
    def A_sym(self) -> np.ndarray:
        """The symmetric parts ``(A_i + A_iᵀ)/2`` (all that ``X = UUᵀ`` sees)."""
        return self._A_sym

    def measure(self, X: np.ndarray) -> np.ndarray:
        """``(⟨A_i, X⟩)_i`` for ``X`` of shape ``(d, d)`` or ``(B, d, d)``."""
        return np.einsum("mij,...ij->...m", self.A, X)

    def loss(self, X) -> float:
        res = self.measure(np.asarray(X, dtype=float)) - self.y
        return 0.5 * float(res @ res)

    @property
    def scale(self) -> float:
        """``½‖y‖²``: the loss at ``X = 0``, the unit of relative losses."""
        return 0.5 * float(self.y @ self.y)

    def as_dict(self) -> dict:
        out = {"model": "matrix", "kind": self.kind, "m": self.m, "d": self.d, "seed": self.seed}
        if self.X_true is not None:
            ev = np.linalg.eigvalsh(self.X_true)
            out["rank_true"] = int(np.sum(ev > 1e-10 * max(1.0, ev.max())))
            out["nuclear_true"] = float(np.trace(self.X_true))
        return out

    def save(self, path) -> Path:
        """Save as ``.npz`` (no pickled objects)."""
        path = Path(path)
        arrays = {"A": self.A, "y": self.y, "kind": np.array(self.kind), "format": np.array("wnbias-matrix-1")}
        if self.X_true is not None:
            arrays["X_true"] = self.X_true
        if self.seed is not None:
            arrays["seed"] = np.array(int(self.seed))
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path) -> "MatrixSensingProblem":
        """Load a file written by :meth:`save`; :class:`numerics._problem.ProblemFileError` naming the
        file for anything that is not such a file (never unpickles)."""
        from numerics._problem import ProblemFileError

        path = Path(path)
        if not path.is_file():
            raise ProblemFileError(path, "no such file" if not path.exists() else "not a regular file")
        try:
            with np.load(path, allow_pickle=False) as z:
                names = set(z.files)
                missing = {"A", "y"} - names
                if missing:
                    raise ProblemFileError(path, f"not a matrix-sensing problem: no array {', '.join(sorted(missing))}")
                A, y = z["A"], z["y"]
                X = z["X_true"] if "X_true" in names else None
                kind = str(z["kind"]) if "kind" in names else "gaussian"
                seed = int(z["seed"]) if "seed" in names else None
        except ProblemFileError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ProblemFileError(path, f"cannot be read as a .npz matrix-sensing problem ({exc})") from None
        try:
            return cls(A, y, X, kind, seed)
        except ValueError as exc:
            raise ProblemFileError(path, f"invalid contents: {exc}") from None


def _positive_int(name, v, minimum=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {v!r}")
    return int(v)


def generate(d: int, k_true: int, m: int, seed: int = 0, kind: str = "gaussian") -> MatrixSensingProblem:
    """A random instance: ``A_i`` with i.i.d. ``N(0, 1/m)`` entries (``kind="gaussian"``) or their
    symmetrisation (``"symmetric"``: ``(G + Gᵀ)/√2`` scaled the same); ``X* = BBᵀ`` with ``B`` a
    ``d×k_true`` Gaussian matrix scaled so that ``tr X* = k_true``; ``y_i = ⟨A_i, X*⟩``."""
    d = _positive_int("d", d, 1)
    k_true = _positive_int("k_true", k_true, 1)
    m = _positive_int("m", m, 1)
    if k_true > d:
        raise ValueError(f"k_true must be ≤ d = {d}, got {k_true}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, d, d)) / math.sqrt(m)
    if kind == "symmetric":
        A = (A + np.transpose(A, (0, 2, 1))) / math.sqrt(2.0)
    B = rng.standard_normal((d, k_true))
    X = B @ B.T
    X *= k_true / np.trace(X)
    X = 0.5 * (X + X.T)
    y = np.einsum("mij,ij->m", A, X)
    return MatrixSensingProblem(A, y, X, kind, int(seed))


# ------------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class MatrixFlowConfig:
    """``rates="plain"``: GF from ``U₀ = alpha·U_dir`` (``‖U_dir‖_F = 1``); ``rates="wn"``: WN from
    ``r₀ = alpha``, ``V₀ = U_dir`` (so ``‖V₀‖_F = 1``) with rates ``eta_r``, ``eta_V``.
    ``U_dir`` is drawn from ``init_seed`` (Gaussian ``d×k``, normalised)."""

    k: int
    alpha: float
    rates: str = "wn"
    eta_r: float = 1.0
    eta_V: float = 1.0
    init_seed: int = 0

    def __post_init__(self):
        _positive_int("k", self.k, 1)
        for name in ("alpha", "eta_r", "eta_V"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not (
                    math.isfinite(float(v)) and float(v) > 0):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if self.rates not in ("plain", "wn"):
            raise ValueError(f"rates must be 'plain' or 'wn', got {self.rates!r}")

    @property
    def eta_tilde(self) -> float:
        return self.eta_r / self.eta_V

    def direction(self, d: int) -> np.ndarray:
        return init_directions(d, self.k, 1, self.init_seed)[0]

    def as_dict(self) -> dict:
        return {"k": self.k, "alpha": self.alpha, "rates": self.rates, "eta_r": self.eta_r, "eta_V": self.eta_V,
                "eta_tilde": self.eta_tilde, "init_seed": self.init_seed}


def init_directions(d: int, k: int, B: int, seed: int = 0) -> np.ndarray:
    """``B`` Gaussian ``d×k`` matrices of unit Frobenius norm, ``(B, d, k)``."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((B, d, k))
    return U / np.linalg.norm(U.reshape(B, -1), axis=1)[:, None, None]


# ------------------------------------------------------------------------------ fields
def gradient_U(problem: MatrixSensingProblem, U: np.ndarray) -> tuple:
    """``(loss, ∇_Uℒ)`` for ``U`` of shape ``(d, k)`` or ``(B, d, k)``: ``∇_Uℒ = 2 sym(G) U``."""
    X = U @ np.swapaxes(U, -1, -2)
    res = np.einsum("mij,...ij->...m", problem.A_sym, X) - problem.y
    Gs = np.einsum("...m,mij->...ij", res, problem.A_sym)   # symmetric: (G + Gᵀ)/2
    return 0.5 * np.sum(res * res, axis=-1), 2.0 * Gs @ U


def wn_rhs(problem, r: float, V: np.ndarray, eta_r: float, eta_V: float):
    """``(ṙ, V̇)`` of docs/math.md §9.4 at ``(r, V)``; also returns the loss."""
    nu = float(np.linalg.norm(V))
    Vb = V / nu
    loss, g = gradient_U(problem, r * Vb)
    sigma = float(np.sum(g * Vb))
    return -eta_r * sigma, -eta_V * (r / nu) * (g - sigma * Vb), float(loss)


@dataclass(frozen=True)
class MatrixFlowResult:
    """A matrix-flow trajectory and its end (the result of :func:`numerics.integrate` on a
    :class:`MatrixSensingProblem`).

    Float64 arrays at the recorded times ``t`` (every accepted step in float64, the sample grid at
    ``dps``): ``loss``, ``vnorm`` (``‖V‖_F``; ``nan`` for plain GF) and ``r`` (``‖U‖_F`` for plain
    GF).  ``U_final`` (``d×k``, float64) is the final factor.  ``max_step_increase`` is the largest
    increase of the loss between consecutive records (``steps_checked`` comparisons).

    At ``dps`` digits the values at the working precision are kept too, as ``dtype=object`` arrays
    of ``mpf``: ``vnorm_exact`` (``‖V‖_F`` at each record; ``None`` for plain GF and in float64),
    ``U_final_exact`` (``d×k``) and ``loss_final_exact`` (an ``mpf``); ``vnorm_drift`` is ``max |‖V(t)‖_F − ‖V₀‖_F|``
    at the working precision (an ``mpf`` at ``dps``, a float in float64; ``nan`` for plain GF)."""

    status: Status
    message: str
    config: MatrixFlowConfig
    method: str
    t: np.ndarray
    loss: np.ndarray
    vnorm: np.ndarray
    r: np.ndarray
    U_final: np.ndarray
    nsteps: int
    max_step_increase: float
    steps_checked: int
    loss_tol: float
    dps: Optional[int] = None
    wall_time: float = float("nan")
    vnorm_drift: Union[float, mpmath.mpf] = float("nan")
    vnorm_exact: Optional[np.ndarray] = None
    U_final_exact: Optional[np.ndarray] = None
    loss_final_exact: Optional[mpmath.mpf] = None

    @property
    def converged(self) -> bool:
        return self.status is Status.CONVERGED

    @property
    def loss_final(self) -> float:
        return float(self.loss[-1]) if len(self.loss) else float("nan")

    @property
    def X_final(self) -> np.ndarray:
        return self.U_final @ self.U_final.T

    def to_dict(self) -> dict:
        """JSON-able form (``numerics._arith.jsonable``: mpf as decimal strings of ``dps`` digits,
        non-finite floats as ``None``)."""
        from dataclasses import fields as _fields

        from numerics._arith import jsonable

        digits = 15 if self.dps is None else self.dps
        out = {f.name: jsonable(getattr(self, f.name), digits) for f in _fields(self) if f.name != "config"}
        out["config"] = self.config.as_dict()
        return out


def _pack(config, U0):
    if config.rates == "plain":
        return U0.ravel().copy()
    r0 = float(np.linalg.norm(U0))
    return np.concatenate([[r0], (U0 / r0).ravel()])


def integrate_matrix(problem: MatrixSensingProblem, config: MatrixFlowConfig, *, dps: Optional[int] = None,
                     t_max: float = 100.0, loss_tol: Optional[float] = None, time_limit: Optional[float] = None,
                     checkpoints=None, progress=None, rtol: float = 1e-12, atol: float = 1e-14,
                     max_steps: int = 200000) -> MatrixFlowResult:
    """Integrate plain GF or WN-GF of ``X = UUᵀ`` up to ``t_max`` or ``loss ≤ loss_tol`` (the
    matrix engine of :func:`numerics.integrate`).

    Float64: scipy's ``DOP853`` stepped one accepted step at a time (every step recorded, so
    ``checkpoints`` are not taken).  ``dps``: ``mpmath.odefun`` (Taylor series at ``dps`` digits)
    evaluated at ``checkpoints`` (default 8 equally spaced times up to ``t_max``); the loss is
    compared between them.  ``progress(t, loss)`` is called at every record.  Status: CONVERGED
    (loss ≤ loss_tol), NOT_CONVERGED (``t_max`` or ``max_steps`` reached), TIME_LIMIT, DIVERGED
    (non-finite state) or FAILED (solver error)."""
    if not isinstance(problem, MatrixSensingProblem):
        raise TypeError(f"problem must be a MatrixSensingProblem, got {type(problem).__name__}")
    if not isinstance(config, MatrixFlowConfig):
        raise TypeError(f"config must be a MatrixFlowConfig, got {type(config).__name__}")
    if not (isinstance(t_max, (int, float)) and math.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be a positive finite number, got {t_max!r}")
    if time_limit is not None and not (time_limit > 0):
        raise ValueError(f"time_limit must be positive seconds or None, got {time_limit!r}")
    if loss_tol is None:
        loss_tol = 1e-20 * max(problem.scale, 1e-300)
    if not np.any(problem.y):
        # y = 0: X = 0 fits exactly and the flow only shrinks towards it; nothing to integrate
        return MatrixFlowResult(Status.TRIVIAL, "y = 0: the measurements are all zero", config, "none",
                                np.zeros(1), np.zeros(1), np.full(1, np.nan), np.zeros(1),
                                np.zeros((problem.d, config.k)), 0, float("nan"), 0, float(loss_tol), dps)
    if dps is not None:
        return _integrate_mp(problem, config, dps, t_max, loss_tol, time_limit, checkpoints, progress)
    if checkpoints is not None:
        raise ValueError("checkpoints: the float64 matrix flow records every accepted step; checkpoints apply at dps")
    from scipy.integrate import DOP853

    d, k = problem.d, config.k
    U0 = config.alpha * config.direction(d)
    z0 = _pack(config, U0)

    def unpack(z):
        if config.rates == "plain":
            return None, z.reshape(d, k)
        return z[0], z[1:].reshape(d, k)

    def f(t, z):
        if config.rates == "plain":
            U = z.reshape(d, k)
            return -gradient_U(problem, U)[1].ravel()
        r, V = unpack(z)
        rd, Vd, _ = wn_rhs(problem, r, V, config.eta_r, config.eta_V)
        return np.concatenate([[rd], Vd.ravel()])

    def stats(z):
        r, V = unpack(z)
        if config.rates == "plain":
            U = V
            return float(gradient_U(problem, U)[0]), float("nan"), float(np.linalg.norm(U)), U
        nu = float(np.linalg.norm(V))
        U = r * V / nu
        return float(gradient_U(problem, U)[0]), nu, float(r), U

    t0w = time.perf_counter()
    solver = DOP853(f, 0.0, z0, t_max, rtol=rtol, atol=atol)
    ts, ls, vs, rs = [0.0], [], [], []
    l0, v0, rr0, U = stats(z0)
    ls.append(l0), vs.append(v0), rs.append(rr0)
    max_inc, status, msg = 0.0, None, ""
    nsteps = 0
    while status is None:
        if l0 <= loss_tol and nsteps == 0:
            status, msg = Status.CONVERGED, f"initial loss {l0:.3g} ≤ loss_tol {loss_tol:.3g}"
            break
        if solver.status != "running":
            status, msg = Status.NOT_CONVERGED, f"reached t_max = {t_max:g} with loss {ls[-1]:.3g} > {loss_tol:.3g}"
            break
        if nsteps >= max_steps:
            status, msg = Status.NOT_CONVERGED, f"{max_steps} steps spent at t = {solver.t:.4g}"
            break
        if time_limit is not None and time.perf_counter() - t0w > time_limit:
            status, msg = Status.TIME_LIMIT, f"time_limit {time_limit:g} s spent at t = {solver.t:.4g}"
            break
        err = solver.step()
        nsteps += 1
        if err is not None or solver.status == "failed":
            status, msg = Status.FAILED, f"DOP853: {err}"
            break
        z = solver.y
        if not np.all(np.isfinite(z)):
            status, msg = Status.DIVERGED, f"non-finite state at t = {solver.t:.4g}"
            break
        lo, vn, rr, U = stats(z)
        max_inc = max(max_inc, lo - ls[-1])
        ts.append(solver.t), ls.append(lo), vs.append(vn), rs.append(rr)
        if progress is not None:
            progress(float(solver.t), float(lo))
        if not math.isfinite(lo) or lo > DIVERGENCE_FACTOR * max(ls[0], 1e-300):
            status, msg = Status.DIVERGED, f"loss {lo:.3g} at t = {solver.t:.4g}"
        elif lo <= loss_tol and lo > 0:
            status, msg = Status.CONVERGED, f"loss {lo:.3g} ≤ loss_tol {loss_tol:.3g} at t = {solver.t:.4g}"
    _, _, _, U = stats(solver.y if nsteps else z0)
    vs = np.array(vs)
    drift = float(np.max(np.abs(vs - vs[0]))) if config.rates == "wn" else float("nan")
    return MatrixFlowResult(status, msg, config, "DOP853", np.array(ts), np.array(ls), vs, np.array(rs),
                            U, nsteps, float(max_inc), max(len(ls) - 1, 0), float(loss_tol), None,
                            time.perf_counter() - t0w, vnorm_drift=drift)


def _integrate_mp(problem, config, dps, t_max, loss_tol, time_limit, checkpoints=None, progress=None,
                  points: int = 8):
    """``mpmath.odefun`` at ``dps`` digits, sampled at ``checkpoints`` (default ``points`` equally
    spaced times in ``(0, t_max]``)."""
    import mpmath

    from numerics._precision import check_mp_dps, workdps

    dps = check_mp_dps(dps)
    d, k = problem.d, config.k
    t0w = time.perf_counter()
    with workdps(dps):
        A = [mpmath.matrix(problem.A_sym[i].tolist()) for i in range(problem.m)]
        y = [mpmath.mpf(float(v)) for v in problem.y]
        U0 = config.alpha * config.direction(d)
        z0 = [mpmath.mpf(float(v)) for v in _pack(config, U0)]
        eta_r, eta_V = mpmath.mpf(config.eta_r), mpmath.mpf(config.eta_V)

        def grad(Um):
            X = Um * Um.T
            res = [mpmath.fsum(A[i][a, b] * X[a, b] for a in range(d) for b in range(d)) - y[i]
                   for i in range(problem.m)]
            Gs = mpmath.zeros(d, d)
            for i in range(problem.m):
                Gs += res[i] * A[i]
            return mpmath.fsum(v * v for v in res) / 2, 2 * Gs * Um

        def split(z):
            if config.rates == "plain":
                return None, _as_mat(z, d, k)
            return z[0], _as_mat(z[1:], d, k)

        def f(t, z):
            if time_limit is not None and time.perf_counter() - t0w > time_limit:
                raise _OutOfTime()
            r, V = split(z)
            if config.rates == "plain":
                g = grad(V)[1]
                return [-g[a, b] for a in range(d) for b in range(k)]
            nu = mpmath.sqrt(mpmath.fsum(V[a, b] ** 2 for a in range(d) for b in range(k)))
            Vb = V / nu
            _, g = grad(r * Vb)
            sigma = mpmath.fsum(g[a, b] * Vb[a, b] for a in range(d) for b in range(k))
            Vd = -eta_V * (r / nu) * (g - sigma * Vb)
            return [-eta_r * sigma] + [Vd[a, b] for a in range(d) for b in range(k)]

        def stats(z):
            r, V = split(z)
            if config.rates == "plain":
                return grad(V)[0], mpmath.mpf("nan"), mpmath.sqrt(mpmath.fsum(V[a, b] ** 2 for a in range(d) for b in range(k))), V
            nu = mpmath.sqrt(mpmath.fsum(V[a, b] ** 2 for a in range(d) for b in range(k)))
            U = r * V / nu
            return grad(U)[0], nu, r, U

        sol = mpmath.odefun(f, 0, z0)
        if checkpoints is None:
            ts = [mpmath.mpf(0)] + [mpmath.mpf(t_max) * j / points for j in range(1, points + 1)]
        else:
            cps = [float(c) for c in checkpoints]
            if any(not (math.isfinite(c) and 0 < c <= t_max) for c in cps) or any(
                    b <= a for a, b in zip(cps, cps[1:])):
                raise ValueError("checkpoints must be increasing times in (0, t_max]")
            ts = [mpmath.mpf(0)] + [mpmath.mpf(c) for c in cps]
        ls, vs, rs = [], [], []
        status, msg, U = None, "", None
        try:
            for j, tj in enumerate(ts):
                z = z0 if j == 0 else sol(tj)
                lo, vn, rr, U = stats(z)
                ls.append(lo), vs.append(vn), rs.append(rr)
                if progress is not None:
                    progress(float(tj), float(lo))
                if j and lo <= loss_tol:
                    status, msg = Status.CONVERGED, f"loss {mpmath.nstr(lo, 5)} ≤ loss_tol at t = {mpmath.nstr(tj, 5)}"
                    ts = ts[:j + 1]
                    break
        except _OutOfTime:
            status, msg = Status.TIME_LIMIT, f"time_limit {time_limit:g} s spent (mpmath.odefun at dps = {dps})"
            ts = ts[:len(ls)]
        if status is None:
            status, msg = Status.NOT_CONVERGED, f"reached t_max = {t_max:g} with loss {mpmath.nstr(ls[-1], 5)}"
        from numerics._arith import mp_array

        inc = max([ls[j + 1] - ls[j] for j in range(len(ls) - 1)] + [mpmath.mpf(0)])
        wn = config.rates == "wn"
        Uf = np.array([[float(U[a, b]) for b in range(k)] for a in range(d)])
        U_mp = np.empty((d, k), dtype=object)
        for a in range(d):
            for b in range(k):
                U_mp[a, b] = U[a, b]
        return MatrixFlowResult(status, msg, config, "mpmath.odefun", np.array([float(v) for v in ts]),
                                np.array([float(v) for v in ls]), np.array([float(v) for v in vs]),
                                np.array([float(v) for v in rs]), Uf, len(ts) - 1, float(inc), len(ls) - 1,
                                float(loss_tol), dps, time.perf_counter() - t0w,
                                vnorm_drift=max(abs(v - vs[0]) for v in vs) if wn else float("nan"),
                                vnorm_exact=mp_array(vs) if wn else None, U_final_exact=U_mp, loss_final_exact=ls[-1])


class _OutOfTime(Exception):
    pass


def _as_mat(z, d, k):
    import mpmath

    M = mpmath.matrix(d, k)
    for a in range(d):
        for b in range(k):
            M[a, b] = z[a * k + b]
    return M


# ----------------------------------------------------------------------------- GD, batched
@dataclass(frozen=True)
class MatrixGDResult:
    """A batch of ``B`` runs: ``loss[j, b]`` before iteration ``iters[j]``; final ``U`` (``B×d×k``),
    ``r``/``vnorm`` (nan for plain GD); ``status[b]`` CONVERGED / NOT_CONVERGED / DIVERGED."""

    U: np.ndarray
    r: np.ndarray
    vnorm: np.ndarray
    loss: np.ndarray
    iters: np.ndarray
    hit_tol_at: np.ndarray
    status: tuple
    steps: int
    mu: float
    wall_time: float

    @property
    def X(self) -> np.ndarray:
        return self.U @ np.swapaxes(self.U, -1, -2)


def _gd_loop(problem, state, step_fn, U_of, steps, mu, loss_tol, record_every, time_limit):
    steps = _positive_int("steps", steps, 1)
    record_every = _positive_int("record_every", record_every or max(1, steps // 200), 1)
    if not (math.isfinite(mu) and mu > 0):
        raise ValueError(f"mu must be a positive finite step size, got {mu!r}")
    t0 = time.perf_counter()
    loss0, g = gradient_U(problem, U_of(state))
    B = loss0.shape[0]
    active = np.ones(B, dtype=bool)
    hit = np.full(B, -1)
    diverged = np.zeros(B, dtype=bool)
    rec_l, rec_i = [loss0.copy()], [0]
    loss = loss0
    hit[loss0 <= loss_tol] = 0
    active &= loss0 > loss_tol
    it = 0
    for it in range(1, steps + 1):
        state = step_fn(state, g, mu, active)
        loss_new, g = gradient_U(problem, U_of(state))
        loss = np.where(active, loss_new, loss)
        bad = active & (~np.isfinite(loss) | (loss > DIVERGENCE_FACTOR * np.maximum(loss0, 1e-300)))
        diverged |= bad
        done = active & (loss <= loss_tol)
        hit[done] = it
        active &= ~(bad | done)
        if it % record_every == 0 or it == steps or not active.any():
            rec_l.append(loss.copy()), rec_i.append(it)
        if not active.any():
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
    status = tuple(Status.DIVERGED if diverged[b] else Status.CONVERGED if hit[b] >= 0 else Status.NOT_CONVERGED
                   for b in range(B))
    return state, np.array(rec_l), np.array(rec_i), hit, status, it, time.perf_counter() - t0


def gd_matrix(problem: MatrixSensingProblem, U0: np.ndarray, *, mu: float, steps: int, loss_tol: float = 0.0,
              record_every: Optional[int] = None, time_limit: Optional[float] = None) -> MatrixGDResult:
    """Plain GD ``U ← U − μ(G + Gᵀ)U`` on a batch ``U0`` of shape ``(B, d, k)``."""
    U0 = _batch_U(problem, U0)

    def step(U, g, mu_, active):
        return np.where(active[:, None, None], U - mu_ * g, U)

    U, L, it, hit, st, n, wall = _gd_loop(problem, U0, step, lambda U: U, steps, float(mu), loss_tol,
                                          record_every, time_limit)
    nan = np.full(U.shape[0], np.nan)
    return MatrixGDResult(U, nan, nan, L, it, hit, st, n, float(mu), wall)


def wn_gd_matrix(problem: MatrixSensingProblem, r0, V0: np.ndarray, *, eta_r: float, eta_V: float, mu: float,
                 steps: int, loss_tol: float = 0.0, record_every: Optional[int] = None,
                 time_limit: Optional[float] = None) -> MatrixGDResult:
    """WN-GD ``r ← r − μη_r⟨∇_Uℒ, V̄⟩``, ``V ← V − μη_V (r/‖V‖)(∇_Uℒ − ⟨∇_Uℒ, V̄⟩V̄)`` (docs/math.md §9.4;
    the actual ``‖V_k‖_F``, which the discrete map lets grow by ``O(μ²)`` per step), batched."""
    V0 = _batch_U(problem, V0)
    B = V0.shape[0]
    r0 = np.broadcast_to(np.asarray(r0, dtype=float), (B,)).copy()
    if not np.all(np.isfinite(r0) & (r0 > 0)):
        raise ValueError("r0 must be positive and finite")
    for name, v in (("eta_r", eta_r), ("eta_V", eta_V)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")

    def U_of(s):
        r, V = s
        nu = np.linalg.norm(V.reshape(B, -1), axis=1)
        return (r / nu)[:, None, None] * V

    def step(s, g, mu_, active):
        r, V = s
        nu = np.linalg.norm(V.reshape(B, -1), axis=1)
        Vb = V / nu[:, None, None]
        sigma = np.sum(g * Vb, axis=(1, 2))
        r_new = r - mu_ * eta_r * sigma
        V_new = V - mu_ * eta_V * (r / nu)[:, None, None] * (g - sigma[:, None, None] * Vb)
        return (np.where(active, r_new, r), np.where(active[:, None, None], V_new, V))

    (r, V), L, it, hit, st, n, wall = _gd_loop(problem, (r0, V0), step, U_of, steps, float(mu), loss_tol,
                                               record_every, time_limit)
    return MatrixGDResult(U_of((r, V)), r, np.linalg.norm(V.reshape(B, -1), axis=1), L, it, hit, st, n, float(mu), wall)


def _batch_U(problem, U0):
    U0 = np.array(U0, dtype=float)
    if U0.ndim == 2:
        U0 = U0[None]
    if U0.ndim != 3 or U0.shape[1] != problem.d:
        raise ValueError(f"the initialisation must be (B, d, k) with d = {problem.d}, got shape {U0.shape}")
    if not np.all(np.isfinite(U0)):
        raise ValueError("the initialisation has non-finite entries")
    return U0


def curvature_step(problem: MatrixSensingProblem, scale: float, c: float = 0.5) -> float:
    """A step size ``c / (4 ‖𝒜‖² · max(scale², ‖X*‖))``: the loss's curvature in ``U`` at ``‖U‖_F ≈ scale``
    is at most ``4‖𝒜‖²(‖U‖² + …)`` (``‖𝒜‖`` the operator norm of ``X ↦ (⟨A_i, X⟩)``)."""
    op = np.linalg.norm(problem.A_sym.reshape(problem.m, -1), 2)
    size = max(scale ** 2, float(np.trace(problem.X_true)) if problem.X_true is not None else 1.0)
    return c / (4.0 * op ** 2 * size)


# ------------------------------------------------------------------- nuclear-norm reference
@dataclass(frozen=True)
class NuclearNormResult:
    """``X`` minimising ``tr X`` over ``{⟨A_i, X⟩ = y_i, X ⪰ 0}``, and the accuracy reached:
    ``primal_residual = max_i |⟨A_i, X⟩ − y_i|``, ``psd_violation = max(0, −λ_min(X))``,
    ``dual_infeasibility = max(0, −λ_min(I − Σλ_i sym A_i))``, ``gap = tr X − yᵀλ``."""

    status: Status
    message: str
    X: Optional[np.ndarray]
    value: float
    dual_value: float
    primal_residual: float
    psd_violation: float
    dual_infeasibility: float
    gap: float
    solver: str
    wall_time: float

    def as_dict(self) -> dict:
        return {k: (v.value if isinstance(v, Status) else v) for k, v in self.__dict__.items() if k != "X"}


def nuclear_norm_min(problem: MatrixSensingProblem, *, solver: str = "CLARABEL") -> NuclearNormResult:
    """The nuclear-norm minimiser over PSD matrices (docs/math.md §9.5) via cvxpy.

    Raises :class:`numerics._status.MachineryMissing` naming the extra ``matrix`` when cvxpy
    (or the solver) is not installed."""
    try:
        import cvxpy as cp
    except ImportError as exc:
        _missing("cvxpy", exc)
    if solver not in cp.installed_solvers():
        _missing(solver.lower(), ImportError(f"cvxpy has no {solver}; installed: {cp.installed_solvers()}"))
    t0 = time.perf_counter()
    d, S = problem.d, problem.A_sym
    X = cp.Variable((d, d), PSD=True)
    cons = [cp.sum(cp.multiply(S[i], X)) == problem.y[i] for i in range(problem.m)]
    prob = cp.Problem(cp.Minimize(cp.trace(X)), cons)
    try:
        with warnings.catch_warnings():   # an inaccurate solve is reported as NOISE_FLOOR below
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=solver)
    except cp.error.SolverError as exc:
        return NuclearNormResult(Status.FAILED, f"{solver}: {exc}", None, *(float("nan"),) * 6, solver,
                                 time.perf_counter() - t0)
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        return NuclearNormResult(Status.INCONSISTENT, f"{solver}: {prob.status}", None, *(float("nan"),) * 6, solver,
                                 time.perf_counter() - t0)
    if X.value is None:
        return NuclearNormResult(Status.FAILED, f"{solver}: {prob.status}", None, *(float("nan"),) * 6, solver,
                                 time.perf_counter() - t0)
    Xv = 0.5 * (X.value + X.value.T)
    lam = np.array([float(c.dual_value) for c in cons])
    # cvxpy's Lagrangian is f + Σλ_i(⟨A_i,X⟩ − y_i): stationarity I + Σλ_i A_i − Z = 0, so the
    # dual variable of the textbook form (I − Σμ_i A_i ⪰ 0, max yᵀμ) is μ = −λ.
    mu = -lam
    Z = np.eye(d) - np.einsum("m,mij->ij", mu, S)
    prim = float(np.max(np.abs(problem.measure(Xv) - problem.y)))
    psd = max(0.0, -float(np.linalg.eigvalsh(Xv)[0]))
    dual_inf = max(0.0, -float(np.linalg.eigvalsh(0.5 * (Z + Z.T))[0]))
    val, dval = float(np.trace(Xv)), float(problem.y @ mu)
    st = Status.CONVERGED if prob.status == "optimal" else Status.NOISE_FLOOR
    return NuclearNormResult(st, f"{solver}: {prob.status}", Xv, val, dval, prim, psd, dual_inf, val - dval, solver,
                             time.perf_counter() - t0)


def _missing(what, exc):
    raise MachineryMissing(what, f"the nuclear-norm SDP needs the optional extra '{MATRIX_EXTRA}': "
                                 f"pip install 'wnbias[{MATRIX_EXTRA}]' (cvxpy, clarabel)") from exc


def nuclear_norm(X: np.ndarray) -> float:
    """``‖X‖_*`` (sum of singular values)."""
    return float(np.sum(np.linalg.svd(np.asarray(X, dtype=float), compute_uv=False)))


def effective_rank(X: np.ndarray, rel: float = 1e-3) -> int:
    """The number of singular values above ``rel`` times the largest."""
    s = np.linalg.svd(np.asarray(X, dtype=float), compute_uv=False)
    return int(np.sum(s > rel * s[0])) if s[0] > 0 else 0


# ------------------------------------------------------------ the asymmetric factorisation
def integrate_asym(problem: MatrixSensingProblem, k: int, alpha: float, *, rates: str = "plain",
                   eta_r: float = 1.0, eta_V: float = 1.0, t_max: float = 20.0, seed: int = 0,
                   rtol: float = 1e-12, atol: float = 1e-14) -> dict:
    """GF of ``X = UWᵀ`` (``∇_U = GW``, ``∇_W = GᵀU``, docs/math.md §9.3) or WN-GF with the polar form
    for ``U`` and ``W`` separately (same ``η_r, η_V``), by DOP853.  Returns the largest deviation
    along the accepted steps of the balancedness matrix ``UᵀU − WᵀW`` (Frobenius) and of its trace,
    each relative to ``max(1, ‖(UᵀU − WᵀW)(0)‖, ‖U₀‖², ‖W₀‖²)``, and the final loss."""
    from scipy.integrate import solve_ivp

    d, m = problem.d, problem.m
    A = problem.A
    dirs = init_directions(d, k, 2, seed)
    U0, W0 = alpha * dirs[0], alpha * dirs[1]

    def G_of(U, W):
        res = np.einsum("mij,ij->m", A, U @ W.T) - problem.y
        return np.einsum("m,mij->ij", res, A), 0.5 * float(res @ res)

    if rates == "plain":
        z0 = np.concatenate([U0.ravel(), W0.ravel()])

        def f(t, z):
            U, W = z[:d * k].reshape(d, k), z[d * k:].reshape(d, k)
            G, _ = G_of(U, W)
            return np.concatenate([(-G @ W).ravel(), (-G.T @ U).ravel()])

        def UW(z):
            return z[:d * k].reshape(d, k), z[d * k:].reshape(d, k)
    elif rates == "wn":
        rU, rW = np.linalg.norm(U0), np.linalg.norm(W0)
        z0 = np.concatenate([[rU], (U0 / rU).ravel(), [rW], (W0 / rW).ravel()])
        n = d * k

        def UW(z):
            V, Z = z[1:1 + n].reshape(d, k), z[2 + n:].reshape(d, k)
            return z[0] * V / np.linalg.norm(V), z[1 + n] * Z / np.linalg.norm(Z)

        def part(r, V, g):
            nu = np.linalg.norm(V)
            Vb = V / nu
            s = float(np.sum(g * Vb))
            return -eta_r * s, (-eta_V * (r / nu) * (g - s * Vb)).ravel()

        def f(t, z):
            U, W = UW(z)
            G, _ = G_of(U, W)
            a, b = part(z[0], z[1:1 + n].reshape(d, k), G @ W)
            c, e = part(z[1 + n], z[2 + n:].reshape(d, k), G.T @ U)
            return np.concatenate([[a], b, [c], e])
    else:
        raise ValueError(f"rates must be 'plain' or 'wn', got {rates!r}")
    sol = solve_ivp(f, (0.0, t_max), z0, method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        from numerics._status import NumericalError

        raise NumericalError(Status.FAILED, f"DOP853: {sol.message}")
    B0 = U0.T @ U0 - W0.T @ W0
    scale = max(1.0, float(np.linalg.norm(B0)), float(np.sum(U0 ** 2)), float(np.sum(W0 ** 2)))
    dev_mat, dev_tr, loss = 0.0, 0.0, float("nan")
    for j in range(sol.y.shape[1]):
        U, W = UW(sol.y[:, j])
        Bj = U.T @ U - W.T @ W
        dev_mat = max(dev_mat, float(np.linalg.norm(Bj - B0)) / scale)
        dev_tr = max(dev_tr, abs(float(np.trace(Bj - B0))) / scale)
    U, W = UW(sol.y[:, -1])
    loss = G_of(U, W)[1]
    return {"balancedness_dev": dev_mat, "trace_dev": dev_tr, "loss_final": loss, "loss_initial": G_of(U0, W0)[1],
            "steps": int(sol.y.shape[1] - 1), "t_max": t_max}


# -------------------------------------------- generalized WN (Stiefel direction, symmetric magnitude)
def wn_rgd_matrix(problem: MatrixSensingProblem, X0: np.ndarray, Theta0: np.ndarray, *, mu: float, steps: int,
                  loss_tol: float = 0.0, record_every: Optional[int] = None,
                  time_limit: Optional[float] = None) -> MatrixGDResult:
    """The *generalized* weight normalisation of Wei, Zhang, Li, He (2025, arXiv:2510.01175), which
    differs from the scalar polar form ``U = rV/‖V‖_F``: ``U U ᵀ = XΘXᵀ`` with a direction ``X`` on the
    Stiefel manifold ``St(d, k)`` (``XᵀX = I``) and a symmetric magnitude ``Θ ∈ S^k``; Riemannian GD on
    ``ℒ = ½Σ(⟨A_i, XΘXᵀ⟩ − y_i)²``: the Euclidean gradient ``2 sym(G) X Θ`` projected on the tangent
    space at ``X``, a QR retraction, and ``Θ ← Θ − μ Xᵀ sym(G) X``.  One run (not batched).

    The returned ``U`` is ``X Θ^{1/2}`` when ``Θ ⪰ 0`` (else ``nan``); ``r`` holds ``‖Θ‖_F``."""
    X = np.array(X0, dtype=float)
    Th = np.array(Theta0, dtype=float)
    d, k = X.shape
    if d != problem.d or Th.shape != (k, k):
        raise ValueError(f"X0 must be d×k with d = {problem.d} and Theta0 k×k, got {X.shape} and {Th.shape}")
    if np.max(np.abs(X.T @ X - np.eye(k))) > 1e-10:
        raise ValueError("X0 must have orthonormal columns (a point of the Stiefel manifold)")
    steps = _positive_int("steps", steps, 1)
    rec = _positive_int("record_every", record_every or max(1, steps // 200), 1)
    if not (math.isfinite(mu) and mu > 0):
        raise ValueError(f"mu must be a positive finite step size, got {mu!r}")
    S, y = problem.A_sym, problem.y
    t0 = time.perf_counter()
    losses, iters = [], []
    status, hit, loss0 = Status.NOT_CONVERGED, -1, None
    it = 0
    for it in range(steps + 1):
        res = np.einsum("mij,ij->m", S, X @ Th @ X.T) - y
        loss = 0.5 * float(res @ res)
        loss0 = loss if loss0 is None else loss0
        if it % rec == 0 or loss <= loss_tol or it == steps:
            losses.append(loss), iters.append(it)
        if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(loss0, 1e-300):
            status = Status.DIVERGED
            break
        if loss <= loss_tol:
            status, hit = Status.CONVERGED, it
            break
        if it == steps or (time_limit is not None and time.perf_counter() - t0 > time_limit):
            break
        Gs = np.einsum("m,mij->ij", res, S)
        gT = X.T @ Gs @ X                                   # ∇_Θ ℒ (symmetric)
        gX = 2.0 * Gs @ X @ Th
        gX -= X @ (0.5 * (X.T @ gX + gX.T @ X))             # projection on the tangent space of St(d, k)
        Q, R = np.linalg.qr(X - mu * gX)                    # QR retraction (signs fixed: R has a positive diagonal)
        X = Q * np.where(np.diag(R) < 0, -1.0, 1.0)
        Th = Th - mu * gT
        Th = 0.5 * (Th + Th.T)
    ev, P = np.linalg.eigh(Th)
    U = (X @ P * np.sqrt(ev)) if ev.min() >= 0 else np.full((d, k), np.nan)
    return MatrixGDResult(U[None], np.array([np.linalg.norm(Th)]), np.array([1.0]), np.array(losses)[:, None],
                          np.array(iters), np.array([hit]), (status,), it, float(mu), time.perf_counter() - t0)
