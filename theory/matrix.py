"""docs/math.md §9: the matrix model — factorisation ``X = UUᵀ`` / ``X = UWᵀ`` and sensing.

Sympy's matrix symbols do not differentiate through ``‖V‖_F`` and an opaque loss, so every
statement is derived **per entry for small sizes** and the check states the sizes on which the
pattern was verified (:data:`SIZES`: ``d ∈ {2, 3}``, ``k ∈ {1, 2}``).  Two kinds of data:

* an **opaque loss** ``F(U)`` (``sp.Function`` of the ``d·k`` entries); sympy's chain rule
  produces its partials, which are replaced by opaque gradient symbols ``G_ab = ∂F/∂U_ab``.
  Statements proved this way hold for every differentiable loss of ``U`` (docs/math.md §9.4).
* **explicit sensing data**: ``m`` measurement matrices ``A_i`` with symbolic entries and
  symbolic ``y_i``; the loss ``ℒ = ½Σ(⟨A_i, X⟩ − y_i)²`` is a polynomial and sympy
  differentiates it directly (docs/math.md §9.1–§9.3).

Each derivation is a :class:`theory.Derivation`, with ``model = "matrix"``; see
:func:`derivations`.  :func:`planted_wrong_invariant` is a deliberately false statement whose
check must fail (the tests assert that it does).
"""

from __future__ import annotations

import itertools

import sympy as sp

from theory._core import CheckResult, Derivation, cached

SIZES = ((2, 1), (2, 2), (3, 1), (3, 2))
"""``(d, k)`` on which every per-entry derivation is checked."""

M_MEAS = 2
"""Number of symbolic measurement matrices ``A_i`` in the explicit-data derivations."""

eta_r = sp.Symbol("eta_r", positive=True)
eta_V = sp.Symbol("eta_V", positive=True)
r = sp.Symbol("r", positive=True)
r_W = sp.Symbol("r_W", positive=True)
_t = sp.Symbol("t", real=True)
_F = sp.Function("F")


# ----------------------------------------------------------------------------- helpers
def _mat(name: str, rows: int, cols: int, **assume) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda a, b: sp.Symbol(f"{name}_{a + 1}{b + 1}", **assume))


def _frob(A: sp.Matrix, B: sp.Matrix):
    return sum(A[i] * B[i] for i in range(len(A)))


def _partials_to(expr, func, symbols):
    """Replace each (Subs of a) first derivative of the opaque ``func`` in slot ``j`` by ``symbols[j]``."""

    def target(e):
        d = e.expr if isinstance(e, sp.Subs) else e
        return isinstance(d, sp.Derivative) and d.expr.func == func

    def value(e):
        d = e.expr if isinstance(e, sp.Subs) else e
        if len(d.variables) != 1:
            raise ValueError("only first derivatives of the opaque loss are expected")
        return symbols[list(d.expr.args).index(d.variables[0])]

    out = expr.replace(target, value)
    # a Subs whose body is now a plain gradient symbol is that symbol
    return out.replace(lambda e: isinstance(e, sp.Subs) and e.expr.is_Symbol, lambda e: e.expr)


def _zero(e, relations=()) -> bool:
    """Is ``e`` identically zero?  Non-integer powers of a sum of squares ``S`` (``‖V‖_F²``) are
    written as powers of a positive symbol ``ν`` and the numerator is reduced modulo ``ν² − S``
    (exact polynomial division), which is much faster than ``simplify`` on nested square roots.
    ``relations``: further ``(symbol, S)`` pairs meaning ``symbol² = S`` (a radius ``r = ‖U‖_F``)."""
    e = sp.sympify(e)
    sums = {p.base for p in e.atoms(sp.Pow) if isinstance(p.base, sp.Add) and not p.exp.is_Integer}
    if not sums and not relations:
        e = sp.together(sp.expand(e))
        return e == 0 or sp.simplify(e) == 0
    nus = {S: sp.Symbol(f"nu{i}", positive=True) for i, S in enumerate(sorted(sums, key=sp.default_sort_key))}
    e = e.replace(lambda x: x.is_Pow and x.base in nus, lambda x: nus[x.base] ** (2 * x.exp))
    num = sp.expand(sp.numer(sp.together(e)))
    pairs = [(nu, S) for S, nu in nus.items()] + list(relations)
    for nu, S in pairs:
        if num == 0:
            break
        num = sp.expand(sp.rem(sp.Poly(num, nu), sp.Poly(nu ** 2 - sp.expand(S), nu)).as_expr())
    return num == 0


