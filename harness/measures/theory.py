"""The linear-CNN theory of Section 4 / Appendix A: the Theorem 4.2 formula, its fit to a
measured profile, whitening filters (Theorem 4.3) and the linear CNN's closed form.

Notation follows the paper: ``lambdas`` are lambda_i (Def. 4.1), so the patch covariance
has eigenvalues lambda_i^2.

Where the paper disagrees with its own derivation we follow the derivation:
- eq. 3/7 divide by eta^2 lambda_i^2, but summing the geometric series of eq. 12 gives
  eta * sum_n (1 - eta lambda^2)^n = (1 - (1 - eta lambda^2)^t) / lambda^2 (no eta^2; a
  constant factor, so correlations are unaffected);
- the text before eq. 13 gives C's eigenvalues as 1 - eta lambda_i; they are 1 - eta lambda_i^2;
- the proof sketch of Thm 4.3 says e_i -> 1/lambda_i^2 as t -> inf; eq. 7 gives
  e_i -> 1/lambda_i (as Appendix A.6 and eq. 18 say): the whitening profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from harness.data.patches import PatchPCA, pca_of_patches
from harness.measures.spectra import correlation, energy_profile


def default_eta(lambdas) -> float:
    """A step size inside the stable range eta < 1 / max lambda_i^2 (Thm 4.3): half of it."""
    return 0.5 / float(np.max(np.asarray(lambdas, np.float64)) ** 2)


def formula_profile(lambdas, t, eta: float | None = None, normalize: bool = True) -> np.ndarray:
    """Theorem 4.2 (eq. 3, derivation-consistent constant): e_i(t) = |1-(1-eta l_i^2)^t| / l_i.

    ``t`` may be a scalar or an array; an array gives one profile per row, all t at once.
    Computed as -expm1(t * log1p(-eta l^2)) / l, exact for tiny eta l^2 and huge t.
    """
    lam = np.asarray(lambdas, np.float64)
    if np.any(lam < 0):
        raise ValueError("formula_profile: lambdas must be >= 0 (square roots of eigenvalues)")
    eta = default_eta(lam) if eta is None else float(eta)
    x = eta * lam**2
    if np.any(x >= 1):
        raise ValueError(f"formula_profile: eta={eta:g} is not below 1/max lambda^2={1 / lam.max() ** 2:g}")
    ts = np.atleast_1d(np.asarray(t, np.float64))
    if np.any(ts < 0):
        raise ValueError("formula_profile: t must be >= 0")
    grown = -np.expm1(ts[:, None] * np.log1p(-x)[None, :])  # 1 - (1 - x)^t, in [0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(lam > 0, grown / np.where(lam > 0, lam, 1.0), eta * ts[:, None] * lam)
    if normalize:
        peak = e.max(axis=1, keepdims=True)
        e = np.divide(e, peak, out=np.zeros_like(e), where=peak > 0)
    return e if np.ndim(t) else e[0]


def t_grid(lambdas, eta: float | None = None, points: int = 2000, decades_past: float = 2.0) -> np.ndarray:
    """Log-spaced t from 1 to where even the smallest component has saturated (x_min t = 10^2)."""
    lam = np.asarray(lambdas, np.float64)
    eta = default_eta(lam) if eta is None else eta
    x_min = max(eta * float(lam[lam > 0].min()) ** 2, 1e-300)
    top = max(1.0, np.log10(1.0 / x_min) + decades_past)
    return np.logspace(0.0, top, points)


def trivial_bar(lambdas, eta: float | None = None) -> float:
    """The trivial-profile guard, derived from eq. 3: early in training every profile is
    ~lambda (eq. 3 at small t: e_i ~ eta t lambda_i), so agreement between profiles is free
    there. The profile stays trivial until eq. 3's peak leaves the largest component (t* with
    argmax e(t*) > 0, eta lambda_0^2 t* ~ 4 on CIFAR-10); the bar is corr(e(t*), lambda). A
    measured profile correlating with lambda above it is no further from lambda than eq. 3
    before its peak moved (0.775 on 10,000 CIFAR-10 images)."""
    lam = np.asarray(lambdas, np.float64)
    eta = default_eta(lam) if eta is None else float(eta)
    ts = t_grid(lam, eta, points=4000)
    curves = formula_profile(lam, ts, eta)
    moved = np.argmax(curves.argmax(axis=1) > 0)
    return float(row_correlations(curves[moved : moved + 1], lam)[0])


@dataclass(frozen=True)
class Fit:
    """Best fit of eq. 3 to a profile: iteration ``t``, Pearson ``correlation``, the ``curve``."""

    t: float
    correlation: float
    curve: np.ndarray
    eta: float
    at_grid_edge: bool


def row_correlations(rows: np.ndarray, profile) -> np.ndarray:
    """Pearson correlation of each row of ``rows`` with ``profile``, vectorised."""
    p = np.asarray(profile, np.float64)
    p = p - p.mean()
    r = rows - rows.mean(axis=1, keepdims=True)
    den = np.sqrt((r * r).sum(1) * (p * p).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (r @ p) / den
    return np.where(den > 0, c, -np.inf)


def fit_formula(profile, lambdas, eta: float | None = None, ts=None) -> Fit:
    """Fit eq. 3 to a measured energy profile by the t that maximises the correlation (Sec. 5,
    Table 3): every t of a log-spaced grid over many decades is evaluated at once."""
    lam = np.asarray(lambdas, np.float64)
    eta = default_eta(lam) if eta is None else float(eta)
    ts = t_grid(lam, eta) if ts is None else np.asarray(ts, np.float64)
    curves = formula_profile(lam, ts, eta)
    corr = row_correlations(curves, profile)
    best = int(np.argmax(corr))
    return Fit(float(ts[best]), float(corr[best]), curves[best], eta, best in (0, len(ts) - 1))


# The authors' search (their fit_formula_to_model): eta = 1e-7 and t in range(10_000, 5_000_000, 250),
# with eta lambda^2 / (2 N) where lambda^2 is an eigenvalue of the patch scatter summed over the N images.
AUTHORS_ETA = 1e-7
AUTHORS_STEPS = (10_000, 5_000_000, 250)
PATCHES_PER_IMAGE = (32 - 3 + 1) ** 2  # 3x3 patches of a 32x32 image, as our PCA counts them


def authors_grid(patches_per_image: int = PATCHES_PER_IMAGE) -> tuple[float, np.ndarray]:
    """The authors' family of eq. 3, mapped to our normalisation: their step on an eigenvalue of
    the summed scatter, eta lambda_sum^2 / (2N), is eta P lambda^2 / 2 on our lambda^2 (the
    covariance of the same normalised patches, P patches an image). Returns (eta, ts). On 10,000
    CIFAR-10 images eta lambda_0^2 t spans 9.4 to 4,700: the saturating regime only, where our
    ``t_grid`` also spans t from 1 (e ~ lambda) up. The mapping assumes P = 900 (valid 3x3
    patches); their P is not printed, and 1,024 (padded) would shift the range by 14%."""
    return AUTHORS_ETA * patches_per_image / 2.0, np.arange(*AUTHORS_STEPS, dtype=np.float64)


def fit_formula_authors(profile, lambdas, patches_per_image: int = PATCHES_PER_IMAGE) -> Fit:
    """``fit_formula`` over the authors' t range (``authors_grid``): the reading that produced
    Table 3's numbers. Its t lie inside the full range, so it fits no better than the full
    range does, up to the two grids' spacing."""
    eta, ts = authors_grid(patches_per_image)
    return fit_formula(profile, lambdas, eta, ts)


