"""Problems: data ``(A, y)``, the model, and generators.

``Problem`` holds the user's data.  The signed model is the positive model with
``Ã = [A, −A]`` (MATH.md §1); numerics works with :attr:`Problem.A_eff` and maps back to
the user's coordinates with :meth:`Problem.to_user`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np

Model = Literal["positive", "signed"]
MODELS = ("positive", "signed")
MATRICES = ("gaussian", "rademacher", "correlated", "equal_columns")
TRUTHS = ("sparse_positive", "sparse_signed", "gaussian")


@dataclass(frozen=True, eq=False)
class Problem:
    """``A ∈ R^{M×N}``, ``y ∈ R^M``, the model, and where the data came from."""

    A: np.ndarray
    y: np.ndarray
    model: Model = "positive"
    x_true: Optional[np.ndarray] = None
    seed: Optional[int] = None
    description: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        A = np.array(self.A, dtype=float, copy=True)
        y = np.array(self.y, dtype=float, copy=True)
        if A.ndim != 2:
            raise ValueError(f"A must be a 2-D matrix, got an array of shape {A.shape}")
        if y.ndim == 2 and 1 in y.shape:
            y = y.reshape(-1)
        if y.ndim != 1:
            raise ValueError(f"y must be a vector, got an array of shape {y.shape}")
        if A.shape[0] != y.shape[0]:
            raise ValueError(
                f"shape mismatch: A is {A.shape[0]}×{A.shape[1]} but y has {y.shape[0]} entries "
                f"(A needs one row per entry of y)"
            )
        if A.size == 0:
            raise ValueError("A is empty")
        if not np.all(np.isfinite(A)):
            raise ValueError("A has non-finite entries (nan or inf)")
        if not np.all(np.isfinite(y)):
            raise ValueError("y has non-finite entries (nan or inf)")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        A.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "y", y)
        if self.x_true is not None:
            xt = np.array(self.x_true, dtype=float, copy=True).reshape(-1)
            if xt.shape != (A.shape[1],):
                raise ValueError(f"x_true must have N = {A.shape[1]} entries, got {xt.shape}")
            xt.setflags(write=False)
            object.__setattr__(self, "x_true", xt)

    # -- shapes -------------------------------------------------------------------------
    @property
    def M(self) -> int:
        return self.A.shape[0]

    @property
    def N(self) -> int:
        return self.A.shape[1]

    @property
    def n(self) -> int:
        """Number of weights: ``N`` (positive) or ``2N`` (signed)."""
        return self.N if self.model == "positive" else 2 * self.N

    @property
    def A_eff(self) -> np.ndarray:
        """The matrix the flow sees: ``A`` or ``[A, −A]``."""
        if self.model == "positive":
            return self.A
        out = np.hstack([self.A, -self.A])
        out.setflags(write=False)
        return out

    def to_user(self, x_eff):
        """Map an effective vector (length ``n``) to the user's ``x`` (length ``N``).

        Works for numpy arrays and for lists of mpmath numbers.
        """
        if self.model == "positive":
            return x_eff
        N = self.N
        if isinstance(x_eff, np.ndarray):
            return x_eff[:N] - x_eff[N:]
        return [x_eff[i] - x_eff[N + i] for i in range(N)]

    def with_model(self, model: Model) -> "Problem":
        return Problem(self.A, self.y, model, self.x_true, self.seed, self.description, dict(self.meta))

    # -- I/O ------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Save as ``.npz`` (no pickled objects)."""
        path = Path(path)
        arrays = {"A": self.A, "y": self.y, "model": np.array(self.model)}
        if self.x_true is not None:
            arrays["x_true"] = self.x_true
        if self.seed is not None:
            arrays["seed"] = np.array(self.seed)
        arrays["description"] = np.array(self.description)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path, model: Optional[Model] = None) -> "Problem":
        """Load a ``.npz`` written by :meth:`save` (or any ``.npz`` holding ``A`` and ``y``).

        Never unpickles: ``allow_pickle=False``.  ``model`` overrides the stored model.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = set(data.files)
                missing = {"A", "y"} - keys
                if missing:
                    raise ValueError(f"{path}: the .npz file has no array named {sorted(missing)} (it needs 'A' and 'y')")
                A = data["A"]
                y = data["y"]
                stored_model = str(data["model"]) if "model" in keys else "positive"
                x_true = data["x_true"] if "x_true" in keys else None
                seed = int(data["seed"]) if "seed" in keys else None
                desc = str(data["description"]) if "description" in keys else f"loaded from {path.name}"
        except FileNotFoundError:
            raise ValueError(f"{path}: no such file") from None
        except (OSError, EOFError, KeyError) as exc:
            raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise ValueError(f"{path}: holds pickled objects, which are never loaded") from None
            raise
        return cls(A, y, model or stored_model, x_true, seed, desc)

    @classmethod
    def from_npy(cls, A_path, y_path, model: Model = "positive") -> "Problem":
        """Build a problem from a pair of ``.npy`` files."""
        arrays = []
        for name, p in (("A", A_path), ("y", y_path)):
            p = Path(p)
            try:
                arrays.append(np.load(p, allow_pickle=False))
            except FileNotFoundError:
                raise ValueError(f"--{name}: no such file: {p}") from None
            except (OSError, ValueError, EOFError) as exc:
                raise ValueError(f"--{name}: {p} is not a readable .npy file ({exc})") from None
        return cls(arrays[0], arrays[1], model, description=f"A={Path(A_path).name}, y={Path(y_path).name}")

    def as_dict(self) -> dict:
        return {
            "M": self.M,
            "N": self.N,
            "model": self.model,
            "seed": self.seed,
            "description": self.description,
        }


def _matrix(kind: str, M: int, N: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "gaussian":
        return rng.standard_normal((M, N)) / math.sqrt(M)
    if kind == "rademacher":
        return rng.choice([-1.0, 1.0], size=(M, N)) / math.sqrt(M)
    if kind == "correlated":
        # columns share a common component: correlation 0.5 between any two columns
        common = rng.standard_normal((M, 1))
        return (rng.standard_normal((M, N)) + common) / math.sqrt(2 * M)
    if kind == "equal_columns":
        col = rng.standard_normal((M, 1)) / math.sqrt(M)
        return np.repeat(col, N, axis=1)
    raise ValueError(f"matrix must be one of {MATRICES}, got {kind!r}")


def generate(
    kind: str = "sparse_positive",
    N: int = 20,
    M: int = 8,
    seed: int = 0,
    *,
    k: Optional[int] = None,
    model: Optional[Model] = None,
    matrix: str = "gaussian",
) -> Problem:
    """Draw a compressed-sensing problem ``y = A x_true``.

    ``kind``: ``"sparse_positive"`` (``k`` entries uniform in [1, 2]), ``"sparse_signed"``
    (the same with random signs) or ``"gaussian"`` (dense standard normal truth; its
    positive part for the positive model).  ``matrix``: ``"gaussian"`` (N(0, 1/M) entries),
    ``"rademacher"`` (±1/√M), ``"correlated"``, ``"equal_columns"``.  ``model`` defaults to
    ``"positive"`` for ``sparse_positive`` and ``"signed"`` otherwise.  ``k`` defaults to
    ``max(1, M // 4)``.
    """
    if kind not in TRUTHS:
        raise ValueError(f"kind must be one of {TRUTHS}, got {kind!r}")
    for name, v in (("N", N), ("M", M)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if M >= N:
        raise ValueError(f"the problem must be underdetermined: need M < N, got M = {M}, N = {N}")
    if model is None:
        model = "positive" if kind == "sparse_positive" else "signed"
    rng = np.random.default_rng(seed)
    A = _matrix(matrix, M, N, rng)
    x = np.zeros(N)
    if kind == "gaussian":
        x = rng.standard_normal(N)
        if model == "positive":
            x = np.abs(x)
    else:
        k = max(1, M // 4) if k is None else int(k)
        if not 1 <= k <= N:
            raise ValueError(f"k must be between 1 and N = {N}, got {k}")
        support = rng.choice(N, size=k, replace=False)
        vals = rng.uniform(1.0, 2.0, size=k)
        if kind == "sparse_signed" and model == "signed":
            vals *= rng.choice([-1.0, 1.0], size=k)
        x[support] = vals
    y = A @ x
    desc = f"{kind} truth, {matrix} A, N={N}, M={M}, seed={seed}"
    return Problem(A, y, model, x, seed, desc, {"kind": kind, "matrix": matrix, "k": k})
