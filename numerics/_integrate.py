"""The one entry point for integrating a flow: :func:`integrate`.

It chooses the engine from the problem and the precision, and speaks one vocabulary for all of
them (``t_max``, ``loss_tol``, ``time_limit``, ``checkpoints``, ``progress``, ``max_steps``):

* a :class:`~numerics.Problem` with ``dps=None``: the float64 engine (:mod:`numerics._flow64`,
  scipy steppers; ``method`` picks the stepper and the coordinates: the default ``"auto"`` is LSODA
  in the dual coordinates ``λ`` of docs/math.md §6.3, where the invariant holds by construction,
  ``"auto-full"``, ``"DOP853"``, ``"BDF"``, ``"Radau"``, ``"LSODA"`` integrate ``(r, log u)``, which
  is what a check of the invariant needs);
* a :class:`~numerics.Problem` with ``dps`` given: the Taylor engine at ``dps`` digits
  (:mod:`numerics._taylor`); ``dps`` below :data:`~numerics.MIN_DPS` is refused (``ValueError``),
  never silently run in float64;
* a :class:`~numerics.MatrixSensingProblem`: the matrix flows of docs/math.md §9
  (:mod:`numerics._matrix`; float64 DOP853 checked at every accepted step, or ``mpmath.odefun`` at
  ``dps`` digits), with a :class:`~numerics.MatrixFlowConfig`.

The result is a :class:`~numerics.FlowResult` (a :class:`~numerics.MatrixFlowResult` for the matrix
model).  A result is a limit only when its ``status`` is ``CONVERGED``.
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Callable, Optional, Sequence, Union

from numerics._precision import check_mp_dps

T_MAX = 1e6
"""Default horizon of the vector flows (the runs stop earlier once they converge)."""
T_MAX_MATRIX = 100.0
"""Default horizon of the matrix flows (their loss tolerance is reached long before on the built-in problems)."""

TAYLOR_METHODS = ("auto", "taylor")
MATRIX_METHODS = ("auto", "DOP853", "odefun")


def _engine(module: str, name: str) -> Callable:
    """``numerics.<module>.<name>``, looked up at call time (so that a test may wrap an engine)."""
    import importlib

    return getattr(importlib.import_module(f"numerics.{module}"), name)


def _call(fn: Callable, problem, config, given: dict):
    """``fn(problem, config, **given)`` with the options that are set (``None`` leaves the engine's
    default); an option the engine does not take is an error, never dropped silently."""
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kw = {}
    for name, value in given.items():
        if value is None:
            continue
        if name not in params and not takes_any:
            raise ValueError(f"{name}= is not an option of this engine ({fn.__module__}.{fn.__name__})")
        kw[name] = value
    return fn(problem, config, **kw)


def _check_time_limit(time_limit) -> Optional[float]:
    """``time_limit`` as the engines take it: ``None`` (no limit) for ``None`` or ``math.inf`` (the
    same convention as :func:`numerics.limit_solve`), else a positive finite float.  Zero, a
    negative number, NaN, a bool or a non-number is a ``ValueError``."""
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real):
        raise ValueError(f"time_limit must be a positive number of seconds, math.inf or None, got {time_limit!r}")
    t = float(time_limit)
    if math.isnan(t) or not t > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, math.inf or None, got {time_limit!r}")
    return None if math.isinf(t) else t


def integrate(problem, config, *, dps: Optional[int] = None, method: str = "auto", t_max: Optional[float] = None,
              loss_tol: Optional[float] = None, time_limit: Optional[float] = None,
              checkpoints: Optional[Sequence[float]] = None, progress: Optional[Callable[[float, float], None]] = None,
              rtol: Optional[float] = None, max_steps: Optional[int] = None) -> Union["FlowResult", "MatrixFlowResult"]:
    """Integrate ``config``'s flow on ``problem`` until it converges or the budget is spent.

    ``dps``: ``None`` for float64, else the decimal digits of the Taylor engine (at least
    :data:`~numerics.MIN_DPS`; ``ValueError`` below it).  ``method``: float64 ``"auto"`` (the default:
    LSODA in the dual coordinates ``λ`` of docs/math.md §6.3, where the invariant holds by construction,
    continuing in ``(r, log u)`` where ``λ`` loses accuracy or its domain), ``"auto-full"`` (DOP853 then
    BDF in ``(r, log u)``, where the invariant is a genuine check: what a check of it needs), one of the
    scipy steppers in ``(r, log u)`` (``"DOP853"``, ``"BDF"``, ``"Radau"``, ``"LSODA"``) or in ``λ``
    (``"reduced"``, ``"reduced-BDF"``, ``"reduced-Radau"``, ``"reduced-LSODA"``); the result's
    ``diagnostics.coordinates`` and ``diagnostics.invariant_checked_from`` say which coordinates were
    integrated and from when the invariant residual is a check; at ``dps`` ``"auto"``/``"taylor"``; for
    the matrix model ``"auto"``,
    ``"DOP853"`` (float64) or ``"odefun"`` (``dps``).  ``t_max``: the horizon (default
    :data:`T_MAX`, :data:`T_MAX_MATRIX` for the matrix model).  ``loss_tol``: the loss to reach
    (default: ``numerics.default_loss_tol(problem, dps)``).  ``time_limit``: wall-clock seconds, status
    ``TIME_LIMIT`` when spent; ``None`` or ``math.inf`` for no limit (zero, negative or NaN: ``ValueError``).  ``checkpoints``: increasing times at which the trajectory is
    recorded (and the steady-state test runs).  ``progress(t, loss)``: called with floats at
    checkpoints.  ``rtol``: the float64 stepper's local tolerance on each ``log u_i`` (float64 only).
    ``max_steps``: a cap on accepted steps.
    """
    from numerics._matrix import MatrixSensingProblem

    time_limit = _check_time_limit(time_limit)
    if isinstance(problem, MatrixSensingProblem):
        return _integrate_matrix(problem, config, dps=dps, method=method, t_max=t_max, loss_tol=loss_tol,
                                 time_limit=time_limit, checkpoints=checkpoints, progress=progress, rtol=rtol,
                                 max_steps=max_steps)
    t_max = T_MAX if t_max is None else t_max
    if dps is None:
        fn = _engine("_flow64", "integrate64")
        return _call(fn, problem, config, dict(method=method, t_max=t_max, loss_tol=loss_tol, time_limit=time_limit,
                                               checkpoints=checkpoints, progress=progress, rtol=rtol,
                                               max_steps=max_steps))
    dps = check_mp_dps(dps)
    if method not in TAYLOR_METHODS:
        raise ValueError(f"method must be one of {TAYLOR_METHODS} with dps (the Taylor engine), got {method!r}")
    if rtol is not None:
        raise ValueError("rtol= is a setting of the float64 steppers; the Taylor engine at dps digits sets its own "
                         "truncation tolerance from dps")
    fn = _engine("_taylor", "integrate_taylor")
    return _call(fn, problem, config, dict(dps=dps, t_max=t_max, loss_tol=loss_tol, time_limit=time_limit,
                                           checkpoints=checkpoints, progress=progress, max_steps=max_steps))


def _integrate_matrix(problem, config, *, dps, method, t_max, loss_tol, time_limit, checkpoints, progress, rtol,
                      max_steps):
    from numerics._matrix import MatrixFlowConfig, integrate_matrix

    if not isinstance(config, MatrixFlowConfig):
        raise TypeError(f"a MatrixSensingProblem takes a MatrixFlowConfig, got {type(config).__name__}")
    if method not in MATRIX_METHODS:
        raise ValueError(f"method must be one of {MATRIX_METHODS} for the matrix model, got {method!r}")
    if dps is None and method == "odefun":
        raise ValueError("method='odefun' integrates at dps digits: give dps")
    if dps is not None:
        dps = check_mp_dps(dps)
        if method == "DOP853":
            raise ValueError("method='DOP853' is the float64 stepper: omit dps, or use method='odefun'")
        if rtol is not None:
            raise ValueError("rtol= is a setting of the float64 stepper (DOP853); omit it with dps")
    return integrate_matrix(problem, config, dps=dps, t_max=T_MAX_MATRIX if t_max is None else t_max,
                            loss_tol=loss_tol, time_limit=time_limit, checkpoints=checkpoints, progress=progress,
                            **({} if rtol is None else {"rtol": rtol}),
                            **({} if max_steps is None else {"max_steps": max_steps}))
