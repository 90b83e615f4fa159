"""Certified enclosures of the limit, the ℓ1 optimum and the §5 comparisons (docs/math.md §4, §5).

Ball arithmetic is python-flint's ``arb`` / ``arb_mat`` (rigorous error bounds, in C) and exact
rational arithmetic its ``fmpq_mat``; nothing here is interval arithmetic written by hand.  Every
input is exact: float64 data are dyadic rationals and enter ``arb`` exactly, and the parameters
enter from ``FlowConfig.exact(...)`` (a ``Fraction``), never from their float64 roundings.

API
---
``Decision``
    ``CERTIFIED`` (the relation holds on the whole enclosure), ``CERTIFIED_FAIL`` (it fails on the
    whole enclosure) or ``UNDECIDED``.

``certify_projection(A, y, L, *, log_beta, nu, prec=None, refine=8, max_radius=None) -> ProjectionCertificate``
    Krawczyk test for the dual equations ``G(ν) = A x(ν) − y = 0`` of the Bregman projection
    (docs/math.md §4.1), ``x(ν) = (∇F)^{-1}(∇F(β) + Aᵀν)`` in the toolkit's normalisation
    ``∇F(z) = log_L(z^{1/L})`` (``numerics._derived.grad_F``): ``x = β ⊙ exp(2Aᵀν)`` for ``L = 2``,
    ``x = (β^{(2−L)/L} − (L−2)Aᵀν)^{−L/(L−2)}`` for ``L > 2``.  ``log_beta`` may hold balls (a whole
    box of ``β``).  ``nu`` is the approximate dual (e.g. ``numerics._bregman.bregman_projection``'s
    ``.nu``); at most ``refine`` Newton steps in midpoint arithmetic at ``prec`` bits move it first
    (0: test the given centre as it is).  Result: ``.certified``; on success ``.nu`` (balls
    containing the unique dual solution, for every ``β`` in the box), ``.x``, ``.log_x``,
    ``.l1 = Σx``, ``.sum_q = Σx^{2/L}``; otherwise ``.reason`` ("ball too large", "the Jacobian is not
    provably invertible", "outside the domain").  ``.centre_distance(ν)`` encloses ``max|ν − ν*|``.

``certify_limit(problem, config, lim=None, *, dps=40, prec=None, r=None, delta=None, max_rel_width=None, l1="auto", refine=20) -> LimitCertificate``
    ``φ(r) = Σ x_i(r)^{2/L} − r²`` (docs/math.md §4.3) in ball arithmetic at two exact points
    ``r_lo < r_hi`` around the centre (``lim.r_inf`` of ``numerics._limit.limit_solve``, computed at
    ``dps`` when ``lim`` is not given, or ``r``), with certified opposite signs: a root in
    ``[r_lo, r_hi]``.  The half-width starts at the toolkit's own error bar ``lim.r_inf_error`` (so
    ``.toolkit_error_bar_holds`` says whether that bar is proven) and grows by 16 up to
    ``max_rel_width·r`` (default ``10^{−dps/2}``).  Uniqueness: on ``r² > η̃`` ``φ`` is strictly
    decreasing (§4.3 / §5.3), so a bracket with ``r_lo² > η̃`` holds the only root of ``(√η̃, ∞)``;
    roots in ``(0, √η̃]`` are excluded by ``(min ℓ1)^{2/L} > η̃`` (an exact lower bound on the LP
    value) or by the certified iteration ``a_{k+1} = √S(a_k)``.  ``.uniqueness`` is ``"unique"`` (on
    ``(0, ∞)``), ``"unique above √η̃"`` or ``"existence only"``.  Enclosures: ``.r``, ``.rho``,
    ``.log_rho``, ``.alpha_eff``, ``.log_alpha_eff`` (uniform ``u₀``), ``.x`` (the interval of radii
    pushed through the certified projection with ``β`` as balls) and ``.S = Σx`` (effective
    coordinates, i.e. ``‖w_∞^{⊙L}‖₁`` for the signed model).  Rates ``plain`` / ``r2``: ``ρ = 1``, one
    certified projection.  ``.toolkit_inside``: whether ``lim.r_inf`` lies in ``.r``.

``certify_l1(problem, *, z=None, nu=None, max_pivots=1000) -> L1Certificate``
    ``min{1ᵀz : A_eff z = y, z ≥ 0}`` (docs/math.md §5) from HiGHS's vertex and duals
    (``scipy.optimize.linprog(method="highs")``, or ``z``/``nu``): the basis read off it is solved
    exactly in rationals (``fmpq_mat``), primal (``B⁻¹y ≥ 0``) and dual feasibility (reduced costs
    ``1 − A_Nᵀ B^{−T} 1 ≥ 0``) are checked exactly, and exact simplex pivots (dual, primal, with a
    cost shift; Bland's rule) repair it when HiGHS's zeros hide roundoff-sized basic entries.
    ``.optimal``, ``.value`` (a ``Fraction``), ``.basis`` (the certificate), ``.lower`` / ``.upper``
    (exact bounds that hold even when optimality is not proven).
``l1_lower_bound(problem, nu=None) -> Fraction``
    A cheap exact lower bound (weak duality with HiGHS's duals scaled into feasibility).
``recheck_l1_certificate(A, y, cert) -> (bool, str)``
    An independent exact recheck with ``fractions.Fraction`` and a hand-written elimination.

``compare_c5(x_enclosure, x_values, tol)``, ``compare_c6(limit_cert, l1_cert, *, bound_factor=1)``,
``compare_c7(points)`` ``-> Comparison``
    The claims' relations decided on enclosures: ``max_i |x_i − X_i| ≤ tol``; ``S − ‖z*‖₁ ≤
    bound_factor · bound`` (the §5.1 bound in ball arithmetic from ``log α_eff``, as
    ``numerics._derived.l1_bound_L2`` / ``l1_bound_Lgt2``); ``‖x_∞‖₁`` non-increasing along decreasing
    ``α_eff`` (§5.3).  ``Comparison.decision``, ``.margin`` (``≥ 0`` iff the relation holds),
    ``.lhs`` / ``.rhs``, ``.digits``, ``.message``.

``certify_c6_at_every_root(problem, config, limit_cert, l1_cert, *, bound_factor=1, max_intervals=4000, time_limit=30, grid_ratio=1.0625) -> RootsComparison``
    C6 decided at every root of ``φ`` on ``(0, ∞)`` when the root is not proven unique: ``(0, a₀)``
    and ``[√η̃, ∞)`` root-free, and a branch and bound over the radius on the rest, each interval
    root-free (a certified sign of ``φ`` with ``β`` as balls) or with the comparison certified on
    the whole interval.  ``.decision``, ``.reason``, ``.root_free`` / ``.holds`` / ``.fails`` /
    ``.unsettled`` interval counts, ``.evaluated`` (the budget's unit).

``ball_json(b)`` / ``ball_from_json(d)``
    ``{"mid": str, "rad": str, "digits": float}``: ``[mid ± rad]`` (exact decimal strings from
    ``arb.mid_rad_10exp``) contains the ball; ``digits`` is ``−log10(rad/|mid|)``.

Every certificate has ``as_dict()`` (JSON-able: balls via :func:`ball_json`).  Arithmetic on the
balls should run at the certificate's ``prec`` (``flint.ctx.prec`` is global; the functions here set
and restore it).

Proof outline (what a certificate proves)
-----------------------------------------
*Projection.*  Write ``ν = ν̃ + T u`` with a point matrix ``T ≈ J(ν̃)^{−1/2}`` (from a Cholesky
factor), ``B = TᵀA`` and ``H(u) = Tᵀ G(ν̃ + Tu) = B x − Tᵀy``, whose Jacobian is ``B diag(D) Bᵀ``
with ``D = dx/dθ = L x^{2(L−1)/L}``.  With ``U = [−e, e]^M``, a point matrix ``Y`` and
``K = −Y H(0) + (I − Y·B diag(D(U)) Bᵀ) U`` evaluated in ball arithmetic over the whole box of
``β``, ``K ⊂ int U`` implies (Krawczyk; Rump) that ``Y``, ``T`` and every Jacobian over ``U`` are
nonsingular and that, for every ``β`` in the box, ``H`` has exactly one zero in ``U``, which lies in
``K``.  So ``G`` has a zero ``ν* ∈ ν̃ + T K``; the dual function is strictly convex (``A`` has full
row rank, since ``J`` is nonsingular), so ``ν*`` is its only critical point anywhere, and
``x(ν*) > 0`` is the projection.  The scaling matters: ``J`` has eigenvalues as small as the tiny
coordinates of ``x`` (1e-18 against 1 on the 100×40 benchmark), and unscaled boxes would carry
that conditioning into every coordinate of ``x``.
*Limit.*  A certified dual solution at ``r_lo`` makes ``{Az = y, z > 0}`` nonempty, so for every
``r > 0`` the projection is interior and ``ν(r)`` is smooth (implicit function theorem with ``J``
positive definite): ``φ`` is continuous and certified opposite signs at ``r_lo``, ``r_hi`` give a
root in between.  ``ρ``, ``α_eff``, ``x`` and ``S`` are then evaluated on the ball
``[r_lo, r_hi]``, which contains the root.
*LP.*  A basis ``B`` with ``B⁻¹y ≥ 0`` and ``1 − Aᵀ B^{−T}1 ≥ 0`` is optimal (weak duality), exactly.
"""

from __future__ import annotations

import contextlib
import enum
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional, Sequence

import mpmath
import numpy as np
from flint import arb, arb_mat, ctx as _flint_ctx, fmpq, fmpq_mat

from numerics._status import Status
from numerics._precision import DPS_FLOAT64

__all__ = [
    "Decision", "Comparison", "ProjectionCertificate", "LimitCertificate", "L1Certificate",
    "certify_projection", "certify_limit", "certify_l1", "l1_lower_bound", "recheck_l1_certificate",
    "compare_c5", "compare_c6", "compare_c7", "ball_json", "ball_from_json", "to_arb", "width_digits",
    "MIN_PREC", "RootsComparison", "certify_c6_at_every_root",
]

MIN_PREC = 133
"""The smallest working precision (bits) of a certificate (40 decimal digits)."""

_GUARD_BITS = 60
"""Bits above the centre's accuracy: the enclosures must resolve φ at a distance of the centre's error."""

_KRAWCZYK_TRIES = 8
_ROOT_FREE_STEPS = 40


