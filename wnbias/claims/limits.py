"""Claims about the limit (docs/math.md §4–§5): C5 x_∞ is the Bregman projection of β,
C6 the ℓ1 gap is below the §5 bound, C7 magnification (‖x_∞‖₁ non-increasing as α_eff
decreases; the measured slope is reported, not judged).

With ``certify=True`` (``wnbias verify --certify``; docs/certify.md, "In the claims") each limit
row is also decided on rigorous enclosures (``numerics._certify``): C5 compares the values the
check computed (the flows' ``x(T)``, the independent dps re-projection) with the certified ``x_∞``;
C6 is ``gap ≤ bound`` with ``S``, ``α_eff`` and the exact ``‖z*‖₁`` enclosed; C7 the order of
the enclosed ``‖x_∞‖₁`` along decreasing ``α_eff``.  The row's verdict then becomes ``CERTIFIED``
or a certified ``FAIL`` (``registry.apply_certificate``); an undecided comparison keeps the
numeric verdict and says why.  A C6 row whose root is not proven to be the only one is decided at
every root of φ by a branch and bound over the radius (:func:`certify_c6`).

Every quantity involving ρ is computed from ``log ρ`` (``numerics._formulas.log_rho``): ``ρ`` itself
overflows float64 when ``r_∞² − r₀² > ~1400 η̃``."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np

from numerics import _formulas as F
from numerics._arith import mp_array, to_float
from numerics._status import NumericalError, Status
from numerics._config import FlowConfig
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, tol, workdps
from numerics._problem import Problem
from wnbias.claims import problems as P
from wnbias.claims._common import (
    BOUND_VARIANTS, effective_dps, final_weights, fit_line, integrate, l1_bound_log, project, project_mp,
    require_run, w_distance, x_eff_of,
)
from wnbias.claims.registry import (
    FAIL, SKIP, AssumptionFailed, Case, Claim, EmptyCheck, Row, apply_certificate, need, register, verdict_le,
)

T_FLOAT64 = 1e4
"""Horizon of C5's float64 flow."""
T_MP = 2.0
"""Horizon of C5's high-precision (Taylor) flow: r moves by O(η_r) (the finite-time identity
holds at any time; the limit comparison needs the run to converge)."""
LIMIT_TIME_LIMIT = 600.0
"""``time_limit=`` (seconds) of one limit solve: far above the honest work of every built-in
case (seconds at most), so that a busy machine does not decide what is checked.  A solve that
still hits it has status TIME_LIMIT and its row FAILs with that status: computing the limit is
the machinery's job, not an assumption of the claim."""


def limit_of(problem, config, dps):
    """``numerics._limit.limit_solve`` at ``dps`` (None: float64), converged.

    An inconsistent or trivial problem is an :class:`EmptyCheck` (SKIP); any other status
    (NOT_CONVERGED, NOISE_FLOOR, TIME_LIMIT, FAILED) raises ``NumericalError`` (a FAIL row with
    the status): the limit exists under the claims' hypotheses, and not finding it is a failure
    of the solver, not of an assumption."""
    limit_solve = need("numerics._limit", "limit_solve")
    res = limit_solve(problem, config, dps=dps, time_limit=LIMIT_TIME_LIMIT)
    st = res.status
    if st is Status.CONVERGED:
        return res
    if st is Status.INCONSISTENT or st is Status.TRIVIAL:
        raise EmptyCheck(f"the limit solver found the problem {st.value}: {res.message}")
    raise NumericalError(st, f"the limit solver (η̃ = {config.eta_tilde:.4g}, L = {config.L}, dps = {dps}): {res.message}")


# -- certificates (numerics._certify; docs/certify.md) ------------------------------------------

CERT_DPS = 40
"""The precision of a certificate's centre where the check's own limit is coarser: the limit is
solved again at 40 digits (``numerics._certify.MIN_PREC`` = 133 bits), so that float64 cases get
enclosures of about 40 digits (C7's drops of ``‖x_∞‖₁`` and C6's tiny gaps need them)."""


def _fmt_ball(b, digits: int = 6) -> str:
    """``mid ± rad`` of a ball for messages (the rigorous strings are in ``certificate["balls"]``)."""
    return "–" if b is None else f"{float(b.mid()):.{digits}g} ± {float(b.rad()):.2g}"


def _not_applicable(why: str) -> dict:
    return {"decision": "not_applicable", "complete": False, "reason": why}


def _undecided(why: str, **extra) -> dict:
    return {"decision": "undecided", "complete": False, "reason": why, **extra}


def certify_limit_of(problem, config, lim=None):
    """``(LimitCertificate or None, why)`` for the limit of ``(problem, config)``.

    The centre is ``lim`` when it was computed at ``CERT_DPS`` digits or more (or at least 30 and
    the caller wants the enclosure of *its* value, as C5 does), else a fresh limit solve at
    :data:`CERT_DPS`.  A centre that cannot be computed is not a verdict on the claim: the
    certificate is then ``None`` with the reason (the row keeps its numeric verdict)."""
    certify_limit = need("numerics._certify", "certify_limit")
    if lim is None or lim.dps is None or lim.dps < 30:
        try:
            lim = limit_of(problem, config, CERT_DPS)
        except (NumericalError, EmptyCheck) as exc:
            return None, f"the centre (limit solve at dps {CERT_DPS}) could not be computed: {exc}"
    cert = certify_limit(problem, config, lim)
    if not cert.certified:
        return None, f"the limit is not certified: {cert.reason}"
    return cert, ""


ROOTS_MAX_STEPS = 5000
"""Most steps of each root-free iteration of :func:`prove_all_roots_in_bracket`."""
ROOTS_TIME_LIMIT = 20.0
"""``time_limit=`` (seconds) of :func:`prove_all_roots_in_bracket` (both iterations together)."""


class _FlintPrec:
    """``flint.ctx.prec = bits`` inside the block (restored after)."""

    def __init__(self, bits: int):
        self.bits = int(bits)

    def __enter__(self):
        from flint import ctx

        self.old, ctx.prec = ctx.prec, self.bits
        return self

    def __exit__(self, *exc):
        from flint import ctx

        ctx.prec = self.old
        return False


