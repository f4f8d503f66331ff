"""The energy profile of a filter bank in the patch PCA basis (Def. 2.2, eq. 1) and the
correlations the claims compare profiles with."""

from __future__ import annotations

import numpy as np
import torch

from harness.data.patches import PatchPCA


def energy_profile(weights, pca: PatchPCA, init=None, normalize: bool = True) -> np.ndarray:
    """Energy profile of a filter bank (Def. 2.2, eq. 1): e_i = sqrt(mean_k (w_k^T u_i)^2).

    ``init``: subtract the initial weights first (the authors' code profiles W - W_init).
    The profile is divided by its maximum when ``normalize``; a bank with no energy raises.
    """
    w = torch.as_tensor(weights).detach().to("cpu", torch.float64)
    if init is not None:
        w = w - torch.as_tensor(init).detach().to("cpu", torch.float64)
    w = w.reshape(w.shape[0], -1).numpy()
    if w.shape[1] != pca.dim:
        raise ValueError(
            f"energy_profile: filters have {w.shape[1]} weights, the PCA has {pca.dim} "
            f"dimensions ({pca.channels}x{pca.size}x{pca.size} patches)"
        )
    e = np.sqrt(np.mean((w @ pca.eigvecs) ** 2, axis=0))
    peak = e.max()
    if not np.isfinite(peak) or peak <= 0:
        raise ValueError(
            "energy_profile: the filter bank has no energy (all zeros or not finite); "
            "was the first layer frozen, or W equal to W_init?"
        )
    return e / peak if normalize else e


def correlation(a, b) -> float:
    """Pearson correlation of two profiles, the paper's similarity measure (Section 2)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    if den == 0:
        raise ValueError("correlation: a profile is constant")
    return float((a * b).sum() / den)


def pairwise_correlations(profiles) -> np.ndarray:
    """Correlations of every unordered pair of profiles (for seed/width consistency)."""
    profiles = list(profiles)
    return np.array(
        [correlation(profiles[i], profiles[j]) for i in range(len(profiles)) for j in range(i + 1, len(profiles))]
    )


def partial_correlation(a, b, controls) -> float:
    """Correlation of profiles ``a`` and ``b`` beyond what the ``controls`` explain: Pearson
    correlation of their residuals after least-squares regression on [1, *controls]. The
    suite reports agreement beyond lambda with controls (lambda, log lambda)."""
    x = np.column_stack([np.ones(len(np.ravel(a))), *[np.asarray(c, np.float64).ravel() for c in controls]])

    def residual(v):
        v = np.asarray(v, np.float64).ravel()
        return v - x @ np.linalg.lstsq(x, v, rcond=None)[0]

    return correlation(residual(a), residual(b))