class Decision(enum.Enum):
    """A three-way verdict on a relation between enclosures."""

    CERTIFIED = "certified"            # the relation holds for every point of the enclosures
    CERTIFIED_FAIL = "certified_fail"  # the relation fails for every point of the enclosures
    UNDECIDED = "undecided"            # the enclosures straddle the boundary


# -------------------------------------------------------------------------------------------
# precision and conversions
# -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _precision(bits: int):
    """Set ``flint.ctx.prec`` to ``bits`` inside the block and restore it after."""
    old = _flint_ctx.prec
    _flint_ctx.prec = int(bits)
    try:
        yield
    finally:
        _flint_ctx.prec = old


def to_arb(v) -> arb:
    """``v`` as an ``arb``: exactly for ints, floats (dyadic), ``Fraction`` / ``fmpq`` (a ball at the
    current precision when not dyadic), ``mpmath.mpf`` (exact binary value) and decimal strings
    (parsed as exact rationals first); ``arb`` values are returned as they are."""
    if isinstance(v, arb):
        return v
    if isinstance(v, (bool, np.bool_)):
        raise TypeError("a bool is not a number here")
    if isinstance(v, (int, np.integer)):
        return arb(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"non-finite value {f!r}")
        p, q = f.as_integer_ratio()
        return arb((p, -(q.bit_length() - 1)))  # q is a power of two: p·2^-k exactly
    if isinstance(v, mpmath.mpf):
        sign, man, exp, _ = v._mpf_
        if man == 0 and exp != 0:
            raise ValueError(f"non-finite mpf {v}")
        return arb(((-1) ** sign * int(man), int(exp)))
    if isinstance(v, Fraction):
        return arb(fmpq(v.numerator, v.denominator))
    if isinstance(v, fmpq):
        return arb(v)
    if isinstance(v, str):
        from numerics._config import exact_value

        return to_arb(exact_value(v))
    return to_arb(mpmath.mpf(v))


def _fraction(v) -> Fraction:
    if isinstance(v, Fraction):
        return v
    if isinstance(v, (float, np.floating)):
        return Fraction(float(v))
    if isinstance(v, (int, np.integer)):
        return Fraction(int(v))
    from numerics._config import exact_value

    return exact_value(v)


def _fmpq(v) -> fmpq:
    q = _fraction(v)
    return fmpq(q.numerator, q.denominator)


def width_digits(b: arb) -> float:
    """Correct digits of a ball: ``−log10(rad/|mid|)`` (``−log10(rad)`` when ``mid = 0``; ``inf`` when exact)."""
    rad = float(b.rad())
    if rad == 0:
        return math.inf
    mid = abs(float(b.mid()))
    if not math.isfinite(rad):
        return -math.inf
    return -math.log10(rad / mid) if mid > 0 else -math.log10(rad)


def _sci(m: int, e: int) -> str:
    """The exact decimal ``m·10^e`` in scientific notation."""
    if m == 0:
        return "0"
    s = str(abs(m))
    exp = e + len(s) - 1
    body = s[0] + ("." + s[1:].rstrip("0") if s[1:].rstrip("0") else "")
    return f"{'-' if m < 0 else ''}{body}e{exp}"


def ball_json(b: arb, digits: Optional[int] = None) -> dict:
    """``{"mid", "rad", "digits"}`` with ``[mid ± rad] ⊇ b`` (exact decimal strings)."""
    if digits is None:
        d = width_digits(b)
        digits = 20 if not math.isfinite(d) else max(5, int(d) + 5)
    m, r, e = b.mid_rad_10exp(int(digits))
    return {"mid": _sci(int(m), int(e)), "rad": _sci(int(r), int(e)), "digits": width_digits(b)}


def ball_from_json(d: dict) -> arb:
    """The ball ``[mid ± rad]`` of :func:`ball_json` (at the current precision, enclosing)."""
    mid = to_arb(Fraction(d["mid"]))
    rad = to_arb(Fraction(d["rad"]))
    return mid + arb(0, rad.upper())


def _col(vals) -> arb_mat:
    return arb_mat(len(vals), 1, list(vals))


def _entries(m: arb_mat) -> list:
    return list(m.entries())


def _fmt(b: Optional[arb], digits: int = 12) -> str:
    """``mid ± rad`` for messages (floats; the rigorous strings are :func:`ball_json`'s)."""
    if b is None:
        return "–"
    return f"{float(b.mid()):.{digits}g} ± {float(b.rad()):.2g}"


def _abs_upper(b: arb) -> float:
    return float(abs(b).upper())


def _contains_interior(outer: Sequence[arb], inner: Sequence[arb]) -> bool:
    return all(o.contains_interior(i) for o, i in zip(outer, inner))


def _ball_of(lo: arb, hi: arb) -> arb:
    """The smallest ball containing the points ``lo ≤ hi`` (rounded outward)."""
    return arb.union(lo, hi)


# -------------------------------------------------------------------------------------------
# the dual map in ball arithmetic
# -------------------------------------------------------------------------------------------
class _OutsideDomain(Exception):
    """A base ``β^{(2−L)/L} − (L−2)Aᵀν`` is not provably positive (``L > 2``)."""


class _ArbDual:
    """``x(ν)``, ``G(ν) = Ax − y`` and ``J = A diag(dx/dθ) Aᵀ`` for exact ``A``, ``y`` (docs/math.md §4.1)."""

    def __init__(self, A, y, L: int):
        A = np.asarray(A, dtype=float)
        y = np.asarray(y, dtype=float).reshape(-1)
        if A.ndim != 2 or A.shape[0] != y.shape[0]:
            raise ValueError(f"A ({A.shape}) and y ({y.shape}) do not match")
        if isinstance(L, bool) or int(L) != L or L < 2:
            raise ValueError(f"L must be an integer >= 2, got {L!r}")
        self.L = int(L)
        self.M, self.n = A.shape
        self.A = arb_mat(self.M, self.n, [to_arb(float(v)) for v in A.flat])  # exact dyadic entries
        self.At = self.A.transpose()
        self.y = _col([to_arb(float(v)) for v in y])

    def at(self, nu: Sequence[arb]) -> list:
        return _entries(self.At * _col(nu))

    def point(self, log_beta: Sequence[arb], t: Sequence[arb]):
        """``(x, log x, D = dx/dθ)`` at ``Aᵀν = t``."""
        L = self.L
        if L == 2:
            logx = [lb + 2 * tj for lb, tj in zip(log_beta, t)]
            x = [v.exp() for v in logx]
            D = [2 * v for v in x]
            return x, logx, D
        e2 = arb(2 - L) / L
        c = [(e2 * lb).exp() for lb in log_beta]
        base = [cj - (L - 2) * tj for cj, tj in zip(c, t)]
        if not all(b > 0 for b in base):
            raise _OutsideDomain()
        lbase = [b.log() for b in base]
        k = arb(-L) / (L - 2)
        logx = [k * v for v in lbase]
        x = [v.exp() for v in logx]
        D = [L * xj / bj for xj, bj in zip(x, base)]
        return x, logx, D

    def G(self, x) -> arb_mat:
        return self.A * _col(x) - self.y

    def J(self, D) -> arb_mat:
        n = self.n
        Dm = arb_mat(n, n)
        for j, d in enumerate(D):
            Dm[j, j] = d
        return (self.A * Dm) * self.At


def _identity(M: int) -> arb_mat:
    I = arb_mat(M, M)
    for i in range(M):
        I[i, i] = 1
    return I


def _approx_inverse(J: arb_mat) -> Optional[arb_mat]:
    """A point matrix ≈ ``mid(J)⁻¹`` (no error bound needed: any ``Y`` is valid in Krawczyk's test)."""
    try:
        Y = J.mid().solve(_identity(J.nrows()), algorithm="approx")
    except ZeroDivisionError:
        return None
    Y = Y.mid()
    if not all(v.is_finite() for v in Y.entries()):
        return None
    return Y


def _newton_refine(dual: _ArbDual, log_beta_mid, nu, steps: int):
    """Newton steps on ``G`` in midpoint arithmetic at the working precision (no rigour needed: the
    centre is only a candidate).  Returns ``(nu, moved)``: the new centre and ``max|Δν|``."""
    moved = 0.0
    tiny = 2.0 ** (-_flint_ctx.prec + 8)
    for _ in range(steps):
        try:
            x, _, D = dual.point(log_beta_mid, dual.at(nu))
        except _OutsideDomain:
            break
        g = dual.G([v.mid() for v in x]).mid()
        Jm = dual.J([d.mid() for d in D]).mid()
        try:
            step = Jm.solve(g, algorithm="approx")
        except ZeroDivisionError:
            break
        st = [s.mid() for s in step.entries()]
        if not all(s.is_finite() for s in st):
            break
        nu = [(v - s).mid() for v, s in zip(nu, st)]
        size = max((abs(float(s)) for s in st), default=0.0)
        moved += size
        if size <= tiny * (1 + max(abs(float(v)) for v in nu)):
            break
    return nu, moved


@dataclass
class ProjectionCertificate:
    """Outcome of :func:`certify_projection`.  Balls are ``arb``; see :meth:`as_dict`."""

    certified: bool
    reason: str
    L: int
    prec: int
    nu: Optional[list] = None
    x: Optional[list] = None
    log_x: Optional[list] = None
    l1: Optional[arb] = None
    sum_q: Optional[arb] = None
    radius: float = float("nan")
    contraction: float = float("nan")
    centre_moved: float = 0.0
    centre: Optional[list] = None
    wall_time: float = float("nan")

    def centre_distance(self, nu_values) -> Optional[arb]:
        """A ball containing ``max_i |ν_i − ν*_i|`` for given values (e.g. a solver's ``ν``)."""
        if not self.certified:
            return None
        with _precision(self.prec):
            ds = [abs(to_arb(v) - k) for v, k in zip(nu_values, self.nu)]
            out = ds[0]
            for d in ds[1:]:
                out = out.max(d)
            return out

    def as_dict(self) -> dict:
        out = {"certified": self.certified, "reason": self.reason, "L": self.L, "prec_bits": self.prec,
               "radius": self.radius, "contraction": self.contraction, "centre_moved": self.centre_moved,
               "wall_time": self.wall_time}
        if self.certified:
            out["nu"] = [ball_json(v) for v in self.nu]
            out["x"] = [ball_json(v) for v in self.x]
            out["l1"] = ball_json(self.l1)
            out["sum_q"] = ball_json(self.sum_q)
            out["digits_x"] = min(width_digits(v) for v in self.x)
        return out

    to_dict = as_dict  # the name every result type of numerics uses


