"""Fixed cases where the §5 bound (claim C6, docs/math.md §5) is nearly attained.

Found by the adversarial search of :mod:`wnbias.sharpness` (``wnbias sharpness C6 --L …``;
docs/sharpness.md), rounded to short decimal parameters and re-checked at ``dps = 30``: the limit
solved at 30 digits and the ℓ1 LP polished at 30 digits.  ``ratio`` is that re-check's
``gap/bound`` (for the docs; the tests recompute it).  C6's default verify level includes every
case here, so a bound made smaller by a factor below ``ratio`` FAILs there.

* ``L = 2``: ``gap/bound`` approaches 1 only logarithmically as the scale shrinks (the search's
  best is at ``‖z*‖₁ ≈ 5e-11``); this case FAILs the bound multiplied by 0.9 (and by ½).
* ``L > 2``: ``gap/bound ≤ 2/L`` on *every* problem (:func:`wnbias.sharpness.lgt2_ceiling`), so no
  case can fail the bound multiplied by 0.9; the cases kept are within 1.2 % of ``2/L``
  (``L = 3``: 0.664 of 0.667; ``L = 4``: 0.496 of 0.5).  They FAIL the ``L = 3`` bound multiplied
  by ½, the bound with ``α_eff^{L−1}`` for ``α_eff^{L−2}`` and the bound without ``n^{(L−2)/L}``.
* ``false-L2``: the example of issue 12 on which the false ``L = 2`` claim
  ``gap ≤ η̃/(r_∞² − r₀²)`` fails (gap 0.342 against 0.214), while the §5 bound holds (ratio 0.16).

Every case is magnified (``r_∞ > r₀``) with ``α_eff < 1``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TightCase:
    """One fixed case: exact decimal strings for ``A``, ``y``, ``r₀`` and ``η̃`` (``η_r = η̃``,
    ``η_u = 1``), the model, the depth and the ``gap/bound`` ratio found."""

    label: str
    claim: str
    A: tuple
    y: tuple
    model: str
    L: int
    r0: str
    eta_tilde: str
    ratio: float

    def problem(self):
        import numpy as np

        from numerics._problem import Problem

        A = np.array([[_number(v) for v in row] for row in self.A], dtype=float)
        y = np.array([_number(v) for v in self.y], dtype=float)
        return Problem(A, y, self.model, description=f"tight case {self.label} (wnbias/claims/tight_cases.py)")

    def config(self):
        from numerics._config import FlowConfig

        return FlowConfig(L=self.L, r0=self.r0, eta_r=self.eta_tilde, eta_u=1)


def _number(s: str) -> float:
    """The double of an exact decimal string or a ``float.hex`` string (``"0x1.8p+1"``)."""
    t = s.strip()
    if t.lower().lstrip("+-").startswith("0x"):
        return float.fromhex(t)
    from fractions import Fraction

    return float(Fraction(t))  # correctly rounded, as float(t)


TIGHT_CASES: tuple = (
    TightCase("tight-L2", "C6", (("0.255619", "0.001"),), ("1.40135e-11",), "positive", 2,
              "3.87695e-06", "0.0642903", 0.9592472340737738),
    TightCase("tight-L3", "C6", (("-0.0822789", "0.90027", "-0.938936"),), ("-2.88502e-08",), "signed", 3,
              "0.0108378", "59.183", 0.6638244600618483),
    TightCase("tight-L4", "C6", (("0.126825", "0.873132", "-0.224652"),), ("1.34414e-10",), "signed", 4,
              "2.441e-05", "6.57207", 0.49577615470537983),
    TightCase("false-L2-claim", "C6", (("1", "2"),), ("20",), "positive", 2, "1", "2", 0.16238627314701543),
)
"""The kept cases (ratios at dps 30)."""

PLANTED_FAILS = {
    "tight-L2": ("half-L2",),
    "tight-L3": ("half-Lgt2", "alpha-L-1", "no-n-factor"),
    "tight-L4": ("alpha-L-1", "no-n-factor"),
    "false-L2-claim": ("false-L2",),
}
"""Which planted wrong bounds (:data:`wnbias.sharpness.VARIANTS`) each case makes FAIL."""