def _sizes_check(per_size, what: str, method: str = "simplify to zero", relations=None) -> CheckResult:
    """Run ``per_size(d, k) -> list of (label, residual)`` for every size; all residuals must vanish
    (modulo ``relations(d, k)``, pairs ``(symbol, S)`` meaning ``symbol² = S``, if given)."""
    failed = []
    for d, k in SIZES:
        rel = relations(d, k) if relations else ()
        for label, res in per_size(d, k):
            if not _zero(res, rel):
                failed.append(f"d={d}, k={k}: {label} residual {sp.sstr(sp.simplify(res))[:120]}")
    if failed:
        return CheckResult(False, method, "; ".join(failed[:4]) + (f" (+{len(failed) - 4} more)" if len(failed) > 4 else ""))
    sizes = ", ".join(f"(d,k)=({d},{k})" for d, k in SIZES)
    return CheckResult(True, method, f"{what}: every entry simplifies to 0 at {sizes}")


# --------------------------------------------------------------- WN with an opaque loss
@cached
def wn_partials(d: int, k: int):
    """``(V, G, ∂_rℒ̃, ∂_Vℒ̃)`` for ``ℒ̃(r, V) = F(r V/‖V‖_F)`` with opaque ``F``; ``G_ab = ∂F/∂U_ab``
    at ``U = rV/‖V‖_F`` (docs/math.md §9.4)."""
    V = _mat("v", d, k, real=True)
    G = _mat("G", d, k, real=True)
    nu = sp.sqrt(sum(x ** 2 for x in V))
    U = r * V / nu
    Lt = _F(*list(U))
    gsyms = list(G)
    d_r = _partials_to(sp.diff(Lt, r), _F, gsyms)
    d_V = V.applyfunc(lambda x: _partials_to(sp.diff(Lt, x), _F, gsyms))
    return V, G, nu, d_r, d_V


def wn_field(d: int, k: int):
    """``(ṙ, V̇) = (−η_r ∂_rℒ̃, −η_V ∇_Vℒ̃)``."""
    V, G, nu, d_r, d_V = wn_partials(d, k)
    return -eta_r * d_r, -eta_V * d_V


def _claimed_wn(d, k):
    V, G, nu, _, _ = wn_partials(d, k)
    Vb = V / nu
    sigma = _frob(G, Vb)
    return sigma, (r / nu) * (G - sigma * Vb)


@cached
def loss_rate(d: int, k: int):
    """``dℒ̃/dt = ⟨G, U̇⟩`` with ``U = r V/‖V‖_F`` differentiated in time along the WN flow."""
    V, G, nu, d_r, d_V = wn_partials(d, k)
    rdot, Vdot = wn_field(d, k)
    U = r * V / nu
    # chain rule in time: U̇ = (∂U/∂r) ṙ + Σ_ab (∂U/∂V_ab) V̇_ab, each partial by sympy
    Udot = sp.diff(U, r) * rdot
    for i in range(d * k):
        Udot += sp.diff(U, V[i]) * Vdot[i]
    return _frob(G, Udot)


def _wn_flow_residuals(d, k):
    V, G, nu, d_r, d_V = wn_partials(d, k)
    sigma, dV_claim = _claimed_wn(d, k)
    out = [("∂_rℒ̃ − ⟨G, V̄⟩", d_r - sigma)]
    out += [(f"∂_V{a + 1}{b + 1}ℒ̃ − (r/‖V‖)(G − ⟨G,V̄⟩V̄)", d_V[a, b] - dV_claim[a, b])
            for a in range(d) for b in range(k)]
    return out