def _gram(B: arb_mat, D) -> arb_mat:
    """``B diag(D) Bᵀ``."""
    n = B.ncols()
    Dm = arb_mat(n, n)
    for j, d in enumerate(D):
        Dm[j, j] = d
    return (B * Dm) * B.transpose()


def _approx_inverse_cholesky(Jm: arb_mat) -> Optional[arb_mat]:
    """A point matrix ``T`` with ``Tᵀ Jm T ≈ I`` (``T = R^{−T}``, ``Jm ≈ R Rᵀ``), from a Cholesky
    factorisation in midpoint arithmetic; ``None`` when a pivot is not positive.  Only a
    preconditioner: Krawczyk's test is valid for any ``T`` (a singular one makes it fail)."""
    M = Jm.nrows()
    a = [[Jm[i, j].mid() for j in range(M)] for i in range(M)]
    R = [[arb(0)] * M for _ in range(M)]
    for j in range(M):
        s = a[j][j] - sum((R[j][k] * R[j][k] for k in range(j)), arb(0))
        s = s.mid()
        if not s > 0:
            return None
        R[j][j] = s.sqrt().mid()
        for i in range(j + 1, M):
            t = a[i][j] - sum((R[i][k] * R[j][k] for k in range(j)), arb(0))
            R[i][j] = (t / R[j][j]).mid()
    Rm = arb_mat(M, M, [R[i][j] for i in range(M) for j in range(M)])
    try:
        Rinv = Rm.solve(_identity(M), algorithm="approx").mid()
    except ZeroDivisionError:
        return None
    if not all(v.is_finite() for v in Rinv.entries()):
        return None
    return Rinv.transpose()


def _krawczyk(dual: _ArbDual, log_beta, centre, max_radius: float):
    """Krawczyk's test around the point ``centre``, in the coordinates ``ν = ν̃ + T u``.

    ``T ≈ J^{−1/2}`` (``Tᵀ J(ν̃) T ≈ I``) makes the test see the structure of an ill-conditioned
    ``J = A diag(D) Aᵀ`` (tiny ``x_j`` give tiny eigenvalues): with ``B = TᵀA`` the residual is
    ``H(u) = B x(ν̃ + Tu) − Tᵀy``, its Jacobian ``B diag(D) Bᵀ ≈ I``, and ``|B_kj|·x_j`` stays
    bounded, so a box of ``β`` and the rounding of tiny coordinates do not blow up through ``J⁻¹``.
    Returns ``(nu, t, e, contraction, reason)``: ``nu`` (balls) and ``t ⊇ Aᵀν`` on success."""
    M = dual.M
    t_c = dual.at(centre)
    try:
        x, _, D = dual.point(log_beta, t_c)
    except _OutsideDomain:
        return None, None, math.nan, math.nan, ("outside the domain: a base β^{(2−L)/L} − (L−2)Aᵀν is not "
                                                "provably positive at the centre")
    T = _approx_inverse_cholesky(dual.J([d.mid() for d in D]).mid())
    if T is None:
        return None, None, math.nan, math.nan, ("the Jacobian is not provably invertible: A diag(dx/dθ) Aᵀ is not "
                                                "numerically positive definite at the centre (A without full row rank?)")
    Tt = T.transpose()
    B = Tt * dual.A
    Bt = B.transpose()
    h0 = B * _col(x) - Tt * dual.y
    Y = _approx_inverse(_gram(B, [d.mid() for d in D]))
    if Y is None:
        return None, None, math.nan, math.nan, "the Jacobian is not provably invertible: the scaled Jacobian is singular"
    s = Y * h0
    e = 2.0 * max(_abs_upper(v) for v in _entries(s)) + 2.0 ** (-_flint_ctx.prec + 4)
    I = _identity(M)
    contraction = math.nan
    for _ in range(_KRAWCZYK_TRIES):
        if e > max_radius:
            return None, None, e, contraction, (f"ball too large: the Krawczyk box needs radius {e:.3g} > "
                                                f"{max_radius:.3g} (the centre is not accurate enough, or the "
                                                f"precision too low)")
        U = _col([arb(0, e)] * M)
        tU = [a + b for a, b in zip(t_c, _entries(Bt * U))]
        try:
            _, _, DU = dual.point(log_beta, tU)
        except _OutsideDomain:
            return None, None, e, contraction, "outside the domain: a base is not provably positive on the Krawczyk box"
        C = I - Y * _gram(B, DU)
        contraction = max(sum(_abs_upper(C[i, j]) for j in range(M)) for i in range(M))
        K = _entries(C * U - s)
        Ue = _entries(U)
        if _contains_interior(Ue, K):
            nu = [c + v for c, v in zip(centre, _entries(T * _col(K)))]
            t = [a + b for a, b in zip(t_c, _entries(Bt * _col(K)))]
            return nu, t, e, contraction, ""
        if not contraction < 1:
            return None, None, e, contraction, (f"the Jacobian is not provably invertible over the box: "
                                                f"‖I − Y J(V)‖∞ ≤ {contraction:.3g} is not below 1 (radius {e:.3g}; "
                                                f"raise the precision)")
        spread = max(_abs_upper(k) for k in K)
        e = max(2.0 * spread, 2.0 * e)
    return None, None, e, contraction, f"ball too large: Krawczyk's test did not close after {_KRAWCZYK_TRIES} inflations"


def certify_projection(A, y, L: int, *, log_beta, nu, prec: Optional[int] = None, refine: int = 8,
                       max_radius: Optional[float] = None) -> ProjectionCertificate:
    """Prove that the dual equations of the Bregman projection have a unique solution in an explicit
    ball, for every ``β`` with ``log β`` in the balls ``log_beta`` (see the module docstring).

    ``A``, ``y``: float64 data (exact).  ``log_beta``: ``n`` values or balls (``arb``, mpf, float,
    Fraction, …).  ``nu``: the approximate dual, length ``M``.  ``prec``: working bits (default
    ``max(MIN_PREC, flint.ctx.prec)``).  ``refine``: Newton steps on the centre first.  ``max_radius``:
    the largest Krawczyk radius accepted, in the scaled coordinates ``u`` of ``ν = ν̃ + T u``
    (``Tᵀ J T ≈ I``; default ``2^{−prec/2} + 2^{20}·max_j rad(log β_j)``): "ball too large" beyond it.
    """
    t0 = time.perf_counter()
    bits = max(MIN_PREC, int(prec) if prec is not None else _flint_ctx.prec)
    with _precision(bits):
        dual = _ArbDual(A, y, L)
        if len(nu) != dual.M:
            raise ValueError(f"nu must have M = {dual.M} entries, got {len(nu)}")
        lb = [to_arb(v) for v in log_beta]
        if len(lb) != dual.n:
            raise ValueError(f"log_beta must have n = {dual.n} entries, got {len(lb)}")
        centre = [to_arb(v).mid() for v in nu]
        given = list(centre)
        moved = 0.0
        if refine:
            centre, moved = _newton_refine(dual, [v.mid() for v in lb], centre, int(refine))
        # default: half the working digits, or what a box of β implies (its ν box scales with it)
        box = max(float(v.rad()) for v in lb)
        mr = max_radius if max_radius is not None else 2.0 ** (-bits / 2) + 2.0 ** 20 * box
        K, t, e, contraction, reason = _krawczyk(dual, lb, centre, mr)
        cert = ProjectionCertificate(certified=K is not None, reason=reason, L=dual.L, prec=bits, radius=e,
                                     contraction=contraction, centre_moved=moved, centre=given)
        if K is not None:
            x, logx, _ = dual.point(lb, t)
            q = arb(2) / dual.L
            cert.nu, cert.x, cert.log_x = K, x, logx
            cert.l1 = sum(x[1:], x[0])
            xq = x if dual.L == 2 else [(q * v).exp() for v in logx]
            cert.sum_q = sum(xq[1:], xq[0])
            cert.reason = (f"Krawczyk: K(U) ⊂ int U for ν = ν̃ + T·u, u ∈ U = [±{e:.3g}]^M (‖I − Y J(U)‖∞ ≤ "
                           f"{contraction:.3g}): "
                           f"unique dual solution ν ∈ ν̃ + T·U for every β in the box, at {bits} bits")
        cert.wall_time = time.perf_counter() - t0
        return cert


# -------------------------------------------------------------------------------------------
# the limit
# -------------------------------------------------------------------------------------------
@dataclass
class LimitCertificate:
    """Outcome of :func:`certify_limit` (balls are ``arb``; :meth:`as_dict` for JSON)."""

    certified: bool
    reason: str
    uniqueness: str = "not certified"
    uniqueness_reason: str = ""
    L: int = 2
    n: int = 0
    prec: int = 0
    r: Optional[arb] = None
    r_lo: Optional[arb] = None
    r_hi: Optional[arb] = None
    phi_lo: Optional[arb] = None
    phi_hi: Optional[arb] = None
    log_rho: Optional[arb] = None
    rho: Optional[arb] = None
    log_alpha_eff: Optional[arb] = None
    alpha_eff: Optional[arb] = None
    x: Optional[list] = None
    S: Optional[arb] = None
    toolkit_r: Optional[str] = None
    toolkit_inside: Optional[bool] = None
    toolkit_error_bar_holds: Optional[bool] = None
    projection: Optional[ProjectionCertificate] = None
    attempts: list = field(default_factory=list)
    wall_time: float = float("nan")
    params: dict = field(default_factory=dict)

    @property
    def r_digits(self) -> float:
        return width_digits(self.r) if self.r is not None else -math.inf

    def contains_r(self, value) -> bool:
        """Whether the radius enclosure contains ``value`` (mpf, str, Fraction, float: exact)."""
        if self.r is None:
            return False
        with _precision(max(self.prec, MIN_PREC)):
            return bool(self.r.contains(to_arb(value)))

    def _check_toolkit(self, lim) -> None:
        """Whether the toolkit's ``r_inf`` lies in the enclosure, and whether its error bar
        ``r_inf_error`` is honest: ``|r_inf − r_∞| ≤ r_inf_error`` on the whole enclosure."""
        self.toolkit_inside = self.contains_r(lim.r_inf)
        err = lim.r_inf_error
        if err is None or not math.isfinite(float(err)):
            self.toolkit_error_bar_holds = None
            return
        with _precision(max(self.prec, MIN_PREC)):
            rt, e = to_arb(lim.r_inf), to_arb(float(err))
            if self.r_lo is not None and self.r_hi is not None:  # the bracket's exact end points
                self.toolkit_error_bar_holds = bool(rt - self.r_lo <= e and self.r_hi - rt <= e)
            else:
                self.toolkit_error_bar_holds = bool(abs(rt - self.r) <= e)

    def as_dict(self) -> dict:
        out = {"certified": self.certified, "reason": self.reason, "uniqueness": self.uniqueness,
               "uniqueness_reason": self.uniqueness_reason, "L": self.L, "n": self.n, "prec_bits": self.prec,
               "toolkit_r": self.toolkit_r, "toolkit_inside": self.toolkit_inside,
               "toolkit_error_bar_holds": self.toolkit_error_bar_holds, "attempts": self.attempts,
               "wall_time": self.wall_time, "params": self.params}
        for name in ("r", "r_lo", "r_hi", "phi_lo", "phi_hi", "log_rho", "rho", "log_alpha_eff", "alpha_eff", "S"):
            v = getattr(self, name)
            out[name] = None if v is None else ball_json(v)
        out["x"] = None if self.x is None else [ball_json(v) for v in self.x]
        out["r_digits"] = self.r_digits if self.r is not None else None
        out["x_digits"] = None if self.x is None else min(width_digits(v) for v in self.x)
        return out

    to_dict = as_dict  # the name every result type of numerics uses


