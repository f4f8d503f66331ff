"""harness.measures.decorrelation (spatial autocorrelation, spectral whitening) and harness.measures.labelstats
against explicit references."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

from harness.data.patches import extract_patches, patch_pca
from harness.measures.decorrelation import autocorrelation, shift_moments, spectral_whitening
from harness.measures.labelstats import image_pca_stats, label_correlations


def white(n=8, size=32, seed=0):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def smooth(n=8, size=32, seed=0):
    """White noise blurred by a 5x5 box per channel (valid): neighbours share 4/5 of their support."""
    box = torch.full((3, 1, 5, 5), 1 / 25)
    return F.conv2d(white(n, size + 4, seed), box, groups=3)


def loop_autocorrelation(x, max_shift):
    """C(delta) literally: mean over images, locations and both axes of y(i).y(i+delta), / C(0)."""
    y = x.double() - x.double().mean((0, 2, 3), keepdim=True)
    c = []
    for d in range(max_shift + 1):
        h = np.mean([float((y[n, :, :, d:] * y[n, :, :, : y.shape[3] - d]).sum(0).mean()) for n in range(len(y))])
        v = np.mean([float((y[n, :, d:, :] * y[n, :, : y.shape[2] - d, :]).sum(0).mean()) for n in range(len(y))])
        c.append((h + v) / 2)
    return np.array(c) / c[0]


def test_autocorrelation_is_one_at_zero_and_matches_loop():
    x = smooth(4, 16)
    c = autocorrelation(x, max_shift=4)
    assert c.shape == (5,) and c[0] == pytest.approx(1.0, abs=1e-12)
    assert_allclose(c, loop_autocorrelation(x, 4), rtol=1e-6, atol=1e-9)


def test_autocorrelation_batches_agree():
    """Float32 matmuls per batch, summed in float64: any batching agrees to ~1e-7."""
    x = smooth(7, 16, seed=1)
    assert_allclose(autocorrelation(x, max_shift=3, batch=2), autocorrelation(x, max_shift=3), rtol=1e-6)


def test_shift_moments_serve_every_bank():
    """One set of moments gives each bank's C(delta), as computing it afresh does."""
    x = white(5, 20, seed=6)
    banks = [torch.randn(4, 3, 3, 3, generator=torch.Generator().manual_seed(s)) for s in range(3)]
    m = shift_moments(x, 3, 6)
    for w in banks:
        assert_allclose(m.autocorrelation(w), loop_autocorrelation(F.conv2d(x, w), 6), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="size 1"):
        m.autocorrelation(None)
    with pytest.raises(ValueError, match="max_shift"):
        shift_moments(x, 3, 18)


def test_autocorrelation_white_noise_is_a_delta():
    c = autocorrelation(white(), max_shift=5)
    assert c[0] == pytest.approx(1.0)
    assert np.all(np.abs(c[1:]) < 0.05), c


def test_autocorrelation_smooth_images_are_correlated():
    c = autocorrelation(smooth(), max_shift=6)
    assert c[1] > 0.5
    assert_allclose(c[1:5], [0.8, 0.6, 0.4, 0.2], atol=0.1)  # triangle of the box filter
    assert np.all(np.diff(c[:5]) < 0)


def test_autocorrelation_identity_bank_equals_rgb():
    x = smooth(4, 20, seed=2)
    eye = torch.eye(3).reshape(3, 3, 1, 1)
    assert_allclose(autocorrelation(x, eye, max_shift=5), autocorrelation(x, None, max_shift=5), atol=1e-6)


def test_autocorrelation_with_a_filter_bank_uses_valid_conv():
    x = white(4, 16, seed=3)
    w = torch.randn(5, 3, 3, 3, generator=torch.Generator().manual_seed(4))
    assert_allclose(autocorrelation(x, w, max_shift=3), loop_autocorrelation(F.conv2d(x, w), 3), rtol=1e-5, atol=1e-7)


def periodic_smooth(n=16, size=32, seed=5):
    """Box-blurred noise with circular padding: smooth and periodic, as the FFT assumes."""
    x = F.pad(white(n, size, seed), (2, 2, 2, 2), mode="circular")
    return F.conv2d(x, torch.full((3, 1, 5, 5), 1 / 25), groups=3)


def power_law(n=16, size=64, crop=32, seed=9):
    """1/f amplitude (1/f^2 power) noise, cropped so the images are not periodic (natural-image-like)."""
    f = torch.fft.fftfreq(size)
    r = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    r[0, 0] = 1
    z = torch.fft.fft2(torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))) / r
    return torch.fft.ifft2(z).real[..., :crop, :crop].float()


@pytest.mark.parametrize("make", [periodic_smooth, power_law])
def test_spectral_whitening_decorrelates_smooth_images(make):
    """Note: whitening is circular (FFT); box-blurred *non-periodic* crops (spectral zeros, where
    the wrap-around edge dominates) keep |C(delta)| up to ~0.09, so the images here avoid that."""
    x = make()
    assert autocorrelation(x, max_shift=1)[1] > 0.5
    w = spectral_whitening(x)
    assert w.shape == x.shape and w.dtype == torch.float32 and torch.isfinite(w).all()
    c = autocorrelation(w, max_shift=5)
    assert np.all(np.abs(c[1:]) < 0.05), c


def test_spectral_whitening_flattens_mean_power_spectrum():
    w = spectral_whitening(smooth(6, 16, seed=6)).double()
    power = (torch.fft.fft2(w).abs() ** 2).mean(0)
    assert_allclose(power.numpy(), 1.0, rtol=1e-4)


# ---------------------------------------------------------------- labelstats


def test_label_correlations_match_corrcoef():
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.arange(4), rng.integers(0, 4, 56)])  # every class present
    stats = rng.standard_normal((60, 5))
    stats[:, 2] += 2.0 * (labels == 1)  # one real dependence
    got = label_correlations(stats, labels, 4)
    onehot = np.eye(4)[labels]
    expected = np.array([[np.corrcoef(onehot[:, c], stats[:, j])[0, 1] for j in range(5)] for c in range(4)])
    assert got.shape == (4, 5)
    assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert got[1, 2] > 0.5


def test_label_correlations_accept_torch_labels():
    rng = np.random.default_rng(1)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 2, 1])
    stats = rng.standard_normal((8, 3))
    assert_allclose(label_correlations(stats, labels, 3), label_correlations(stats, labels.numpy(), 3))


@pytest.mark.parametrize("stride", [1, 2])
def test_image_pca_stats_match_explicit_patches(stride):
    x = white(5, 9, seed=7)
    pca = patch_pca(white(10, 9, seed=8), 3)
    coef, energy = image_pca_stats(x, pca, stride=stride, batch=2)
    assert coef.shape == energy.shape == (5, 27)
    for n in range(5):
        p = extract_patches(x[n : n + 1].double(), 3, stride).numpy()
        proj = (p - pca.mean) @ pca.eigvecs
        assert_allclose(coef[n], proj.mean(0), rtol=1e-4, atol=1e-5)
        assert_allclose(energy[n], (proj**2).mean(0), rtol=1e-4, atol=1e-5)