def _norm_residuals(d, k):
    V, *_ = wn_partials(d, k)
    _, Vdot = wn_field(d, k)
    return [("d‖V‖_F²/dt = 2⟨V, V̇⟩", 2 * _frob(V, Vdot))]


def _loss_residuals(d, k):
    V, G, nu, d_r, d_V = wn_partials(d, k)
    sigma, _ = _claimed_wn(d, k)
    identity = -eta_r * d_r ** 2 - eta_V * sum(x ** 2 for x in d_V)
    gnorm2 = sum(x ** 2 for x in G)
    explicit = -eta_r * sigma ** 2 - eta_V * r ** 2 / nu ** 2 * (gnorm2 - sigma ** 2)
    sos = sum(x ** 2 for x in (G - sigma * V / nu))   # ‖G‖² − σ² as a sum of squares
    return [("dℒ̃/dt + η_r(∂_rℒ̃)² + η_V‖∇_Vℒ̃‖²", loss_rate(d, k) - identity),
            ("identity − explicit form", identity - explicit),
            ("‖G‖² − ⟨G,V̄⟩² − ‖G − ⟨G,V̄⟩V̄‖²", gnorm2 - sigma ** 2 - sos)]


# -------------------------------------------------------------- explicit sensing data
def sensing_data(d: int, m: int = M_MEAS, diagonal: bool = False):
    """``([A_1..A_m], [y_1..y_m])`` with symbolic entries (``diagonal``: only ``(A_i)_jj``)."""
    As = []
    for i in range(m):
        if diagonal:
            As.append(sp.diag(*[sp.Symbol(f"a{i + 1}_{j + 1}", real=True) for j in range(d)]))
        else:
            As.append(sp.Matrix(d, d, lambda a, b: sp.Symbol(f"a{i + 1}_{a + 1}{b + 1}", real=True)))
    ys = [sp.Symbol(f"y_{i + 1}", real=True) for i in range(m)]
    return As, ys


def sensing_loss(X: sp.Matrix, As, ys):
    """``ℒ(X) = ½Σ(⟨A_i, X⟩ − y_i)²`` and ``G(X) = Σ res_i A_i`` (docs/math.md §9.1)."""
    res = [_frob(A, X) - y for A, y in zip(As, ys)]
    loss = sum(x ** 2 for x in res) / 2
    G = sp.zeros(*X.shape)
    for A, rr in zip(As, res):
        G += rr * A
    return loss, G


def _grad(loss, M: sp.Matrix) -> sp.Matrix:
    return M.applyfunc(lambda x: sp.diff(loss, x))


def _sym_gradient_residuals(d, k):
    As, ys = sensing_data(d)
    U = _mat("u", d, k, real=True)
    loss, G = sensing_loss(U * U.T, As, ys)
    claim = (G + G.T) * U
    gradU = _grad(loss, U)
    return [(f"∂ℒ/∂U{a + 1}{b + 1} − ((G+Gᵀ)U)", gradU[a, b] - claim[a, b]) for a in range(d) for b in range(k)]


def _asym_gradient_residuals(d, k):
    As, ys = sensing_data(d)
    U, W = _mat("u", d, k, real=True), _mat("w", d, k, real=True)
    loss, G = sensing_loss(U * W.T, As, ys)
    gU, gW = _grad(loss, U), _grad(loss, W)
    cU, cW = G * W, G.T * U
    return ([(f"∂ℒ/∂U{a + 1}{b + 1} − (GW)", gU[a, b] - cU[a, b]) for a in range(d) for b in range(k)]
            + [(f"∂ℒ/∂W{a + 1}{b + 1} − (GᵀU)", gW[a, b] - cW[a, b]) for a in range(d) for b in range(k)])