class _LimitModel:
    """``log ρ(r)`` and ``log β(r)`` in ball arithmetic from the exact parameters (docs/math.md §4.3)."""

    def __init__(self, config, n: int):
        self.L = config.L
        self.n = n
        self.r0_q = config.exact("r0")
        self.et_q = config.exact("eta_tilde")
        self.r0 = to_arb(self.r0_q)
        self.et = to_arb(self.et_q)
        logr0 = self.r0.log()
        if config.u0_exact is None:
            self.logw0 = [logr0 - arb(n).log() / 2] * n
            self.uniform = True
        else:
            if len(config.u0_exact) != n:
                raise ValueError(f"u0 has length {len(config.u0_exact)} but the model has n = {n} weights")
            u = [to_arb(q) for q in config.u0_exact]
            lognorm = sum((v * v for v in u[1:]), u[0] * u[0]).log() / 2
            self.logw0 = [logr0 + v.log() - lognorm for v in u]
            self.uniform = len(set(config.u0_exact)) == 1

    def log_rho(self, r: arb) -> arb:
        return (self.r0 / r).log() + (r * r - self.r0 * self.r0) / (2 * self.et)

    def log_beta(self, r: arb) -> list:
        lr = self.log_rho(r)
        return [self.L * (lw - lr) for lw in self.logw0]

    def log_alpha(self, log_rho: arb) -> Optional[arb]:
        if not self.uniform:
            return None
        return self.r0.log() - arb(self.n).log() / 2 - log_rho


def _mpstr(v, digits: int) -> str:
    with mpmath.workdps(digits + 10):
        return mpmath.nstr(mpmath.mpf(v), digits)


def _centre_for(problem, L, log_beta: Sequence[arb], nu=None):
    """A float64 (or given) dual start for a projection at ``log_beta`` (toolkit solver)."""
    if nu is not None:
        return list(nu)
    from numerics._bregman import bregman_projection

    lb = [float(v.mid()) for v in log_beta]
    res = bregman_projection(problem.A_eff, problem.y, None, L, log_beta=lb)
    if res.nu is None or not np.all(np.isfinite(np.asarray(res.nu, dtype=float))):
        return None
    return [float(v) for v in res.nu]


def certify_limit(problem, config, lim=None, *, dps: int = 40, prec: Optional[int] = None, r=None, delta=None,
                  max_rel_width: Optional[float] = None, l1="auto", refine: int = 20) -> LimitCertificate:
    """Certify the limit radius and the enclosures derived from it (see the module docstring).

    ``lim``: a :class:`numerics._limit.LimitResult` (default: ``limit_solve(problem, config, dps=dps)``);
    its ``r_inf`` is the centre unless ``r`` is given, its ``nu`` the dual start.  ``prec``: bits
    (default ``max(MIN_PREC, 3.33·dps + 60)``, doubled up to twice when the projections need it).
    ``delta``: the half-width of the bracket (default: from ``lim.r_inf_error``, grown by factors of
    16 up to ``max_rel_width·r``, default ``10^{−dps/2}``).  ``l1``: an :class:`L1Certificate`,
    ``"auto"`` (computed when uniqueness needs it) or ``None``.
    """
    t0 = time.perf_counter()
    L, n = config.L, problem.n
    A, y = problem.A_eff, problem.y
    out = LimitCertificate(certified=False, reason="", L=L, n=n, params=config.exact_strings())

    def done(reason):
        out.reason = reason
        out.wall_time = time.perf_counter() - t0
        return out

    if problem.is_trivial:
        return done("y = 0: the limit is trivial (x_∞ = 0); nothing to certify")
    if lim is None:
        from numerics._limit import limit_solve

        lim = limit_solve(problem, config, dps=dps)
    if lim.status is not Status.CONVERGED:
        return done(f"the limit solve did not converge ({lim.status.value}): {lim.message}")
    dps = lim.dps if lim.dps is not None else DPS_FLOAT64  # the centre's precision
    if config.rates != "constant":
        return _certify_rho_one(problem, config, lim, out, dps, prec, refine, t0)
    bits0 = int(prec) if prec is not None else max(MIN_PREC, int(math.ceil(3.33 * dps)) + _GUARD_BITS)
    schedule = [bits0] if prec is not None else [bits0, 2 * bits0, 4 * bits0]
    r_src = r if r is not None else lim.r_inf
    out.toolkit_r = _mpstr(lim.r_inf, dps + 5) if lim.dps is not None else repr(float(lim.r_inf))
    nu0 = [v for v in lim.nu]
    r_float = float(mpmath.mpf(r_src) if not isinstance(r_src, arb) else r_src.mid())
    width = (max_rel_width if max_rel_width is not None else 10.0 ** (-dps / 2)) * r_float
    if delta is not None:
        deltas = [float(delta)]
    else:
        err = float(lim.r_inf_error) if lim.r_inf_error is not None and math.isfinite(lim.r_inf_error) else 0.0
        d0 = max(err, r_float * 10.0 ** (-dps))  # first the toolkit's own error bar
        deltas = []
        d = d0
        while d <= width:
            deltas.append(d)
            d *= 16
        if not deltas:
            deltas = [min(d0, width)]
    last_reason = ""
    for bits in schedule:
        with _precision(bits):
            model = _LimitModel(config, n)  # the exact parameters at this precision
            rc = to_arb(r_src).mid()
            ok = None
            for d in deltas:
                with _precision(bits + 256):  # exact end points r_c ± δ where the bits allow
                    r_lo = (rc - to_arb(d)).mid()
                    r_hi = (rc + to_arb(d)).mid()
                if not r_lo > 0:
                    last_reason = f"the bracket [{float(r_lo):.6g}, {float(r_hi):.6g}] reaches r ≤ 0"
                    break
                plo = certify_projection(A, y, L, log_beta=model.log_beta(r_lo), nu=nu0, prec=bits, refine=refine)
                phi = {}
                if plo.certified:
                    phi_lo = plo.sum_q - r_lo * r_lo
                    phi_hi = None
                    phi_hi_cert = certify_projection(A, y, L, log_beta=model.log_beta(r_hi),
                                                     nu=[v.mid() for v in plo.nu], prec=bits, refine=refine)
                    if phi_hi_cert.certified:
                        phi_hi = phi_hi_cert.sum_q - r_hi * r_hi
                att = {"prec_bits": bits, "delta": d}
                if not plo.certified or phi_hi is None:
                    why = plo.reason if not plo.certified else phi_hi_cert.reason
                    att["result"] = f"projection not certified: {why}"
                    out.attempts.append(att)
                    last_reason = att["result"]
                    ok = "precision"
                    break
                att["phi_lo"], att["phi_hi"] = ball_json(phi_lo), ball_json(phi_hi)
                if (phi_lo > 0 and phi_hi < 0) or (phi_lo < 0 and phi_hi > 0):
                    att["result"] = "opposite signs"
                    out.attempts.append(att)
                    ok = (r_lo, r_hi, phi_lo, phi_hi, plo, phi_hi_cert)
                    break
                same = (phi_lo > 0 and phi_hi > 0) or (phi_lo < 0 and phi_hi < 0)
                att["result"] = "same sign at both ends" if same else "a sign is not resolved"
                out.attempts.append(att)
                last_reason = (f"φ(r_c ± {d:.3g}): {att['result']} (φ(r_lo) = {_fmt(phi_lo, 5)}, "
                               f"φ(r_hi) = {_fmt(phi_hi, 5)})")
            if ok is None or ok == "precision":
                continue
            r_lo, r_hi, phi_lo, phi_hi, plo, phi_hi_cert = ok
            R = _ball_of(r_lo, r_hi)
            out.prec, out.r_lo, out.r_hi, out.phi_lo, out.phi_hi, out.r = bits, r_lo, r_hi, phi_lo, phi_hi, R
            out.log_rho = model.log_rho(R)
            out.rho = out.log_rho.exp()
            out.log_alpha_eff = model.log_alpha(out.log_rho)
            out.alpha_eff = None if out.log_alpha_eff is None else out.log_alpha_eff.exp()
            mid_nu = [((a + b) / 2).mid() for a, b in zip(plo.nu, phi_hi_cert.nu)]
            pR = certify_projection(A, y, L, log_beta=model.log_beta(R), nu=mid_nu, prec=bits, refine=refine)
            out.projection = pR
            if not pR.certified:
                return done(f"a root of φ lies in [r_lo, r_hi] (certified signs), but the projection over the whole "
                            f"interval was not certified: {pR.reason}")
            out.x, out.S = pR.x, pR.l1
            out.certified = True
            out._check_toolkit(lim)
            out.uniqueness, out.uniqueness_reason = _uniqueness(problem, config, model, r_lo, r_hi, l1, bits, refine)
            return done(f"φ(r_lo) = {_fmt(phi_lo, 4)} and φ(r_hi) = {_fmt(phi_hi, 4)} have "
                        f"certified opposite signs: a root in an interval of width {float(r_hi - r_lo):.3g} "
                        f"({out.r_digits:.1f} digits), at {bits} bits; {out.uniqueness}")
    return done(f"not certified: {last_reason}")


