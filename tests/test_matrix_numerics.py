"""numerics._matrix (docs/math.md §9): problems, files, the flows, GD, and the SDP reference."""

import sys

import numpy as np
import pytest

from numerics._status import Status
from numerics._matrix import (MatrixFlowConfig, MatrixSensingProblem, curvature_step, gd_matrix, generate,
                             gradient_U, init_directions, integrate_asym, integrate_matrix, nuclear_norm,
                             wn_gd_matrix)
from numerics._precision import DPS_FLOAT64, K_ACCUMULATED, K_ROUNDOFF, MIN_DPS, tol
from numerics._problem import ProblemFileError


@pytest.fixture(scope="module")
def prob():
    return generate(5, 2, 12, seed=0)


def test_generate_shapes_truth_and_measurements(prob):
    assert prob.A.shape == (12, 5, 5) and prob.y.shape == (12,)
    ev = np.linalg.eigvalsh(prob.X_true)
    assert ev[0] >= -tol(DPS_FLOAT64, K_ROUNDOFF)
    assert np.sum(ev > tol(DPS_FLOAT64, K_ROUNDOFF)) == 2
    assert abs(np.trace(prob.X_true) - 2) <= tol(DPS_FLOAT64, K_ROUNDOFF)
    assert np.max(np.abs(prob.measure(prob.X_true) - prob.y)) <= tol(DPS_FLOAT64, K_ROUNDOFF)
    sym = generate(4, 1, 6, seed=3, kind="symmetric")
    assert np.array_equal(sym.A, np.transpose(sym.A, (0, 2, 1)))


@pytest.mark.parametrize("kwargs, name", [
    (dict(A=np.zeros((3, 4)), y=np.zeros(3)), "A"),
    (dict(A=np.zeros((3, 4, 5)), y=np.zeros(3)), "A"),
    (dict(A=np.zeros((3, 4, 4)), y=np.zeros(2)), "y"),
    (dict(A=np.zeros((3, 4, 4), dtype=complex), y=np.zeros(3)), "A"),
    (dict(A=np.zeros((3, 4, 4)), y=np.array([1.0, np.nan, 0])), "y"),
    (dict(A=np.zeros((3, 4, 4)), y=np.zeros(3), X_true=np.ones((3, 3))), "X_true"),
    (dict(A=np.zeros((3, 4, 4)), y=np.zeros(3), kind="bogus"), "kind"),
    (dict(A=np.zeros((3, 2, 2)), y=np.zeros(3), X_true=np.diag([1.0, -1.0])), "positive semidefinite"),
])
def test_bad_problems_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MatrixSensingProblem(**kwargs)


def test_generate_refuses_bad_sizes():
    with pytest.raises(ValueError, match="k_true"):
        generate(3, 4, 5)
    with pytest.raises(ValueError, match="m"):
        generate(3, 1, 0)


def test_save_load_roundtrip_and_bad_files(prob, tmp_path):
    path = prob.save(tmp_path / "p.npz")
    back = MatrixSensingProblem.load(path)
    assert np.array_equal(back.A, prob.A) and np.array_equal(back.y, prob.y)
    assert np.array_equal(back.X_true, prob.X_true) and back.kind == prob.kind and back.seed == prob.seed
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ProblemFileError, match="junk.npz"):
        MatrixSensingProblem.load(junk)
    no_a = tmp_path / "noa.npz"
    np.savez(no_a, y=np.zeros(3))
    with pytest.raises(ProblemFileError, match="no array A"):
        MatrixSensingProblem.load(no_a)
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, A=np.array([object()], dtype=object), y=np.zeros(1))
    with pytest.raises(ProblemFileError, match="obj.npz"):
        MatrixSensingProblem.load(pickled)
    with pytest.raises(ProblemFileError, match="no such file"):
        MatrixSensingProblem.load(tmp_path / "missing.npz")


def test_gradient_matches_complex_step(prob):
    """∇_Uℒ = (G + Gᵀ)U (docs/math.md §9.2) against the complex-step derivative of the loss."""
    U = init_directions(5, 3, 1, 4)[0]
    _, g = gradient_U(prob, U)
    h = 1e-30
    for a, b in [(0, 0), (2, 1), (4, 2)]:
        E = np.zeros_like(U, dtype=complex)
        E[a, b] = 1j * h
        Uc = U + E
        res = np.einsum("mij,ij->m", prob.A, Uc @ Uc.T) - prob.y
        fd = np.imag(0.5 * np.sum(res * res)) / h
        assert abs(fd - g[a, b]) <= tol(DPS_FLOAT64, K_ROUNDOFF) * max(1.0, abs(g[a, b]))


def test_wn_flow_conserves_vnorm_and_loss_never_increases(prob):
    cfg = MatrixFlowConfig(k=3, alpha=1.0, rates="wn", eta_r=0.1, eta_V=1.0)
    res = integrate_matrix(prob, cfg, t_max=20.0)
    assert res.steps_checked > 10
    assert np.max(np.abs(res.vnorm - 1.0)) <= tol(DPS_FLOAT64, K_ACCUMULATED)
    assert res.max_step_increase <= tol(DPS_FLOAT64, K_ACCUMULATED) * prob.scale
    assert res.loss[-1] < 1e-2 * res.loss[0]


