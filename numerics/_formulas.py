"""Each formula of docs/math.md §3–§5 in one place, in both arithmetics of the toolkit.

The elementwise formulas are the generated :mod:`numerics._derived` (printed from ``theory/`` by
``python -m theory.export``); this module applies them to the two kinds of value of
:mod:`numerics._arith`:

* float64: ``numpy`` float arrays or floats (evaluated with ``lib = numpy``, broadcasting);
* ``dps`` digits: ``dtype=object`` arrays of ``mpmath.mpf`` or ``mpf`` scalars (evaluated
  elementwise with ``lib = mpmath``; call inside :func:`numerics._precision.workdps`).

A value is high precision when any argument is an ``mpf`` or an object array; the result then is
an object array of ``mpf`` (an ``mpf`` for scalar arguments).

The bases of ``range(Aᵀ)``: in float64 :func:`scipy.linalg.orth` (``scipy.linalg.null_space`` for
the kernel); at ``dps`` digits the rank is decided *exactly* on the given (float64 or mpf) entries by
python-flint (``fmpq_mat.rref``: no rank threshold), and an orthonormal basis of the independent rows
is computed at ``dps`` digits in arb arithmetic (a float64 QR as preconditioner, then Cholesky–QR
passes until orthonormal, with the working precision raised for an ill-conditioned ``A``; the
orthonormality and the span are checked before the basis is returned).  Measured (this machine,
loaded): 40×100 at dps 30 in 0.3 s, 40×200 at dps 40 in 0.3 s (the former pivoted Gram–Schmidt in
mpmath: 0.8–1 s and ~5 s).

The one other copy of these formulas is the independent hand-written check
:mod:`numerics._fields`; :mod:`numerics._certify` keeps ball-arithmetic versions (a third
arithmetic).  Nothing here imports sympy.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np

from numerics import _derived as _D
from numerics._precision import GUARD_DIGITS, check_mp_dps, workdps
from numerics._status import NumericalError, Status

__all__ = [
    "log_L", "s_of_r", "log_rho", "log_beta", "log_alpha_eff", "log_direction", "invariant_h",
    "plain_invariant", "range_basis", "kernel_basis", "kernel_residual", "kernel_norms",
]


# ----------------------------------------------------------------------------- arithmetic dispatch
def _is_mp(*values) -> bool:
    """True when any value is an ``mpf`` or a ``dtype=object`` array (the high-precision kind)."""
    for v in values:
        if isinstance(v, mpmath.mpf) or (isinstance(v, np.ndarray) and v.dtype == object):
            return True
        if isinstance(v, (list, tuple)) and any(isinstance(t, mpmath.mpf) for t in v):
            return True
    return False


def _apply(f, *args):
    """``f(*args, lib)`` in the arithmetic of ``args`` (elementwise with mpmath for mpf values)."""
    if _is_mp(*args):
        return np.frompyfunc(lambda *a: f(*a, mpmath), len(args), 1)(*args)
    return f(*(np.asarray(a, dtype=float) if isinstance(a, (list, tuple)) else a for a in args), np)


def _vec(v):
    """A list or tuple as an array of its arithmetic (object for mpf entries); other values unchanged."""
    if isinstance(v, (list, tuple)):
        return np.asarray(v, dtype=object if _is_mp(v) else float)
    return v


def _log(v):
    """Elementwise ``log`` (``-inf`` at 0, no warning) in the arithmetic of ``v``."""
    if _is_mp(v):
        return np.frompyfunc(mpmath.log, 1, 1)(v)
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(v, dtype=float))


# ----------------------------------------------------------------------------- scalar formulas
def log_L(v, L):
    """The ``L``-logarithm ``(v^{2−L} − 1)/(2 − L)``; ``log v`` at ``L = 2`` (docs/math.md §3.3)."""
    return _apply(_D.log_L, v, L)


def s_of_r(r, r0, eta_tilde):
    """``s = (r² − r0²)/(2η̃)`` (docs/math.md §3.3)."""
    return _apply(_D.s_of_r, r, r0, eta_tilde)


def log_rho(r, r0, eta_tilde):
    """``log ρ = log(r0/r) + (r² − r0²)/(2η̃)`` (docs/math.md §4; ρ itself leaves float64's range)."""
    return _apply(_D.log_rho, r, r0, eta_tilde)


def log_beta(log_w0, log_rho, L):
    """``log β = L (log w0 − log ρ)``, like ``log_w0`` (docs/math.md §4)."""
    return _apply(_D.log_beta, log_w0, log_rho, L)


def log_alpha_eff(r0, n, log_rho):
    """``log α_eff = log r0 − ½ log n − log ρ`` (uniform ``u0``; docs/math.md §5)."""
    return _apply(_D.log_alpha_eff, r0, n, log_rho)


def log_direction(u=None, *, log_u=None):
    """``log ū = log u − log‖u‖`` for a 1-D ``u`` (or from ``log_u``, stably: ``‖u‖`` is formed as
    ``max + ½ log Σ e^{2(log u − max)}``, so components of ``u`` that underflow are fine).

    Exactly one of ``u`` and ``log_u`` is given; zero components of ``u`` give ``-inf``.
    Raises ``ValueError`` for a vector that is not 1-D, holds a non-finite ``log_u`` (or a
    negative/non-finite ``u``), or is zero."""
    if (u is None) == (log_u is None):
        raise ValueError("log_direction: give exactly one of u and log_u")
    if log_u is not None:
        lu = log_u if isinstance(log_u, np.ndarray) else np.asarray(log_u, dtype=object if _is_mp(*log_u) else float)
        if lu.ndim != 1 or lu.size == 0:
            raise ValueError(f"log_u must be a non-empty 1-D vector, got shape {lu.shape}")
        if lu.dtype != object:
            finite = bool(np.isfinite(lu).all())
        else:
            finite = all(math.isfinite(float(t)) or (_is_mp(t) and mpmath.isfinite(t)) for t in lu)
        if not finite:
            raise ValueError("log_u must hold finite numbers")
    else:
        uu = u if isinstance(u, np.ndarray) else np.asarray(u, dtype=object if _is_mp(*u) else float)
        if uu.ndim != 1 or uu.size == 0:
            raise ValueError(f"u must be a non-empty 1-D vector, got shape {uu.shape}")
        bad = ([t for t in uu if not (t >= 0 and (mpmath.isfinite(t) if _is_mp(t) else math.isfinite(float(t))))]
               if uu.dtype == object else uu[~(np.isfinite(uu) & (uu >= 0))])
        if len(bad):
            raise ValueError(f"u must hold finite nonnegative entries, got {bad[0]!r}")
        lu = _log(uu)
    if _is_mp(lu):
        top = max(lu)
        if top == mpmath.ninf:
            raise ValueError("u must not be zero")
        log_m = top + mpmath.log(mpmath.fsum(mpmath.exp(2 * (t - top)) for t in lu)) / 2
        return lu - log_m
    top = float(np.max(lu))
    if top == -math.inf:
        raise ValueError("u must not be zero")
    log_m = top + 0.5 * math.log(float(np.sum(np.exp(2.0 * (lu - top)))))
    return lu - log_m


def invariant_h(log_ubar, log_ubar0, s, L, *, s_sign=1):
    """The WN invariant ``h_η = log_L(ū e^{s}) − log_L(ū0)`` in log form (docs/math.md §3.3):
    with ``d = (log ū + s) − log ū0``, ``h = d`` at ``L = 2`` and ``ū0^{2−L} expm1((2−L) d)/(2−L)``
    otherwise (``numerics._derived.h_log``) — no ``e^{s}`` is formed and small ``h`` has no
    cancellation.  ``s_sign = −1`` gives the deliberately wrong ``e^{−s}`` (a falsification check).

    With ``s = 0`` and ``log w``, ``log w0`` in place of ``log ū``, ``log ū0`` it is the plain-GF /
    ``(r², 1)`` invariant ``log_L(w) − log_L(w0)`` of docs/math.md §3.4–§3.5."""
    if s_sign not in (1, -1):
        raise ValueError(f"s_sign must be 1 or -1, got {s_sign!r}")
    log_ubar, log_ubar0 = _vec(log_ubar), _vec(log_ubar0)
    d = (log_ubar + s_sign * s) - log_ubar0
    return _apply(_D.h_log, d, log_ubar0, L)


def plain_invariant(w, w0, L):
    """``log_L(w) − log_L(w0)``, the invariant of plain GF and of the rates ``(r², 1)``
    (docs/math.md §3.4–§3.5), in the log form of :func:`invariant_h` (``s = 0``)."""
    lw, lw0 = _log(_vec(w)), _log(_vec(w0))
    return _apply(_D.h_log, lw - lw0, lw0, L)


# ----------------------------------------------------------------------------- bases
def _fmpq(v):
    import flint

    if isinstance(v, mpmath.mpf):
        if not mpmath.isfinite(v):
            raise ValueError(f"A must hold finite numbers, got {v!r}")
        sign, man, exp, _ = v._mpf_
        man, exp = (-int(man) if sign else int(man)), int(exp)
        return flint.fmpq(man * 2 ** exp) if exp >= 0 else flint.fmpq(man, 2 ** (-exp))
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"A must hold finite numbers, got {v!r}")
    p, q = f.as_integer_ratio()
    return flint.fmpq(p, q)