def _uniqueness(problem, config, model: _LimitModel, r_lo: arb, r_hi: arb, l1, bits: int, refine: int):
    """``(kind, reason)`` with kind in {"unique", "unique above √η̃", "existence only"} (docs/math.md §4.3)."""
    et = model.et
    L = model.L
    if not r_lo * r_lo > et:
        return "existence only", (f"the bracket reaches r² ≤ η̃ = {float(et):.6g}, where φ need not be monotone: "
                                  f"certified existence only")
    head = (f"r_lo² > η̃: φ is strictly decreasing on r > √η̃ (S(r) non-increasing in ρ, docs/math.md §4.3 / §5.3), "
            f"so the root is the only one in (√η̃, ∞)")
    if isinstance(l1, str) and l1 == "auto":
        lower = l1_lower_bound(problem)  # exact weak-duality bound from HiGHS's duals (no pivots)
        src = "exact weak-duality bound from HiGHS's duals"
    else:
        lower = None if l1 is None else l1.lower
        src = "exact LP certificate"
    if lower is not None and lower > 0:
        # S(r) ≥ (min ℓ1)^{2/L} for every r, so φ > 0 on r < (min ℓ1)^{1/L}; exact comparison
        if lower ** 2 > model.et_q ** L:
            return "unique", (f"{head}; and φ > 0 on (0, √η̃] because Σx^{{2/L}} ≥ (min ℓ1)^{{2/L}} and "
                              f"(min ℓ1)² ≥ {float(lower) ** 2:.6g} > η̃^L ({src}): unique on (0, ∞)")
    # the certified iteration a_{k+1} = √S(a_k) on (0, √η̃], where S is non-decreasing in r
    a = to_arb(lower).root(L).lower() if lower is not None and lower > 0 else None
    if a is None or not a > 0:
        return "unique above √η̃", f"{head}; no positive certified ℓ1 lower bound to start excluding roots below √η̃"
    with _precision(bits):
        for _ in range(_ROOT_FREE_STEPS):
            if a * a > et:
                return "unique", (f"{head}; and φ > 0 on (0, √η̃]: S is non-decreasing in r there and the certified "
                                  f"root-free intervals [a_k, √S(a_k)) from a_0 = (min ℓ1)^(1/L) pass √η̃: unique")
            lb = model.log_beta(a)
            nu = _centre_for(problem, L, lb)
            if nu is None:
                break
            pc = certify_projection(problem.A_eff, problem.y, L, log_beta=lb, nu=nu, prec=bits, refine=max(refine, 8))
            if not pc.certified:
                break
            a_new = pc.sum_q.lower().sqrt().lower()
            if not a_new > a * (1 + arb(2) ** -30):
                break
            a = a_new
    return "unique above √η̃", (f"{head}; other roots in (0, √η̃] are not excluded (the root-free iteration stalled "
                               f"below √η̃ = {float(et.sqrt()):.6g})")


def _certify_rho_one(problem, config, lim, out: LimitCertificate, dps, prec, refine, t0):
    """Rates ``plain`` / ``r2``: ``ρ = 1``, ``x_∞`` is the projection of ``w₀^L`` and ``r_∞ = ‖x_∞^{1/L}‖``."""
    bits = int(prec) if prec is not None else max(MIN_PREC, int(math.ceil(3.33 * dps)) + _GUARD_BITS)
    with _precision(bits):
        model = _LimitModel(config, problem.n)
        lb = [model.L * v for v in model.logw0]
        pc = certify_projection(problem.A_eff, problem.y, model.L, log_beta=lb, nu=list(lim.nu), prec=bits,
                                refine=refine)
        out.projection, out.prec = pc, bits
        if pc.certified:
            out.certified = True
            out.x, out.S = pc.x, pc.l1
            out.r = pc.sum_q.sqrt()
            out.log_rho, out.rho = arb(0), arb(1)
            out.log_alpha_eff = model.log_alpha(arb(0))
            out.alpha_eff = None if out.log_alpha_eff is None else out.log_alpha_eff.exp()
            out.toolkit_r = _mpstr(lim.r_inf, dps + 5) if lim.dps is not None else repr(float(lim.r_inf))
            out._check_toolkit(lim)
            out.uniqueness = "unique"
            out.uniqueness_reason = "ρ = 1: one strictly convex projection, no root-finding"
        out.reason = pc.reason
    out.wall_time = time.perf_counter() - t0
    return out


# -------------------------------------------------------------------------------------------
# the ℓ1 optimum, exactly
# -------------------------------------------------------------------------------------------
@dataclass
class L1Certificate:
    """Outcome of :func:`certify_l1`: exact ``Fraction`` values, the basis as the certificate.

    ``optimal``: proven optimal (then ``value == lower == upper``).  ``basis``: column indices into
    ``A_eff``; ``z_basis``: ``B⁻¹y``; ``dual``: ``B^{−T}1``.  ``lower`` / ``upper``: exact bounds on the
    optimum that hold in any case (``upper`` from a feasible basic point, ``lower`` from a dual point
    scaled into feasibility; ``None`` when not available)."""

    optimal: bool
    reason: str
    value: Optional[Fraction] = None
    basis: tuple = ()
    z_basis: tuple = ()
    dual: tuple = ()
    lower: Optional[Fraction] = None
    upper: Optional[Fraction] = None
    pivots: int = 0
    n: int = 0
    wall_time: float = float("nan")

    def value_ball(self) -> Optional[arb]:
        """The optimum as an ``arb`` (exact value, or the ball ``[lower, upper]``)."""
        if self.value is not None:
            return to_arb(self.value)
        if self.lower is not None and self.upper is not None:
            return _ball_of(to_arb(self.lower), to_arb(self.upper))
        return None

    def z(self) -> list:
        """The optimal vertex in ``A_eff`` coordinates (exact)."""
        out = [Fraction(0)] * self.n
        for j, v in zip(self.basis, self.z_basis):
            out[j] = v
        return out

    def as_dict(self) -> dict:
        def s(q):
            return None if q is None else (str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}")

        return {"optimal": self.optimal, "reason": self.reason, "value": s(self.value),
                "value_float": None if self.value is None else float(self.value),
                "lower": s(self.lower), "upper": s(self.upper), "basis": list(self.basis),
                "z_basis": [s(v) for v in self.z_basis], "dual": [s(v) for v in self.dual],
                "pivots": self.pivots, "wall_time": self.wall_time}

    to_dict = as_dict  # the name every result type of numerics uses


def _q_to_fraction(q: fmpq) -> Fraction:
    return Fraction(int(q.p), int(q.q))


def _choose_basis(A: np.ndarray, z: np.ndarray, nu: Optional[np.ndarray]) -> list:
    """``M`` linearly independent columns: the support of ``z`` (largest first), completed by the
    columns of smallest reduced cost ``1 − a_jᵀν`` (float64; only a candidate, checked exactly)."""
    M, n = A.shape
    zmax = float(np.max(z)) if z.size else 0.0
    pos = [int(j) for j in np.argsort(-z, kind="stable") if z[j] > 1e-9 * max(zmax, 1e-300)]
    if nu is None:
        nu = np.linalg.lstsq(A[:, pos].T, np.ones(len(pos)), rcond=None)[0] if pos else np.zeros(M)
    red = 1.0 - A.T @ nu
    taken = set(pos)
    rest = [int(j) for j in np.argsort(red, kind="stable") if int(j) not in taken]
    basis, Q = [], np.zeros((M, 0))
    for j in pos + rest:
        v = A[:, j].astype(float)
        w = v - Q @ (Q.T @ v)
        w = w - Q @ (Q.T @ w)
        nv = float(np.linalg.norm(v))
        if nv > 0 and float(np.linalg.norm(w)) > 1e-9 * nv:
            Q = np.hstack([Q, (w / np.linalg.norm(w))[:, None]])
            basis.append(j)
            if len(basis) == M:
                break
    return basis


def _highs_vertex(A: np.ndarray, y: np.ndarray):
    """HiGHS's solution and equality duals of ``min 1ᵀz, Az = y, z ≥ 0`` (``(None, None, msg)`` on failure)."""
    from scipy.optimize import linprog

    res = linprog(np.ones(A.shape[1]), A_eq=A, b_eq=y, bounds=(0, None), method="highs")
    if res.status != 0 or res.x is None:
        return None, None, f"HiGHS status {res.status}: {str(res.message).strip()}"
    marg = getattr(getattr(res, "eqlin", None), "marginals", None)
    nu = None if marg is None else np.asarray(marg, dtype=float)
    return np.asarray(res.x, dtype=float), nu, ""


def l1_lower_bound(problem, nu=None) -> Optional[Fraction]:
    """An exact lower bound on ``min{1ᵀz : A_eff z = y, z ≥ 0}`` by weak duality, without pivots:
    HiGHS's duals ``ν`` (or the given ones), taken as exact rationals and scaled into dual
    feasibility, ``θν`` with ``θ = min(1, 1/max_j (Aᵀν)_j)``, give ``θ⟨y, ν⟩``.  ``None`` without duals."""
    A = np.asarray(problem.A_eff, dtype=float)
    y = np.asarray(problem.y, dtype=float)
    if problem.is_trivial:
        return Fraction(0)
    if nu is None:
        _, nu, _ = _highs_vertex(A, y)
        if nu is None:
            return None
    M, n = A.shape
    nuq = fmpq_mat(M, 1, [fmpq(*float(v).as_integer_ratio()) for v in np.asarray(nu, dtype=float)])
    Aq = fmpq_mat(M, n, [fmpq(*float(v).as_integer_ratio()) for v in A.flat])
    yq = fmpq_mat(M, 1, [fmpq(*float(v).as_integer_ratio()) for v in y])
    atnu = Aq.transpose() * nuq
    mx = max(atnu[j, 0] for j in range(n))
    theta = fmpq(1) if mx <= 1 else 1 / mx
    val = theta * (yq.transpose() * nuq)[0, 0]
    return max(Fraction(0), _q_to_fraction(val))