def test_plain_flow_moves_the_norm_of_U(prob):
    """The contrast that makes M1's planted variant fail: ‖U‖_F is not conserved along plain GF."""
    res = integrate_matrix(prob, MatrixFlowConfig(k=3, alpha=1.0, rates="plain"), t_max=5.0)
    assert np.max(np.abs(res.r - res.r[0])) > 1e-3


def test_time_limit_and_converged_status(prob):
    cfg = MatrixFlowConfig(k=3, alpha=1.0, rates="wn", eta_r=0.1)
    assert integrate_matrix(prob, cfg, t_max=50.0, time_limit=1e-9).status is Status.TIME_LIMIT
    exact = MatrixFlowConfig(k=2, alpha=1.0, rates="wn", eta_r=1.0)   # k = rank: fast convergence
    res = integrate_matrix(generate(5, 2, 20, seed=0), exact, t_max=500.0, loss_tol=1e-6 * prob.scale)
    assert res.status is Status.CONVERGED and res.loss[-1] <= 1e-6 * prob.scale


def test_zero_measurements_are_trivial():
    p = MatrixSensingProblem(np.ones((2, 3, 3)), np.zeros(2))
    assert integrate_matrix(p, MatrixFlowConfig(k=2, alpha=1.0), t_max=1.0).status is Status.TRIVIAL


def test_flow_at_dps_conserves_vnorm_to_dps():
    import mpmath

    p = generate(3, 1, 5, seed=1)
    cfg = MatrixFlowConfig(k=2, alpha=1.0, rates="wn", eta_r=0.5)
    res = integrate_matrix(p, cfg, dps=20, t_max=0.5)
    assert res.method == "mpmath.odefun" and res.dps == 20
    with mpmath.workdps(30):
        vs = res.vnorm_exact   # ‖V‖_F at each record, mpf at the working precision
        assert max(abs(v - vs[0]) for v in vs) <= tol(20, K_ACCUMULATED)
    with pytest.raises(ValueError, match="dps"):
        integrate_matrix(p, cfg, dps=MIN_DPS - 1, t_max=0.5)


def test_batched_gd_equals_single_runs(prob):
    V0 = init_directions(5, 3, 3, 2)
    mu = curvature_step(prob, 1.0)
    both = wn_gd_matrix(prob, np.array([1.0, 0.5, 2.0]), V0, eta_r=0.3, eta_V=1.0, mu=mu, steps=300)
    one = wn_gd_matrix(prob, 0.5, V0[1:2], eta_r=0.3, eta_V=1.0, mu=mu, steps=300)
    assert np.max(np.abs(both.U[1] - one.U[0])) <= tol(DPS_FLOAT64, K_ACCUMULATED)
    g = gd_matrix(prob, 0.1 * V0, mu=mu, steps=300)
    g1 = gd_matrix(prob, 0.1 * V0[2], mu=mu, steps=300)
    assert np.max(np.abs(g.U[2] - g1.U[0])) <= tol(DPS_FLOAT64, K_ACCUMULATED)
    assert all(np.all(np.diff(g.loss[:, b]) <= tol(DPS_FLOAT64, K_ACCUMULATED) * prob.scale) for b in range(3))
    with pytest.raises(ValueError, match="mu"):
        gd_matrix(prob, V0, mu=-1.0, steps=10)


def test_asymmetric_invariants(prob):
    plain = integrate_asym(prob, 3, 1.0, rates="plain", t_max=10.0)
    assert plain["balancedness_dev"] <= tol(DPS_FLOAT64, K_ACCUMULATED)
    wn = integrate_asym(prob, 3, 1.0, rates="wn", eta_r=0.1, t_max=10.0)
    assert wn["trace_dev"] <= tol(DPS_FLOAT64, K_ACCUMULATED)
    assert wn["balancedness_dev"] > 1e-3   # docs/math.md §9.4: the matrix is not conserved under WN


def test_nuclear_norm_min_recovers_a_determined_truth():
    pytest.importorskip("cvxpy", reason="the nuclear-norm SDP needs the optional extra 'matrix' (cvxpy)")
    from numerics._matrix import nuclear_norm_min

    p = generate(4, 1, 16, seed=5)     # m = 16 ≥ d(d+1)/2 = 10: X* is the only feasible point
    nn = nuclear_norm_min(p)
    assert nn.status is Status.CONVERGED
    assert nn.primal_residual <= 1e-7 and abs(nn.gap) <= 1e-6
    assert np.max(np.abs(nn.X - p.X_true)) <= 1e-6
    assert abs(nuclear_norm(nn.X) - nn.value) <= 1e-6


def test_missing_cvxpy_is_machinery_missing(monkeypatch):
    from numerics._matrix import nuclear_norm_min
    from wnbias.claims.registry import MachineryMissing

    monkeypatch.setitem(sys.modules, "cvxpy", None)
    with pytest.raises(MachineryMissing) as info:
        nuclear_norm_min(generate(3, 1, 4))
    assert info.value.module == "cvxpy" and "matrix" in str(info.value)