def zca_filters(pca: PatchPCA, eps: float = 1e-5) -> torch.Tensor:
    """ZCA whitening filter bank W = U diag((lambda^2 + eps)^-1/2) U^T, one filter per row,
    shaped as a Conv2d weight (d, C, k, k). Its energy profile is 1/lambda (Thm 4.3 limit).
    ``eps`` is relative to the largest eigenvalue."""
    scale = 1.0 / np.sqrt(pca.eigvals + eps * pca.eigvals[0])
    w = (pca.eigvecs * scale) @ pca.eigvecs.T
    return torch.from_numpy(w).reshape(pca.dim, pca.channels, pca.size, pca.size).float()


def linear_cnn_mean_filter(A: np.ndarray, b: np.ndarray, eta: float, t: int) -> np.ndarray:
    """Closed form of eq. 11-12: the mean filter after t GD steps from 0 on the depth-2 linear
    CNN, w(t) = eta * sum_{n<t} (I - eta A)^n b, evaluated in A's eigenbasis."""
    vals, vecs = np.linalg.eigh(A)
    vals = np.clip(vals, 0.0, None)
    if eta * vals.max() >= 1:
        raise ValueError("linear_cnn_mean_filter: eta must be below 1 / max eigenvalue of A")
    safe = np.where(vals > 0, vals, 1.0)
    gain = np.where(vals > 0, -np.expm1(t * np.log1p(-eta * vals)) / safe, eta * t)
    return vecs @ (gain * (vecs.T @ b))