def certify_l1(problem, *, z=None, nu=None, max_pivots: int = 1000) -> L1Certificate:
    """Certify ``min{1ᵀz : A_eff z = y, z ≥ 0}`` exactly (see the module docstring).

    ``z`` (and optionally the duals ``nu``): a candidate vertex in ``A_eff`` coordinates (default:
    HiGHS on ``A_eff``, through ``scipy.optimize.linprog(method="highs")``, with its duals).  The
    basis read off it (support, completed by the smallest reduced costs) is then checked and, if
    needed, repaired by exact simplex pivots: dual simplex when it is dual feasible (float64 data make
    a degenerate optimum nondegenerate by roundoff-sized entries, which HiGHS sets to 0), primal
    simplex when it is primal feasible, both with Bland's rule."""
    t0 = time.perf_counter()
    A = np.asarray(problem.A_eff, dtype=float)
    y = np.asarray(problem.y, dtype=float)
    M, n = A.shape
    cert = L1Certificate(optimal=False, reason="", n=n)

    def done(reason):
        cert.reason = reason
        cert.wall_time = time.perf_counter() - t0
        return cert

    if problem.is_trivial:
        cert.optimal, cert.value, cert.lower, cert.upper = True, Fraction(0), Fraction(0), Fraction(0)
        return done("y = 0: the optimum is 0 at z = 0")
    if z is None:
        z, nu_h, msg = _highs_vertex(A, y)
        if z is None:
            return done(f"HiGHS gave no vertex ({msg})")
        nu = nu if nu is not None else nu_h
    z = np.asarray(z, dtype=float).reshape(-1)
    if z.shape != (n,):
        raise ValueError(f"z must have n = {n} entries (A_eff coordinates), got {z.shape}")
    basis = _choose_basis(A, np.maximum(z, 0), None if nu is None else np.asarray(nu, dtype=float))
    if len(basis) < M:
        return done(f"A_eff has rank < M = {M} (found {len(basis)} independent columns): no basis")
    Aq = fmpq_mat(M, n, [fmpq(*float(v).as_integer_ratio()) for v in A.flat])
    yq = fmpq_mat(M, 1, [fmpq(*float(v).as_integer_ratio()) for v in y])
    lower = Fraction(0)  # ν = 0 is dual feasible (unit costs)
    pivots = 0
    unit = [fmpq(1)] * n
    cost = list(unit)  # shifted costs while repairing dual infeasibility (restored before optimality)
    shifted = False
    kinds = set()
    while True:
        B = fmpq_mat(M, M, [Aq[i, j] for i in range(M) for j in basis])
        try:
            zB = B.solve(yq)
            nu_unit = B.transpose().solve(fmpq_mat(M, 1, [1] * M))
            nuq = nu_unit if not shifted else B.transpose().solve(fmpq_mat(M, 1, [cost[j] for j in basis]))
        except ZeroDivisionError:
            return done("the candidate basis is singular in exact arithmetic")
        zBl = [zB[i, 0] for i in range(M)]
        atnu = Aq.transpose() * nuq
        red = [cost[j] - atnu[j, 0] for j in range(n)]
        inb = set(basis)
        # an exact lower bound whatever the basis: θν is dual feasible for θ = min(1, 1/max_j (Aᵀν)_j)
        atu = Aq.transpose() * nu_unit
        mx = max(atu[j, 0] for j in range(n))
        theta = fmpq(1) if mx <= 1 else 1 / mx
        yn = (yq.transpose() * nu_unit)[0, 0]
        if theta * yn > 0:
            lower = max(lower, _q_to_fraction(theta * yn))
        cert.basis, cert.z_basis = tuple(basis), tuple(_q_to_fraction(v) for v in zBl)
        cert.dual = tuple(_q_to_fraction(nu_unit[i, 0]) for i in range(M))
        cert.pivots, cert.lower = pivots, lower
        primal_ok = all(v >= 0 for v in zBl)
        dual_ok = all(red[j] >= 0 for j in range(n) if j not in inb)
        if primal_ok:
            upper = sum(cert.z_basis, Fraction(0))
            cert.upper = upper if cert.upper is None else min(cert.upper, upper)
            if shifted:  # back to the true costs; primal simplex from here
                cost, shifted = list(unit), False
                continue
        if primal_ok and dual_ok:
            cert.optimal, cert.value, cert.lower, cert.upper = True, upper, upper, upper
            how = f", after {pivots} exact simplex pivots ({' and '.join(sorted(kinds))})" if pivots else ""
            return done(f"optimal basis of {M} columns verified exactly (B⁻¹y ≥ 0, reduced costs ≥ 0{how}): "
                        f"‖z*‖₁ = {float(upper):.17g}")
        if pivots >= max_pivots:
            break
        if not primal_ok and not dual_ok:
            # shift the costs of the violating columns so that the basis is dual feasible (HiGHS's own
            # repair); the dual simplex then reaches primal feasibility and the costs are restored
            for j in range(n):
                if j not in inb and red[j] < 0:
                    cost[j] = cost[j] - red[j]
            shifted = True
            kinds.add("cost-shifted dual")
            continue
        if dual_ok:  # dual simplex: the row of the smallest-index basic variable that is negative
            kinds.add("dual")
            r = min((i for i in range(M) if zBl[i] < 0), key=lambda i: basis[i])
            rho = B.transpose().solve(fmpq_mat(M, 1, [1 if i == r else 0 for i in range(M)]))
            alpha = Aq.transpose() * rho
            cands = [(red[j] / (-alpha[j, 0]), j) for j in range(n) if j not in inb and alpha[j, 0] < 0]
            if not cands:
                return done("the dual ratio test found no entering column: the LP would be infeasible")
            _, entering = min(cands)
            basis = list(basis)
            basis[r] = entering
        else:  # primal simplex, Bland's rule
            kinds.add("primal")
            entering = min(j for j in range(n) if j not in inb and red[j] < 0)
            w = B.solve(fmpq_mat(M, 1, [Aq[i, entering] for i in range(M)]))
            ratios = [(zBl[i] / w[i, 0], basis[i], i) for i in range(M) if w[i, 0] > 0]
            if not ratios:
                return done("unbounded direction found (impossible for unit costs): not certified")
            _, _, leave = min(ratios)
            basis = list(basis)
            basis[leave] = entering
        pivots += 1
    return done(f"no optimal basis after {pivots} exact pivots; exact bounds [{float(cert.lower):.6g}, "
                f"{'–' if cert.upper is None else f'{float(cert.upper):.6g}'}]")


def _solve_fraction(Mtx: list, b: list) -> Optional[list]:
    """Gauss–Jordan with exact ``Fraction``s (partial pivoting on nonzero); ``None`` if singular."""
    m = len(Mtx)
    aug = [list(row) + [bi] for row, bi in zip(Mtx, b)]
    for c in range(m):
        p = next((r for r in range(c, m) if aug[r][c] != 0), None)
        if p is None:
            return None
        aug[c], aug[p] = aug[p], aug[c]
        piv = aug[c][c]
        aug[c] = [v / piv for v in aug[c]]
        for r in range(m):
            if r != c and aug[r][c] != 0:
                f = aug[r][c]
                aug[r] = [a - f * b_ for a, b_ in zip(aug[r], aug[c])]
    return [aug[r][m] for r in range(m)]


def recheck_l1_certificate(A, y, cert: L1Certificate) -> tuple:
    """Recheck ``cert`` independently of flint: exact ``Fraction`` solves of ``B z_B = y`` and
    ``Bᵀν = 1``, ``z_B ≥ 0``, ``1 − Aᵀν ≥ 0``, and ``Σ z_B = ⟨y, ν⟩ = value`` (strong duality).
    Returns ``(ok, message)``."""
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    M, n = A.shape
    if not cert.optimal:
        return False, "the certificate does not claim optimality"
    if cert.value == 0 and not np.any(y):
        return True, "y = 0: optimum 0"
    B = list(cert.basis)
    if len(B) != M or len(set(B)) != M or not all(0 <= j < n for j in B):
        return False, f"the basis must hold M = {M} distinct column indices"
    Aq = [[Fraction(float(v)) for v in row] for row in A]
    yq = [Fraction(float(v)) for v in y]
    Bm = [[Aq[i][j] for j in B] for i in range(M)]
    zB = _solve_fraction(Bm, yq)
    if zB is None:
        return False, "the basis matrix is singular"
    if any(v < 0 for v in zB):
        return False, "B⁻¹y has a negative entry"
    if tuple(zB) != tuple(cert.z_basis):
        return False, "B⁻¹y differs from the certificate's z_B"
    Bt = [[Bm[i][k] for i in range(M)] for k in range(M)]
    nu = _solve_fraction(Bt, [Fraction(1)] * M)
    red = [1 - sum(Aq[i][j] * nu[i] for i in range(M)) for j in range(n)]
    if any(v < 0 for v in red):
        return False, f"a reduced cost is negative (column {min(range(n), key=lambda j: red[j])})"
    primal = sum(zB, Fraction(0))
    dual = sum((a * b for a, b in zip(yq, nu)), Fraction(0))
    if primal != dual or primal != cert.value:
        return False, f"Σz_B = {primal}, ⟨y, ν⟩ = {dual} and the certified value {cert.value} differ"
    return True, f"rechecked exactly: B⁻¹y ≥ 0, 1 − Aᵀν ≥ 0, Σz_B = ⟨y, ν⟩ = {float(primal):.17g}"


# -------------------------------------------------------------------------------------------
# certified comparisons
# -------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """A relation decided on enclosures: ``margin ≥ 0`` ⟺ the relation holds."""

    decision: Decision
    claim: str
    message: str
    margin: Optional[arb] = None
    lhs: Optional[arb] = None
    rhs: Optional[arb] = None
    details: dict = field(default_factory=dict)

    @property
    def digits(self) -> Optional[float]:
        """The digits of the comparison's least precise side."""
        ws = [width_digits(v) for v in (self.lhs, self.rhs) if v is not None]
        return min(ws) if ws else None

    def as_dict(self) -> dict:
        out = {"decision": self.decision.value, "claim": self.claim, "message": self.message,
               "digits": self.digits}
        for name in ("margin", "lhs", "rhs"):
            v = getattr(self, name)
            out[name] = None if v is None else ball_json(v)
        out["details"] = {k: (ball_json(v) if isinstance(v, arb) else v) for k, v in self.details.items()}
        return out

    to_dict = as_dict  # the name every result type of numerics uses


def _prec_for(balls, prec: Optional[int] = None) -> int:
    """Working bits for arithmetic on given balls: enough not to round them further."""
    if prec is not None:
        return max(MIN_PREC, int(prec))
    acc = [b.rel_accuracy_bits() for b in balls if isinstance(b, arb) and b.is_finite() and not b.is_zero()]
    return max([MIN_PREC, _flint_ctx.prec] + [int(a) + 64 for a in acc if a < 10 ** 6])


def _decide(margin: arb) -> Decision:
    if margin >= 0:
        return Decision.CERTIFIED
    if margin < 0:
        return Decision.CERTIFIED_FAIL
    return Decision.UNDECIDED


