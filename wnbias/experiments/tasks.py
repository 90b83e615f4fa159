"""Sweep tasks: one setting in, a JSON-ready dict of numbers out.

Each task draws its problem from ``(truth, N, M, seed, k, model)`` with
:func:`numerics._problem.generate`, so a record is reproducible from its parameters alone.
Results hold only floats, ints, strings and ``None`` (never numpy types).

Numbers: a float parameter is the double it is; a string (``"0.1"``, ``"1e-3"``, ``"1/3"``) is
the exact number it writes.  The float64 tasks round each parameter once, to the nearest double,
where it is used; ``limit_run`` with ``dps`` hands the exact values to ``FlowConfig``.  Every
result says which numbers it was computed for: ``exact`` (each parameter as an exact decimal
string, or ``p/q``) and ``precision`` (``"float64"`` or ``"dps=N"``).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

from wnbias.experiments import _common as C


def exact_number(v) -> Fraction:
    """The exact value of a parameter, read as :class:`numerics._config.FlowConfig` reads it
    (:func:`numerics._config.exact_value`): a float is its double, an int itself, a string a
    decimal (``"0.1"``, ``"2.5e-3"``), a ratio ``"p/q"`` or ``float.hex`` text (``"0x1.8p1"``).
    ``ValueError`` for anything else (including ``"nan"``, ``"inf"`` and decimal exponents beyond
    ``numerics._config.MAX_DECIMAL_EXPONENT``)."""
    from numerics._config import exact_value

    if isinstance(v, str) and not v.strip():
        raise ValueError("an empty string is not a number; give a decimal such as \"0.1\" or a fraction such as \"1/3\"")
    return exact_value(v, "the value")


def exact_string(v) -> str:
    """The exact decimal string of a parameter (``"0.1"`` for the string ``"0.1"``, the full
    expansion ``"0.1000000000000000055511151231257827021181583404541015625"`` for the float 0.1),
    or ``"p/q"`` when the value has no finite decimal expansion (:func:`numerics._config.exact_string`)."""
    from numerics._config import exact_string as _exact_string

    return _exact_string(exact_number(v))


def _f(v) -> float:
    """A parameter rounded once to the nearest double (a float is returned unchanged)."""
    if isinstance(v, float):
        return v
    try:
        return float(exact_number(v))
    except OverflowError:
        raise ValueError(f"{v!r} is beyond the range of a double (float64)") from None


def _exact(**values) -> dict:
    return {k: exact_string(v) for k, v in values.items() if v is not None}


def _problem(truth, N, M, seed, k, model):
    """The task's problem; ``k`` (sparse truths) defaults to ``max(1, round(M/10))``."""
    k = C.k_of({"M": int(M)}) if k is None else int(k)
    return C.make_problem(truth, int(N), int(M), int(seed), model=model, k=k)