def _exact_matrix(A):
    """The exact matrix of the entries of ``A`` as an fmpq_mat: for float64 ``A`` built from the
    integers ``2^{−k}·A`` (one common binary scaling, which leaves the row space unchanged), for
    ``mpf`` entries from each value taken exactly."""
    import flint

    M, n = A.shape
    if A.dtype != object:
        Af = np.asarray(A, dtype=float)
        if not np.all(np.isfinite(Af)):
            raise ValueError("A must hold finite numbers")
        f, e = np.frexp(Af)
        m = (f * 2.0 ** 53).astype(np.int64)  # exact: |f| < 1 has 53 significant bits
        e = e.astype(np.int64) - 53
        emin = int(e[m != 0].min()) if np.any(m != 0) else 0
        ints = [int(a) << (int(b) - emin) if a else 0 for a, b in zip(m.reshape(-1).tolist(), e.reshape(-1).tolist())]
        return flint.fmpq_mat(flint.fmpz_mat(M, n, ints))
    return flint.fmpq_mat(M, n, [_fmpq(v) for v in A.reshape(-1).tolist()])


def _independent_rows(Aexact):
    """Indices of a maximal set of linearly independent rows of the exact matrix: the pivot columns
    of the exact reduced row echelon form of ``Aᵀ`` (python-flint; no threshold)."""
    out = Aexact.transpose().rref()
    R, rank = out[0], out[-1]
    piv, col = [], 0
    for i in range(rank):
        while R[i, col] == 0:
            col += 1
        piv.append(col)
        col += 1
    return piv