def compare_c5(x_enclosure: Sequence[arb], x_values, tol, *, prec: Optional[int] = None) -> Comparison:
    """C5: ``max_i |x_i − X_i| ≤ tol`` for values ``x_values`` (e.g. the toolkit's ``x_∞`` at ``dps``,
    taken as exact numbers) against the enclosure ``X`` of the projection.  ``tol = 0`` asks
    whether every value lies in its ball (never CERTIFIED unless the balls are points)."""
    if len(x_values) != len(x_enclosure):
        raise ValueError(f"{len(x_values)} values for {len(x_enclosure)} balls")
    with _precision(_prec_for(x_enclosure, prec)):
        return _compare_c5(x_enclosure, x_values, tol)


def _compare_c5(x_enclosure, x_values, tol) -> Comparison:
    tol_a = to_arb(tol)
    ds = [abs(to_arb(v) - X) for v, X in zip(x_values, x_enclosure)]
    dist = ds[0]
    for d in ds[1:]:
        dist = dist.max(d)
    inside = all(X.contains(to_arb(v)) for v, X in zip(x_values, x_enclosure))
    dec = _decide(tol_a - dist)
    msg = (f"max_i |x_i − X_i| = {_fmt(dist, 4)} vs tol {float(tol_a):.3g}: {dec.value}; the values lie "
           f"{'inside' if inside else 'outside'} the enclosure")
    return Comparison(dec, "C5", msg, margin=tol_a - dist, lhs=dist, rhs=tol_a, details={"inside": inside})


def _l1_bound(L: int, n: int, S: arb, l1: arb, log_alpha: arb) -> Optional[arb]:
    """The §5.1 bound in ball arithmetic (``numerics._derived.l1_bound_L2`` / ``l1_bound_Lgt2``,
    with ``α_eff`` by its logarithm); ``None`` where it does not apply (``L = 2``: ``α_eff < 1``)."""
    if L == 2:
        if not log_alpha < 0:
            return None
        lz = l1 * l1.log() if l1 > 0 else arb(0)
        return (lz - l1 - S * (S / n).log() + S) / (-2 * log_alpha)
    q = arb(2) / L
    return arb(L) / 2 * ((L - 2) * log_alpha).exp() * (arb(n).log() * (L - 2) / L).exp() * (q * S.log()).exp()


def compare_c6(limit_cert: LimitCertificate, l1_cert: L1Certificate, *, bound_factor=1) -> Comparison:
    """C6: ``S − ‖z*‖₁ ≤ bound_factor · bound`` (docs/math.md §5.1) on the enclosures of ``S``,
    ``α_eff`` and the exact ``‖z*‖₁`` (or its certified bounds).  ``bound_factor`` is exact (a float
    is the double it is): a value below 1 plants a wrong, too small bound."""
    if not limit_cert.certified:
        return Comparison(Decision.UNDECIDED, "C6", f"the limit is not certified: {limit_cert.reason}")
    if limit_cert.log_alpha_eff is None:
        return Comparison(Decision.UNDECIDED, "C6", "the §5 bound needs a uniform β (default u₀)")
    with _precision(max(limit_cert.prec, MIN_PREC)):
        l1 = l1_cert.value_ball()
        if l1 is None:
            return Comparison(Decision.UNDECIDED, "C6", f"the ℓ1 optimum is not certified: {l1_cert.reason}")
        S = limit_cert.S
        bound = _l1_bound(limit_cert.L, limit_cert.n, S, l1, limit_cert.log_alpha_eff)
        if bound is None:
            return Comparison(Decision.UNDECIDED, "C6",
                              f"the L = 2 bound needs α_eff < 1; log α_eff = {_fmt(limit_cert.log_alpha_eff, 6)}")
        judged = to_arb(_fraction(bound_factor)) * bound
        gap = S - l1
        margin = judged - gap
        dec = _decide(margin)
        ratio = gap / bound if bound > 0 else None
        msg = (f"gap {_fmt(gap)} vs {'bound' if bound_factor == 1 else f'{float(bound_factor):g} × bound'} "
               f"{_fmt(judged)}: {dec.value}" + (f" (ratio {_fmt(ratio, 6)})" if ratio is not None else ""))
        return Comparison(dec, "C6", msg, margin=margin, lhs=gap, rhs=judged,
                          details={"bound": bound, "S": S, "l1": l1, "ratio": ratio,
                                   "bound_factor": str(_fraction(bound_factor)), "l1_exact": l1_cert.optimal})


def compare_c7(points, *, prec: Optional[int] = None) -> Comparison:
    """C7 (docs/math.md §5.3): ``‖x_∞‖₁`` does not increase as ``α_eff`` decreases.

    ``points``: :class:`LimitCertificate` s, or pairs ``(log α_eff, S)`` of balls.  Sorted by
    ``α_eff`` decreasing; each consecutive pair needs a certified order of ``α_eff`` and is CERTIFIED
    when ``S_k − S_{k+1} ≥ 0`` on the whole enclosures; one certified increase is a CERTIFIED_FAIL."""
    pts = []
    for p in points:
        if isinstance(p, LimitCertificate):
            if not p.certified or p.log_alpha_eff is None:
                return Comparison(Decision.UNDECIDED, "C7", f"a limit is not certified (or β not uniform): {p.reason}")
            pts.append((p.log_alpha_eff, p.S))
        else:
            la, S = p
            pts.append((to_arb(la), to_arb(S)))
    if len(pts) < 2:
        return Comparison(Decision.UNDECIDED, "C7", "need at least two points")
    with _precision(_prec_for([b for pt in pts for b in pt], prec)):
        return _compare_c7(pts)


def _compare_c7(pts) -> Comparison:
    pts.sort(key=lambda t: -float(t[0].mid()))
    pairs, worst = [], None
    fail = undecided = False
    for (la, Sa), (lb, Sb) in zip(pts, pts[1:]):
        if not la > lb:
            pairs.append({"decision": Decision.UNDECIDED.value, "why": "α_eff order not resolved"})
            undecided = True
            continue
        m = Sa - Sb
        d = _decide(m)
        pairs.append({"decision": d.value, "S_drop": ball_json(m)})
        fail |= d is Decision.CERTIFIED_FAIL
        undecided |= d is Decision.UNDECIDED
        worst = m if worst is None else worst.min(m)
    dec = Decision.CERTIFIED_FAIL if fail else (Decision.UNDECIDED if undecided else Decision.CERTIFIED)
    msg = f"{len(pts)} points along decreasing α_eff: {dec.value} (smallest drop of S: " \
          f"{_fmt(worst, 6)})"
    return Comparison(dec, "C7", msg, margin=worst, details={"pairs": pairs})


# -------------------------------------------------------------------------------------------
# C6 at every root of φ: branch and bound over the radius
# -------------------------------------------------------------------------------------------
BNB_MAX_INTERVALS = 4000
"""Default budget of :func:`certify_c6_at_every_root`: the most intervals (certified projections) it evaluates."""
BNB_TIME_LIMIT = 30.0
"""Default ``time_limit=`` (seconds, wall clock) of :func:`certify_c6_at_every_root`."""
_BNB_MIN_REL_WIDTH = 1e-12
"""An interval narrower than this (relative) that is still unsettled is not split further: the
comparison straddles (or does not apply) at a root, which a finer subdivision cannot change."""
BNB_GRID_RATIO = 1.0625
"""The first grid of :func:`certify_c6_at_every_root`: consecutive end points in this ratio (geometric)."""


@dataclass
class RootsComparison:
    """Outcome of :func:`certify_c6_at_every_root`.

    ``decision``: ``CERTIFIED`` (the C6 comparison holds at every root of ``φ`` on ``(0, ∞)``),
    ``CERTIFIED_FAIL`` (it fails at every root) or ``UNDECIDED`` (``reason`` says why: the budget ran
    out, the comparison holds at some radii and fails at others, …).  ``lo`` / ``hi``: the range the
    subdivision covered (exact end points); ``root_free``, ``holds``, ``fails``: how many of its
    intervals were settled each way; ``unsettled``: intervals left when it stopped; ``evaluated``:
    certified projections tried (the budget's unit); ``narrowest``: the smallest relative width
    ``hi/lo − 1`` of a settled interval."""

    decision: Decision
    reason: str
    lo: Optional[arb] = None
    hi: Optional[arb] = None
    root_free: int = 0
    holds: int = 0
    fails: int = 0
    unsettled: int = 0
    evaluated: int = 0
    narrowest: float = float("nan")
    prec: int = 0
    above: str = ""
    wall_time: float = float("nan")

    def as_dict(self) -> dict:
        return {"decision": self.decision.value, "reason": self.reason,
                "lo": None if self.lo is None else ball_json(self.lo),
                "hi": None if self.hi is None else ball_json(self.hi),
                "root_free": self.root_free, "holds": self.holds, "fails": self.fails, "unsettled": self.unsettled,
                "evaluated": self.evaluated, "narrowest": self.narrowest, "prec_bits": self.prec, "above": self.above,
                "wall_time": self.wall_time}

    to_dict = as_dict  # the name every result type of numerics uses


def _geometric_mid(a: arb, b: arb) -> Optional[arb]:
    """An exact point strictly between the points ``0 < a < b`` (their geometric mean, rounded)."""
    m = (a * b).sqrt().mid()
    if m > a and m < b:
        return m
    m = ((a + b) / 2).mid()
    return m if (m > a and m < b) else None


