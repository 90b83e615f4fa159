"""The claims `wnbias verify` checks: a registry of :class:`Claim` values (docs/math.md §3–§6).

Your own claim: write a module that calls :func:`register` with a :class:`Claim`, then
``load_plugin("your.module")`` (or ``verify --plugin your.module``), or declare the module in the
entry-point group ``wnbias.claims`` of your package (docs/claims.md, "Your own claims")."""

from wnbias.claims.registry import (  # noqa: F401
    CERTIFIED, CLAIM_MODULES, ENTRY_POINT_GROUP, FAIL, PASS, SKIP, SUCCESS, VERDICTS, AssumptionFailed, Case,
    Claim, EmptyCheck, MachineryMissing, PluginError, Row, Unavailable, all_claims, apply_certificate,
    count_verdicts, get, load_claims, load_plugin, need, register, select, verdict_le,
)