def _cholesky_lower(G):
    """Lower Cholesky factor of the symmetric ``G`` (lists of mpf), or None if not positive."""
    r = len(G)
    C = [[mpmath.mpf(0)] * r for _ in range(r)]
    for j in range(r):
        d = G[j][j] - mpmath.fdot(C[j][:j], C[j][:j])
        if not d > 0:
            return None
        cjj = mpmath.sqrt(d)
        C[j][j] = cjj
        for i in range(j + 1, r):
            C[i][j] = (G[i][j] - mpmath.fdot(C[i][:j], C[j][:j])) / cjj
    return C


def _binom_half(k: int):
    """The binomial coefficient ``C(−1/2, k)`` (the series ``(1 + e)^{−1/2} = Σ_k C(−1/2, k) e^k``), exact."""
    import flint

    c = flint.fmpq(1)
    for j in range(k):
        c = c * flint.fmpq(-1 - 2 * j, 2 * (j + 1))
    return c


def _inv_sqrt_series(E, eye, bound: float, tol: float):
    """``(I + E)^{−1/2} = Σ_k C(−1/2, k) E^k`` (arb_mat midpoints) summed until ``bound^{k+1} ≤ tol``, where
    ``bound < 1`` bounds the norm of the symmetric ``E`` (so the neglected terms are about ``bound^{k+1}``)."""
    import flint

    if not 0 <= bound < 1:  # the series converges only for ‖E‖ < 1 (a NaN bound fails this too)
        raise ValueError(f"_inv_sqrt_series needs a bound in [0, 1), got {bound!r}")
    S, power, k = eye, eye, 0
    while True:
        k += 1
        power = (power * E).mid()
        S = (S + power * flint.arb(_binom_half(k))).mid()
        if bound ** (k + 1) <= tol:
            return S


def _max_abs(X) -> float:
    return max(abs(float(x)) for x in X.entries())