PAPER_NOTES = [
    "Eq. 3/7 divide by eta^2 lambda_i^2; summing the geometric series of eq. 12 gives "
    "(1 - (1 - eta lambda_i^2)^t) / lambda_i^2 (one eta, which cancels the eta of the step). "
    "We follow the derivation; a constant factor, so no correlation changes.",
    "Appendix A states the eigenvalues of C = I - eta A as 1 - eta lambda_i; with Def. 4.1 they are "
    "1 - eta lambda_i^2. We follow the definition.",
    "The proof sketch of Theorem 4.3 says e_i -> 1/lambda_i^2 as t -> infinity; eq. 7 (and Appendix "
    "A.6, eq. 18) give e_i -> 1/lambda_i, the whitening profile. We follow eq. 7: the property test "
    "checks the limit is proportional to 1/lambda_i.",
    "Energy profiles are measured on W - W_init, as in the authors' code; 'trained vs init' compares "
    "that profile with the profile of W_init.",
]


def random_covariance(dim: int, decades: float, seed: int) -> np.ndarray:
    """A random covariance Q diag(s) Q^T with eigenvalues log-spaced over ``decades``."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return (q * np.logspace(0, -decades, dim)) @ q.T


def simulate_linear_cnn(
    patches: torch.Tensor, labels: torch.Tensor, filters: int, steps: int, eta: float, init_scale: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch gradient descent on the depth-2 linear CNN of App. A (eq. 8: K filters,
    global average pool over the J patches of an image, sum over filters, MSE loss).

    ``patches`` (N, J, d); ``labels`` (N, R): R independent label vectors trained side by
    side (R copies of the network). Returns W(0), W(t), each (R, K, d).
    """
    g = torch.Generator().manual_seed(seed)
    n_out = labels.shape[1]
    w0 = init_scale * torch.randn(n_out, filters, patches.shape[2], generator=g, dtype=torch.float64)
    w = w0.clone().requires_grad_(True)
    mean_patch = patches.double().mean(1)  # average patch of each image, (N, d)
    y = labels.double()
    # The MSE (1/N) sum_x (p_bar^T s - y)^2 with s = sum_k w_k, written through its sufficient
    # statistics A = E[p_bar p_bar^T], b = E[p_bar y] (eq. 9), up to the constant E[y^2]:
    A = mean_patch.T @ mean_patch / len(y)
    b = mean_patch.T @ y / len(y)  # (d, R)
    for _ in range(steps):
        s = w.sum(1).T  # (d, R)
        loss = ((A @ s) * s).sum() - 2 * (b * s).sum()
        (grad,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= eta * grad
    return w0, w.detach()


def linear_cnn_eta(patches: torch.Tensor, filters: int, eta: float) -> float:
    """The step of eq. 11 in units of the patch eigenvalues lambda_i^2: the GD step on the MSE
    of ``simulate_linear_cnn`` moves the summed filter s by 2 eta K (A s - b), and A's
    eigenvalues are lambda_i^2 / J when patches within an image are uncorrelated."""
    return 2 * eta * filters / patches.shape[1]


def synthetic_patches(seed: int, decades: float, images: int = 1000, patches: int = 16, draws: int = 1024):
    """Thm 4.2's premises made true: patches (N, J, 27) iid N(0, Sigma) within and across
    images (Sigma's eigenvalues log-spaced over ``decades``), and R = ``draws`` label vectors
    independent of them. Returns (patches, labels (N, R), their exact PCA)."""
    rng = np.random.default_rng(seed)
    cov = random_covariance(27, decades, seed)
    p = torch.from_numpy(rng.multivariate_normal(np.zeros(27), cov, size=(images, patches)))
    labels = torch.from_numpy(rng.standard_normal((images, draws)))
    return p, labels, pca_of_patches(p, 3, 3)


def linear_cnn_fit(patches, labels, pca, filters: int, steps: int, init_scale: float, seed: int = 0):
    """Thm 4.2 measured: corr(energy profile of W(t) - W(0) of the simulated linear CNN, eq. 3
    at the same t and step), and W(0), W(t). The step is inside the stable range."""
    eta = linear_cnn_step(patches, pca, filters)
    w0, wt = simulate_linear_cnn(patches, labels, filters, steps, eta, init_scale, seed)
    e = energy_profile((wt - w0).reshape(-1, pca.dim), pca)
    return correlation(e, linear_cnn_formula(patches, pca, filters, steps)), w0, wt


def linear_cnn_step(patches, pca, filters: int) -> float:
    """The simulation's step size: inside the stable range (0.4 of its bound)."""
    return 0.4 / (2 * filters * pca.eigvals[0] / patches.shape[1])


def linear_cnn_formula(patches, pca, filters: int, steps: int) -> np.ndarray:
    """Eq. 3 at the simulation's t and effective step (``linear_cnn_eta``)."""
    return formula_profile(pca.lambdas, steps, linear_cnn_eta(patches, filters, linear_cnn_step(patches, pca, filters)))
