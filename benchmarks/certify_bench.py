"""Certified limits (``numerics._certify``, docs/math.md §4–§5): time and enclosure widths.

A plain script (not a timed unit test): ``python -m benchmarks.certify_bench [--quick]``.

Cases (``generate('sparse_positive', N, M, seed=0)``, positive model, ``r₀ = 1``, ``η_u = 1``):

* ``N = 100, M = 40, L = 2, η̃ = 0.1``: the limit at ``dps = 40`` (``numerics._limit.limit_solve``),
  then :func:`numerics._certify.certify_limit`; target ≥ 30 correct digits in ``r_∞`` at ≥ 133 bits
  in under 30 s (the certification; the limit solve is timed separately);
* ``N = 20, M = 8, L = 3, η̃ = 1`` at ``dps = 30``: certified.

For each: the ℓ1 certificate (:func:`numerics._certify.certify_l1`) and the C6 comparison.
"""

from __future__ import annotations

import argparse
import sys
import time

from wnbias.io import write_json


def _case(label, N, M, L, eta_r, dps):
    from numerics import _certify as C
    from numerics._config import FlowConfig
    from numerics._limit import limit_solve
    from numerics._problem import generate

    problem = generate("sparse_positive", N, M, 0)
    config = FlowConfig(L=L, r0="1", eta_r=eta_r, eta_u="1")
    t = time.perf_counter()
    lim = limit_solve(problem, config, dps=dps)
    t_lim = time.perf_counter() - t
    t = time.perf_counter()
    l1 = C.certify_l1(problem)
    t_l1 = time.perf_counter() - t
    t = time.perf_counter()
    cert = C.certify_limit(problem, config, lim, l1=l1)
    t_cert = time.perf_counter() - t
    c6 = C.compare_c6(cert, l1)
    out = {
        "case": label, "N": N, "M": M, "L": L, "eta_tilde": str(config.exact("eta_tilde")), "dps": dps,
        "limit_solve_s": round(t_lim, 3), "certify_limit_s": round(t_cert, 3), "certify_l1_s": round(t_l1, 3),
        "certified": cert.certified, "uniqueness": cert.uniqueness, "prec_bits": cert.prec,
        "r_digits": round(cert.r_digits, 2) if cert.certified else None,
        "x_digits": round(min(C.width_digits(v) for v in cert.x), 2) if cert.certified else None,
        "S_digits": round(C.width_digits(cert.S), 2) if cert.certified else None,
        "toolkit_r_inside": cert.toolkit_inside, "r": C.ball_json(cert.r) if cert.certified else None,
        "l1_optimal": l1.optimal, "l1_pivots": l1.pivots, "l1_value": float(l1.value) if l1.value is not None else None,
        "c6": c6.decision.value, "c6_message": c6.message, "reason": cert.reason,
    }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the 20×8 case")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args(argv)
    cases = [("N=20, M=8, L=3, η̃=1", 20, 8, 3, "1", 30)]
    if not args.quick:
        cases.insert(0, ("N=100, M=40, L=2, η̃=0.1", 100, 40, 2, "0.1", 40))
    results = []
    for c in cases:
        r = _case(*c)
        results.append(r)
        print(f"{r['case']}: certified={r['certified']} ({r['uniqueness']}), {r['prec_bits']} bits, "
              f"r_∞ to {r['r_digits']} digits, x to {r['x_digits']}, S to {r['S_digits']}; "
              f"certify {r['certify_limit_s']} s (limit solve {r['limit_solve_s']} s, LP {r['certify_l1_s']} s, "
              f"{r['l1_pivots']} exact pivots); C6 {r['c6']}: {r['c6_message']}")
        if r["r"]:
            print(f"    r_∞ ∈ {r['r']['mid']} ± {r['r']['rad']}")
    ok = all(r["certified"] for r in results)
    big = [r for r in results if r["N"] == 100]
    if big:
        b = big[0]
        target = b["certified"] and b["r_digits"] >= 30 and b["prec_bits"] >= 133 and b["certify_limit_s"] < 30
        print(f"target (100×40: ≥ 30 digits at ≥ 133 bits in < 30 s): {'met' if target else 'NOT met'}")
        ok = ok and target
    if args.json:
        write_json(args.json, results, indent=1)  # wnbias.io: strict JSON (NaN → null), atomic
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