def _to_mpf(a):
    man, exp = a.man_exp()
    return mpmath.mpf((int(man), int(exp)))


def _orthonormal_rows(B, Bf, digits: int):
    """Rows of an orthonormal basis of the row space of the full-row-rank ``B`` (arb_mat, exact
    entries) at ``digits`` digits, with the orthonormality error ``max|QQᵀ − I|`` and the span error
    ``max|B − BQᵀQ| / max|B|`` (measured; or bounded a priori, see below); None on breakdown.

    Preconditioned by a float64 QR of ``Bf`` (``Q = R⁻ᵀB`` is then orthonormal to about ``eps·cond``),
    then ``Q ← G^{−1/2}Q`` (``G = QQᵀ``; the binomial series in ``G − I`` once that is small, else a
    Cholesky–QR pass ``Q ← C⁻¹Q``, ``G = CCᵀ``) until orthonormal; every product is an arb product
    (python-flint).  Left multiplications keep the row space: each moves it by at most the
    rounding of one product, ``2^{−prec}`` times ``cond(B)`` (estimated in float64 as ``‖R⁻ᵀ‖‖B‖``);
    where that bound is not small enough, or the float64 preconditioner failed, the span error is
    measured instead."""
    import flint

    r = B.nrows()
    tol = 10.0 ** (-digits + 3)
    Q, cond = B, math.inf
    try:
        Rf = np.linalg.qr(Bf.T, mode="r")
        T = np.linalg.inv(Rf.T)
        if np.all(np.isfinite(T)):
            Q = (flint.arb_mat(T.tolist()) * B).mid()
            cond = float(np.linalg.norm(T, 2) * np.linalg.norm(Bf, 2))
    except np.linalg.LinAlgError:
        pass
    orth = math.inf
    eye = flint.arb_mat(r, r, [1 if i == j else 0 for i in range(r) for j in range(r)])
    for _ in range(8):
        G = (Q * Q.transpose()).mid()
        E = (G - eye).mid()
        orth = _max_abs(E)
        if orth <= tol:
            break
        if r * orth <= 0.05:  # near orthonormal: Q ← G^{−1/2} Q by the binomial series in E = G − I
            Q = (_inv_sqrt_series(E, eye, r * orth, tol * 1e-3) * Q).mid()
            continue
        with mpmath.workdps(digits):
            C = _cholesky_lower([[_to_mpf(G[i, j]) for j in range(r)] for i in range(r)])
            if C is None:
                return None
            Ca = flint.arb_mat(r, r, [flint.arb(_fmpq(C[i][j])) if j <= i else flint.arb(0)
                                      for i in range(r) for j in range(r)])
        Q = (Ca.inv().mid() * Q).mid()
    if math.isfinite(cond) and cond * B.ncols() * 10.0 ** (-digits) <= tol * 1e-3:
        span = cond * B.ncols() * 10.0 ** (-digits)
    else:
        Bm = B.mid()
        span = _max_abs((Bm - (Bm * Q.transpose()).mid() * Q).mid()) / _max_abs(Bm)
    return Q, orth, span


def _range_basis_mp(A, dps: int) -> np.ndarray:
    import flint

    M, n = A.shape
    Aexact = _exact_matrix(A)
    piv = _independent_rows(Aexact)
    r = len(piv)
    if r == 0:
        return np.empty((n, 0), dtype=object)
    Bf = np.array([[float(A[i, k]) for k in range(n)] for i in piv], dtype=float)
    target = dps + GUARD_DIGITS
    extra = 0
    old = flint.ctx.prec
    try:
        for _ in range(6):
            digits = target + extra
            flint.ctx.prec = int(math.ceil(digits * 3.3219280948873626)) + 16
            if A.dtype != object:
                B = flint.arb_mat(Bf.tolist())  # float64 entries: exact
            else:
                ents = Aexact.entries()
                B = flint.arb_mat(r, n, [flint.arb(ents[i * n + k]) for i in piv for k in range(n)])
            out = _orthonormal_rows(B, Bf, digits)
            if out is not None:
                Q, orth, span = out
                if orth <= 10.0 ** (-target + 3) and span <= 10.0 ** (-target + 3):
                    break
            extra = max(2 * extra, 20)
        else:
            raise NumericalError(Status.FAILED, f"range_basis: no orthonormal basis of the rank-{r} row space "
                                                f"at {target + extra} digits")
        with workdps(dps):
            make, from_man_exp, prec = mpmath.mp.make_mpf, mpmath.libmp.from_man_exp, mpmath.mp.prec
            MPZ = mpmath.libmp.MPZ
            vals = [make(from_man_exp(MPZ(int(m)), int(e), prec, "n"))
                    for m, e in (x.man_exp() for x in Q.transpose().mid().entries())]
        out = np.empty(n * r, dtype=object)
        out[:] = vals
        return out.reshape(n, r)
    finally:
        flint.ctx.prec = old