def prove_all_roots_in_bracket(problem, config, cert, *, l1_lower=None, max_steps: int = ROOTS_MAX_STEPS,
                               time_limit: float = ROOTS_TIME_LIMIT) -> tuple:
    """``(proven, reason)``: every root of ``φ`` on ``(0, ∞)`` lies in the certificate's bracket
    ``[r_lo, r_hi]``, for a bracket with ``r_hi² ≤ η̃`` (where ``numerics._certify`` proves existence
    only).  Then the flow's limit, which is a root of ``φ`` (docs/math.md §4.3), lies in the
    bracket, and a comparison certified on the whole enclosure holds for it, whether or not the
    root is unique inside the bracket.

    The argument (docs/math.md §4.3 and §5.3; ``S(r) = Σ x_i(r)^{2/L}`` does not increase as ``ρ``
    grows, ``ρ`` decreases in ``r`` on ``r² < η̃``, so there ``S`` is non-decreasing in ``r``):

    * below: ``S(r) ≥ (min ℓ1)^{2/L}`` for every ``r`` (``Σx^{2/L} ≥ (Σx)^{2/L}``), so ``(0, a₀)``
      with ``a₀ = (min ℓ1)^{1/L}`` is root-free; if ``[a_k, a_{k+1})`` with ``a_{k+1} ≤ √S(a_k)``,
      ``S(r) ≥ S(a_k) ≥ a_{k+1}² > r²`` there: root-free; the iteration climbs until ``a_k ≥ r_lo``;
    * above: ``φ < 0`` on a ball around ``√η̃`` (certified, with ``β`` as balls), and ``φ`` is
      strictly decreasing on ``r² > η̃``: no root in ``[√η̃, ∞)``; from ``b₀ ≤ √η̃`` down,
      ``(b_{k+1}, b_k]`` with ``b_{k+1} ≥ √S(b_k)`` is root-free (``S(r) ≤ S(b_k) ≤ b_{k+1}² < r²``),
      until ``b_k ≤ r_hi``.

    Every ``S(a)`` is the enclosure of a certified projection (``numerics._certify.certify_projection``)
    at an exact point; the bounds are rounded outward.  The iterations converge linearly to the
    smallest and the largest root; a root outside the bracket stops them (not proven)."""
    import time as _time

    C = need("numerics._certify")

    if config.rates != "constant":
        return False, "the root-free iterations are written for constant rates"
    L, A, y, n = config.L, problem.A_eff, problem.y, problem.n
    t0 = _time.perf_counter()
    bits = max(cert.prec, C.MIN_PREC)
    with _FlintPrec(bits):
        et = C.to_arb(config.exact("eta_tilde"))
        r_lo, r_hi = cert.r_lo, cert.r_hi
        if not r_hi * r_hi <= et:
            return False, "the bracket reaches r² > η̃ (the monotone region is numerics._certify's own argument)"
        nu_root = [v.mid() for v in cert.projection.nu] if cert.projection is not None and cert.projection.nu else None
        model = C._LimitModel(config, n)

        def S_at(r, nu):
            """The certified ``Σx^{2/L}`` at ``r`` (a point or a ball) and the dual centre, or ``(None, why)``."""
            lb = model.log_beta(r)  # ball arithmetic from the exact parameters: numerics._certify's home
            given = nu is not None
            if nu is None:
                bp = need("numerics._bregman", "bregman_projection")
                res = bp(A, y, None, L, log_beta=np.array([float(v.mid()) for v in lb]))
                if res.nu is None or not np.all(np.isfinite(_vec64(res.nu))):
                    return None, f"no dual start at r = {float(r.mid()):.6g} ({res.status.value})"
                nu = [float(v) for v in _vec64(res.nu)]
            pc = C.certify_projection(A, y, L, log_beta=lb, nu=nu, prec=bits, refine=30)
            if not pc.certified and given:  # the previous point's dual was too far: a fresh float64 start
                return S_at(r, None)
            if not pc.certified:
                return None, f"the projection at r = {float(r.mid()):.6g} is not certified: {pc.reason}"
            return pc.sum_q, [v.mid() for v in pc.nu]

        # above: φ < 0 around √η̃, then down from b₀ = (lower end of that ball)
        E = et.sqrt()
        SE, nu = S_at(E, nu_root)
        if SE is None:
            return False, f"φ near √η̃: {nu}"
        if not SE - E * E < 0:
            return False, f"φ(√η̃) < 0 is not certified (φ = {_fmt_ball(SE - E * E)}): a root at or above √η̃ is not excluded"
        b = E.lower()
        steps_down = 0
        while not b <= r_hi:
            if steps_down >= max_steps or _time.perf_counter() - t0 > time_limit:
                return False, (f"the root-free iteration from above stopped at r = {float(b):.15g} after {steps_down} "
                               f"steps, above the bracket's r_hi = {float(r_hi):.15g}")
            Sb, nu = S_at(b, nu)
            if Sb is None:
                return False, nu
            b_new = Sb.upper().sqrt().upper()
            if not b_new < b:
                return False, f"the root-free iteration from above stalled at r = {float(b):.15g} (another root?)"
            b, steps_down = b_new, steps_down + 1
        # below: (0, a₀) from the exact LP lower bound, then up
        lower = l1_lower if l1_lower is not None else C.l1_lower_bound(problem)
        if lower is None or not lower > 0:
            return False, "no positive exact lower bound on min ℓ1 to start the root-free iteration from below"
        a = C.to_arb(lower).root(L).lower()
        steps_up = 0
        nu = None
        while not a >= r_lo:
            if steps_up >= max_steps or _time.perf_counter() - t0 > time_limit:
                return False, (f"the root-free iteration from below stopped at r = {float(a):.15g} after {steps_up} "
                               f"steps, below the bracket's r_lo = {float(r_lo):.15g}")
            Sa, nu = S_at(a, nu)
            if Sa is None:
                return False, nu
            a_new = Sa.lower().sqrt().lower()
            if not a_new > a:
                return False, f"the root-free iteration from below stalled at r = {float(a):.15g} (another root?)"
            a, steps_up = a_new, steps_up + 1
    return True, (f"every root of φ lies in the bracket: (0, r_lo) is root-free by {steps_up} certified steps "
                  f"a_(k+1) = √S(a_k) from (min ℓ1)^(1/L), and (r_hi, ∞) by φ(√η̃) < 0, φ decreasing on r² > η̃ "
                  f"and {steps_down} certified steps b_(k+1) = √S(b_k) down from √η̃ (S non-decreasing in r on "
                  f"r² < η̃, docs/math.md §4.3, §5.3); {_time.perf_counter() - t0:.2g} s")


def _uniqueness_note(cert, problem=None, config=None, l1_lower=None) -> tuple:
    """``(complete, note)``: a certificate is of the flow's limit where every root of φ lies in
    its bracket: the root is unique on (0, ∞) (``numerics._certify``, docs/math.md §4.3), or
    :func:`prove_all_roots_in_bracket` shows it (given ``problem`` and ``config``).  Otherwise
    it encloses *a* root, which need not be the flow's limit.  The outcome is cached on ``cert``."""
    if cert.uniqueness == "unique":
        return True, ""
    cached = getattr(cert, "_all_roots", None)
    if cached is None and problem is not None and config is not None and cert.r_hi is not None:
        cached = prove_all_roots_in_bracket(problem, config, cert, l1_lower=l1_lower)
        cert._all_roots = cached
    if cached is not None and cached[0]:
        return True, cached[1]
    extra = f" ({cached[1]})" if cached is not None else ""
    return False, (f"the root of φ at r_∞ ∈ {_fmt_ball(cert.r, 12)} is not proven to be "
                   f"the only one ({cert.uniqueness}: {cert.uniqueness_reason}), so the enclosure may not be of the "
                   f"flow's limit{extra}")


def _limit_balls(cert) -> dict:
    C = need("numerics._certify")
    out = {"r": C.ball_json(cert.r), "S": C.ball_json(cert.S)}
    if cert.alpha_eff is not None:
        out["alpha_eff"] = C.ball_json(cert.alpha_eff)
        out["log_alpha_eff"] = C.ball_json(cert.log_alpha_eff)
    out["log_rho"] = C.ball_json(cert.log_rho)
    return out


