"""The claim registry: what `wnbias verify` checks, and the row each check returns.

A :class:`Claim` is a value: an id (``C1``…), a title, the statement (LaTeX), the section of
docs/math.md it comes from, the names of the symbolic derivations behind it, the rule its
tolerance follows, and a numeric ``check(problem, config, dps, **options) -> Row``.
``cases(level)`` lists the built-in settings the claim is checked on
(``level`` is ``"quick"``, ``"default"`` or ``"full"``).

A check never fakes a result:

* missing machinery is an error, not a verdict: :func:`need` raises :class:`MachineryMissing`
  (naming the module), which :meth:`Claim.run` lets through (``verify`` exits 3 with it);
* a failed mathematical assumption (``r_∞ ≤ r₀`` where magnification is claimed, a bound stated
  only for uniform ``β``, a flow whose convergence is the assumption and which did not converge)
  is :class:`AssumptionFailed`: a ``SKIP`` row with the reason;
* a check with nothing to check (an inconsistent or trivial problem, a flow that never ran) is
  :class:`EmptyCheck`: ``SKIP`` "the check would be empty: <why>", never ``PASS``;
* a solver that reports trouble through ``numerics._status.NumericalError`` gives a ``FAIL`` row
  with the status; every other exception is a programming error and propagates.

Certified verdicts (``check(..., certify=True)`` for the claims with ``Claim.certifiable``; issue 14,
docs/certify.md): :data:`CERTIFIED` is a verdict above ``PASS``: every quantity of the comparison
is a rigorous enclosure (``numerics._certify``) and the relation holds on the whole enclosure.  A
comparison that fails on the whole enclosure is a *certified FAIL*: verdict ``FAIL`` (so it counts
as a FAIL everywhere: exit codes, summaries), its reason starting "certified FAIL" and its
``Row.certificate["decision"]`` ``"certified_fail"``.  Undecided comparisons keep the numeric
verdict and say "not certified: <why>".  :func:`apply_certificate` does that mapping.

Claims are defined in the modules of :data:`CLAIM_MODULES`, which import this module and register
their claims; :func:`load_claims` has the package ``wnbias/claims/__init__.py`` import them on first
use (one explicit ``import`` each), and this module imports none of them, so there is no import
cycle.  Claims from outside the package:
:func:`load_plugin` imports a module that calls :func:`register`, and every entry point of the
group :data:`ENTRY_POINT_GROUP` is loaded with the built-in claims (docs/claims.md, "Your own
claims").
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, Sequence

from numerics._status import NumericalError
from wnbias.errors import MachineryMissing  # noqa: F401  (defined once, in numerics._status; re-exported)

PASS = "PASS"
FAIL = "FAIL"
SKIP = "SKIP"
CERTIFIED = "CERTIFIED"
VERDICTS = (CERTIFIED, PASS, FAIL, SKIP)
"""Every verdict, strongest first.  ``CERTIFIED`` counts as a success (like ``PASS``); a certified
FAIL is a ``FAIL`` (see :func:`apply_certificate`)."""
SUCCESS = (CERTIFIED, PASS)
LEVELS = ("quick", "default", "full")

CLAIM_MODULES = (
    "wnbias.claims.flow",
    "wnbias.claims.limits",
    "wnbias.claims.sharpened",
    "wnbias.claims.dynamics",
    "wnbias.claims.symbolic",
    "wnbias.claims.matrix",
)
"""The modules whose import registers the built-in claims, in this order.  They are imported on
first use by the package (``wnbias/claims/__init__.py``, one ``import`` statement each, through the
hook :func:`_set_builtin_loader`), never by this module: they import this one, and this one
imports none of them."""

MATRIX_CLAIMS_PREFIX = "M"
"""Ids of the matrix-model claims (docs/math.md §9); ``verify`` runs them only with ``--model matrix``."""

ENTRY_POINT_GROUP = "wnbias.claims"
"""Entry-point group of claims from other packages: each entry point names a module (importing
it registers its claims), a :class:`Claim`, or a callable returning a Claim or a list of them."""


Unavailable = MachineryMissing
"""The former name of :class:`MachineryMissing` (kept for callers that catch it)."""


class AssumptionFailed(RuntimeError):
    """An assumption of the claim does not hold on this setting (the row is SKIP)."""


class EmptyCheck(AssumptionFailed):
    """The check would be empty on this setting (nothing ran, nothing to compare): SKIP."""


class PluginError(ValueError):
    """A plugin module named by the user cannot be loaded (bad input: exit 2)."""


def need(module: str, *names: str):
    """Import ``module`` (and optionally attributes); raise :class:`MachineryMissing` if it
    cannot be imported or lacks a name.

    ``need("numerics._limit", "limit_solve")`` returns the function; with several names a tuple.
    Only ``ImportError`` becomes :class:`MachineryMissing`; any other exception raised while
    importing (a syntax or programming error) propagates as it is.
    """
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        why = "" if missing == module else f"it needs {missing}: {exc}"
        if isinstance(exc, ModuleNotFoundError) and missing == module:
            why = "not installed or not built"
        elif not why:
            why = f"import failed: {exc}"
        raise MachineryMissing(module, why) from exc
    if not names:
        return mod
    out = []
    for name in names:
        if not hasattr(mod, name):
            raise MachineryMissing(f"{module}.{name}", "the module has no such name")
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
    certificate: Optional[Mapping[str, Any]] = None
    """With ``certify=True``: what the certificate proved (see :func:`apply_certificate`); None
    when no certification was asked for."""

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
            **({"certificate": _jsonable(dict(self.certificate))} if self.certificate is not None else {}),
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


def apply_certificate(row: Row, certificate: Mapping[str, Any]) -> Row:
    """``row`` with its verdict decided by a certificate (docs/certify.md, "In the claims").

    ``certificate`` is a mapping with at least ``"decision"`` (``"certified"``,
    ``"certified_fail"``, ``"undecided"`` or ``"not_applicable"``), ``"complete"`` (bool: the
    enclosures are of the claim's own quantities, e.g. the limit is the unique root of φ), and
    ``"proven"`` (what the comparison established) or ``"reason"`` (why it did not).

    * ``certified`` and complete: verdict :data:`CERTIFIED` (also over a numeric FAIL, which the
      reason then reports: a proof outranks a tolerance);
    * ``certified_fail`` and complete: verdict ``FAIL``, reason "certified FAIL: …";
    * otherwise the numeric verdict stays; an undecided (or incomplete) comparison prefixes
      "not certified: <why>" to the reason; ``not_applicable`` (a row without enclosed quantities,
      e.g. a finite-time identity) leaves the reason as it is.

    Only PASS and FAIL rows are decided; a SKIP row keeps its verdict and reason."""
    cert = dict(certificate)
    decision = cert.get("decision", "undecided")
    complete = bool(cert.get("complete", False))
    old = row.verdict
    cert["numeric_verdict"] = old
    if old not in (PASS, FAIL):
        cert["applied"] = False
        return replace(row, certificate=cert)
    if decision == "certified" and complete:
        cert["applied"] = True
        note = "" if old == PASS else f" (the numeric verdict was {old}: the tolerance test was wrong here)"
        return replace(row, verdict=CERTIFIED, certificate=cert,
                       reason=f"certified: {cert.get('proven', '')}{note}; {row.reason}")
    if decision == "certified_fail" and complete:
        cert["applied"] = True
        note = "" if old == FAIL else f" (the numeric verdict was {old})"
        return replace(row, verdict=FAIL, certificate=cert,
                       reason=f"certified FAIL: {cert.get('proven', '')}{note}; {row.reason}")
    cert["applied"] = False
    if decision == "not_applicable":
        return replace(row, certificate=cert)
    why = cert.get("reason") or cert.get("proven") or "undecided"
    if decision in ("certified", "certified_fail") and not complete:
        why = f"{cert.get('proven', '')}, but {cert.get('incomplete', 'the enclosure is not of the claim’s own quantity')}"
    return replace(row, certificate=cert, reason=f"not certified: {why}; {row.reason}")


def count_verdicts(rows) -> dict:
    """``{verdict: count}`` for every verdict of :data:`VERDICTS` (zeros included), plus
    ``"certified_fail"``: how many of the FAILs are certified."""
    out = {v: 0 for v in VERDICTS}
    out["certified_fail"] = 0
    for r in rows:
        out[r.verdict] = out.get(r.verdict, 0) + 1
        cert = getattr(r, "certificate", None)
        if r.verdict == FAIL and cert and cert.get("applied") and cert.get("decision") == "certified_fail":
            out["certified_fail"] += 1
    return out


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
    certifiable: bool = False
    """Whether ``check`` takes ``certify=True`` (``wnbias verify --certify``; docs/certify.md)."""

    def run(self, problem, config, dps=None, *, label: str = "", **options) -> list:
        """Run the check and return its rows (a check may report several aspects of a setting).

        :class:`AssumptionFailed` (and :class:`EmptyCheck`) become a SKIP row with the reason;
        ``numerics._status.NumericalError`` a FAIL row with the solver's status.  Everything
        else, :class:`MachineryMissing` included, propagates.
        """
        dps = self.default_dps if dps is None else dps
        t0 = time.perf_counter()
        settings = _settings(problem, config, dps, options)
        desc = describe(problem, config, dps)
        setting = ": ".join(part for part in (label, desc) if part)
        try:
            out = self.check(problem, config, dps, **options)
        except EmptyCheck as exc:
            out = Row(self.id, "", float("nan"), float("nan"), SKIP, f"the check would be empty: {exc}")
        except AssumptionFailed as exc:
            out = Row(self.id, "", float("nan"), float("nan"), SKIP, f"assumption fails: {exc}")
        except ImportError as exc:  # a lazy import inside the machinery (e.g. scipy.optimize)
            raise MachineryMissing(getattr(exc, "name", None) or "an imported module",
                                   f"imported while checking {self.id}: {exc}") from exc
        except NumericalError as exc:
            out = Row(self.id, "", float("nan"), float("nan"), FAIL,
                      f"a solver could not complete ({exc.status.value}): {exc.message}",
                      details={"status": exc.status.value, "error": str(exc)})
        rows = [out] if isinstance(out, Row) else list(out)
        if not rows:
            rows = [Row(self.id, "", float("nan"), float("nan"), SKIP, "the check would be empty: it returned no row")]
        wall = (time.perf_counter() - t0) / len(rows)
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
_LOADED = False
_PLUGINS: list = []


def register(claim: Claim) -> Claim:
    """Add ``claim`` to the registry (its id must be new); returns it."""
    if not isinstance(claim, Claim):
        raise TypeError(f"register() takes a Claim, got {type(claim).__name__}")
    if claim.id in _REGISTRY:
        raise ValueError(f"claim {claim.id!r} is registered twice")
    _REGISTRY[claim.id] = claim
    return claim


_BUILTIN_LOADER: Optional[Callable[[], None]] = None


def _set_builtin_loader(loader: Callable[[], None]) -> None:
    """The package ``wnbias.claims`` hands over the function that imports :data:`CLAIM_MODULES`
    (so that this module needs no import of them: they import this one)."""
    global _BUILTIN_LOADER
    _BUILTIN_LOADER = loader


def load_claims() -> None:
    """Register the built-in claims (the modules of :data:`CLAIM_MODULES`, imported by the
    package's loader), then the entry points of :data:`ENTRY_POINT_GROUP`.  Idempotent.

    A claim module that cannot import its machinery raises :class:`MachineryMissing`."""
    global _LOADED
    if _LOADED:
        return
    if _BUILTIN_LOADER is None:  # pragma: no cover - the package __init__ always sets it
        raise RuntimeError("wnbias.claims did not set the loader of the built-in claims")
    try:
        _BUILTIN_LOADER()
    except ImportError as exc:
        raise MachineryMissing(getattr(exc, "name", None) or "a claim module",
                               f"needed by the built-in claims ({', '.join(CLAIM_MODULES)}): {exc}") from exc
    _LOADED = True
    _load_entry_points()


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except ImportError as exc:
            raise PluginError(f"entry point {ep.name!r} = {ep.value!r} of group {ENTRY_POINT_GROUP!r} "
                              f"cannot be imported: {exc}") from exc
        _register_object(obj, f"entry point {ep.name!r}")


def _register_object(obj, where: str) -> None:
    import types

    if isinstance(obj, types.ModuleType):
        return  # importing it registered its claims
    if isinstance(obj, Claim):
        if _REGISTRY.get(obj.id) is not obj:
            register(obj)
        return
    if callable(obj):
        got = obj()
        for c in ([got] if isinstance(got, Claim) else list(got or ())):
            if _REGISTRY.get(c.id) is not c:
                register(c)
        return
    raise PluginError(f"{where}: expected a module, a Claim or a callable, got {type(obj).__name__}")


def load_plugin(module_name: str) -> list:
    """Import the user module ``module_name`` (a dotted name importable from ``sys.path``), which
    calls :func:`register` for its claims; returns the ids it added.  Loads the built-in claims
    first, so a plugin id that clashes with one is refused (``ValueError``).

    Raises :class:`PluginError` (a ``ValueError``: bad input) when the module cannot be found."""
    load_claims()
    before = set(_REGISTRY)
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise PluginError(f"plugin module {module_name!r} not found on sys.path") from exc
        raise MachineryMissing(exc.name or module_name, f"needed by the plugin {module_name}: {exc}") from exc
    added = sorted(set(_REGISTRY) - before, key=lambda i: _order(_REGISTRY[i]))
    if module_name not in _PLUGINS:
        _PLUGINS.append(module_name)
    return added


def _load_all():
    load_claims()


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
