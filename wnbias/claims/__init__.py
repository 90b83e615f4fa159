"""The claims `wnbias verify` checks: a registry of :class:`Claim` values (docs/math.md §3–§6).

Your own claim: write a module that calls :func:`register` with a :class:`Claim`, then
``load_plugin("your.module")`` (or ``verify --plugin your.module``), or declare the module in the
entry-point group ``wnbias.claims`` of your package (docs/claims.md, "Your own claims").

The built-in claims are registered on first use (:func:`load_claims`, called by
:func:`all_claims`, :func:`get` and :func:`select`), by importing the modules of
:data:`registry.CLAIM_MODULES` in that order: the import statements are here, in
``_import_builtin_claims``; the claim modules import the registry, and the registry imports none
of them, so there is no import cycle."""

from wnbias.claims import registry as _registry
from wnbias.claims.registry import (  # noqa: F401
    CERTIFIED, CLAIM_MODULES, ENTRY_POINT_GROUP, FAIL, PASS, SKIP, SUCCESS, VERDICTS, AssumptionFailed, Case,
    Claim, EmptyCheck, MachineryMissing, PluginError, Row, Unavailable, all_claims, apply_certificate,
    count_verdicts, get, load_claims, load_plugin, need, register, select, verdict_le,
)


def _import_builtin_claims() -> None:
    """Import the modules of :data:`registry.CLAIM_MODULES`, in that order (each registers its
    claims).  Called by :func:`registry.load_claims` on first use, never at import time: the claim
    modules import the registry, and the registry imports none of them (it calls this hook)."""
    from wnbias.claims import flow, limits, sharpened, dynamics, symbolic, matrix  # noqa: F401


_registry._set_builtin_loader(_import_builtin_claims)