def _limit_summary(cert) -> dict:
    roots = getattr(cert, "_all_roots", None)
    return {"uniqueness": cert.uniqueness, "all_roots_in_bracket": None if roots is None else roots[0],
            "all_roots_reason": None if roots is None else roots[1], "prec_bits": cert.prec, "r_digits": cert.r_digits,
            "x_digits": min(need("numerics._certify").width_digits(v) for v in cert.x),
            "toolkit_r_inside": cert.toolkit_inside, "toolkit_error_bar_holds": cert.toolkit_error_bar_holds,
            "limit_reason": cert.reason}


def _certify_c5(cert, values, threshold, what: str, problem=None, config=None) -> dict:
    """C5 on the enclosure: ``max_i |values_i − X_i| ≤ threshold`` (values and threshold exact)."""
    C = need("numerics._certify")
    cmp = C.compare_c5(cert.x, list(values), threshold)
    complete, note = _uniqueness_note(cert, problem, config)
    digits = min(C.width_digits(v) for v in cert.x)
    short = {"certified": f"|{what} − x_∞| ≤ tol", "certified_fail": f"|{what} − x_∞| > tol"}.get(cmp.decision.value, "")
    out = {"decision": cmp.decision.value, "complete": complete, "incomplete": note, "short": short,
           "proven": (f"max_i |{what}_i − x_∞,i| ≤ {float(threshold):.3g} for every x_∞ in the certified enclosure "
                      f"({digits:.1f} digits) of the limit" if cmp.decision is C.Decision.CERTIFIED else
                      f"max_i |{what}_i − x_∞,i| > {float(threshold):.3g} on the whole certified enclosure"
                      if cmp.decision is C.Decision.CERTIFIED_FAIL else ""),
           "reason": "" if cmp.decision is not C.Decision.UNDECIDED else f"the enclosure straddles the tolerance: {cmp.message}",
           "digits": digits, "comparison": cmp.message, "values_inside": cmp.details.get("inside"),
           "balls": {**_limit_balls(cert), "distance": C.ball_json(cmp.lhs), "tol": C.ball_json(cmp.rhs),
                     "margin": C.ball_json(cmp.margin), "x": [C.ball_json(v) for v in cert.x]},
           **_limit_summary(cert)}
    return out


def _vec64(v):
    """A float64 array of the values of ``v`` (float64 or mpf entries; None stays None)."""
    return None if v is None else np.asarray(to_float(np.asarray(v, dtype=object) if isinstance(v, list) else v),
                                              dtype=float)


def _log_rho_beta(config, n, r, dps=None):
    """``(log ρ(r), log β(r))`` from the single homes (``numerics._formulas``): float64 from the
    parameters' doubles, or at the current precision (inside ``workdps``) from the exact parameters."""
    if dps is None:
        lr = float(F.log_rho(float(r), float(config.r0), float(config.eta_tilde)))
        return lr, np.asarray(F.log_beta(np.log(config.w0_for(n)), lr, config.L), dtype=float)
    lr = F.log_rho(mpmath.mpf(r), config.mp("r0"), config.mp("eta_tilde"))
    return lr, F.log_beta(mp_array(config.log_w0_mp(n)), lr, config.L)


def _float64_nu(A, b, log_beta, L):
    """The float64 projection's dual point (a start for ``project_mp``), or None."""
    x, p = project(A, np.asarray([float(v) for v in b]), None, L,
                   log_beta=np.asarray([float(v) for v in log_beta]))
    return None if x is None or p.nu is None else [float(v) for v in _vec64(p.nu)]


# -- C5 ------------------------------------------------------------------------------------------


def check_c5(problem, config, dps, *, certify: bool = False, **options):
    """C5's rows (finite-time identities, the limit against the flows).  ``certify``: the limit
    rows are decided on the certified enclosure of ``x_∞`` (module docstring)."""
    if config.rates != "constant":
        raise AssumptionFailed("C5 is about WN-GF (rates='constant'); plain GF and (r², 1) are C9/C4")
    rows = []
    res = integrate(problem, config, None, t_max=float(options.get("t_max", T_FLOAT64)))
    require_run(res)
    A, y, n, L = problem.A_eff, problem.y, problem.n, config.L
    compared = {}  # row setting -> (values, threshold, name): what the certificate decides
    x_T = _vec64(res.x_final)
    log_rho_T, log_beta_T = _log_rho_beta(config, n, res.r_final)
    # 1. at the final time, converged or not: x(T) = P_{β(T)}({Az = Ax(T)})  (§4, finite time)
    pTx, pT = project(A, A @ x_T, None, L, log_beta=log_beta_T)
    if pTx is None:
        raise NumericalError(pT.status, f"the Bregman projection onto {{Az = Ax(T)}}: {pT.message}")
    m = w_distance(x_T, pTx, L)
    b = tol(DPS_FLOAT64, K_ACCUMULATED)
    rows.append(Row("C5", "finite time", m, b, verdict_le(m, b),
                    f"‖w(T) − P_β(T)(Ax(T))^(1/L)‖∞/‖w‖∞ at T={float(res.t_final):.3g} (float64 flow)",
                    details={"log_rho_T": log_rho_T, "flow_status": res.status.value, "loss_final": res.loss_final}))
    # 2. the limit: the flow's x_∞ against the limit solver (root of φ, projections at dps)
    try:
        lim = limit_of(problem, config, dps)
    except NumericalError as exc:  # the limit rows FAIL with the solver's status; the others still run
        lim = None
        rows.append(Row("C5", "limit", float("nan"), float("nan"), FAIL,
                        f"the limit solver could not compute the limit ({exc.status.value}): {exc.message}"))
    if lim is None:
        pass
    elif not res.converged:
        rows.append(Row("C5", "limit", float("nan"), float("nan"), SKIP,
                        f"assumption fails: the float64 flow did not converge within t={float(res.t_final):.3g} "
                        f"({res.status.value}: {res.message})"))
    else:
        x_inf = _vec64(lim.x_inf)
        sc = float(np.max(np.abs(x_inf)))
        p_hat, ph = project(A, y, None, L, log_beta=log_beta_T)  # x̂_∞(T): the flow's own limit estimate
        if p_hat is None:
            raise NumericalError(ph.status, f"the Bregman projection onto {{Az = y}}: {ph.message}")
        explained = float(np.max(np.abs(p_hat - x_T))) / sc
        m = float(np.max(np.abs(x_T - x_inf))) / sc
        b = explained + tol(DPS_FLOAT64, K_ACCUMULATED)
        r_inf = float(lim.r_inf)
        compared["limit"] = (x_T, b * sc, "x_flow(T)")
        rows.append(Row("C5", "limit", m, b, verdict_le(m, b),
                        f"‖x_flow(T) − x_∞‖∞/‖x_∞‖∞ vs limit_solve(dps={dps}); residual explains {explained:.2g}; "
                        f"r(T) − r_∞ = {float(res.r_final) - r_inf:.2g}",
                        details={"r_flow": float(res.r_final), "r_inf": r_inf,
                                 "explained_by_residual": explained, "loss_final": res.loss_final, "limit_dps": dps}))
    if dps is not None and dps > DPS_FLOAT64:
        rows += _c5_at_dps(problem, config, dps, lim, options, compared)
    if certify:
        rows = _certify_c5_rows(problem, config, lim, rows, compared)
    return rows


