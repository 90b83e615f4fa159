"""Reference implementations ("anchors") the toolkit is timed against.

Each anchor integrates the same WN-GF (docs/math.md §2, constant rates, positive model on
``problem.A_eff``) with a third-party integrator:

* :func:`odefun_wngf` — ``mpmath.odefun`` (Taylor series, arbitrary precision);
* :func:`heyoka_wngf` — heyoka ``taylor_adaptive`` (float64 or ``heyoka.real``), the system
  written symbolically;
* :func:`dop853_wngf` — scipy ``solve_ivp`` DOP853 (float64).

Nothing here is used by the toolkit; these are written independently of ``numerics/`` so
that an agreement between the two is evidence, not a tautology.
"""

from __future__ import annotations

import math
import time

import mpmath
import numpy as np

from numerics._precision import workdps


def have_heyoka() -> bool:
    """Whether heyoka (the ``bench`` extra) is importable."""
    try:
        import heyoka  # noqa: F401
    except ImportError:
        return False
    return True


def bits_for_dps(dps: int) -> int:
    """Binary precision carrying ``dps`` decimal digits: ``ceil(dps · log2 10)``."""
    return int(math.ceil(dps * math.log2(10)))


def initial_state(problem, config):
    """``(r0, u0)`` with ``u0`` the unit initial direction (float64 array)."""
    return config.r0, config.u0_for(problem.n)


# ------------------------------------------------------------------ float64 (numpy)
def wngf_rhs64(A, y, L, eta_r, eta_u):
    """The WN-GF vector field on the state ``[r, u_1..u_n]`` (float64)."""

    def f(t, s):
        r = s[0]
        u = s[1:]
        nu = math.sqrt(u @ u)
        ub = u / nu
        w = r * ub
        g = A.T @ (A @ w**L - y)
        grad = L * w ** (L - 1) * g
        sigma = ub @ grad
        out = np.empty_like(s)
        out[0] = -eta_r * sigma
        out[1:] = -eta_u * (r / nu) * (grad - ub * sigma)
        return out

    return f


def loss64(A, y, L, s):
    r = s[0]
    u = s[1:]
    w = r * u / math.sqrt(u @ u)
    res = A @ w**L - y
    return 0.5 * float(res @ res)


def dop853_wngf(problem, config, *, t_max, loss_tol, rtol=1e-10, atol=1e-14, time_limit=None):
    """scipy DOP853 (stepped by hand) until a step ends with ``loss ≤ loss_tol``, ``t_max``, or
    ``time_limit`` seconds.

    Returns a dict: ``t_final``, ``loss``, ``state``, ``nfev``, ``nsteps``, ``reached``, ``wall``.
    """
    from scipy.integrate import DOP853

    A = np.ascontiguousarray(problem.A_eff)
    y = np.asarray(problem.y)
    L = config.L
    f = wngf_rhs64(A, y, L, config.eta_r, config.eta_u)
    r0, u0 = initial_state(problem, config)
    s0 = np.concatenate([[r0], u0])
    t0 = time.perf_counter()
    solver = DOP853(f, 0.0, s0, t_max, rtol=rtol, atol=atol)
    nsteps = 0
    reached = False
    lo = loss64(A, y, L, s0)
    while solver.status == "running":
        solver.step()
        nsteps += 1
        lo = loss64(A, y, L, solver.y)
        if lo <= loss_tol:
            reached = True
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
    return {"t_final": float(solver.t), "loss": lo, "state": solver.y.copy(), "nfev": int(solver.nfev),
            "nsteps": nsteps, "reached": reached, "wall": time.perf_counter() - t0,
            "status": solver.status}