def certify_c6_at_every_root(problem, config, limit_cert: LimitCertificate, l1_cert: L1Certificate, *,
                             bound_factor=1, max_intervals: int = BNB_MAX_INTERVALS,
                             time_limit: float = BNB_TIME_LIMIT, grid_ratio: float = BNB_GRID_RATIO,
                             prec: Optional[int] = None) -> RootsComparison:
    """C6 (``S − ‖z*‖₁ ≤ bound_factor · bound``, docs/math.md §5.1) decided at *every* root of
    ``φ(r) = Σ x_i(r)^{2/L} − r²`` (docs/math.md §4.3) on ``(0, ∞)``, for a limit whose root is not
    proven unique: the flow's limit is one of these roots, so the claim holds for it when it holds at
    all of them, whichever it is.

    The half-line is split up as follows.

    * ``(0, a₀)`` with ``a₀ = (min ℓ1)^{1/L}`` (``l1_cert.lower``, exact): ``φ > 0`` there, since
      ``Σx^{2/L} ≥ (Σx)^{2/L} ≥ (min ℓ1)^{2/L} > r²`` for every feasible ``x``.
    * Above ``√η̃`` (``limit_cert.uniqueness``): where the bracket lies below ``√η̃``, ``φ < 0`` is
      certified on a ball around ``√η̃`` (``β`` as balls) and ``φ`` is strictly decreasing on
      ``r² > η̃`` (§4.3 / §5.3), so no root lies above the ball's lower end.  Where the certificate is
      "unique above √η̃", its bracket holds the only root of ``(√η̃, ∞)``, and the comparison on the
      bracket (:func:`compare_c6`) decides it.
    * In between, ``[a₀, b]``: a geometric grid (ratio ``grid_ratio``), each interval ``[a, c]``
      pushed through one certified projection with ``β`` as balls over the whole interval
      (``log ρ`` is decreasing on ``r² ≤ η̃``, so its range is that of the end points; beyond, its
      ball evaluation).  The interval is settled (a) root-free when ``Σx^{2/L} − [a², c²]`` has a
      certified sign, or (b) by the comparison ``bound_factor · bound − (S − ‖z*‖₁)`` with a
      certified sign on the whole interval (``S`` and ``α_eff`` enclosed over it, ``‖z*‖₁`` exact);
      otherwise it is bisected (geometric midpoint).

    Budget: at most ``max_intervals`` certified projections and ``time_limit`` seconds; when either
    runs out the result is ``UNDECIDED`` and says where it stopped.  ``CERTIFIED`` needs every
    interval root-free or holding, ``CERTIFIED_FAIL`` every interval root-free or failing; a range
    with both a holding and a failing interval is ``UNDECIDED`` (the roots are not located finely
    enough to say which applies), and it stops there."""
    t0 = time.perf_counter()
    out = RootsComparison(Decision.UNDECIDED, "")

    def done(decision, reason):
        out.decision, out.reason, out.wall_time = decision, reason, time.perf_counter() - t0
        return out

    if not limit_cert.certified:
        return done(Decision.UNDECIDED, f"the limit is not certified: {limit_cert.reason}")
    if config.rates != "constant":
        return done(Decision.UNDECIDED, "the branch and bound is written for constant rates (ρ(r) of docs/math.md §4.3)")
    if limit_cert.log_alpha_eff is None:
        return done(Decision.UNDECIDED, "the §5 bound needs a uniform β (default u₀)")
    if l1_cert.lower is None or not l1_cert.lower > 0 or l1_cert.value_ball() is None:
        return done(Decision.UNDECIDED, "no positive exact lower bound on min ℓ1 (or no certified optimum)")
    L, n = config.L, problem.n
    A, y = problem.A_eff, problem.y
    bits = max(MIN_PREC, int(prec) if prec is not None else limit_cert.prec)
    out.prec = bits
    with _precision(bits):
        model = _LimitModel(config, n)
        et = model.et
        z = l1_cert.value_ball()
        bf = to_arb(_fraction(bound_factor))
        nu_state = {"nu": [v.mid() for v in limit_cert.projection.nu]
                    if limit_cert.projection is not None and limit_cert.projection.nu else None}

        def project(log_beta):
            """A certified projection for the β box, from the last dual centre or a fresh float64 one."""
            nu = nu_state["nu"]
            pc = None
            if nu is not None:
                pc = certify_projection(A, y, L, log_beta=log_beta, nu=nu, prec=bits, refine=20)
            if pc is None or not pc.certified:
                start = _centre_for(problem, L, log_beta)
                if start is None:
                    return None
                pc = certify_projection(A, y, L, log_beta=log_beta, nu=start, prec=bits, refine=20)
            if pc.certified:
                nu_state["nu"] = [v.mid() for v in pc.nu]
            return pc

        def comparison(log_rho, pc):
            """``bound_factor · bound − gap`` on the enclosures (None where the bound does not apply)."""
            S = pc.l1
            bound = _l1_bound(L, n, S, z, model.log_alpha(log_rho))
            return None if bound is None else bf * bound - (S - z)

        # below: (0, a₀) root-free from the exact LP lower bound
        a0 = to_arb(l1_cert.lower).root(L).lower()
        E = et.sqrt()
        extra = None  # the bracket above √η̃: its comparison decides the root there
        if limit_cert.uniqueness == "unique":
            cmp = compare_c6(limit_cert, l1_cert, bound_factor=bound_factor)
            return done(cmp.decision, f"the root of φ is unique on (0, ∞) ({limit_cert.uniqueness_reason}): the "
                                      f"comparison on its bracket decides: {cmp.message}")
        if limit_cert.uniqueness == "unique above √η̃":
            cmp = compare_c6(limit_cert, l1_cert, bound_factor=bound_factor)
            if cmp.decision is Decision.UNDECIDED:
                return done(Decision.UNDECIDED, f"the comparison on the bracket above √η̃ is undecided: {cmp.message}")
            extra = cmp.decision
            hi = E.upper()
            out.above = (f"(√η̃, ∞) holds one root, in the bracket, where the comparison is "
                         f"{'proven' if extra is Decision.CERTIFIED else 'refuted'} (φ strictly decreasing on r² > η̃)")
        else:  # existence only: the range does not depend on where the bracket lies
            pE = project([model.L * (lw - model.log_rho(E)) for lw in model.logw0])
            out.evaluated += 1
            if pE is None or not pE.certified:
                return done(Decision.UNDECIDED, f"the projection at √η̃ is not certified: "
                                                f"{'no dual start' if pE is None else pE.reason}")
            phiE = pE.sum_q - E * E
            if not phiE < 0:
                return done(Decision.UNDECIDED, f"φ(√η̃) < 0 is not certified (φ = {_fmt(phiE, 5)}): a root at or "
                                                f"above √η̃ is not excluded")
            hi = E.lower()
            out.above = (f"[{float(hi):.6g}, ∞) root-free: φ < 0 on a ball around √η̃ = {float(E.mid()):.6g} and φ "
                         f"strictly decreasing on r² > η̃ (docs/math.md §4.3, §5.3)")
        out.lo, out.hi = a0, hi
        if not hi > a0:
            return done(Decision.UNDECIDED, f"the range [a₀, √η̃] is empty (a₀ = {float(a0):.6g}); nothing to subdivide")
        # the first grid, geometric, from the top down (the stack then works upward from a₀)
        q = to_arb(_fraction(grid_ratio))
        if not q > 1:
            raise ValueError(f"grid_ratio must exceed 1, got {grid_ratio!r}")
        k = max(1, int(math.ceil(math.log(float(hi) / float(a0)) / math.log(float(grid_ratio)))))
        pts = [a0]
        for i in range(1, k):
            pts.append((a0 * q ** i).mid())
        pts.append(hi)
        stack = [(pts[i], pts[i + 1]) for i in range(len(pts) - 2, -1, -1) if pts[i + 1] > pts[i]]
        narrowest = math.inf
        while stack:
            if out.evaluated >= max_intervals or time.perf_counter() - t0 > time_limit:
                a, _ = stack[-1]
                out.unsettled = len(stack)
                spent = (f"{out.evaluated} intervals" if out.evaluated >= max_intervals
                         else f"{time.perf_counter() - t0:.3g} s of {time_limit:g} s")
                return done(Decision.UNDECIDED,
                            f"the branch-and-bound budget ran out ({spent}) with {len(stack)} intervals unsettled, "
                            f"from r = {float(a):.6g} on ({out.root_free} root-free, {out.holds} holding, "
                            f"{out.fails} failing so far)")
            a, c = stack.pop()
            R = _ball_of(a, c)
            if c * c <= et:  # log ρ decreasing on r² ≤ η̃ (d/dr log ρ = r/η̃ − 1/r): its range is the end points'
                log_rho = _ball_of(model.log_rho(c), model.log_rho(a))
            else:
                log_rho = model.log_rho(R)
            log_beta = [model.L * (lw - log_rho) for lw in model.logw0]
            pc = project(log_beta)
            out.evaluated += 1
            kind, why = None, ""
            if pc is None or not pc.certified:
                why = f"the projection is not certified: {'no dual start' if pc is None else pc.reason}"
            else:
                phi = pc.sum_q - _ball_of(a * a, c * c)
                if phi > 0 or phi < 0:
                    kind = "root_free"
                else:
                    m = comparison(log_rho, pc)
                    if m is not None and m >= 0:
                        kind = "holds"
                    elif m is not None and m < 0:
                        kind = "fails"
                    else:
                        why = ("the L = 2 bound needs α_eff < 1, which the interval does not certify" if m is None
                               else f"φ's sign and the comparison (margin {_fmt(m, 4)}) are both unresolved")
            if kind is None:
                mid = _geometric_mid(a, c)
                if mid is None or float(c / a) - 1 < _BNB_MIN_REL_WIDTH:
                    out.unsettled = len(stack) + 1
                    return done(Decision.UNDECIDED, f"the interval [{float(a):.15g}, {float(c):.15g}] is not settled "
                                                    f"at relative width {float(c / a) - 1:.2g}: {why}")
                stack.append((mid, c))
                stack.append((a, mid))
                continue
            setattr(out, kind, getattr(out, kind) + 1)
            narrowest = min(narrowest, float(c / a) - 1)
            out.narrowest = narrowest
            holds, fails = out.holds + (extra is Decision.CERTIFIED), out.fails + (extra is Decision.CERTIFIED_FAIL)
            if holds and fails:
                out.unsettled = len(stack)
                return done(Decision.UNDECIDED,
                            f"the comparison holds on some radii and fails on others (up to r = {float(c):.6g}: "
                            f"{out.holds} intervals holding, {out.fails} failing{', and on the bracket above √η̃' if extra else ''}); "
                            f"the roots are not located finely enough to decide")
        holds, fails = out.holds + (extra is Decision.CERTIFIED), out.fails + (extra is Decision.CERTIFIED_FAIL)
        span = (f"[{float(a0):.6g}, {float(hi):.6g}]: {out.root_free} intervals root-free, "
                f"{out.holds if holds else out.fails} intervals with the comparison "
                f"{'proven' if holds else 'refuted'}{' (and the bracket above √η̃)' if extra else ''} "
                f"(relative widths down to {narrowest:.2g}, {bits} bits)")
        tail = f"(0, {float(a0):.6g}) root-free by the exact ℓ1 lower bound; {out.above}"
        if holds and not fails:
            return done(Decision.CERTIFIED, f"C6 holds at every root of φ in (0, ∞): {span}; {tail}")
        if fails and not holds:
            return done(Decision.CERTIFIED_FAIL, f"C6 fails at every root of φ in (0, ∞): {span}; {tail}")
        return done(Decision.UNDECIDED, f"every interval is root-free, yet a root was certified: inconsistent ({span})")
