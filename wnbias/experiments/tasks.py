"""Sweep tasks: one setting in, a JSON-ready dict of numbers out.

Each task draws its problem from ``(truth, N, M, seed, k, model)`` with
:func:`numerics.problem.generate`, so a record is reproducible from its parameters alone.
Results hold only floats, ints, strings and ``None`` (never numpy types).
"""

from __future__ import annotations

import math
from typing import Optional

from wnbias.experiments import _common as C


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
    from numerics.gd import gd

    p = _problem(truth, N, M, seed, k, model)
    ref = C.l1_reference(p) if (reference or mu is None) else None
    mu = C.gd_step(p, int(L), alpha, ref[1], step_c) if mu is None else float(mu)
    y = p.y
    res = gd(p.A_eff, y, L=int(L), w0=alpha * _ones(p.n), mu=mu, steps=int(steps), loss_tol=tol_rel * 0.5 * float(y @ y))
    return _summary(p, res, ref if reference else None, extra={"mu": mu})


def wn_gd_run(
    truth: str = "sparse", N: int = 200, M: int = 40, seed: int = 0, k: Optional[int] = None, model: str = "signed",
    L: int = 2, r0: float = 1.0, eta_tilde: float = 0.1, eta_u: float = 1.0, mu: Optional[float] = None,
    step_c: float = 1.5, steps: int = 5000, tol_rel: float = 1e-8, renormalize: bool = False, reference: bool = True,
) -> dict:
    """WN-GD from ``r₀`` and the uniform direction with ``η_r = η̃ η_u``; ``mu`` defaults to
    :func:`_common.wn_step`.  Reports ``log ρ`` and ``log α_eff`` from the final radius and, with
    ``reference``, the ℓ1 gap and the §5 bound evaluated at that ``ρ``."""
    from numerics.gd import wn_gd

    p = _problem(truth, N, M, seed, k, model)
    ref = C.l1_reference(p) if (reference or mu is None) else None
    mu = C.wn_step(p, int(L), r0, eta_tilde, ref[1], step_c) / eta_u if mu is None else float(mu)
    y = p.y
    res = wn_gd(p.A_eff, y, L=int(L), r0=float(r0), eta_r=float(eta_tilde * eta_u), eta_u=float(eta_u), mu=mu,
                steps=int(steps), renormalize=bool(renormalize), loss_tol=tol_rel * 0.5 * float(y @ y))
    r = float(res.r[0])
    lr = float(C.log_rho(r, r0, eta_tilde))
    la = float(C.log_alpha_eff(r0, p.n, lr))
    extra = {"mu": mu, "r_final": r, "log_rho": lr, "log_alpha_eff": la, "magnified": bool(math.isfinite(r) and r > r0)}
    out = _summary(p, res, ref if reference else None, extra=extra)
    if reference and out.get("l1_opt") is not None:
        S = float(res.x[0].sum())
        b = C.gap_bound(int(L), out["l1_opt"], S, p.n, la)
        out["gap_bound_abs"] = None if not math.isfinite(b) else b
        out["gap_abs_S"] = S - out["l1_opt"]
    return out


def limit_run(
    truth: str = "sparse", N: int = 200, M: int = 40, seed: int = 0, k: Optional[int] = None, model: str = "signed",
    L: int = 2, r0: float = 1.0, eta_tilde: float = 0.1, reference: bool = True,
) -> dict:
    """The WN-GF limit from the scalar equation of MATH.md §4 (float64 ``limit_solve``).

    A solver failure is a result (``status``, ``message``, the numbers ``None``), not an error;
    ``log_rho`` is computed from ``r_inf`` (``ρ`` itself overflows float64 for small ``η̃``)."""
    import warnings

    import numpy as np

    from numerics.config import FlowConfig
    from numerics.limit import limit_solve

    p = _problem(truth, N, M, seed, k, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = limit_solve(p, FlowConfig(L=int(L), r0=float(r0), eta_r=float(eta_tilde), eta_u=1.0))
    status = getattr(res.status, "value", str(res.status))
    out = {"status": status, "message": (res.message or "").splitlines()[0][:300] if res.message else "",
           "r_inf": None, "log_rho": None, "log_alpha_eff": None, "magnified": None, "l1": None, "rel_error": None}
    if res.r_inf is not None and res.x_inf_user is not None:
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


def _ones(n):
    import numpy as np

    return np.ones((1, n))


def _summary(p, res, ref, extra) -> dict:
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
    return _floats(out)


REGISTRY = {"gd_run": gd_run, "wn_gd_run": wn_gd_run, "limit_run": limit_run}
"""Registered sweep tasks (name → function)."""