def _certify_c5_rows(problem, config, lim, rows, compared):
    """Decide C5's limit rows on the certified enclosure of ``x_∞`` (centre: the check's own limit
    at dps, so that the certificate also says whether the toolkit's value lies inside it)."""
    cert, why = certify_limit_of(problem, config, lim)
    inside = None
    if cert is not None and lim is not None:
        C = need("numerics._certify")
        inside = bool(C.compare_c5(cert.x, list(lim.x_inf), 0).details.get("inside"))
    out = []
    for row in rows:
        if row.setting not in compared:
            what = ("a finite-time identity: no limit in the comparison (its projection onto {Az = Ax(T)} is "
                    "not enclosed)" if row.setting.startswith("finite time") else "no enclosed quantity in this row")
            out.append(apply_certificate(row, _not_applicable(what)))
        elif cert is None:
            out.append(apply_certificate(row, _undecided(why)))
        else:
            values, threshold, name = compared[row.setting]
            c = _certify_c5(cert, values, threshold, name, problem, config)
            c["toolkit_x_inside"] = inside  # limit_solve's own x_∞ lies in the enclosure
            out.append(apply_certificate(row, c))
    return out


def _c5_at_dps(problem, config, dps, lim, options, compared=None):
    """C5 at ``dps``: the high-precision *flow* (``numerics._taylor``) against projections at ``dps``
    (``_common.project_mp``: ``numerics.bregman_projection`` at dps with ``y = A x(T)`` held at dps) and against ``limit_solve``."""
    A, y, n, L = problem.A_eff, problem.y, problem.n, config.L
    compared = {} if compared is None else compared
    rows = []
    res = integrate(problem, config, dps, t_max=float(options.get("t_max_mp", T_MP)))
    require_run(res, "the high-precision flow")
    T = float(res.t_final)
    with workdps(dps):
        w = final_weights(problem, config, res, dps)
        x_T = x_eff_of(w, L, dps)
        lr, lb = _log_rho_beta(config, n, res.r_final, dps)
        b_T = [mpmath.fsum(mpmath.mpf(float(A[i, j])) * x_T[j] for j in range(n)) for i in range(A.shape[0])]
        nu0 = _float64_nu(A, b_T, lb, L)
        px, pres, pit = project_mp(A, b_T, lb, L, dps, nu0=nu0)
        if px is None:
            rows.append(Row("C5", f"finite time, dps={dps}", float("nan"), float("nan"), FAIL,
                            f"the dps projection onto {{Az = Ax(T)}} did not converge (residual {pres:.2g})"))
            return rows
        wp = [v ** (mpmath.mpf(1) / L) for v in px]
        m1 = float(max(abs(a - c) for a, c in zip(w, wp)) / max(abs(a) for a in w))
        b1 = tol(dps, K_ACCUMULATED)
        rows.append(Row("C5", f"finite time, dps={dps}", m1, b1, verdict_le(m1, b1),
                        f"‖w(T) − P_β(T)(Ax(T))^(1/L)‖∞/‖w‖∞ at T={T:.3g} (Taylor flow at dps {dps}; projection at dps)",
                        details={"t_final": T, "flow_status": res.status.value, "projection_residual": pres,
                                 "projection_iterations": pit, "loss_final": res.loss_final}))
        # the limit, where the Taylor run converged: x(T) against limit_solve at dps
        if lim is None:
            return rows
        if not res.converged:
            rows.append(Row("C5", f"flow vs limit, dps={dps}", float("nan"), float("nan"), SKIP,
                            f"assumption fails: the Taylor run did not converge within t = {T:.3g} "
                            f"({res.status.value}: {res.message}); the finite-time identity above is checked"))
        else:
            xi = [mpmath.mpf(v) for v in lim.x_inf]
            sc = max(abs(v) for v in xi)
            ph, phres, _ = project_mp(A, [mpmath.mpf(float(v)) for v in y], lb, L, dps, nu0=nu0)
            if ph is None:
                rows.append(Row("C5", f"flow vs limit, dps={dps}", float("nan"), float("nan"), FAIL,
                                f"the dps projection onto {{Az = y}} did not converge (residual {phres:.2g})"))
            else:
                explained = float(max(abs(a - c) for a, c in zip(ph, x_T)) / sc)
                m2 = float(max(abs(a - c) for a, c in zip(x_T, xi)) / sc)
                b2 = explained + tol(dps, K_ACCUMULATED)
                compared[f"flow vs limit, dps={dps}"] = (list(x_T), mpmath.mpf(b2) * sc, "x_Taylor(T)")
                rows.append(Row("C5", f"flow vs limit, dps={dps}", m2, b2, verdict_le(m2, b2),
                                f"‖x_Taylor(T) − x_∞‖∞/‖x_∞‖∞ vs limit_solve(dps={dps}); residual explains {explained:.2g}",
                                details={"explained_by_residual": explained, "t_final": T}))
        # the limit solver's own consistency: x_∞ is the projection of its own β, φ(r_∞) = 0
        r_inf = mpmath.mpf(lim.r_inf)
        lb_inf = _log_rho_beta(config, n, r_inf, dps)[1]
        xi = [mpmath.mpf(v) for v in lim.x_inf]
        q, qres, _ = project_mp(A, [mpmath.mpf(float(v)) for v in y], lb_inf, L, dps,
                                nu0=_float64_nu(A, y, lb_inf, L))
        if q is None:
            rows.append(Row("C5", f"limit re-projected, dps={dps}", float("nan"), float("nan"), FAIL,
                            f"the dps projection of β(r_∞) did not converge (residual {qres:.2g})"))
            return rows
        diff = max(abs(a - c) for a, c in zip(q, xi)) / max(abs(v) for v in xi)
        phi = mpmath.fsum(v ** (mpmath.mpf(2) / L) for v in xi) - r_inf ** 2
        m3 = float(max(diff, abs(phi) / r_inf ** 2))
        b3 = tol(dps, K_SOLVE)
        compared[f"limit re-projected, dps={dps}"] = (list(q), mpmath.mpf(b3) * max(abs(v) for v in xi),
                                                      "P_β(r_∞)(y) at dps")
        rows.append(Row("C5", f"limit re-projected, dps={dps}", m3, b3, verdict_le(m3, b3),
                        "‖x_∞ − P_β(r_∞)(y)‖∞/‖x_∞‖∞ and |φ(r_∞)|/r_∞² at dps (independent re-projection)",
                        details={"projection_diff": float(diff), "phi_rel": float(abs(phi) / r_inf ** 2)}))
    return rows


# -- C6 ------------------------------------------------------------------------------------------


