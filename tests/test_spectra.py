"""harness.data.patches (the patch PCA) and harness.measures.spectra (energy profiles) against slow,
explicit references (python loops, numpy PCA)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose, assert_array_equal

from harness.data.images import normalise
from harness.data.patches import (
    _uint8_moments,
    extract_patches,
    patch_covariance,
    patch_pca,
    pca_from_covariance,
    pca_of_patches,
)
from harness.measures.spectra import correlation, energy_profile, pairwise_correlations


def loop_patches(x, size, stride=1):
    """Every size x size patch, image-major then row-major positions, flattened channel-major."""
    n, _c, h, w = x.shape
    rows = [
        x[i, :, r : r + size, s : s + size].reshape(-1)
        for i in range(n)
        for r in range(0, h - size + 1, stride)
        for s in range(0, w - size + 1, stride)
    ]
    return torch.stack(rows)


def numpy_pca(patches):
    """Reference PCA: np.cov (bias=True), eigh, descending."""
    cov = np.cov(np.asarray(patches, np.float64).T, bias=True)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def images(n=20, c=3, h=8, w=8, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------- extract_patches


def test_extract_patches_matches_explicit_loop():
    x = images(2, 3, 6, 6)
    p = extract_patches(x, 3)
    assert p.shape == (2 * 4 * 4, 27)
    assert_array_equal(p.numpy(), loop_patches(x, 3).numpy())


def test_extract_patches_with_stride_matches_loop():
    x = images(2, 3, 7, 7, seed=1)
    assert_array_equal(extract_patches(x, 3, stride=2).numpy(), loop_patches(x, 3, stride=2).numpy())


def test_patch_rows_times_flat_weight_equal_conv2d_responses():
    x = images(2, 3, 6, 6, seed=2)
    w = torch.randn(5, 3, 3, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    resp = extract_patches(x, 3) @ w.reshape(5, -1).T  # (N*L, K)
    conv = F.conv2d(x, w)  # (N, K, 4, 4)
    assert_allclose(resp.numpy(), conv.permute(0, 2, 3, 1).reshape(-1, 5).numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- patch_pca


@pytest.mark.parametrize("batch", [500, 20, 3, 1])
def test_patch_pca_matches_numpy_pca(batch):
    x = images(20, 3, 8, 8)
    patches = loop_patches(x, 3).numpy()
    vals, vecs = numpy_pca(patches)
    pca = patch_pca(x, 3, batch=batch)
    assert pca.count == len(patches) == 20 * 36
    assert (pca.size, pca.channels, pca.dim) == (3, 3, 27)
    assert_allclose(pca.mean, patches.mean(0), rtol=1e-12)
    assert_allclose(pca.eigvals, vals, rtol=1e-10, atol=1e-12 * vals[0])
    # eigenvectors agree up to sign (the eigenvalues of random patches are distinct)
    signs = np.sign(np.sum(pca.eigvecs * vecs, axis=0))
    assert_allclose(pca.eigvecs, vecs * signs, atol=1e-8)
    assert_allclose(pca.lambdas, np.sqrt(vals), rtol=1e-10)


def pixels(n, c, h, w, seed=0):
    return torch.randint(0, 256, (n, c, h, w), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.mark.parametrize(
    ("n", "c", "h", "w", "k"),
    [
        (37, 3, 9, 11, 3),
        (5, 1, 7, 7, 3),
        (3, 3, 12, 10, 5),
        (2, 3, 3, 3, 3),
        (70, 3, 8, 8, 7),
        (1, 2, 40, 6, 3),
        (120, 1, 40, 5, 3),
        (700, 1, 11, 4, 3),
    ],
)
def test_uint8_moments_are_exact_integer_sums(n, c, h, w, k):
    """The integer path's sums equal the explicit float64 sums of (u - 128) patches exactly
    (blocks of 1024 products are exact in float32), across block and batch boundaries."""
    u = pixels(n, c, h, w, seed=n)
    outer, total, count = _uint8_moments(u, k, blocks_per_batch=2)
    p = loop_patches(u.double() - 128, k)
    assert count == p.shape[0]
    assert_array_equal(outer.numpy(), (p.T @ p).numpy())
    assert_array_equal(total.numpy(), p.sum(0).numpy())


def test_uint8_moments_exact_at_the_extremes():
    """All-0 and all-255 pixels give the largest products (128^2): still exact."""
    u = torch.cat([torch.zeros(40, 3, 32, 32, dtype=torch.uint8), torch.full((40, 3, 32, 32), 255, dtype=torch.uint8)])
    outer, total, _count = _uint8_moments(u, 3)
    assert_array_equal(outer.numpy(), np.full((27, 27), 40 * 900 * (128.0**2 + 127.0**2)))
    assert_array_equal(total.numpy(), np.full(27, 40 * 900 * (-128.0 + 127.0)))


def test_uint8_path_with_stats_is_the_pca_of_the_normalised_images():
    u = pixels(30, 3, 10, 10, seed=1)
    x, stats = normalise(u)
    exact = patch_pca(u, 3, stats=stats)
    ref = patch_pca(x.double(), 3)  # x carries float32 rounding (~1e-7 relative)
    assert exact.count == ref.count
    assert_allclose(exact.eigvals, ref.eigvals, rtol=1e-5)
    assert_allclose(exact.mean, ref.mean, atol=1e-6)
    assert_allclose(np.abs(np.sum(exact.eigvecs * ref.eigvecs, 0)), 1, atol=1e-5)
    raw = patch_covariance(u, 3)  # without stats: the statistics of the raw 0..255 pixels
    assert_allclose(raw[1], loop_patches(u.double(), 3).mean(0).numpy(), rtol=1e-12)


def test_uint8_with_stride_and_stats_matches_the_normalised_images():
    u = pixels(12, 3, 11, 11, seed=2)
    x, stats = normalise(u)
    a, b = patch_pca(u, 3, stride=2, stats=stats), patch_pca(x.double(), 3, stride=2)
    assert a.count == b.count
    assert_allclose(a.eigvals, b.eigvals, rtol=1e-5)


def test_stats_need_uint8_pixels():
    with pytest.raises(ValueError, match="uint8"):
        patch_covariance(images(2, 3, 8, 8), 3, stats=(torch.zeros(3), torch.ones(3)))


def test_patch_pca_batch_accumulation_is_exact():
    x = images(23, 3, 8, 8, seed=4)
    whole, pieces = patch_pca(x, 3, batch=100), patch_pca(x, 3, batch=5)
    assert_allclose(pieces.eigvals, whole.eigvals, rtol=1e-10)
    assert_allclose(pieces.eigvecs, whole.eigvecs, atol=1e-9)  # same signs, not only same up to sign


def test_patch_pca_descending_orthonormal_and_sign_convention():
    pca = patch_pca(images(10, 3, 8, 8, seed=5), 3)
    assert np.all(np.diff(pca.eigvals) <= 0)
    assert_allclose(pca.eigvecs.T @ pca.eigvecs, np.eye(27), atol=1e-12)
    largest = pca.eigvecs[np.abs(pca.eigvecs).argmax(0), np.arange(27)]
    assert np.all(largest > 0), "largest-magnitude entry of every eigenvector must be positive"
    again = patch_pca(images(10, 3, 8, 8, seed=5), 3)
    assert_array_equal(again.eigvecs, pca.eigvecs)


def test_patch_pca_sign_convention_independent_of_input_sign():
    """Negating the images negates nothing in the PCA (covariance unchanged)."""
    x = images(10, 3, 8, 8, seed=6)
    a, b = patch_pca(x, 3), patch_pca(-x, 3)
    assert_allclose(b.eigvecs, a.eigvecs, atol=1e-9)
    assert_allclose(b.mean, -a.mean, rtol=1e-12)


def check_degenerate(pca, dim):
    assert np.all(np.isfinite(pca.eigvals)) and np.all(np.isfinite(pca.eigvecs))
    assert np.all(pca.eigvals >= 0)
    assert np.all(np.diff(pca.eigvals) <= 0)
    assert_allclose(pca.eigvecs.T @ pca.eigvecs, np.eye(dim), atol=1e-10)
    assert np.all(np.isfinite(pca.lambdas))


def test_patch_pca_constant_per_channel_images():
    """Every patch is 3 values repeated: rank <= 3, the other 24 eigenvalues (numerically) zero."""
    g = torch.Generator().manual_seed(7)
    x = torch.rand(6, 3, 1, 1, generator=g, dtype=torch.float64).expand(6, 3, 5, 5).contiguous()
    pca = patch_pca(x, 3)
    check_degenerate(pca, 27)
    assert np.all(pca.eigvals[3:] <= 1e-12 * pca.eigvals[0])


def test_patch_pca_all_constant_images_is_zero_not_nan():
    pca = patch_pca(torch.full((3, 3, 5, 5), 0.7, dtype=torch.float64), 3)
    check_degenerate(pca, 27)
    # one-pass E[pp^T] - m m^T: zero up to rounding relative to m^2 = 0.49
    assert_allclose(pca.eigvals, 0.0, atol=1e-13)


@pytest.mark.parametrize("diag", [[2.0] * 12, [3, 3, 3, 1, 1, 1, 1, 0.5, 0.5, 0, 0, 0]])
def test_pca_from_covariance_repeated_eigenvalues(diag):
    q, _ = np.linalg.qr(np.random.default_rng(8).standard_normal((12, 12)))
    cov = (q * np.asarray(diag, float)) @ q.T
    pca = pca_from_covariance(cov, np.zeros(12), 1, 2, 3)
    check_degenerate(pca, 12)
    assert_allclose(pca.eigvals, np.sort(diag)[::-1], atol=1e-12)
    assert_allclose(pca.eigvecs @ np.diag(pca.eigvals) @ pca.eigvecs.T, cov, atol=1e-12)


def test_patch_pca_without_patches_raises():
    with pytest.raises(ValueError, match="no patches"):
        patch_pca(torch.rand(0, 3, 8, 8), 3)


# ---------------------------------------------------------------- energy_profile


def loop_energy(w, u):
    """Def. 2.2 literally: e_i = sqrt(1/K sum_k (w_k . u_i)^2), then / max."""
    w = np.asarray(w, np.float64).reshape(len(w), -1)
    e = []
    for i in range(u.shape[1]):
        e.append(np.sqrt(sum(float(w[k] @ u[:, i]) ** 2 for k in range(len(w))) / len(w)))
    e = np.array(e)
    return e / e.max()


@pytest.fixture(scope="module")
def pca27():
    return patch_pca(images(10, 3, 8, 8, seed=9), 3)


def test_energy_profile_matches_definition_loop(pca27):
    w = torch.randn(7, 3, 3, 3, generator=torch.Generator().manual_seed(10))
    e = energy_profile(w, pca27)
    assert_allclose(e, loop_energy(w, pca27.eigvecs), rtol=1e-10)
    assert e.max() == 1.0


def test_energy_profile_unnormalised_and_numpy_input(pca27):
    w = np.random.default_rng(11).standard_normal((4, 27))
    e = energy_profile(w, pca27, normalize=False)
    assert_allclose(e, np.sqrt(np.mean((w @ pca27.eigvecs) ** 2, 0)), rtol=1e-12)


def test_energy_profile_init_is_subtracted(pca27):
    g = torch.Generator().manual_seed(12)
    w0, w = torch.randn(6, 3, 3, 3, generator=g), torch.randn(6, 3, 3, 3, generator=g)
    assert_allclose(
        energy_profile(w, pca27, init=w0), loop_energy((w.double() - w0.double()), pca27.eigvecs), rtol=1e-10
    )


def test_energy_profile_of_a_single_eigenvector_is_one_hot(pca27):
    e = energy_profile(pca27.eigvecs[:, 4][None], pca27)
    expected = np.zeros(27)
    expected[4] = 1
    assert_allclose(e, expected, atol=1e-12)


def test_energy_profile_zero_bank_raises(pca27):
    with pytest.raises(ValueError, match="no energy"):
        energy_profile(torch.zeros(4, 3, 3, 3), pca27)
    w = torch.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match="W equal to W_init"):
        energy_profile(w, pca27, init=w.clone())


def test_energy_profile_nonfinite_bank_raises(pca27):
    w = torch.randn(4, 3, 3, 3)
    w[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="not finite"):
        energy_profile(w, pca27)


def test_energy_profile_wrong_dimension_raises(pca27):
    with pytest.raises(ValueError, match=r"75 weights.*27 dimensions"):
        energy_profile(torch.randn(4, 3, 5, 5), pca27)


# ---------------------------------------------------------------- correlation


def test_correlation_matches_corrcoef():
    rng = np.random.default_rng(13)
    for _ in range(5):
        a, b = rng.standard_normal(27), rng.standard_normal(27)
        assert correlation(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], rel=1e-12)
    a = rng.standard_normal(27)
    assert correlation(a, 3 * a + 1) == pytest.approx(1.0)
    assert correlation(a, -a) == pytest.approx(-1.0)
    assert isinstance(correlation(a, a), float)


def test_correlation_constant_profile_raises():
    with pytest.raises(ValueError, match="constant"):
        correlation(np.ones(5), np.arange(5.0))
    with pytest.raises(ValueError, match="constant"):
        correlation(np.arange(5.0), np.full(5, 2.0))


@pytest.mark.parametrize("n", [1, 2, 5])
def test_pairwise_correlations_count_and_values(n):
    profiles = [np.random.default_rng(i).standard_normal(10) for i in range(n)]
    got = pairwise_correlations(iter(profiles))
    assert got.shape == (n * (n - 1) // 2,)
    expected = [np.corrcoef(profiles[i], profiles[j])[0, 1] for i in range(n) for j in range(i + 1, n)]
    assert_allclose(got, expected, rtol=1e-12)


# ---------------------------------------------------------------- pca_of_patches


def test_pca_of_patches_agrees_with_patch_pca():
    x = images(12, 3, 7, 7, seed=14)
    a = patch_pca(x, 3, batch=5)
    b = pca_of_patches(extract_patches(x, 3), 3, 3)
    assert b.count == a.count
    assert_allclose(b.mean, a.mean, rtol=1e-12)
    assert_allclose(b.eigvals, a.eigvals, rtol=1e-10, atol=1e-13)
    assert_allclose(b.eigvecs, a.eigvecs, atol=1e-9)


def test_pca_of_patches_accepts_grouped_numpy_patches():
    """(N, J, d) synthetic patches are flattened to rows."""
    p = np.random.default_rng(15).standard_normal((40, 4, 12))
    pca = pca_of_patches(p, 2, 3)
    vals, _ = numpy_pca(p.reshape(-1, 12))
    assert pca.count == 160
    assert_allclose(pca.eigvals, vals, rtol=1e-10)