def _floats(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        v = C.clean(v)
        if isinstance(v, float) and not math.isfinite(v):
            v = None if math.isnan(v) else v
        out[k] = v
    return out


def gd_run(
    truth: str = "sparse", N: int = 200, M: int = 40, seed: int = 0, k: Optional[int] = None, model: str = "signed",
    L: int = 2, alpha: float = 1e-2, mu: Optional[float] = None, step_c: float = 1.5, steps: int = 5000,
    tol_rel: float = 1e-8, reference: bool = True,
) -> dict:
    """Plain GD from ``w₀ = α·1``; ``mu`` defaults to :func:`_common.gd_step`."""
    from numerics._gd import gd

    exact = _exact(alpha=alpha, mu=mu, step_c=step_c, tol_rel=tol_rel)
    alpha, step_c, tol_rel = _f(alpha), _f(step_c), _f(tol_rel)
    p = _problem(truth, N, M, seed, k, model)
    ref = C.l1_reference(p) if (reference or mu is None) else None
    mu = C.gd_step(p, int(L), alpha, ref[1], step_c) if mu is None else _f(mu)
    y = p.y
    res = gd(p.A_eff, y, L=int(L), w0=alpha * _ones(p.n), mu=mu, steps=int(steps), loss_tol=tol_rel * 0.5 * float(y @ y))
    return _summary(p, res, ref if reference else None, extra={"mu": mu}, exact=exact)


def wn_gd_run(
    truth: str = "sparse", N: int = 200, M: int = 40, seed: int = 0, k: Optional[int] = None, model: str = "signed",
    L: int = 2, r0: float = 1.0, eta_tilde: float = 0.1, eta_u: float = 1.0, mu: Optional[float] = None,
    step_c: float = 1.5, steps: int = 5000, tol_rel: float = 1e-8, renormalize: bool = False, reference: bool = True,
) -> dict:
    """WN-GD from ``r₀`` and the uniform direction with ``η_r = η̃ η_u``; ``mu`` defaults to
    :func:`_common.wn_step`.  Reports ``log ρ`` and ``log α_eff`` from the final radius and, with
    ``reference``, the ℓ1 gap and the §5 bound evaluated at that ``ρ``."""
    from numerics._gd import wn_gd

    exact = _exact(r0=r0, eta_tilde=eta_tilde, eta_u=eta_u, mu=mu, step_c=step_c, tol_rel=tol_rel)
    exact["eta_r"] = exact_string(exact_number(eta_tilde) * exact_number(eta_u))
    eta_r = float(exact_number(eta_tilde) * exact_number(eta_u))  # η_r = η̃ η_u, rounded once
    r0, eta_tilde, eta_u, step_c, tol_rel = _f(r0), _f(eta_tilde), _f(eta_u), _f(step_c), _f(tol_rel)
    p = _problem(truth, N, M, seed, k, model)
    ref = C.l1_reference(p) if (reference or mu is None) else None
    mu = C.wn_step(p, int(L), r0, eta_tilde, ref[1], step_c) / eta_u if mu is None else _f(mu)
    y = p.y
    res = wn_gd(p.A_eff, y, L=int(L), r0=r0, eta_r=eta_r, eta_u=eta_u, mu=mu,
                steps=int(steps), renormalize=bool(renormalize), loss_tol=tol_rel * 0.5 * float(y @ y))
    r = float(res.r[0])
    lr = float(C.log_rho(r, r0, eta_tilde))
    la = float(C.log_alpha_eff(r0, p.n, lr))
    extra = {"mu": mu, "r_final": r, "log_rho": lr, "log_alpha_eff": la, "magnified": bool(math.isfinite(r) and r > r0)}
    out = _summary(p, res, ref if reference else None, extra=extra, exact=exact)
    if reference and out.get("l1_opt") is not None:
        S = float(res.x[0].sum())
        b = C.gap_bound(int(L), out["l1_opt"], S, p.n, la)
        out["gap_bound_abs"] = None if not math.isfinite(b) else b
        out["gap_abs_S"] = S - out["l1_opt"]
    return out


def limit_run(
    truth: str = "sparse", N: int = 200, M: int = 40, seed: int = 0, k: Optional[int] = None, model: str = "signed",
    L: int = 2, r0: float = 1.0, eta_tilde: float = 0.1, reference: bool = True, dps: Optional[int] = None,
) -> dict:
    """The WN-GF limit from the scalar equation of docs/math.md §4 (``limit_solve``: float64, or
    ``dps`` digits from the exact parameters, so ``eta_tilde = "0.1"`` at ``dps = 40`` is the
    limit for one tenth; ``r_inf_digits`` then holds ``r_∞`` to ``dps`` significant digits).

    A solver failure is a result (``status``, ``message``, the numbers ``None``), not an error;
    ``log_rho`` is computed from ``r_inf`` (``ρ`` itself overflows float64 for small ``η̃``)."""
    import warnings

    import numpy as np

    from numerics._limit import limit_solve

    if dps is not None and (isinstance(dps, bool) or not isinstance(dps, int) or dps < 1):
        raise ValueError(f"dps must be a positive integer (digits), got {dps!r}")
    config = _flow_config(int(L), r0, eta_tilde)
    exact = _config_exact(config, r0=r0, eta_tilde=eta_tilde)
    r0, eta_tilde = _f(r0), _f(eta_tilde)
    p = _problem(truth, N, M, seed, k, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = limit_solve(p, config, dps=dps)
    out = {"status": res.status.value, "message": (res.message or "").splitlines()[0][:300] if res.message else "",
           "r_inf": None, "log_rho": None, "log_alpha_eff": None, "magnified": None, "l1": None, "rel_error": None,
           "precision": "float64" if dps is None else f"dps={dps}", "exact": exact}
    if res.r_inf is not None and res.x_inf_user is not None:
        if dps is not None:
            import mpmath

            with mpmath.workdps(dps + 10):  # never re-round r_∞ to the ambient 15 digits
                out["r_inf_digits"] = mpmath.nstr(mpmath.mpf(res.r_inf), dps, min_fixed=-math.inf, max_fixed=math.inf)
        r_inf = float(res.r_inf)
        lr = float(C.log_rho(r_inf, r0, eta_tilde))
        x = np.asarray(res.x_inf_user, dtype=float)
        out.update(r_inf=r_inf, log_rho=lr, log_alpha_eff=float(C.log_alpha_eff(r0, p.n, lr)), magnified=r_inf > r0,
                   l1=float(np.abs(x).sum()))
        if p.x_true is not None:
            out["rel_error"] = float(np.linalg.norm(x - p.x_true) / np.linalg.norm(p.x_true))
    if reference:
        l1_opt = C.l1_reference(p)[0]
        out["l1_opt"] = l1_opt
        out["rel_l1_gap"] = None if out["l1"] is None else (out["l1"] - l1_opt) / l1_opt
    return _floats(out)


def _flow_config(L: int, r0, eta_tilde):
    """``FlowConfig(L, r0, eta_r = η̃, eta_u = 1)`` with the parameters as given (strings stay
    exact).  A ``FlowConfig`` without exact parameters (no ``exact_strings``) gets the doubles."""
    from numerics._config import FlowConfig

    if hasattr(FlowConfig, "exact_strings"):
        return FlowConfig(L=L, r0=r0, eta_r=eta_tilde, eta_u=1)
    return FlowConfig(L=L, r0=_f(r0), eta_r=_f(eta_tilde), eta_u=1.0)  # pragma: no cover - older numerics


def _config_exact(config, **given) -> dict:
    """The exact parameters of ``config`` (``FlowConfig.exact_strings``), else those of ``given``."""
    strings = getattr(config, "exact_strings", None)
    if strings is not None:
        d = strings()
        return {k: v for k, v in d.items() if isinstance(v, str)}
    return _exact(**given)  # pragma: no cover - older numerics


def _ones(n):
    import numpy as np

    return np.ones((1, n))


def _summary(p, res, ref, extra, exact=None) -> dict:
    hit = int(res.hit_tol_at[0])
    out = {
        "status": C.status_names(res.status)[0],
        "loss_final": float(res.loss[-1, 0]),
        "iters_to_tol": hit if hit >= 0 else None,
        "steps_run": int(res.steps),
        "rel_error": float(C.rel_error(p, res.x)[0]),
        "l1": float(abs(C.user_x(p, res.x)[0]).sum()),
        **extra,
    }
    if ref is not None:
        l1_opt = ref[0]
        out["l1_opt"] = l1_opt
        out["rel_l1_gap"] = float(C.l1_gap(p, res.x, l1_opt)[0])
    out = _floats(out)
    out["precision"] = "float64"
    out["exact"] = exact or {}
    return out


AGREE_REL = 1e-6
"""``convergence_run``: the float64 flow *reached the predicted limit* when it CONVERGED and
``‖x(T) − x_∞‖ ≤ AGREE_REL·‖x_∞‖``.  The flow stops at a residual of 1e-6·‖y‖
(``numerics._steady.REL_RESIDUAL_TOL_64``), so a flow that reaches the limit sits within about that
relative distance of it (measured: 1e-12 to 1e-8); a flow that converged somewhere else is off by
the distance between two zero-loss points, which is of order one."""


CONVERGENCE_FLOW_METHOD = "auto-full"
"""The float64 stepper of ``convergence_run``: the flow integrated in ``(r, log u)`` (DOP853, then BDF
where the steps are stability-bound), not the dual coordinates ``λ`` of ``method="auto"``, which
keep the invariant by construction (docs/math.md §6.3): the end point is then a check of the limit
the scalar root predicts that shares nothing with it but the vector field."""


def convergence_run(
    kind: str = "sparse_positive", N: int = 30, M: int = 10, seed: int = 0, k: Optional[int] = None, L: int = 3,
    r0: float = 1.0, eta_tilde: float = 0.1, flow_time_limit: float = 30.0, limit_time_limit: float = 20.0,
    t_max: float = 1e8, limit_dps: Optional[int] = 30,
) -> dict:
    """Does the WN flow reach the limit the scalar root predicts (docs/math.md §4, §6.1)?

    The problem is ``generate(kind, N, M, seed, k)`` (``k`` defaults to ``max(1, M // 4)``); the
    flow is ``FlowConfig(L, r0, eta_r = η̃, eta_u = 1)``.  The limit comes from
    :func:`numerics.limit_solve` (float64, at most ``limit_time_limit`` s; where float64 does not
    converge, once more at ``limit_dps`` digits from the exact parameters, in the same time budget:
    ``limit_precision`` says which), the flow from
    :func:`numerics.integrate` (float64 in ``(r, log u)``, :data:`CONVERGENCE_FLOW_METHOD`, to ``t_max``
    or ``flow_time_limit`` s of wall time).
    ``outcome``: ``"reached"`` (the flow CONVERGED within :data:`AGREE_REL` of the limit),
    ``"elsewhere"`` (it CONVERGED, farther away: a counterexample candidate), ``"not_converged"``
    (the flow's status is not CONVERGED), ``"no_limit"`` (the limit solver failed).  ``status`` is
    the flow's status; the distances are relative (``‖x(T) − x_∞‖/‖x_∞‖``, ``|r(T) − r_∞|/r_∞``)."""
    import warnings

    import numpy as np

    from numerics import Status, generate, integrate, limit_solve

    config = _flow_config(int(L), r0, eta_tilde)
    exact = _config_exact(config, r0=r0, eta_tilde=eta_tilde)
    p = generate(str(kind), int(N), int(M), int(seed), k=None if k is None else int(k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lim = limit_solve(p, config, time_limit=float(limit_time_limit))
        limit_precision = "float64"
        if lim.status is not Status.CONVERGED and limit_dps is not None:
            lim = limit_solve(p, config, dps=int(limit_dps), time_limit=float(limit_time_limit))
            limit_precision = f"dps={int(limit_dps)}"
        flow = integrate(p, config, t_max=float(t_max), time_limit=float(flow_time_limit),
                         method=CONVERGENCE_FLOW_METHOD)
    out = {"status": flow.status.value, "limit_status": lim.status.value, "limit_precision": limit_precision,
           "n": int(p.n), "model": p.model,
           "t_final": float(flow.t_final), "flow_wall_s": float(flow.wall_time), "limit_wall_s": float(lim.wall_time),
           "loss_final_rel": float(flow.loss_final) / (0.5 * float(p.y @ p.y)), "r_final": float(flow.r_final),
           "r_inf": None, "dist_x": None, "dist_r": None, "magnified": None,
           "flow_message": (flow.message or "").splitlines()[0][:200] if flow.message else "",
           "limit_message": (lim.message or "").splitlines()[0][:200] if lim.message else "",
           "flow_method": CONVERGENCE_FLOW_METHOD, "precision": "float64", "exact": exact}
    if lim.status is Status.CONVERGED:
        x_inf = np.array([float(v) for v in np.ravel(lim.x_inf)])  # float64 or mpf: rounded once
        x_t = np.asarray(flow.x_final, dtype=float)
        r_inf = float(lim.r_inf)
        out.update(r_inf=r_inf, dist_x=float(np.linalg.norm(x_t - x_inf) / np.linalg.norm(x_inf)),
                   dist_r=abs(float(flow.r_final) - r_inf) / r_inf, magnified=r_inf > float(r0))
    if lim.status is not Status.CONVERGED:
        outcome = "no_limit"
    elif flow.status is not Status.CONVERGED:
        outcome = "not_converged"
    elif out["dist_x"] <= AGREE_REL:
        outcome = "reached"
    else:
        outcome = "elsewhere"
    out["outcome"] = outcome
    return _floats(out)


REGISTRY = {"gd_run": gd_run, "wn_gd_run": wn_gd_run, "limit_run": limit_run, "convergence_run": convergence_run}
"""Registered sweep tasks (name → function)."""
