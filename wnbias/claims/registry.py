"""The claim registry: what `wnbias verify` checks, and the row each check returns.

A :class:`Claim` is a value: an id (``C1``…), a title, the statement (LaTeX), the MATH.md
section it comes from, the names of the symbolic derivations behind it, the rule its
tolerance follows, and a numeric ``check(problem, config, dps, **options) -> Row``.
``cases(level)`` lists the built-in settings the claim is checked on
(``level`` is ``"quick"``, ``"default"`` or ``"full"``).

A check never fakes a result: when the machinery it needs is missing it returns a ``SKIP``
row whose reason is ``"not available: <module>"``; when an assumption of the claim fails
(no convergence within the budget, ``r_∞ < r₀`` where magnification is claimed) it returns
``SKIP`` with the reason, never ``PASS``.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, Sequence

PASS = "PASS"
FAIL = "FAIL"
SKIP = "SKIP"
VERDICTS = (PASS, FAIL, SKIP)
LEVELS = ("quick", "default", "full")


class Unavailable(RuntimeError):
    """A module a check needs has not been built (or fails to import)."""

    def __init__(self, module: str, why: str = ""):
        super().__init__(f"not available: {module}" + (f" ({why})" if why else ""))
        self.module = module


class AssumptionFailed(RuntimeError):
    """An assumption of the claim does not hold on this setting (the row is SKIP)."""


def need(module: str, *names: str):
    """Import ``module`` (and optionally attributes); raise :class:`Unavailable` if missing.

    ``need("numerics.limit", "limit_solve")`` returns the function; with several names a tuple.
    """
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise Unavailable(module) from exc
    except ImportError as exc:  # a half-written module
        raise Unavailable(module, f"import failed: {exc}") from exc
    if not names:
        return mod
    out = []
    for name in names:
        if not hasattr(mod, name):
            raise Unavailable(f"{module}.{name}")
        out.append(getattr(mod, name))
    return out[0] if len(out) == 1 else tuple(out)


@dataclass(frozen=True)
class Row:
    """One checked setting of one claim.

    ``measured`` is compared with ``bound`` by ``relation`` (``"<="`` unless stated): for
    residuals ``bound`` is the tolerance; for the ℓ1 claim it is the §5 bound.
    ``details`` holds further numbers (and small series for the report); ``settings`` the
    problem, flow configuration and precision actually used.
    """

    claim: str
    setting: str
    measured: float
    bound: float
    verdict: str
    reason: str = ""
    relation: str = "<="
    details: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    wall_time: float = float("nan")

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        object.__setattr__(self, "measured", _as_float(self.measured))
        object.__setattr__(self, "bound", _as_float(self.bound))

    def as_dict(self, series: bool = True) -> dict:
        details = dict(self.details)
        if not series:
            details.pop("series", None)
        return {
            "claim": self.claim,
            "setting": self.setting,
            "measured": _json_float(self.measured),
            "bound": _json_float(self.bound),
            "relation": self.relation,
            "verdict": self.verdict,
            "reason": self.reason,
            "details": _jsonable(details),
            "settings": _jsonable(dict(self.settings)),
            "wall_time": _json_float(self.wall_time),
        }


def _as_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _json_float(v):
    v = _as_float(v)
    return v if math.isfinite(v) else None


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if obj is None or isinstance(obj, str):
        return obj
    try:
        return _json_float(obj)
    except Exception:  # pragma: no cover - anything else is described, not serialised
        return str(obj)


def verdict_le(measured: float, bound: float) -> str:
    """``PASS`` when ``measured ≤ bound`` (both finite), else ``FAIL``."""
    m, b = _as_float(measured), _as_float(bound)
    if not (math.isfinite(m) and math.isfinite(b)):
        return FAIL
    return PASS if m <= b else FAIL


@dataclass(frozen=True)
class Case:
    """A built-in setting: a named problem, a flow configuration, a precision, options."""

    label: str
    problem: Any
    config: Any
    dps: Optional[int] = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    statement: str
    section: str
    check: Callable[..., Row]
    cases: Callable[[str], Sequence[Case]]
    tolerance_rule: str
    symbolic: tuple = ()
    requires: tuple = ()
    default_dps: Optional[int] = None

    def run(self, problem, config, dps=None, *, label: str = "", **options) -> list:
        """Run the check; a missing module or a failed assumption becomes a SKIP row.

        Returns a list of rows (a check may report several aspects of one setting).
        """
        dps = self.default_dps if dps is None else dps
        t0 = time.perf_counter()
        settings = _settings(problem, config, dps, options)
        desc = describe(problem, config, dps)
        setting = ": ".join(part for part in (label, desc) if part)
        try:
            out = self.check(problem, config, dps, **options)
        except Unavailable as exc:
            out = Row(self.id, "", float("nan"), float("nan"), SKIP, str(exc))
        except AssumptionFailed as exc:
            out = Row(self.id, "", float("nan"), float("nan"), SKIP, f"assumption fails: {exc}")
        except (ValueError, ArithmeticError, RuntimeError, TypeError, IndexError, KeyError) as exc:
            # the machinery broke: not a PASS, and not a quiet SKIP either
            out = Row(self.id, "", float("nan"), float("nan"), FAIL,
                      f"the check raised {type(exc).__name__}: {exc}", details={"error": repr(exc)})
        rows = [out] if isinstance(out, Row) else list(out)
        wall = (time.perf_counter() - t0) / max(len(rows), 1)
        return [
            replace(
                row,
                claim=row.claim or self.id,
                setting=(setting + (f" [{row.setting}]" if row.setting else "")),
                settings={**settings, **dict(row.settings)},
                wall_time=wall,
            )
            for row in rows
        ]


def _settings(problem, config, dps, options) -> dict:
    out = {"dps": dps}
    if problem is not None:
        out["problem"] = problem.as_dict()
    if config is not None:
        out["config"] = config.as_dict()
    out.update({k: v for k, v in options.items()})
    return out


def describe(problem, config, dps=None) -> str:
    """A short setting label: ``signed N=6 M=3 L=3 η̃=0.3 r0=1 dps=30``."""
    parts = []
    if problem is not None:
        parts.append(f"{problem.model[:3]} {problem.M}×{problem.N}")
    if config is not None:
        if config.rates == "plain":
            parts.append(f"L={config.L} plain α={config.r0 / math.sqrt(problem.n) if problem else config.r0:.2g}")
        elif config.rates == "r2":
            parts.append(f"L={config.L} (r²,1) r0={config.r0:g}")
        else:
            parts.append(f"L={config.L} η̃={config.eta_tilde:.3g} r0={config.r0:g}")
    if dps is not None:
        parts.append(f"dps={dps}")
    return " ".join(parts)


# -- the registry -----------------------------------------------------------------------

_REGISTRY: dict = {}


def register(claim: Claim) -> Claim:
    if claim.id in _REGISTRY:
        raise ValueError(f"claim {claim.id!r} is registered twice")
    _REGISTRY[claim.id] = claim
    return claim


def _load_all():
    # importing the claim modules registers their claims
    from wnbias.claims import dynamics, flow, limits, symbolic  # noqa: F401


def all_claims() -> list:
    _load_all()
    return sorted(_REGISTRY.values(), key=_order)


def _order(c: Claim):
    head = c.id.rstrip("0123456789")
    num = c.id[len(head):]
    return (head != "C", head, int(num) if num else 0)


def get(claim_id: str) -> Claim:
    _load_all()
    key = claim_id.strip().upper()
    if key not in _REGISTRY:
        raise KeyError(f"unknown claim {claim_id!r}; known: {', '.join(c.id for c in all_claims())}")
    return _REGISTRY[key]


def select(ids: Optional[str]) -> list:
    """Claims named in a comma-separated list (``None``: all)."""
    claims = all_claims()
    if not ids:
        return claims
    wanted = [s.strip().upper() for s in ids.split(",") if s.strip()]
    known = {c.id for c in claims}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise KeyError(f"unknown claim(s) {', '.join(unknown)}; known: {', '.join(sorted(known, key=lambda i: _order(_REGISTRY[i])))}")
    return [c for c in claims if c.id in wanted]
