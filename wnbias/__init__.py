"""wnbias: machine-checked theory and high-precision numerics for weight normalisation.

The toolkit has two libraries and this thin application layer:

* :mod:`theory` (sympy) derives the equations of docs/math.md and checks each derivation;
* :mod:`numerics` (numpy, scipy, mpmath) integrates the flows and computes references;
* :mod:`wnbias` wires them: command line, claim registry, reports, experiments.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("wnbias")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
