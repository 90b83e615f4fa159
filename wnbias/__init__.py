"""wnbias: machine-checked theory and high-precision numerics for weight normalisation.

The toolkit has two libraries and this thin application layer:

* :mod:`theory` (sympy) derives the equations of docs/math.md and checks each derivation;
* :mod:`numerics` (numpy, scipy, mpmath) integrates the flows and computes references;
* :mod:`wnbias` wires them: command line, claim registry, reports, experiments.

The public API of this layer is :func:`verify` (what ``wnbias verify`` runs, as a function
returning a :class:`VerifyResult`) and the claims API (:class:`Claim`, :class:`Case`,
:class:`Row`, :func:`all_claims`, :func:`get`, :func:`register`, …).  Names load on first use.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version as _version
from typing import TYPE_CHECKING

try:
    __version__ = _version("wnbias")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

_VERIFY = ("verify", "VerifyResult")
_CLAIMS = ("Claim", "Case", "Row", "all_claims", "get", "select", "register", "load_plugin", "load_claims",
           "verdict_le", "count_verdicts", "apply_certificate", "need", "PASS", "FAIL", "SKIP", "CERTIFIED",
           "VERDICTS", "SUCCESS", "CLAIM_MODULES", "ENTRY_POINT_GROUP", "AssumptionFailed", "EmptyCheck",
           "MachineryMissing", "PluginError")
_PUBLIC = {**{n: "wnbias.commands.verify" for n in _VERIFY}, **{n: "wnbias.claims.registry" for n in _CLAIMS}}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs
    from wnbias.claims.registry import (  # noqa: F401
        CERTIFIED, FAIL, PASS, SKIP, VERDICTS, AssumptionFailed, Case, Claim, EmptyCheck, MachineryMissing, Row,
        all_claims, get, register,
    )
    from wnbias.commands.verify import VerifyResult, verify  # noqa: F401
