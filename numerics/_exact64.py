"""Error-free float64 transformations: products split exactly (TwoProduct), residuals summed exactly, and
double-double vectors (the rigorous residuals of numerics._limit and numerics._vertex2)."""

from __future__ import annotations

import math

import numpy as np

_VELTKAMP = 134217729.0  # 2^27 + 1: splits a float64 into two halves of 26 bits
_TWOPRODUCT_EXACT = 2.0 ** -960  # |fl(a·x)| at or above this: TwoProduct is error-free (no underflow)
_TWOPRODUCT_UNDERFLOW = 2.0 ** -1000  # the most one TwoProduct below that threshold can be off by


def _residual_dot2(A, x, y):
    """``(g, δg)``: ``g = Ax − y`` for dense float64 ``A``, ``x``, ``y``, correctly rounded, with a
    rigorous bound ``δg ≥ |g − (Ax − y)|``.  The exact residual of the computed ``x``, not the float64
    one (whose rounding, ``eps |A||x|``, would otherwise be the error bar's worst case).

    Every product ``a_ij x_j`` is split error-free into ``p + e`` (TwoProduct by Veltkamp's split,
    Dekker 1971; Ogita, Rump & Oishi, SIAM J. Sci. Comput. 26, 2005), on the whole ``M × n`` matrix at
    once, and each row's ``2n + 1`` exact parts are summed by :func:`math.fsum` (Shewchuk's exact
    partials, correctly rounded).  So ``|g − (Ax − y)| ≤ u|g|/(1 − u) ≤ 2u|g|`` (``u = 2⁻⁵³``), plus
    ``2⁻¹⁰⁷⁴`` for a subnormal result, plus, for each product below ``2⁻⁹⁶⁰`` (where TwoProduct may
    underflow; above it ``e`` is exact: the exponents of the factors sum to at least ``e_min + 52``), a
    generous ``2⁻¹⁰⁰⁰``.  None when a split or a product could overflow (``|a|, |x| > 1e290`` or
    ``max|a| max|x| > 1e300``)."""
    return _residual_parts(A, [np.asarray(x, dtype=float)], y)


def _two_products(A, x):
    """``(P, E, small)``: ``a_ij x_j = P_ij + E_ij`` exactly (TwoProduct by Veltkamp's split) over the
    columns where ``x`` is nonzero, and per row the count of products below ``2⁻⁹⁶⁰`` (where ``E`` may
    underflow)."""
    idx = np.flatnonzero(x)
    a = A[:, idx] if idx.size < x.size else A
    xs = x[idx]
    P = a * xs
    t = _VELTKAMP * a
    ah = t - (t - a)
    al = a - ah
    t = _VELTKAMP * xs
    xh = t - (t - xs)
    xl = xs - xh
    E = al * xl - (((P - ah * xh) - al * xh) - ah * xl)  # a·x_j − p exactly (TwoProduct)
    return P, E, np.count_nonzero(np.abs(P) < _TWOPRODUCT_EXACT, axis=1)


def _residual_parts(A, parts, y, extra=None):
    """``(g, δg)``: ``g = A(Σ parts) + extra − y`` correctly rounded, ``δg`` a rigorous bound on its error (see
    :func:`_residual_dot2`; ``parts`` is ``[x]`` or the two halves ``[hi, lo]`` of a double-double vector;
    ``extra``, optional, a float64 vector added exactly)."""
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float)
    amax = float(np.abs(A).max()) if A.size else 0.0
    for x in parts:
        xmax = float(np.abs(x).max()) if x.size else 0.0
        if not (amax <= 1e290 and xmax <= 1e290 and amax * xmax <= 1e300 and np.all(np.isfinite(x))):
            return None
    if not np.all(np.isfinite(y)) or (extra is not None and not np.all(np.isfinite(extra))):
        return None
    blocks, small = [], 0
    for x in parts:
        P, E, sm = _two_products(A, x)
        blocks += [P, E]
        small = small + sm
    if extra is not None:
        blocks.append(np.asarray(extra, dtype=float)[:, None])
    rows = np.concatenate(blocks + [-y[:, None]], axis=1).tolist()
    try:
        g = np.array([math.fsum(r) for r in rows], dtype=float)
    except (OverflowError, ValueError):
        return None
    u = 2.0 ** -53
    dg = 2 * u * np.abs(g) + 5e-324 + small * _TWOPRODUCT_UNDERFLOW
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(dg))):
        return None
    return g, dg


def _dd_add(hi, lo, d):
    """``(hi, lo) + d`` for double-double vectors (TwoSum, then FastTwoSum to renormalise)."""
    s = hi + d
    bb = s - hi
    err = (hi - (s - bb)) + (d - bb)
    lo = lo + err
    h2 = s + lo
    return h2, lo - (h2 - s)


def _gamma(k: int) -> float:
    """Higham's ``γ_k = k u / (1 − k u)`` (``u = 2⁻⁵³``): the relative error bound of a float64 sum or dot
    product of ``k`` terms, in any order."""
    u = 2.0 ** -53
    return k * u / (1 - k * u)