def range_basis(A, *, dps=None) -> np.ndarray:
    """Orthonormal basis (columns, ``n × rank``) of ``range(Aᵀ)``.

    ``dps=None``: float64 :func:`scipy.linalg.orth` of ``Aᵀ`` (rank cut at ``max(M, n)·eps·σ_max``).
    ``dps``: an object array of ``mpf`` at ``dps`` digits (plus guard digits); the rank is the exact
    rank of the given entries (float64 values, or mpf values, taken exactly)."""
    if dps is None:
        import scipy.linalg

        A = np.asarray(A, dtype=float)
        if A.ndim != 2 or A.size == 0:
            raise ValueError(f"A must be a non-empty 2-D matrix, got shape {A.shape}")
        return scipy.linalg.orth(A.T)
    dps = check_mp_dps(dps)
    A = np.asarray(A)
    if A.dtype == object and not any(isinstance(v, mpmath.mpf) for v in A.reshape(-1).tolist()):
        A = A.astype(float)  # python numbers: float64 data
    elif A.dtype != object:
        A = A.astype(float)
    if A.ndim != 2 or A.size == 0:
        raise ValueError(f"A must be a non-empty 2-D matrix, got shape {A.shape}")
    return _range_basis_mp(A, dps)


def kernel_basis(A) -> np.ndarray:
    """Float64 orthonormal basis (columns) of ``ker(A)`` (:func:`scipy.linalg.null_space`)."""
    import scipy.linalg

    return scipy.linalg.null_space(np.asarray(A, dtype=float))


def kernel_residual(A, h, *, dps=None, basis=None):
    """``(‖P_ker(A) h‖, ‖h‖)`` with ``P_ker(A) h = h − Q Qᵀ h``, ``Q`` = :func:`range_basis` (or the
    given ``basis``, e.g. computed once for many ``h``; then ``A`` may be None).

    Callers divide by ``max(‖h‖, scale)`` as their check needs (docs/math.md §3.3).  Both norms are
    Python floats; with ``dps`` they are computed at ``dps`` digits (``h``: float64 entries taken
    exactly, or mpf; ``basis`` must then be a high-precision one) and rounded once at the end."""
    Q = basis if basis is not None else range_basis(A, dps=dps)
    if dps is None:
        hv = np.asarray(h, dtype=float).reshape(-1)
        Q = np.asarray(Q, dtype=float)
        if Q.shape[0] != hv.size:
            raise ValueError(f"h has {hv.size} entries, the basis {Q.shape[0]} rows")
        ph = hv - Q @ (Q.T @ hv)
        return float(np.linalg.norm(ph)), float(np.linalg.norm(hv))
    num, den = kernel_norms(h, Q, dps=dps)
    return float(num), float(den)


def kernel_norms(h, basis, *, dps: int):
    """``(‖h − QQᵀh‖, ‖h‖)`` as ``mpf`` computed at ``dps`` digits, ``Q = basis`` a high-precision basis
    of :func:`range_basis` (``h``: float64 entries taken exactly, or mpf)."""
    dps = check_mp_dps(dps)
    Q = basis
    with workdps(dps):
        hv = [v if isinstance(v, mpmath.mpf) else mpmath.mpf(v) for v in np.asarray(h, dtype=object).reshape(-1)]
        if Q.shape[0] != len(hv):
            raise ValueError(f"h has {len(hv)} entries, the basis {Q.shape[0]} rows")
        ph = list(hv)
        for k in range(Q.shape[1]):
            q = Q[:, k].tolist()
            c = mpmath.fdot(q, hv)
            ph = [a - c * b for a, b in zip(ph, q)]
        return mpmath.sqrt(mpmath.fdot(ph, ph)), mpmath.sqrt(mpmath.fdot(hv, hv))
