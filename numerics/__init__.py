"""Numerics (numpy, scipy, mpmath, python-flint): problems, flows, limits, references, certificates.

The public API is this flat namespace; every implementation module (``numerics._x``) is private
and may change.  Never imports sympy.

>>> import numerics
>>> problem = numerics.generate("sparse_positive", N=20, M=8, seed=0, k=2)
>>> config = numerics.FlowConfig(L=2, r0=1, eta_r="0.3", eta_u=1)
>>> flow = numerics.integrate(problem, config)                  # float64; dps=30 for 30 digits
>>> limit = numerics.limit_solve(problem, config)               # the limit without integrating
>>> report = numerics.analyze_flow(problem, flow)               # what its end point means (§4–§5)

Names are loaded on first use (``import numerics`` itself is cheap, and a name is importable
on its own: ``from numerics import Status`` loads only the statuses).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name -> (private module, attribute in it)
_PUBLIC = {
    # problems and parameters
    "Problem": ("_problem", "Problem"),
    "generate": ("_problem", "generate"),
    "ProblemFileError": ("_problem", "ProblemFileError"),
    "ScaleIssue": ("_problem", "ScaleIssue"),
    "FlowConfig": ("_config", "FlowConfig"),
    # statuses, precision and tolerances
    "Status": ("_status", "Status"),
    "NumericalError": ("_status", "NumericalError"),
    "tol": ("_precision", "tol"),
    "workdps": ("_precision", "workdps"),
    "check_dps": ("_precision", "check_dps"),
    "MIN_DPS": ("_precision", "MIN_DPS"),
    "DPS_FLOAT64": ("_precision", "DPS_FLOAT64"),
    "K_ROUNDOFF": ("_precision", "K_ROUNDOFF"),
    "K_ACCUMULATED": ("_precision", "K_ACCUMULATED"),
    "K_SOLVE": ("_precision", "K_SOLVE"),
    # the flows
    "integrate": ("_integrate", "integrate"),
    "FlowResult": ("_results", "FlowResult"),
    "SteadyState": ("_results", "SteadyState"),
    "Float64Diagnostics": ("_results", "Float64Diagnostics"),
    "TaylorDiagnostics": ("_results", "TaylorDiagnostics"),
    "default_loss_tol": ("_steady", "default_loss_tol"),
    # the limit, its projection and what it means
    "limit_solve": ("_limit", "limit_solve"),
    "LimitResult": ("_limit", "LimitResult"),
    "bregman_projection": ("_bregman", "bregman_projection"),
    "ProjectionResult": ("_bregman", "ProjectionResult"),
    "analyze": ("_quantities", "analyze"),
    "analyze_flow": ("_quantities", "analyze_flow"),
    "LimitReport": ("_quantities", "LimitReport"),
    "Digits": ("_quantities", "Digits"),
    "MPValues": ("_quantities", "MPValues"),
    "l1_bound_from_log_alpha": ("_quantities", "l1_bound_from_log_alpha"),
    # references
    "l1_min": ("_lp", "l1_min"),
    "L1Result": ("_lp", "L1Result"),
    "least_squares_residual": ("_lp", "least_squares_residual"),
    "LeastSquaresResult": ("_lp", "LeastSquaresResult"),
    "l1_polish_mp": ("_lp_polish", "l1_polish_mp"),
    # discrete dynamics
    "gd": ("_gd", "gd"),
    "wn_gd": ("_gd", "wn_gd"),
    "gd_problem": ("_gd", "gd_problem"),
    "GDResult": ("_gd", "GDResult"),
    # matrix-free operators
    "SubsampledDCT": ("_operators", "SubsampledDCT"),
    "as_operator": ("_operators", "as_operator"),
    "SignedOperator": ("_operators", "SignedOperator"),
    "is_operator": ("_operators", "is_operator"),
    # certified enclosures (python-flint ball arithmetic)
    "certify_projection": ("_certify", "certify_projection"),
    "certify_limit": ("_certify", "certify_limit"),
    "certify_l1": ("_certify", "certify_l1"),
    "recheck_l1_certificate": ("_certify", "recheck_l1_certificate"),
    "certify_c6_at_every_root": ("_certify", "certify_c6_at_every_root"),
    "compare_c5": ("_certify", "compare_c5"),
    "compare_c6": ("_certify", "compare_c6"),
    "compare_c7": ("_certify", "compare_c7"),
    "ProjectionCertificate": ("_certify", "ProjectionCertificate"),
    "LimitCertificate": ("_certify", "LimitCertificate"),
    "L1Certificate": ("_certify", "L1Certificate"),
    "Comparison": ("_certify", "Comparison"),
    "RootsComparison": ("_certify", "RootsComparison"),
    "Decision": ("_certify", "Decision"),
    "ball_json": ("_certify", "ball_json"),
    "ball_from_json": ("_certify", "ball_from_json"),
    "to_arb": ("_certify", "to_arb"),
    "width_digits": ("_certify", "width_digits"),
    # the matrix-sensing model (docs/math.md §9); `integrate` runs its flows
    "MatrixSensingProblem": ("_matrix", "MatrixSensingProblem"),
    "MatrixFlowConfig": ("_matrix", "MatrixFlowConfig"),
    "MatrixFlowResult": ("_matrix", "MatrixFlowResult"),
    "generate_matrix": ("_matrix", "generate"),
    "integrate_asym": ("_matrix", "integrate_asym"),
    "gd_matrix": ("_matrix", "gd_matrix"),
    "wn_gd_matrix": ("_matrix", "wn_gd_matrix"),
    "wn_rgd_matrix": ("_matrix", "wn_rgd_matrix"),
    "MatrixGDResult": ("_matrix", "MatrixGDResult"),
    "init_directions": ("_matrix", "init_directions"),
    "curvature_step": ("_matrix", "curvature_step"),
    "nuclear_norm_min": ("_matrix", "nuclear_norm_min"),
    "NuclearNormResult": ("_matrix", "NuclearNormResult"),
    "nuclear_norm": ("_matrix", "nuclear_norm"),
    "effective_rank": ("_matrix", "effective_rank"),
}

_MODULES = {
    # the equations derived in theory/ and printed as plain Python by theory/export.py
    "derived": "_derived",
}


# every name is public; a name whose module is missing raises ImportError when it is accessed
__all__ = sorted([*_PUBLIC, *_MODULES])


def __getattr__(name: str):
    if name in _PUBLIC:
        module, attr = _PUBLIC[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    elif name in _MODULES:
        value = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from numerics import _derived as derived  # noqa: F401
    from numerics._bregman import ProjectionResult, bregman_projection  # noqa: F401
    from numerics._config import FlowConfig  # noqa: F401
    from numerics._gd import GDResult, gd, gd_problem, wn_gd  # noqa: F401
    from numerics._integrate import integrate  # noqa: F401
    from numerics._limit import LimitResult, limit_solve  # noqa: F401
    from numerics._lp import L1Result, l1_min  # noqa: F401
    from numerics._matrix import MatrixFlowConfig, MatrixFlowResult, MatrixSensingProblem  # noqa: F401
    from numerics._precision import (DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, K_SOLVE, MIN_DPS,  # noqa: F401
                                     check_dps, tol, workdps)
    from numerics._problem import Problem, generate  # noqa: F401
    from numerics._quantities import LimitReport, analyze, analyze_flow  # noqa: F401
    from numerics._results import Float64Diagnostics, FlowResult, SteadyState, TaylorDiagnostics  # noqa: F401
    from numerics._status import NumericalError, Status  # noqa: F401