def l1_gap_at_limit(problem, lim, *, time_limit: float = None):
    """``S = ‖x_∞‖₁``, the ℓ1 optimum ``‖z*‖₁`` and the gap ``S − ‖z*‖₁`` at the limit ``lim``
    (a converged :class:`numerics._limit.LimitResult`), at its precision: at ``lim.dps`` the LP
    solution is polished at that precision (``numerics._lp_polish``) and the difference is taken
    there.  ``lp_accuracy`` is the accuracy the ℓ1 value is held to (relative, ``tol(d, K_SOLVE)``).

    Raises :class:`EmptyCheck` when the LP finds the problem inconsistent or trivial, and
    :class:`NumericalError` when the LP (or its polish) did not converge."""
    l1_min = need("numerics._lp", "l1_min")
    # ‖z*‖₁ is positively homogeneous in y: the LP is solved for y/2^k (exact) with ‖y/2^k‖∞ ≈ 1, so
    # that HiGHS's absolute tolerances do not swallow a tiny right-hand side, and scaled back
    k = math.frexp(float(np.max(np.abs(problem.y))))[1]
    unit = Problem(problem.A, np.ldexp(problem.y, -k), problem.model)
    lp = l1_min(unit, time_limit=LIMIT_TIME_LIMIT if time_limit is None else time_limit)
    if lp.status is Status.INCONSISTENT or lp.status is Status.TRIVIAL:
        raise EmptyCheck(f"the ℓ1 LP found the problem {lp.status.value}: {lp.message}")
    if lp.status is not Status.CONVERGED:
        raise NumericalError(lp.status, f"the ℓ1 LP: {lp.message}")
    if lim.dps is not None and lim.dps > DPS_FLOAT64:  # S, ‖z*‖₁ (polished) and their difference at dps
        polish = need("numerics._lp_polish", "l1_polish_mp")
        pol = polish(unit, lp.z, lim.dps)
        if pol.status is not Status.CONVERGED:
            raise NumericalError(pol.status, f"the ℓ1 LP polished at dps {lim.dps}: {pol.message}")
        with workdps(lim.dps):
            S_mp = mpmath.fsum(mpmath.mpf(v) for v in lim.x_inf)
            Z_mp = mpmath.ldexp(mpmath.mpf(pol.value), k)
            gap_mp = S_mp - Z_mp
        z = float(Z_mp)
        return {"S": float(S_mp), "S_mp": S_mp, "l1_opt": z, "l1_opt_mp": Z_mp, "gap": float(gap_mp),
                "gap_mp": gap_mp, "lp_accuracy": tol(lim.dps, K_SOLVE) * z}
    S = float(np.sum(_vec64(lim.x_inf)))  # ‖w_∞^L‖₁ (effective coordinates)
    z = math.ldexp(float(lp.value), k)
    # relative: the LP value is held to float64 solve accuracy
    return {"S": S, "S_mp": None, "l1_opt": z, "l1_opt_mp": None, "gap": S - z, "gap_mp": None,
            "lp_accuracy": tol(DPS_FLOAT64, K_SOLVE) * z}


def gap_and_bound(problem, config, dps=None, *, variant: str = "", bound_factor: float = 1.0, lim=None):
    """The §5 quantities at the limit: ``dict(S, l1_opt, gap, bound, log_alpha_eff, alpha_eff,
    r_inf, log_rho, …)``, all from ``log ρ`` (no overflow).  ``bound`` is the bound judged:
    :data:`~wnbias.claims._common.BOUND_VARIANTS` ``variant`` times ``bound_factor`` (both planted
    wrong variants when not the defaults); ``bound_true`` is the §5 bound itself.

    Raises :class:`AssumptionFailed` where the bound does not apply."""
    if variant not in BOUND_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(BOUND_VARIANTS)}, got {variant!r}")
    if config.rates != "constant":
        raise AssumptionFailed("the §5 bound is stated for WN-GF (rates='constant')")
    if config.u0 is not None and len(set(config.u0)) > 1:
        raise AssumptionFailed("the §5 bound needs a uniform β (default u0)")
    lim = lim if lim is not None else limit_of(problem, config, dps)
    g = l1_gap_at_limit(problem, lim)
    S, S_mp, z, gap, lp_acc = g["S"], g["S_mp"], g["l1_opt"], g["gap"], g["lp_accuracy"]
    n, L = problem.n, config.L
    r_inf = float(lim.r_inf)
    lr = float(F.log_rho(float(r_inf), float(config.r0), float(config.eta_tilde)))
    la = float(F.log_alpha_eff(float(config.r0), n, lr))
    if L == 2 and not la < 0:
        raise AssumptionFailed(f"the L = 2 bound needs α_eff < 1 (log α_eff = {la:.3g})")
    kw = dict(eta_tilde=config.eta_tilde, r_inf=r_inf, r0=config.r0)
    true = l1_bound_log(z, S, n, la, L, **kw)
    judged = l1_bound_log(z, S, n, la, L, variant=variant, **kw) * float(bound_factor)
    return {"S": S, "S_mp": S_mp, "l1_opt": z, "gap": gap, "bound": judged, "bound_true": true,
            "variant": variant, "bound_factor": float(bound_factor),
            "bound_with_lp_accuracy": judged + lp_acc, "lp_accuracy": lp_acc,
            "log_alpha_eff": la, "alpha_eff": math.exp(la) if la < 709 else float("inf"),
            "r_inf": r_inf, "log_rho": lr, "rho": math.exp(lr) if lr < 709 else float("inf"),
            "magnified": r_inf > config.r0,
            "limit_dps": lim.dps}


def _bound_applies(config) -> bool:
    """The configuration assumptions of :func:`gap_and_bound` (checked there first): constant rates
    and a uniform β.  A limit is solved ahead of it only where they hold, so that a failed
    assumption stays a SKIP whatever the limit solver does."""
    return config.rates == "constant" and (config.u0 is None or len(set(config.u0)) <= 1)


def cross_check_bound(q, n: int, L: int):
    """The hand-written §5 bound (``_common.l1_bound_log``) against the generated formula of
    ``numerics._quantities.l1_bound_from_log_alpha`` (from ``numerics._derived``), on the same
    inputs.  Allowed difference: ``tol(15, K_ROUNDOFF)`` times the size of what the float64
    evaluation cancels (for ``L = 2`` the numerator's terms over the denominator; for ``L > 2``
    the bound itself).  Returns ``(difference, allowed, generated)``."""
    gen_fn = need("numerics._quantities", "l1_bound_from_log_alpha")
    gen = gen_fn(L, q["l1_opt"], q["S"], n, q["log_alpha_eff"])
    if gen is None:
        return float("nan"), float("nan"), None
    gen = float(gen)
    if L == 2:
        z, S = q["l1_opt"], q["S"]
        size = (abs(z * math.log(z)) if z > 0 else 0.0) + z + abs(S * math.log(S / n)) + S
        size /= -2.0 * q["log_alpha_eff"]
    else:
        size = abs(q["bound_true"])
    return abs(q["bound_true"] - gen), tol(DPS_FLOAT64, K_ROUNDOFF) * size, gen


