# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Derivations: the weight-normalised flow, its invariant, its limit, the ℓ1 gap
#
# This notebook walks through the symbolic side of **wnbias** (`theory/`, sympy only).
# Every statement of `docs/math.md` §1–§5 that the toolkit relies on is a `theory.Derivation`: a
# frozen value holding the statement in LaTeX, the sympy expressions the derivation produced,
# the assumptions it used, and a `check()` that re-establishes the claim with sympy (simplify
# a difference to zero, take a limit, exhibit a sum of squares, or verify an inequality chain
# step by step). Nothing below is typed in by hand: each formula shown is printed from the
# expression sympy derived, and each ✔ is the outcome of running its check now.
#
# The depth `L` is a **symbol** here (positive by declaration); the case `L = 2` is reached as
# a limit *and* re-derived by substituting `L = 2` into the log form, because a limit alone says
# nothing about the flow at `L = 2`.

# %%
import time

import sympy as sp
from IPython.display import Markdown, Math, display

import theory

t0 = time.perf_counter()
derivs = {d.name: d for d in theory.derivations(L="symbolic", model="positive")}
checks = {name: d.check() for name, d in derivs.items()}
print(f"{len(derivs)} derivations, all checked in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# An overview: name, the section of `docs/math.md` it corresponds to, the method of proof, and the
# outcome of the check.

# %%
rows = ["| derivation | docs/math.md | method | verified |", "|---|---|---|---|"]
for name, d in derivs.items():
    rows.append(f"| `{name}` | {d.section} | {d.method} | {'✔' if checks[name].verified else '✘'} |")
display(Markdown("\n".join(rows)))
assert all(c.verified for c in checks.values()), [n for n, c in checks.items() if not c.verified]


# %% [markdown]
# The display glue used below prints a derivation's statement, the expressions sympy derived
# (`d.expressions`), the steps of an inequality chain (`d.steps`), and the check's own report
# (`d.check().detail`). `d.latex()` gives the same content as a LaTeX paragraph for a paper.

# %%
from theory import flows

# flows.py's symbols for ∂_iℒ, ‖∇ℒ‖² and ‖w‖² print as "grad", "‖grad‖₂", "‖w‖₂" by sympy's
# default naming (squared norms shown as 2-norms); name them properly for display.
NAMES = {**theory._core.LATEX_NAMES, flows.grad: r"\partial_i\mathcal{L}",
         flows.gradnorm2: r"\|\nabla\mathcal{L}\|^{2}", flows.wnorm2: r"\|w\|^{2}"}


def tex(expr):
    return sp.latex(expr, symbol_names=NAMES)


def show(name):
    d, c = derivs[name], checks[name]
    display(Markdown(f"**`{d.name}`** (docs/math.md {d.section}) — check by *{d.method}*: "
                     f"{'✔ verified' if c.verified else '✘ NOT verified'}"))
    display(Math(d.statement))
    for label, expr in d.expressions:
        display(Math(rf"\text{{{label}}}:\quad " + tex(expr)))
    for step in d.steps:
        rel = "=" if step.relation == "=" else r"\le"
        display(Math(f"{tex(step.lhs)} {rel} {tex(step.rhs)}"))
        display(Markdown(f"&emsp;*because:* `{step.reason}`"))
    if d.assumptions:
        display(Markdown("*Assumptions:* " + "; ".join(f"`{a}`" for a in d.assumptions)))
    display(Markdown(f"*Check:* `{c.detail}`"))


# %% [markdown]
# ## §1–§2 The model and the weight-normalised flow
#
# Positive model: `x = w^{⊙L}`, loss `ℒ(w) = ½‖A w^{⊙L} − y‖²`, `g(w) = Aᵀ(A w^{⊙L} − y)`.
# The derivation works **per coordinate** with `g_i` opaque, so nothing depends on `N`.

# %%
show("loss_gradient")

# %% [markdown]
# Weight normalisation writes `w = r·u/‖u‖` and runs gradient flow on `(r, u)` with rates
# `η_r`, `η_u`. The chain rule on `ℒ(r u/‖u‖)` gives the flow; `σ = ⟨ū, ∇ℒ⟩` is kept as an
# opaque scalar.

# %%
show("wn_flow")

# %% [markdown]
# Scaling `u₀` by `c` is the same flow for `(r, ū)` with `η_u → η_u/c²`, so `‖u₀‖ = 1`
# loses no generality — which is why every later derivation may set `‖u‖ = 1`.

# %%
show("wn_scaling")

# %% [markdown]
# With the time-dependent rates `(η_r, η_u) = (r², 1)` the flow of `w` is plain gradient flow
# with time reparametrised by `∫‖w‖² dt`.

# %%
show("r2_rates")

# %% [markdown]
# ## §3.1–§3.2 Conservation of ‖u‖ and decrease of the loss
#
# `u̇ ⊥ u`, so `‖u‖` is conserved exactly — the numerics report `‖u(t)‖ − 1` as a check of the
# integrator, not of the theory.

# %%
show("norm_conserved")

# %% [markdown]
# The loss decreases: `dℒ̃/dt` is minus a sum of squares (the `u`-part is
# `‖∇ℒ‖² − σ² ≥ 0` by Cauchy–Schwarz since `‖ū‖ = 1`).

# %%
show("loss_decreases")

# %% [markdown]
# ## §3.3 The invariant `h_η` and its `L → 2` limit
#
# With the `L`-logarithm `log_L(v) = (v^{2−L} − 1)/(2 − L)` and `s = (r² − r₀²)/(2η̃)`, the
# quantity `h_η = log_L(ū e^{s}) − log_L(ū₀)` moves only along `g`: its time derivative is a
# **scalar** times `g(w) = Aᵀ(…)`, hence `h_η(t) ∈ range(Aᵀ)` at all times. The check
# differentiates `h_η` along the flow and confirms that `ḣ_i / g_i` does not depend on `ū_i`
# (`σ` cancels too).

# %%
show("invariant_h_eta")

# %% [markdown]
# The `L = 2` case: `log_L → log` and the rate `−η_u L r^L e^{(2−L)s} → −2η_u r²`, by a limit
# and by direct substitution into the log form.

# %%
show("log_L_limit")

# %% [markdown]
# For comparison, plain gradient flow (`ḣ = −L g`) and the rates `(r², 1)` (`ḣ = −L‖w‖² g`)
# have the invariant `log_L w − log_L w₀ ∈ range(Aᵀ)` **without** the factor `e^{s}`: no
# magnification.

# %%
show("gf_invariant")
show("r2_invariant")

# %% [markdown]
# ## §4 The limit: ρ, β, and the Bregman characterisation
#
# At `t → ∞` (zero loss, radius `r_∞`) the invariant says
# `∇F(x_∞) − ∇F(β) ∈ range(Aᵀ)` with the **magnification factor**
# `ρ = (r₀/r_∞) e^{(r_∞² − r₀²)/(2η̃)}` and the **effective initialisation** `β = (w₀/ρ)^{⊙L}`.
# The check shows `∇F(x_∞) − ∇F(β) = K·h_η(∞)` with a positive scalar `K`.

# %%
show("rho_beta")

# %% [markdown]
# The potential `F` whose gradient is `log_L(z^{1/L})`; it is strictly convex (`F'' > 0`), and
# `(∇F)^{-1}` is derived in closed form (the numerics use it for the Bregman projection).
# `x_∞` is then the **Bregman projection** of `β` onto `{z ≥ 0 : Az = y}`.

# %%
show("potential_F")

# %% [markdown]
# Normalisation: `F_L(z) = (z − (L/2) z^{2/L})/(L − 2)` tends, as `L → 2`, to
# `½(z log z − z)` — half the negative entropy `Σ z log z − z` usually written for `L = 2` (`docs/math.md` §4.1). A positive multiple of `F`
# gives the same projection; the toolkit uses the `½` normalisation at every depth.

# %%
show("potential_F_limit")

# %% [markdown]
# Since `‖ū_∞‖ = 1` and `x_∞ = (r_∞ ū_∞)^{⊙L}`, the limit radius solves the scalar equation
# `φ(r) = Σ_i x_i(r)^{2/L} − r² = 0` — the basis of the limit solver (`numerics.limit_solve`).

# %%
show("limit_equation")

# %% [markdown]
# A second identity (derived here, not in the paper): with `h_η = Aᵀλ` and
# `K(t) = Φ(r(t)) − ⟨y, λ(t)⟩`, `dK/dt = −c‖Ax − y‖² ≤ 0` — constant to first order in the
# residual.

# %%
show("radius_dual_identity")

# %% [markdown]
# ## §5 The ℓ1 gap, a posteriori
#
# From `D_F(x_∞, β) ≤ D_F(z*, β)` (the Bregman projection beats the ℓ1 minimiser `z*`), with
# uniform `β_i = α_eff^L` and `S = ‖x_∞‖₁`. Each bound is an **inequality chain**: every
# step is re-verified (the algebra by simplification, each named inequality by the
# one-variable fact behind it), and the final bound is compared with the formula of `docs/math.md`.

# %%
show("l1_gap_bound_L2")

# %%
show("l1_gap_bound_Lgt2")

# %% [markdown]
# Read as rates: `log(1/α_eff) = log(√n/r₀) + log ρ` with
# `log ρ = log(r₀/r_∞) + (r_∞² − r₀²)/(2η̃)`, so the bound is `O(η̃/(r_∞² − r₀²))` for
# `L = 2` and `O(exp(−(L − 2)(r_∞² − r₀²)/(2η̃)))` for `L > 2` — provided `r_∞ > r₀`
# (notebook 3 shows what happens otherwise).
#
# ## Concrete depths and the signed model
#
# The same derivations, instantiated at integer depths and for the signed model
# (`x = w₊^L − w₋^L`, i.e. the positive model with `Ã = [A, −A]`), all re-checked.

# %%
rows = ["| depth | model | derivations | verified |", "|---|---|---|---|"]
for L_value in (2, 3, 4, "symbolic"):
    for model in theory.MODELS:
        ds = theory.derivations(L=L_value, model=model)
        ok = sum(d.check().verified for d in ds)
        rows.append(f"| {L_value} | {model} | {len(ds)} | {ok}/{len(ds)} |")
        assert ok == len(ds), [d.name for d in ds if not d.check().verified]
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## From symbols to numbers
#
# `theory/export.py` prints the derived expressions as plain Python (no sympy at run time), the
# generated formulas `numerics.derived`; a test fails when the checked-in file is stale. For
# instance the rate of the invariant, `ḣ_η / g`, as the numerics evaluate it, against the sympy
# expression at a sample point:

# %%
import mpmath

import numerics

rate = derivs["invariant_h_eta"].expr("ḣ/g")
sym = {str(v): v for v in rate.free_symbols}            # L, r, s, eta_u, as the derivation names them
point = {sym["r"]: sp.Rational(13, 10), sym["s"]: sp.Rational(2, 5), sym["eta_u"]: sp.Rational(3, 2)}
for L_value in (2, 3, 4):
    symbolic = sp.N(rate.subs(sym["L"], L_value).subs(point), 30)
    with numerics.workdps(30):
        numeric = numerics.derived.h_eta_rate(mpmath.mpf(13) / 10, mpmath.mpf(2) / 5, L_value, mpmath.mpf(3) / 2,
                                              mpmath)
        difference = abs(numeric - mpmath.mpf(str(symbolic)))
        print(f"L = {L_value}: sympy {symbolic}   numerics.derived {mpmath.nstr(numeric, 30)}"
              f"   |difference| = {mpmath.nstr(difference, 3)}")
    assert difference < numerics.tol(30)

print(f"notebook ran in {time.perf_counter() - t0:.1f} s")