def heyoka64_until_loss(ta, s0, problem, config, *, t_max, loss_tol, time_limit=None):
    """Run a built float64 heyoka integrator from ``s0`` until a step ends with ``loss ≤ loss_tol``
    (a step callback), ``t_max`` or ``time_limit`` seconds.  Same dict as :func:`dop853_wngf`."""
    A = np.ascontiguousarray(problem.A_eff)
    y = np.asarray(problem.y)
    L = config.L
    state = {"reached": False, "loss": loss64(A, y, L, s0)}
    t0 = time.perf_counter()

    def cb(ta_):
        lo = loss64(A, y, L, ta_.state)
        state["loss"] = lo
        if lo <= loss_tol:
            state["reached"] = True
            return False
        return time_limit is None or time.perf_counter() - t0 <= time_limit

    ta.time = 0.0
    ta.state[:] = s0
    out = ta.propagate_until(t_max, callback=cb)
    return {"t_final": float(ta.time), "loss": state["loss"], "state": ta.state.copy(), "nfev": None,
            "nsteps": int(out[3]), "reached": state["reached"], "wall": time.perf_counter() - t0,
            "status": str(out[0])}


# ------------------------------------------------------------------ mpmath.odefun
def wngf_rhs_mp(A, y, L, eta_r, eta_u):
    """The WN-GF vector field on lists of mpf (call inside a ``workdps`` block)."""
    M, n = A.shape
    rows = [[mpmath.mpf(float(v)) for v in A[j]] for j in range(M)]
    cols = [[rows[j][i] for j in range(M)] for i in range(n)]
    yv = [mpmath.mpf(float(v)) for v in y]
    er = mpmath.mpf(eta_r)
    eu = mpmath.mpf(eta_u)

    def f(t, s):
        r = s[0]
        u = s[1:]
        nu = mpmath.sqrt(mpmath.fsum(v * v for v in u))
        ub = [v / nu for v in u]
        w = [r * v for v in ub]
        x = [v**L for v in w]
        res = [mpmath.fdot(rows[j], x) - yv[j] for j in range(M)]
        g = [mpmath.fdot(cols[i], res) for i in range(n)]
        grad = [L * w[i] ** (L - 1) * g[i] for i in range(n)]
        sigma = mpmath.fdot(ub, grad)
        c = eu * r / nu
        return [-er * sigma] + [-c * (grad[i] - ub[i] * sigma) for i in range(n)]

    return f


def mp_initial_state(problem, config):
    """``(r0, ū0)`` at the current precision from the exact parameters (``config.mp``)."""
    return config.mp("r0"), list(config.ubar0_mp(problem.n))


def odefun_wngf(problem, config, *, dps, t_max):
    """Integrate with ``mpmath.odefun`` at ``dps`` digits to ``t_max``, with ``tol = 10^-dps``.

    odefun is run at exactly ``dps`` digits (no toolkit guard digits: it adds its own) with the
    tolerance of the digits asked for, the cheapest setting that delivers them.  Returns a dict
    with the final state as mpf (``r``, ``u``, ``x``), ``wall`` and ``nfev`` (calls of the field;
    odefun's Taylor series come from ``3 + 1.5 dps`` Euler sub-steps at raised precision).
    """
    A = problem.A_eff
    with workdps(dps, guard=0):
        f = wngf_rhs_mp(A, problem.y, config.L, config.mp("eta_r"), config.mp("eta_u"))
        calls = [0]

        def F(t, s):
            calls[0] += 1
            return f(t, s)

        r0, u0 = mp_initial_state(problem, config)
        t0 = time.perf_counter()
        sol = mpmath.odefun(F, 0, [r0] + u0, tol=mpmath.mpf(10) ** (-dps))
        s = sol(mpmath.mpf(t_max))
        wall = time.perf_counter() - t0
        r = +s[0]
        u = [+v for v in s[1:]]
        nu = mpmath.sqrt(mpmath.fsum(v * v for v in u))
        x = [(r * v / nu) ** config.L for v in u]
        return {"r": r, "u": u, "x": x, "wall": wall, "nfev": calls[0]}