C6_ROOTS_QUICK_STEPS = 500
"""C6 first tries :func:`prove_all_roots_in_bracket` with this many steps per iteration (cheap where
φ is steep, e.g. ``tight-L2``), then the branch and bound, and only then the full iterations."""
C6_ROOTS_MAX_INTERVALS = 4000
"""Budget of C6's branch and bound over the radius (``numerics._certify.certify_c6_at_every_root``):
the most intervals, each one certified projection with ``β`` as balls."""
C6_ROOTS_TIME_LIMIT = 30.0
"""``time_limit=`` (seconds) of C6's branch and bound over the radius."""


def certify_c6(problem, config, lim=None, *, bound_factor=1.0, variant: str = "") -> dict:
    """The certificate of C6 (a mapping for :func:`~wnbias.claims.registry.apply_certificate`):
    ``S − ‖z*‖₁ ≤ bound_factor · bound`` with ``S`` and ``α_eff`` from the certified limit and
    ``‖z*‖₁`` from the exact LP certificate (``numerics._certify.compare_c6``).

    The row is decided (``complete``) where the certified root is the flow's limit: unique, or
    every root of φ in the bracket (:func:`prove_all_roots_in_bracket`); otherwise the comparison
    is decided at every root of φ by a branch and bound over the radius
    (``numerics._certify.certify_c6_at_every_root``, budget :data:`C6_ROOTS_MAX_INTERVALS` intervals
    and :data:`C6_ROOTS_TIME_LIMIT` seconds), and the row is decided when that agrees."""
    C = need("numerics._certify")
    if variant:
        return _undecided(f"the named wrong variant {variant!r} has no certified form (only bound_factor has)")
    cert, why = certify_limit_of(problem, config, lim)
    if cert is None:
        return _undecided(why)
    l1 = C.certify_l1(problem)
    cmp = C.compare_c6(cert, l1, bound_factor=bound_factor)
    D = C.Decision
    roots = None
    complete, note = _uniqueness_note(cert) if cert.uniqueness == "unique" else (False, "")
    if not complete and cert.r_hi is not None:  # a few root-free steps first: cheap where φ is steep
        quick = prove_all_roots_in_bracket(problem, config, cert, l1_lower=l1.lower, max_steps=C6_ROOTS_QUICK_STEPS)
        if quick[0]:
            cert._all_roots = quick
            complete, note = _uniqueness_note(cert)
    if not complete and cmp.decision in (D.CERTIFIED, D.CERTIFIED_FAIL):
        # other roots of φ are not excluded: decide the comparison at every root instead (branch and
        # bound over the radius, numerics._certify.certify_c6_at_every_root; docs/certify.md)
        roots = C.certify_c6_at_every_root(problem, config, cert, l1, bound_factor=bound_factor,
                                           max_intervals=C6_ROOTS_MAX_INTERVALS, time_limit=C6_ROOTS_TIME_LIMIT)
        complete = roots.decision is cmp.decision
    if not complete:  # the full root-free iterations (ROOTS_MAX_STEPS)
        complete, note = _uniqueness_note(cert, problem, config, l1_lower=l1.lower)
        if roots is not None and not complete:
            note = f"{note}; the branch and bound over the radius did not settle it: {roots.reason}"
    roots_settled = roots is not None and roots.decision is cmp.decision
    scope = ("limit unique" if cert.uniqueness == "unique" else "at every root of φ" if roots_settled else
             "every root of φ in the bracket" if complete else f"limit {cert.uniqueness}")
    judged = "the §5 bound" if float(bound_factor) == 1.0 else f"{float(bound_factor):g} × the §5 bound"
    proven = ""
    at_roots = f"; {roots.reason}" if roots_settled else ""
    if cmp.decision is D.CERTIFIED:
        proven = (f"S − ‖z*‖₁ ≤ {judged} on the whole enclosure (gap {_fmt_ball(cmp.lhs, 6)}, bound {_fmt_ball(cmp.rhs, 6)}; "
                  f"‖z*‖₁ {'exact' if l1.optimal else 'bounded exactly'}, {scope}){at_roots}")
    elif cmp.decision is D.CERTIFIED_FAIL:
        proven = (f"S − ‖z*‖₁ > {judged} on the whole enclosure (gap {_fmt_ball(cmp.lhs, 6)}, judged bound "
                  f"{_fmt_ball(cmp.rhs, 6)}){at_roots}")
    balls = _limit_balls(cert)
    if cmp.lhs is not None:
        balls.update({"gap": C.ball_json(cmp.lhs), "bound": C.ball_json(cmp.rhs), "margin": C.ball_json(cmp.margin)})
        if cmp.details.get("ratio") is not None:
            balls["ratio"] = C.ball_json(cmp.details["ratio"])  # gap / (the §5 bound itself)
    with _FlintPrec(max(cert.prec, C.MIN_PREC)):  # an exact rational ‖z*‖₁ as a ball at the certificate's precision
        l1_ball = l1.value_ball()
        if l1_ball is not None:
            balls["l1_opt"] = C.ball_json(l1_ball)
    short = {"certified": "gap ≤ bound", "certified_fail": "gap > bound"}.get(cmp.decision.value, "")
    return {"decision": cmp.decision.value, "complete": complete, "incomplete": note, "proven": proven,
            "short": short, "reason": "" if cmp.decision is not D.UNDECIDED else cmp.message, "digits": cmp.digits,
            "comparison": cmp.message, "l1_optimal": l1.optimal, "l1_exact": str(l1.value) if l1.optimal else None,
            "l1_reason": l1.reason, "l1_basis": list(l1.basis) if l1.basis is not None else None,
            "bound_factor": str(Fraction(float(bound_factor))) if not isinstance(bound_factor, (str, Fraction))
            else str(bound_factor),
            "balls": balls, **_limit_summary(cert),
            "roots_branch_and_bound": None if roots is None else roots.as_dict()}


def check_c6(problem, config, dps, *, variant: str = "", bound_factor: float = 1.0, certify: bool = False,
             **options):
    """Two rows: ``gap ≤ bound`` (the bound named by ``variant`` times ``bound_factor``), and the
    cross-check of the hand-written bound against the generated one.  ``certify``: the first row
    is also decided by :func:`certify_c6`."""
    lim = limit_of(problem, config, dps) if certify and _bound_applies(config) else None
    q = gap_and_bound(problem, config, dps, variant=variant, bound_factor=bound_factor, lim=lim)
    ratio = q["gap"] / q["bound"] if q["bound"] > 0 else float("nan")
    what = "§5 bound" if not variant and bound_factor == 1.0 else (
        f"{BOUND_VARIANTS[variant] if variant else '§5 bound'}{f' × {bound_factor:g}' if bound_factor != 1.0 else ''}")
    rows = [Row("C6", "", q["gap"], q["bound"], verdict_le(q["gap"], q["bound_with_lp_accuracy"]),
                f"S − ‖z*‖₁ vs {what} (ratio {ratio:.3g}, log α_eff = {q['log_alpha_eff']:.4g}, "
                f"{'r_∞ > r₀' if q['magnified'] else 'r_∞ ≤ r₀: no magnification'})",
                details={**q, "ratio": ratio})]
    diff, allowed, gen = cross_check_bound(q, problem.n, config.L)
    if gen is None:
        rows.append(Row("C6", "cross-check", float("nan"), float("nan"), FAIL,
                        "numerics._quantities gave no bound where the hand-written one applies"))
    else:
        rows.append(Row("C6", "cross-check", diff, allowed, verdict_le(diff, allowed),
                        f"|hand-written §5 bound − numerics._quantities' generated bound| ({q['bound_true']:.6g} vs {gen:.6g})",
                        details={"hand_written": q["bound_true"], "generated": gen}))
    if certify:
        head = apply_certificate(rows[0], certify_c6(problem, config, lim, bound_factor=bound_factor, variant=variant))
        rows = [head] + [apply_certificate(r, _not_applicable("compares two float64 evaluations of the same formula; "
                                                             "the certified bound is in the row above"))
                         for r in rows[1:]]
    return rows