# ----------------------------------------------------------- balancedness, plain and WN
def balancedness_rate(d: int, k: int, flow: str = "plain", quantity: str = "balancedness"):
    """``d/dt Q`` along a flow of ``X = UWᵀ`` with an opaque ``G = ∇_Xℒ`` (``d×d``), entrywise.

    ``flow``: ``"plain"`` (``U̇ = −GW``, ``Ẇ = −GᵀU``) or ``"wn"`` (polar form for ``U`` and ``W``
    separately, the same ``η_r, η_V`` for both; ``‖V‖, ‖Z‖`` as free constants).
    ``quantity``: ``"balancedness"`` ``UᵀU − WᵀW`` (k×k), ``"trace"`` ``‖U‖_F² − ‖W‖_F²`` (1×1),
    ``"gram_U"`` ``UᵀU`` (k×k; not an invariant: the planted wrong statement).
    """
    G = _mat("G", d, d, real=True)
    U, W = _mat("u", d, k, real=True), _mat("w", d, k, real=True)
    gU, gW = G * W, G.T * U           # ∇_U ℒ and ∇_W ℒ (checked by _asym_gradient_residuals)
    if flow == "plain":
        Ud, Wd = -gU, -gW
    elif flow == "wn":
        # U = r V̄, V̄ = V/‖V‖ with ‖V‖ = ν constant: U̇ = ṙ V̄ + r V̇/ν, and the same for W = r_W Z̄.
        nuU, nuW = sp.Symbol("nu_V", positive=True), sp.Symbol("nu_Z", positive=True)
        Ub, Wb = U / r, W / r_W       # the unit directions (U has Frobenius norm r)
        sU, sW = _frob(gU, Ub), _frob(gW, Wb)
        Ud = -eta_r * sU * Ub + r * (-eta_V * (r / nuU) * (gU - sU * Ub)) / nuU
        Wd = -eta_r * sW * Wb + r_W * (-eta_V * (r_W / nuW) * (gW - sW * Wb)) / nuW
    else:
        raise ValueError(f"flow must be 'plain' or 'wn', got {flow!r}")
    if quantity == "balancedness":
        Qd = Ud.T * U + U.T * Ud - Wd.T * W - W.T * Wd
    elif quantity == "trace":
        Qd = sp.Matrix([[2 * _frob(U, Ud) - 2 * _frob(W, Wd)]])
    elif quantity == "gram_U":
        Qd = Ud.T * U + U.T * Ud
    else:
        raise ValueError(f"quantity must be 'balancedness', 'trace' or 'gram_U', got {quantity!r}")
    return U, W, G, Qd


def _invariant_residuals(flow, quantity):
    def per_size(d, k):
        U, W, G, Qd = balancedness_rate(d, k, flow, quantity)
        return [(f"d/dt {quantity}[{a + 1},{b + 1}]", Qd[a, b])
                for a in range(Qd.shape[0]) for b in range(Qd.shape[1])]
    return per_size


def _polar_relations(d, k):
    """``r² = ‖U‖_F²`` and ``r_W² = ‖W‖_F²``: ``U = r V̄`` with ``‖V̄‖_F = 1`` (same for ``W``)."""
    U, W = _mat("u", d, k, real=True), _mat("w", d, k, real=True)
    return ((r, sum(x ** 2 for x in U)), (r_W, sum(x ** 2 for x in W)))


_WITNESS_U = {2: ((1, 2), (2, 4)), 3: ((1, 2), (2, 0), (0, 4))}   # ‖U‖_F² = 25
_WITNESS_W = {2: ((2, 1), (0, 2)), 3: ((2, 0), (1, 2), (0, 0))}   # ‖W‖_F² = 9


def _witness(d: int, k: int, flow: str, quantity: str):
    """A rational point (``k = 2``) where ``d/dt quantity`` is nonzero: ``(entry, value)`` or ``None``.

    ``U`` and ``W`` are chosen with perfect-square Frobenius norms (``r_U = 5``, ``r_W = 3``), so
    that every number is rational and the value is exact."""
    if k != 2:
        raise ValueError("the witness points are for k = 2")
    U, W, G, Qd = balancedness_rate(d, k, flow, quantity)
    vals = {U[a, b]: sp.Integer(_WITNESS_U[d][a][b]) for a in range(d) for b in range(k)}
    vals.update({W[a, b]: sp.Integer(_WITNESS_W[d][a][b]) for a in range(d) for b in range(k)})
    vals.update({G[i]: sp.Rational(((7 * i + 3) % 11) - 5, 1 + (i % 3)) for i in range(d * d)})
    vals.update({eta_r: sp.Rational(1, 3), eta_V: 1, sp.Symbol("nu_V", positive=True): 1,
                 sp.Symbol("nu_Z", positive=True): 1, r: 5, r_W: 3})
    for a, b in itertools.product(range(Qd.shape[0]), range(Qd.shape[1])):
        v = sp.nsimplify(Qd[a, b].subs(vals))
        if v != 0:
            return (a + 1, b + 1), v
    return None


