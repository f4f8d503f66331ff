"""harness.measures.theory against slow references: eq. 3 by a python loop, the fit by a loop over
the grid, ZCA whitening, and the linear CNN's closed form against explicit gradient descent."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from harness.data.patches import pca_from_covariance
from harness.measures.spectra import correlation, energy_profile
from harness.measures.theory import (
    PAPER_NOTES,
    default_eta,
    fit_formula,
    formula_profile,
    linear_cnn_eta,
    linear_cnn_mean_filter,
    random_covariance,
    simulate_linear_cnn,
    t_grid,
    zca_filters,
)

LAM = np.logspace(0, -2, 12)  # lambda_i, descending over two decades
ETA = 0.5  # = default_eta(LAM): 0.5 / max lambda^2


def loop_profile(lam, t, eta):
    """eq. 3 literally: |1 - (1 - eta l^2)^t| / l, normalised by its max (0 row stays 0)."""
    e = np.array([abs(1 - (1 - eta * x * x) ** t) / x for x in lam], dtype=np.float64)
    return e / e.max() if e.max() > 0 else e


# ---------------------------------------------------------------- formula_profile


def test_default_eta_is_half_the_stable_bound():
    assert default_eta(LAM) == ETA
    assert default_eta([2.0, 1.0]) == 0.125


@pytest.mark.parametrize("t", [1, 3, 10, 100, 1e3, 12345.6])
def test_formula_profile_matches_loop(t):
    got = formula_profile(LAM, t, ETA)
    assert got.shape == LAM.shape
    assert_allclose(got, loop_profile(LAM, t, ETA), rtol=1e-9)
    assert got.max() == pytest.approx(1.0)


def test_formula_profile_t1_is_proportional_to_lambda():
    assert_allclose(formula_profile(LAM, 1, ETA), LAM / LAM.max(), rtol=1e-12)


def test_formula_profile_t0_is_zero_row_without_nan():
    e = formula_profile(LAM, 0, ETA)
    assert np.all(np.isfinite(e))
    assert_allclose(e, 0.0, atol=0)
    raw = formula_profile(LAM, 0, ETA, normalize=False)
    assert_allclose(raw, 0.0, atol=0)


@pytest.mark.parametrize("t", [1e12, 1e300])
def test_formula_profile_huge_t_is_whitening_limit(t):
    e = formula_profile(LAM, t, ETA)
    assert np.all(np.isfinite(e))
    assert_allclose(e, (1 / LAM) / (1 / LAM).max(), rtol=1e-12)


def test_formula_profile_tiny_eta_is_exact():
    """x = eta l^2 ~ 1e-20: the naive 1 - (1 - x)^t rounds to 0; expm1/log1p keeps it (~ t x / l)."""
    e = formula_profile(LAM, 10, 1e-20, normalize=False)
    assert_allclose(e, 10 * 1e-20 * LAM, rtol=1e-9)


def test_formula_profile_unnormalised_matches_loop_scale():
    t = 37
    raw = formula_profile(LAM, t, ETA, normalize=False)
    assert_allclose(raw, [abs(1 - (1 - ETA * x * x) ** t) / x for x in LAM], rtol=1e-9)


def test_formula_profile_array_t_gives_one_row_per_t():
    ts = np.array([0, 1, 10, 1e3, 1e12])
    rows = formula_profile(LAM, ts, ETA)
    assert rows.shape == (len(ts), len(LAM))
    for row, t in zip(rows, ts, strict=True):
        assert_allclose(row, formula_profile(LAM, t, ETA), rtol=1e-14, atol=0)
    assert formula_profile(LAM, [5.0], ETA).shape == (1, len(LAM))


def test_formula_profile_default_eta():
    assert_allclose(formula_profile(LAM, 50), formula_profile(LAM, 50, ETA), rtol=0)


@pytest.mark.parametrize("eta", [1.0, 1.5])
def test_formula_profile_unstable_eta_raises(eta):
    with pytest.raises(ValueError, match="eta"):
        formula_profile(LAM, 10, eta)  # max lambda = 1: stable range eta < 1


def test_formula_profile_negative_lambda_or_t_raises():
    with pytest.raises(ValueError, match="lambdas must be >= 0"):
        formula_profile([1.0, -0.1], 10, 0.5)
    with pytest.raises(ValueError, match="t must be >= 0"):
        formula_profile(LAM, -1, ETA)


def test_formula_profile_zero_lambda_component_is_zero():
    lam = np.array([1.0, 0.5, 0.0])
    for t in (0, 1, 100, 1e12):
        e = formula_profile(lam, t, 0.5)
        assert np.all(np.isfinite(e))
        assert e[2] == 0.0
        assert_allclose(e[:2], loop_profile(lam[:2], t, 0.5), rtol=1e-9)


# ---------------------------------------------------------------- fit_formula


def test_fit_recovers_t_on_the_grid():
    ts = t_grid(LAM, ETA, points=200)
    t_true = ts[80]
    fit = fit_formula(formula_profile(LAM, t_true, ETA), LAM, ETA, ts=ts)
    assert fit.t == t_true
    assert fit.correlation == pytest.approx(1.0, abs=1e-12)
    assert fit.eta == ETA and not fit.at_grid_edge
    assert_allclose(fit.curve, formula_profile(LAM, t_true, ETA), rtol=1e-14)


def test_fit_recovers_t_between_grid_points():
    ts = t_grid(LAM, ETA)  # default 2000 log-spaced points
    t_true = float(np.sqrt(ts[900] * ts[901]))
    fit = fit_formula(formula_profile(LAM, t_true, ETA), LAM)  # default eta, default grid
    assert fit.correlation > 0.9999
    assert fit.t == pytest.approx(t_true, rel=0.03)
    assert not fit.at_grid_edge


def test_fit_best_correlation_is_max_over_slow_loop():
    ts = t_grid(LAM, ETA, points=150)
    target = formula_profile(LAM, 321.0, ETA) + np.random.default_rng(0).normal(0, 0.05, len(LAM))
    fit = fit_formula(target, LAM, ETA, ts=ts)
    slow = [np.corrcoef(loop_profile(LAM, t, ETA), target)[0, 1] for t in ts]
    assert fit.correlation == pytest.approx(max(slow), abs=1e-10)
    assert fit.t == pytest.approx(ts[int(np.argmax(slow))], rel=1e-12)


@pytest.mark.parametrize("target", [LAM, 1 / LAM])
def test_fit_at_the_ends_is_sane(target):
    """lambda itself is eq. 3 at t -> 0, 1/lambda at t -> inf: fields are finite either way."""
    ts = t_grid(LAM, ETA, points=300)
    fit = fit_formula(target, LAM, ETA, ts=ts)
    assert isinstance(fit.at_grid_edge, bool)
    assert 0.99 < fit.correlation <= 1 + 1e-12  # may round to 1 + 2e-16
    assert fit.t in ts and np.all(np.isfinite(fit.curve)) and fit.curve.max() == pytest.approx(1.0)


def test_t_grid_spans_saturation():
    ts = t_grid(LAM, ETA, points=50)
    assert ts[0] == 1 and len(ts) == 50 and np.all(np.diff(ts) > 0)
    assert ts[-1] * ETA * LAM.min() ** 2 == pytest.approx(100.0)


# ---------------------------------------------------------------- zca_filters


def test_zca_filters_whiten_a_random_covariance():
    cov = random_covariance(27, 2.0, seed=3)
    pca = pca_from_covariance(cov, np.zeros(27), 1, 3, 3)
    w = zca_filters(pca, eps=1e-12)
    assert w.shape == (27, 3, 3, 3) and w.dtype == torch.float32
    m = w.double().reshape(27, 27).numpy()
    resp = m @ cov @ m.T
    assert_allclose(resp / np.mean(np.diag(resp)), np.eye(27), atol=1e-4)
    assert_allclose(m, m.T, atol=1e-5 * np.abs(m).max())


def test_zca_filters_energy_profile_is_inverse_lambda():
    pca = pca_from_covariance(random_covariance(12, 1.5, seed=4), np.zeros(12), 1, 2, 3)
    e = energy_profile(zca_filters(pca, eps=0.0), pca)
    assert_allclose(e, (1 / pca.lambdas) / (1 / pca.lambdas).max(), rtol=1e-5)


# ---------------------------------------------------------------- linear CNN closed form


def gd_from_zero(A, b, eta, t):
    w = np.zeros_like(b)
    for _ in range(t):
        w = w - eta * (A @ w - b)
    return w


def spd(d, seed):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((d, d))
    return m @ m.T / d, rng.standard_normal(d)


@pytest.mark.parametrize("t", [0, 1, 2, 7, 60])
def test_linear_cnn_mean_filter_equals_gd_loop(t):
    A, b = spd(6, 0)
    eta = 0.9 / np.linalg.eigvalsh(A).max()
    assert_allclose(linear_cnn_mean_filter(A, b, eta, t), gd_from_zero(A, b, eta, t), rtol=1e-9, atol=1e-12)


def test_linear_cnn_mean_filter_equals_geometric_sum():
    A, b = spd(5, 1)
    eta, t = 0.3 / np.linalg.eigvalsh(A).max(), 9
    c = np.eye(5) - eta * A
    series = eta * sum(np.linalg.matrix_power(c, n) @ b for n in range(t))
    assert_allclose(linear_cnn_mean_filter(A, b, eta, t), series, rtol=1e-10)


def test_linear_cnn_mean_filter_singular_A():
    A, b = np.diag([1.0, 0.5, 0.0]), np.array([1.0, -2.0, 3.0])
    got = linear_cnn_mean_filter(A, b, 0.5, 12)
    assert np.all(np.isfinite(got))
    assert_allclose(got, gd_from_zero(A, b, 0.5, 12), rtol=1e-12)
    assert got[2] == pytest.approx(0.5 * 12 * 3.0)


def test_linear_cnn_mean_filter_unstable_eta_raises():
    A, b = spd(4, 2)
    top = np.linalg.eigvalsh(A).max()
    with pytest.raises(ValueError, match="eta"):
        linear_cnn_mean_filter(A, b, 1.0 / top * 1.0001, 5)
    with pytest.raises(ValueError, match="eta"):
        linear_cnn_mean_filter(A, b, 2.0 / top, 5)


def toy_linear_problem(n=8, j=4, d=5, r=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, j, d, generator=g, dtype=torch.float64), torch.randn(n, r, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("init_scale", [0.0, 0.5])
def test_simulate_linear_cnn_every_filter_moves_by_same_vector(init_scale):
    patches, labels = toy_linear_problem()
    w0, wt = simulate_linear_cnn(patches, labels, filters=3, steps=15, eta=0.05, init_scale=init_scale, seed=1)
    assert w0.shape == wt.shape == (2, 3, 5)
    moved = wt - w0
    assert moved.abs().max() > 0
    assert_allclose(moved.numpy(), moved[:, :1].expand_as(moved).numpy(), rtol=1e-12, atol=1e-14)
    if init_scale == 0:
        assert torch.all(w0 == 0)


def test_simulate_linear_cnn_seeded_init():
    patches, labels = toy_linear_problem()
    a = simulate_linear_cnn(patches, labels, 3, 2, 0.05, 0.5, seed=4)
    b = simulate_linear_cnn(patches, labels, 3, 2, 0.05, 0.5, seed=4)
    c = simulate_linear_cnn(patches, labels, 3, 2, 0.05, 0.5, seed=5)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])


@pytest.mark.parametrize("filters", [1, 3])
def test_simulate_linear_cnn_matches_closed_form(filters):
    """From W = 0 the summed filter s follows GD on s^T A s - 2 b^T s with step 2 eta K,
    i.e. linear_cnn_eta * J; the mean filter is s / K."""
    patches, labels = toy_linear_problem(n=8, j=4, d=5, r=2)
    J, steps = patches.shape[1], 25
    pbar = patches.mean(1)
    A, b = (pbar.T @ pbar / len(pbar)).numpy(), (pbar.T @ labels / len(pbar)).numpy()
    eta = 0.4 / (2 * filters * np.linalg.eigvalsh(A).max())
    _, wt = simulate_linear_cnn(patches, labels, filters, steps, eta, init_scale=0.0)
    step = linear_cnn_eta(patches, filters, eta) * J
    assert step == pytest.approx(2 * eta * filters)
    for r in range(labels.shape[1]):
        expected = linear_cnn_mean_filter(A, b[:, r], step, steps) / filters
        assert_allclose(wt[r].mean(0).numpy(), expected, rtol=1e-9, atol=1e-12)
        assert_allclose(wt[r].sum(0).numpy(), gd_from_zero(A, b[:, r], step, steps), rtol=1e-9, atol=1e-12)


def test_linear_cnn_eta_value():
    patches = torch.zeros(3, 16, 27)
    assert linear_cnn_eta(patches, 4, 0.01) == pytest.approx(2 * 0.01 * 4 / 16)


# ---------------------------------------------------------------- misc


def test_random_covariance_spectrum():
    cov = random_covariance(10, 3.0, seed=0)
    assert_allclose(cov, cov.T, atol=1e-15)
    assert_allclose(np.sort(np.linalg.eigvalsh(cov))[::-1], np.logspace(0, -3, 10), rtol=1e-8, atol=1e-14)
    assert_allclose(random_covariance(10, 3.0, seed=0), cov, rtol=0)


def test_paper_notes():
    assert isinstance(PAPER_NOTES, list) and PAPER_NOTES
    assert all(isinstance(n, str) and n for n in PAPER_NOTES)
    assert any("lambda" in n for n in PAPER_NOTES)


# ---------------------------------------------------------------- properties of the suite's own code
# (moved from claims/: they test this code's formula, ZCA and profile, not the paper)


@given(lam=st.lists(st.floats(1e-3, 1e3), min_size=4, max_size=27, unique=True), eta_frac=st.floats(0.01, 0.99))
def test_whitening_theorem_4_3_limit(lam, eta_frac):
    """(c) As t -> infinity eq. 3 tends to a profile proportional to 1/lambda_i (Thm 4.3;
    the proof sketch's 1/lambda_i^2 contradicts eq. 7, see harness.measures.theory)."""
    lam = np.sort(np.array(lam))[::-1]
    eta = eta_frac / lam.max() ** 2
    t = 1e4 / (eta * lam.min() ** 2)  # every component saturated: (1 - eta l^2)^t < e^-1e4
    limit = formula_profile(lam, t, eta)
    np.testing.assert_allclose(limit, (1 / lam) / (1 / lam).max(), rtol=1e-9)


@given(seed=st.integers(0, 10_000), decades=st.floats(2.0, 4.0))
def test_whitening_theorem_4_3_decorrelates(seed, decades):
    """(c) A bank whose profile is the t -> inf limit (ZCA: U diag(1/lambda) U^T) makes the
    responses at a location uncorrelated: their covariance is proportional to I."""
    pca = pca_from_cov(seed, decades)
    cov = (pca.eigvecs * pca.eigvals) @ pca.eigvecs.T
    w = zca_filters(pca, eps=0.0).double().reshape(27, 27).numpy()
    out = w @ cov @ w.T
    # the bank is float32 (7 digits): 1e-5 holds under every profile (1e-6 failed at seed 138)
    np.testing.assert_allclose(out / out[0, 0], np.eye(27), atol=1e-5)
    e = energy_profile(w, pca)
    assert correlation(e, 1 / pca.lambdas) > 0.999999


@given(seed=st.integers(0, 10_000), filters=st.integers(2, 64), scale=st.floats(1e-3, 1e3))
def test_energy_profile_invariances(seed, filters, scale):
    """(d) Def. 2.2 is invariant to filter permutation, global rescaling and orthogonal
    mixing of the filters (Section 2)."""
    rng = np.random.default_rng(seed)
    pca = pca_from_cov(seed)
    w = rng.standard_normal((filters, 27))
    q, _ = np.linalg.qr(rng.standard_normal((filters, filters)))
    base = energy_profile(w, pca)
    for other in (w[rng.permutation(filters)], scale * w, q @ w):
        np.testing.assert_allclose(energy_profile(other, pca), base, rtol=1e-9, atol=1e-12)


def pca_from_cov(seed: int, decades: float = 2.0):
    """The exact PCA of a random covariance (no sampling)."""
    return pca_from_covariance(random_covariance(27, decades, seed), np.zeros(27), 1, 3, 3)


def test_the_authors_t_range_maps_to_the_saturating_regime():
    """The authors' family (eta 1e-7, t in range(1e4, 5e6, 250), eta lambda^2 / 2N on the summed
    scatter) on our covariance: eta' = 1e-7 P / 2; it spans eta' lambda_0^2 t over 2.7 decades and
    recovers a profile drawn from inside it."""
    from harness.measures.theory import AUTHORS_STEPS, authors_grid, fit_formula_authors

    eta, ts = authors_grid(900)
    assert eta == pytest.approx(4.5e-5) and ts[0] == AUTHORS_STEPS[0] and ts[-1] < AUTHORS_STEPS[1]
    lam = np.sqrt(np.logspace(1.3, -2.5, 27))
    target = formula_profile(lam, 250_000.0, eta)
    fit = fit_formula_authors(target, lam)
    assert fit.correlation == pytest.approx(1.0, abs=1e-9) and fit.t == pytest.approx(250_000.0)
    assert fit.correlation <= fit_formula(target, lam).correlation + 1e-6