# -- C7 ------------------------------------------------------------------------------------------

SWEEP = (8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.125)


def sweep(problem, config, dps, factors=SWEEP, *, keep_limits: bool = False):
    """``gap_and_bound`` at ``η_r × f`` for each factor (exact: the factors are binary fractions).
    Settings where the bound's assumptions fail are listed in ``dropped``; a limit solve that fails
    raises (a FAIL of the claim, never a silently shorter sweep).  ``keep_limits``: each point also
    holds its configuration (``"config"``) and limit result (``"lim"``), for the certificates."""
    pts, dropped = [], []
    for f in sorted(factors, reverse=True):  # η̃ decreasing: the solves get harder
        cfg = config.replace(eta_r=config.exact("eta_r") * Fraction(f))
        try:
            lim = limit_of(problem, cfg, dps) if keep_limits and _bound_applies(cfg) else None
            q = gap_and_bound(problem, cfg, dps, lim=lim)
        except EmptyCheck:
            raise
        except AssumptionFailed as exc:
            dropped.append((cfg.eta_tilde, str(exc)))
            continue
        q["eta_tilde"] = cfg.eta_tilde
        if keep_limits:
            q["config"], q["lim"] = cfg, lim
        pts.append(q)
    return pts, dropped


def certify_c7(problem, points, *, variant: str = "") -> dict:
    """The certificate of C7 (for :func:`~wnbias.claims.registry.apply_certificate`): every point's
    limit certified, its magnification ``r_∞ > r₀`` proven on the enclosure, and ``‖x_∞‖₁``
    non-increasing along decreasing ``α_eff`` on the enclosures (``numerics._certify.compare_c7``).
    ``variant="increasing"`` decides the planted wrong claim (``‖x_∞‖₁`` never decreases) instead."""
    C = need("numerics._certify")
    certs, notes = [], []
    for p in points:
        cert, why = certify_limit_of(problem, p["config"], p["lim"])
        if cert is None:
            return _undecided(f"η̃ = {p['eta_tilde']:.4g}: {why}")
        if cert.log_alpha_eff is None:
            return _undecided("the order of α_eff needs a uniform β (default u₀)")
        from flint import ctx as flint_ctx

        old_prec, flint_ctx.prec = flint_ctx.prec, max(cert.prec, C.MIN_PREC)
        try:
            magnified = bool(cert.r > C.to_arb(p["config"].exact("r0")))  # r₀ exact, as a ball at the certificate's precision
        finally:
            flint_ctx.prec = old_prec
        if not magnified:
            return _undecided(f"η̃ = {p['eta_tilde']:.4g}: magnification r_∞ > r₀ is not proven on the enclosure "
                              f"r_∞ ∈ {_fmt_ball(cert.r, 10)}")
        complete, note = _uniqueness_note(cert, problem, p["config"])
        if not complete:
            notes.append(f"η̃ = {p['eta_tilde']:.4g}: {note}")
        certs.append(cert)
    wrong = variant == "increasing"
    pairs = [((-c.log_alpha_eff if wrong else c.log_alpha_eff), c.S) for c in certs]  # WRONG claim: order reversed
    cmp = C.compare_c7(pairs)
    D = C.Decision
    S_digits = min(C.width_digits(c.S) for c in certs)
    claim = "‖x_∞‖₁ never decreases as α_eff decreases (WRONG, planted)" if wrong else \
        "‖x_∞‖₁ does not increase as α_eff decreases"
    proven = ""
    if cmp.decision is D.CERTIFIED:
        proven = f"{claim}: proven on the enclosures of {len(certs)} certified limits ({S_digits:.1f} digits in ‖x_∞‖₁)"
    elif cmp.decision is D.CERTIFIED_FAIL:
        proven = f"{claim}: refuted, a certified step goes the wrong way ({len(certs)} certified limits)"
    short = {"certified": f"‖x_∞‖₁ order ({len(certs)} limits)",
             "certified_fail": f"‖x_∞‖₁ order refuted ({len(certs)} limits)"}.get(cmp.decision.value, "")
    return {"decision": cmp.decision.value, "complete": not notes, "incomplete": "; ".join(notes),
            "proven": proven, "short": short, "reason": "" if cmp.decision is not D.UNDECIDED else cmp.message,
            "digits": S_digits, "comparison": cmp.message, "pairs": cmp.details.get("pairs"),
            "balls": {"points": [{"eta_tilde": p["eta_tilde"], **_limit_balls(c)} for p, c in zip(points, certs)],
                      **({"smallest_drop": C.ball_json(cmp.margin)} if cmp.margin is not None else {})},
            "uniqueness": sorted({c.uniqueness for c in certs}), "prec_bits": max(c.prec for c in certs),
            "r_digits": min(c.r_digits for c in certs)}