# ------------------------------------------------------------ the diagonal model (L = 2)
def _diagonal_residuals(d, k):
    """Diagonal ``A_i`` and ``U = diag(w)`` (``k = d``; each coordinate its own column).

    Plain GF: ``U̇ = −∇_Uℒ`` is diagonal with ``U̇_jj = −2 w_j g_j``, which is theory's ``−∇ℒ(w)`` of
    the positive model at ``L = 2`` (``theory.model.loss_gradient``).  WN: with ``V = diag(v)``,
    ``‖V‖_F = ‖v‖``, and ``(ṙ, V̇_jj)`` are theory's ``theory.flows.wn_field`` entries."""
    from theory import flows as dflows
    from theory import model as dmodel

    del k  # the reduction uses k = d
    As, ys = sensing_data(d, diagonal=True)
    w = [sp.Symbol(f"w_{j + 1}", positive=True) for j in range(d)]
    U = sp.diag(*w)
    Ufull = _mat("u", d, d, real=True)
    loss, G = sensing_loss(Ufull * Ufull.T, As, ys)
    on_diag = {Ufull[a, b]: (w[a] if a == b else 0) for a in range(d) for b in range(d)}
    gradU = _grad(loss, Ufull).subs(on_diag)
    # the diagonal model's data: row i of A is diag(A_i); x = w², g = Aᵀ(Ax − y)
    x = [wj ** 2 for wj in w]
    res = [sum(As[i][j, j] * x[j] for j in range(d)) - ys[i] for i in range(len(As))]
    g = [sum(As[i][j, j] * res[i] for i in range(len(As))) for j in range(d)]
    lg = dmodel.loss_gradient(sp.Integer(2))  # ∂ℒ/∂w_i in theory's symbols (w, g)
    out = []
    for a in range(d):
        for b in range(d):
            if a == b:
                target = lg.subs({dmodel.w: w[a], dmodel.g: g[a]})
                out.append((f"plain U̇_{a + 1}{a + 1} vs diagonal −∇ℒ_i", -gradU[a, a] + target))
            else:
                out.append((f"plain U̇_{a + 1}{b + 1} (off-diagonal stays 0)", gradU[a, b]))
    # WN: U = r V/‖V‖ with V = diag(v)
    v = [sp.Symbol(f"v_{j + 1}", positive=True) for j in range(d)]
    nu = sp.sqrt(sum(vj ** 2 for vj in v))
    Vm = sp.diag(*v)
    Um = r * Vm / nu
    lossW, _ = sensing_loss(Um * Um.T, As, ys)
    rdot = -eta_r * sp.diff(lossW, r)
    wm = [r * vj / nu for vj in v]
    xm = [wj ** 2 for wj in wm]
    resm = [sum(As[i][j, j] * xm[j] for j in range(d)) - ys[i] for i in range(len(As))]
    gm = [sum(As[i][j, j] * resm[i] for i in range(len(As))) for j in range(d)]
    gradw = [lg.subs({dmodel.w: wm[j], dmodel.g: gm[j]}) for j in range(d)]
    sigma = sum(v[j] / nu * gradw[j] for j in range(d))
    d_rdot, d_udot = dflows.wn_field(eta_r, eta_V)   # theory's diagonal WN flow (η_u ↦ η_V)
    base = {dflows.r: r, dflows.unorm: nu, dflows.sigma: sigma}
    out.append(("WN ṙ vs diagonal ṙ", rdot - d_rdot.subs(base)))
    for j in range(d):
        Vdot_jj = -eta_V * sp.diff(lossW, v[j])
        target = d_udot.subs({**base, dflows.u: v[j], dflows.grad: gradw[j]})
        out.append((f"WN V̇_{j + 1}{j + 1} vs diagonal u̇_i", Vdot_jj - target))
    return out