# ------------------------------------------------------------------ heyoka
def heyoka_system(problem, config):
    """The WN-GF as heyoka expressions: a list of ``(var, rhs)`` pairs.

    State ``r, u_1..u_n``; ``w_i = r u_i/‖u‖``; ``g = Aᵀ(A w^L − y)`` written out row by row.
    """
    import heyoka as hy

    A = np.asarray(problem.A_eff)
    y = np.asarray(problem.y)
    M, n = A.shape
    L = config.L
    r = hy.expression("r")
    u = [hy.expression(f"u{i}") for i in range(n)]
    nu = hy.sqrt(hy.sum([v * v for v in u]))
    ub = [v / nu for v in u]
    w = [r * v for v in ub]
    x = [v**L for v in w]
    res = [hy.sum([float(A[j, i]) * x[i] for i in range(n)]) - float(y[j]) for j in range(M)]
    g = [hy.sum([float(A[j, i]) * res[j] for j in range(M)]) for i in range(n)]
    grad = [float(L) * w[i] ** (L - 1) * g[i] for i in range(n)]
    sigma = hy.sum([ub[i] * grad[i] for i in range(n)])
    c = float(config.eta_u) * r / nu
    sys = [(r, -float(config.eta_r) * sigma)]
    sys += [(u[i], -c * (grad[i] - ub[i] * sigma)) for i in range(n)]
    return sys


def heyoka_build(problem, config, *, fp="float64", dps=None, compact_mode=True, tol=None):
    """Build (JIT-compile) a heyoka integrator; returns ``(ta, build_seconds)``."""
    import heyoka as hy

    sys = heyoka_system(problem, config)
    t0 = time.perf_counter()
    if fp == "real":
        prec = bits_for_dps(dps)
        with workdps(dps):
            r0, u0 = mp_initial_state(problem, config)
            state = np.array([hy.real(mpmath.nstr(v, dps + 15, strip_zeros=False), prec) for v in [r0] + u0])
        kw = {"fp_type": hy.real, "prec": prec}
    else:
        r0, u0 = initial_state(problem, config)
        state = np.concatenate([[r0], u0])
        kw = {}
    if tol is not None:
        kw["tol"] = tol
    ta = hy.taylor_adaptive(sys, state, compact_mode=compact_mode, **kw)
    return ta, time.perf_counter() - t0


def heyoka_to_mp(values, dps):
    """heyoka real / float array → list of mpf (inside the caller's precision)."""
    return [mpmath.mpf(str(v)) for v in values]


def heyoka_state_mp(ta, config):
    with workdps(60):
        s = heyoka_to_mp(ta.state, 60)
    return s


# ------------------------------------------------------------------ checks on a final state
def invariant_residual_mp(problem, config, r, u, dps):
    """``‖P_ker(A) h_η‖ / ‖h_η‖`` at ``dps`` digits for a WN-GF state ``(r, u)`` of an anchor
    integrator (mpf inputs), with the toolkit's one home of the formulas (``numerics._formulas``;
    docs/math.md §3.3) and the exact parameters (``config.mp``)."""
    from numerics import _formulas as F
    from numerics._arith import mp_array

    with workdps(dps):
        s = F.s_of_r(mpmath.mpf(r), config.mp("r0"), config.mp("eta_tilde"))
        h = F.invariant_h(F.log_direction(mp_array(u)), config.log_ubar0_mp(problem.n), s, config.L)
        num, den = F.kernel_residual(problem.A_eff, h, dps=dps)
        return float(num / den) if den else float("nan")


def x_of(r, u, L, dps):
    with workdps(dps):
        r = mpmath.mpf(r)
        u = [mpmath.mpf(v) for v in u]
        nu = mpmath.sqrt(mpmath.fsum(v * v for v in u))
        return [(r * v / nu) ** L for v in u]


def agreement_digits(a, b, dps):
    """``−log10(max|a−b| / max|b|)`` for two vectors of mpf/float (capped at ``dps + 10``)."""
    with workdps(dps):
        a = [mpmath.mpf(v) for v in a]
        b = [mpmath.mpf(v) for v in b]
        d = max(abs(x - y) for x, y in zip(a, b))
        s = max(abs(y) for y in b)
        if d == 0:
            return float(dps + 10)
        return float(-mpmath.log10(d / s))