def check_c7(problem, config, dps, *, variant: str = "", certify: bool = False, **options):
    """``variant="increasing"`` plants the wrong claim "‖x_∞‖₁ never *decreases* as α_eff
    decreases" (the measured quantity is then the largest relative decrease).  ``certify``: the
    row is also decided by :func:`certify_c7` on the magnified points."""
    pts, dropped = sweep(problem, config, dps, options.get("factors", SWEEP), keep_limits=certify)
    magnified = [p for p in pts if p["magnified"]]
    not_mag = [p["eta_tilde"] for p in pts if not p["magnified"]]
    if len(magnified) < 3:
        raise AssumptionFailed(
            f"magnification needs r_∞ > r₀; only {len(magnified)} of {len(pts)} η̃ values have it"
            + (f" (r_∞ ≤ r₀ at η̃ = {', '.join(f'{e:.3g}' for e in not_mag)})" if not_mag else ""))
    pts_sorted = sorted(magnified, key=lambda p: -p["log_alpha_eff"])  # α_eff decreasing
    d = effective_dps(dps)
    if all(p["S_mp"] is not None for p in pts_sorted):
        with workdps(d):  # differences at dps, before any conversion
            incr = [float((b["S_mp"] - a["S_mp"]) / a["S_mp"]) for a, b in zip(pts_sorted, pts_sorted[1:])]
    else:
        incr = [(b["S"] - a["S"]) / a["S"] for a, b in zip(pts_sorted, pts_sorted[1:])]
    if variant == "increasing":  # WRONG, planted
        incr = [-v for v in incr]
    measured = max(0.0, max(incr))
    bound = tol(d, K_SOLVE)
    log_alphas = np.array([p["log_alpha_eff"] for p in pts_sorted])
    gaps = np.array([p["gap"] for p in pts_sorted])
    L = config.L
    resolvable = gaps > 10 * np.array([p["lp_accuracy"] for p in pts_sorted])
    slope_note, slope, se = "", float("nan"), float("nan")
    if L > 2 and resolvable.sum() >= 2:
        slope, se, _ = fit_line(log_alphas[resolvable], np.log(gaps[resolvable]))
        slope_note = f"slope of log gap vs log α_eff {slope:.3g} ± {se:.2g} (asymptotic L−2 = {L - 2})"
    elif L == 2 and resolvable.sum() >= 1:
        prod = gaps[resolvable] * (-log_alphas[resolvable])
        slope_note = f"gap·log(1/α_eff) ∈ [{prod.min():.3g}, {prod.max():.3g}] (bounded asymptotically)"
    else:
        slope_note = "gaps below LP accuracy: no slope"
    series = {"eta_tilde": [p["eta_tilde"] for p in pts_sorted], "log_alpha_eff": log_alphas.tolist(),
              "alpha_eff": np.exp(log_alphas).tolist(),
              "gap": gaps.tolist(), "bound": [p["bound"] for p in pts_sorted],
              "S": [p["S"] for p in pts_sorted], "r_inf": [p["r_inf"] for p in pts_sorted]}
    drop_note = f" ({len(dropped)} η̃ dropped: {dropped[0][1][:60]}…)" if dropped else ""
    row = Row("C7", "", measured, bound, verdict_le(measured, bound),
               f"largest relative increase of ‖x_∞‖₁ as α_eff decreases over {len(pts_sorted)} η̃{drop_note}; "
               + slope_note,
               details={"slope": slope, "slope_se": se, "expected_asymptotic_slope": L - 2 if L > 2 else None,
                        "not_magnified_eta_tilde": not_mag, "dropped": dropped, "series": series})
    if certify:
        row = apply_certificate(row, certify_c7(problem, pts_sorted, variant=variant))
    return row


# -- cases ---------------------------------------------------------------------------------------


def _c(name, dps=None, **cfg):
    return Case(name, P.get(name), FlowConfig(**cfg), dps)


def cases_c5(level):
    # "interior": a limit inside the orthant, so the Taylor run at dps converges (t < 100) and C5
    # compares that flow with limit_solve at dps
    interior = [Case("interior", P.get("interior"), FlowConfig(L=L, r0="1", eta_r=eta), 30, {"t_max_mp": 200.0})
                for L, eta in ((2, "0.3"), (3, "1"))]
    if level == "quick":
        return interior[:1]
    out = [_c("small", 30, L=2, r0="1", eta_r="0.3"), _c("small-signed", 30, L=3, r0="1", eta_r="1")] + interior
    if level == "full":
        out += [_c("cs30", 50, L=2, r0="1", eta_r="0.1"), _c("rademacher", 30, L=4, r0="0.5", eta_r="1"),
                _c("correlated", 30, L=2, r0="1", eta_r="0.3")]
    return out


def tight_cases(claim: str = "C6"):
    """The built-in cases near the tightest known setting of ``claim`` (found by the adversarial
    search ``wnbias sharpness`` and kept fixed in ``wnbias/claims/tight_cases.py``)."""
    TIGHT = need("wnbias.claims.tight_cases", "TIGHT_CASES")
    return [Case(f"tight {tc.label} (gap/bound {tc.ratio:.3g})", tc.problem(), tc.config(), None)
            for tc in TIGHT if tc.claim == claim]


def cases_c6(level):
    out = [_c("cs30", None, L=2, r0="1", eta_r="0.1"), _c("cs30", None, L=3, r0="1", eta_r="0.3")]
    if level != "quick":
        out += tight_cases("C6")
        out += [_c("small-signed", None, L=2, r0="1", eta_r="0.3"), _c("small-signed", None, L=4, r0="1", eta_r="1"),
                _c("dense", None, L=3, r0="1", eta_r="1")]
    if level == "full":
        out += [_c("rademacher", 30, L=2, r0="0.5", eta_r="0.05"), _c("correlated", None, L=3, r0="1", eta_r="0.3")]
    return out


def cases_c7(level):
    if level == "quick":
        return [Case("cs30", P.get("cs30"), FlowConfig(L=3, r0="1", eta_r="1"), None, {"factors": (4.0, 2.0, 1.0, 0.5, 0.25)})]
    # L = 3 stops at η̃ × ¼: at η̃ = 1/8 the float64 limit solve of cs30 ran past 120 s (a Bregman
    # projection with β ~ α_eff^3 that float64 cancels); the range is part of the case, not a timer's
    out = [Case("cs30", P.get("cs30"), FlowConfig(L=3, r0="1", eta_r="1"), None,
                {"factors": (8.0, 4.0, 2.0, 1.0, 0.5, 0.25)})]
    out += [_c("cs30", None, L=2, r0="1", eta_r="0.3")]
    if level == "full":
        out += [_c("small-signed", None, L=4, r0="1", eta_r="1"), _c("cs30", 30, L=3, r0="1", eta_r="1")]
    return out


register(Claim(
    "C5", "x_∞ is the Bregman projection of β", r"x_\infty = \mathrm{argmin}\{D_F(z,\beta) : Az = y,\ z \ge 0\},\ \beta = (w_0/\rho)^{\odot L}",
    "§4", check_c5, cases_c5,
    "finite time: tol(15, K_ACCUMULATED); limit: residual-explained distance + tol(15, K_ACCUMULATED); "
    "at dps: the Taylor flow's finite-time identity tol(dps, K_ACCUMULATED), flow vs limit residual-explained + "
    "tol(dps, K_ACCUMULATED), the limit re-projected tol(dps, K_SOLVE)",
    symbolic=("rho_beta", "potential_F", "limit_equation"), requires=("numerics._flow64", "numerics._taylor", "numerics._bregman", "numerics._limit"),
    default_dps=30, certifiable=True))
register(Claim(
    "C6", "the ℓ1 gap is below the §5 bound", r"S - \|z^*\|_1 \le \tfrac{L}{2}\alpha_{\mathrm{eff}}^{L-2} n^{(L-2)/L} S^{2/L}\ (L>2),\ \text{log form for } L = 2",
    "§5", check_c6, cases_c6,
    "gap ≤ bound + tol(d, K_SOLVE)·‖z*‖₁ (the LP's relative accuracy; d = dps with the LP polished at dps); cross-check with the generated bound "
    "within tol(15, K_ROUNDOFF) × the size of what its evaluation cancels",
    symbolic=("l1_gap_bound_L2", "l1_gap_bound_Lgt2"), requires=("numerics._limit", "numerics._lp"), certifiable=True))
register(Claim(
    "C7", "magnification: ‖x_∞‖₁ never increases as α_eff decreases", r"\alpha_{\mathrm{eff}} \downarrow\ \Rightarrow\ \|x_\infty\|_1 \downarrow",
    "§5 (Monotonicity)", check_c7, cases_c7,
    "largest relative increase ≤ tol(dps, K_SOLVE); the slope is reported, not judged",
    symbolic=(), requires=("numerics._limit", "numerics._lp"), certifiable=True))