# ---------------------------------------------------------------------- the values
def _sym_check(fn, what, method="simplify to zero"):
    return lambda: _sizes_check(fn, what, method)


def _loss_check():
    res = _sizes_check(_loss_residuals, "dℒ̃/dt = −η_r(∂_rℒ̃)² − η_V‖∇_Vℒ̃‖², ‖G‖² − σ² a sum of squares",
                       "sum of squares")
    ok = res.verified and bool(eta_r.is_positive and eta_V.is_positive)
    return CheckResult(ok, "sum of squares", res.detail + "; η_r, η_V > 0, so dℒ̃/dt ≤ 0")


def _wn_balancedness_check():
    """What breaks under WN: ``d/dt(UᵀU − WᵀW) ≠ 0`` at an exhibited rational point, while the
    trace ``‖U‖_F² − ‖W‖_F² = r_U² − r_W²`` is conserved (the WN counterpart)."""
    witnesses = []
    for d, k in SIZES:
        if k == 1:   # k = 1: UᵀU − WᵀW is the 1×1 trace itself, which is conserved (below)
            continue
        wtn = _witness(d, k, "wn", "balancedness")
        if wtn is None:
            return CheckResult(False, "simplify to zero",
                               f"no point with d/dt(UᵀU − WᵀW) ≠ 0 found at d={d}, k={k}: the breaking is not shown")
        witnesses.append(f"(d,k)=({d},{k}): entry {wtn[0]} = {sp.sstr(wtn[1])[:40]}")
    trace = _sizes_check(_invariant_residuals("wn", "trace"), "d/dt(‖U‖_F² − ‖W‖_F²) along WN",
                         relations=_polar_relations)
    detail = ("UᵀU − WᵀW is NOT conserved under WN for k ≥ 2: its derivative is nonzero at " + "; ".join(witnesses)
              + ". Counterpart: " + trace.detail)
    return CheckResult(trace.verified, "simplify to zero", detail)


def planted_wrong_invariant() -> Derivation:
    """A false statement — ``UᵀU`` conserved along plain GF of ``X = UWᵀ`` — whose check must fail."""
    return Derivation(
        "planted_wrong_gram_U", "§9.3", r"\text{(planted, false)}\ \frac{d}{dt}U^\top U = 0",
        (), ("plain GF of X = UWᵀ",), "2", "matrix", "simplify to zero",
        _sym_check(_invariant_residuals("plain", "gram_U"), "d/dt UᵀU along plain GF"))


def derivations() -> list:
    """The derivations of docs/math.md §9 (the matrix model), each with its own ``check()``."""
    sizes = ", ".join(f"({d},{k})" for d, k in SIZES)
    common = (f"checked per entry at (d, k) ∈ {{{sizes}}}",)
    return [
        Derivation("matrix_sym_gradient", "§9.2", r"X = UU^\top:\ \nabla_U\mathcal L = (G + G^\top)U,\ "
                   r"G = \sum_i (\langle A_i, X\rangle - y_i) A_i",
                   (("∇_Uℒ (d=2,k=1)", _grad(sensing_loss(_mat("u", 2, 1, real=True) * _mat("u", 2, 1, real=True).T,
                                                          *sensing_data(2))[0], _mat("u", 2, 1, real=True))),),
                   common + (f"m = {M_MEAS} symbolic A_i (general, not symmetric)",), "2", "matrix",
                   "simplify to zero", _sym_check(_sym_gradient_residuals, "∇_Uℒ = (G+Gᵀ)U")),
        Derivation("matrix_asym_gradient", "§9.3", r"X = UW^\top:\ \nabla_U\mathcal L = GW,\ \nabla_W\mathcal L = G^\top U",
                   (), common + (f"m = {M_MEAS} symbolic A_i",), "2", "matrix", "simplify to zero",
                   _sym_check(_asym_gradient_residuals, "∇_U = GW, ∇_W = GᵀU")),
        Derivation("matrix_wn_flow", "§9.4",
                   r"U = r V/\|V\|_F:\ \dot r = -\eta_r\langle G, \bar V\rangle,\ "
                   r"\dot V = -\eta_V\frac{r}{\|V\|_F}\big(G - \langle G,\bar V\rangle\bar V\big)",
                   (("∂_rℒ̃ (d=2,k=1)", wn_partials(2, 1)[3]),),
                   common + ("opaque loss F(U), G = ∂F/∂U at U = rV̄",), "2", "matrix", "simplify to zero",
                   _sym_check(_wn_flow_residuals, "chain rule on F(rV/‖V‖_F)")),
        Derivation("matrix_norm_conserved", "§9.4", r"\frac{d}{dt}\|V\|_F^2 = 2\langle V,\dot V\rangle = 0",
                   (), common + ("V̇ from the WN flow",), "2", "matrix", "simplify to zero",
                   _sym_check(_norm_residuals, "⟨V, V̇⟩ = 0")),
        Derivation("matrix_loss_decreases", "§9.4",
                   r"\frac{d}{dt}\tilde{\mathcal L} = -\eta_r(\partial_r\tilde{\mathcal L})^2"
                   r" - \eta_V\|\nabla_V\tilde{\mathcal L}\|_F^2 \le 0",
                   (), common + ("η_r, η_V > 0", "U̇ = d/dt(rV/‖V‖_F) by sympy on time functions"), "2", "matrix",
                   "sum of squares", _loss_check),
        Derivation("matrix_balancedness_gf", "§9.3", r"X = UW^\top,\ \text{plain GF}:\ "
                   r"\frac{d}{dt}(U^\top U - W^\top W) = 0",
                   (), common + ("opaque G = ∇_Xℒ (d×d)", "U̇ = −GW, Ẇ = −GᵀU"), "2", "matrix",
                   "simplify to zero", _sym_check(_invariant_residuals("plain", "balancedness"),
                                                  "d/dt(UᵀU − WᵀW) along plain GF")),
        Derivation("matrix_balancedness_wn", "§9.4", r"X = UW^\top,\ \text{WN}:\ \frac{d}{dt}(U^\top U - W^\top W)"
                   r" \ne 0\ (k \ge 2);\ \frac{d}{dt}(r_U^2 - r_W^2) = 0",
                   (), common + ("U = r_U V/‖V‖, W = r_W Z/‖Z‖, the same η_r, η_V for both",
                                 "‖U‖_F = r_U, ‖W‖_F = r_W"), "2", "matrix", "simplify to zero",
                   _wn_balancedness_check),
        Derivation("matrix_diagonal_reduction", "§9.5", r"A_i,\ U\ \text{diagonal}:\ \text{the matrix flows are the "
                   r"diagonal model's at}\ L = 2",
                   (), (f"d ∈ {{2, 3}}, U = diag(w) (k = d)", "theory.model.loss_gradient(2), theory.flows.wn_field",
                        "η_u of the diagonal model ↦ η_V"), "2", "matrix", "simplify to zero",
                   lambda: _diag_check()),
    ]


def _diag_check():
    failed = []
    for d in (2, 3):
        for label, res in _diagonal_residuals(d, d):
            if not _zero(res):
                failed.append(f"d={d}: {label}: {sp.sstr(sp.simplify(res))[:100]}")
    if failed:
        return CheckResult(False, "simplify to zero", "; ".join(failed[:4]))
    return CheckResult(True, "simplify to zero",
                       "plain GF and WN flows with diagonal A_i, U = diag(w) equal the diagonal model's "
                       "(L = 2) entry by entry at d = 2, 3; off-diagonal velocities are 0")


def check_all() -> list:
    """``[(derivation, CheckResult), ...]`` for :func:`derivations`."""
    return [(d, d.check()) for d in derivations()]


__all__ = ["SIZES", "derivations", "check_all", "planted_wrong_invariant", "balancedness_rate", "wn_partials",
           "sensing_data", "sensing_loss"]
