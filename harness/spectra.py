"""Patch statistics and energy profiles (Chowers & Weiss 2023, Section 2 and Def. 4.1).

All statistics are exact: the centred patch covariance is accumulated in float64 over
batches of images and diagonalised with ``eigh``; no randomized decomposition.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def extract_patches(images: torch.Tensor, size: int, stride: int = 1) -> torch.Tensor:
    """All ``size x size`` patches of ``images`` (N, C, H, W) as rows (N*L, C*size*size).

    The row layout is channel-major, the same as a flattened ``Conv2d`` weight, so
    ``patches @ w.flatten()`` is the filter's response (no padding).
    """
    cols = F.unfold(images, kernel_size=size, stride=stride)  # (N, C*k*k, L)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


@dataclass(frozen=True)
class PatchPCA:
    """PCA of image patches (Def. 2.1): ``eigvals`` descending are lambda_i^2 (Def. 4.1),
    the columns of ``eigvecs`` are the u_i, ``mean`` the mean patch, ``count`` the patches."""

    eigvals: np.ndarray
    eigvecs: np.ndarray
    mean: np.ndarray
    count: int
    size: int
    channels: int

    @property
    def lambdas(self) -> np.ndarray:
        """lambda_i, the patch energy profile of Def. 4.1 (square roots of the eigenvalues)."""
        return np.sqrt(np.clip(self.eigvals, 0.0, None))

    @property
    def dim(self) -> int:
        return self.eigvals.shape[0]


def patch_covariance(images: torch.Tensor, size: int, stride: int = 1,
                     batch: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Centred covariance (1/N) sum (p - m)(p - m)^T of all patches, accumulated in float64
    over batches of images (by default ~4M patch entries a batch, to stay in cache-sized
    memory)."""
    dim = images.shape[1] * size * size
    if batch is None:
        per_image = ((images.shape[2] - size) // stride + 1) * ((images.shape[3] - size) // stride + 1) * dim
        batch = max(1, 4_000_000 // per_image)
    total = torch.zeros(dim, dtype=torch.float64)
    outer = torch.zeros(dim, dim, dtype=torch.float64)
    count = 0
    for start in range(0, images.shape[0], batch):
        chunk = images[start:start + batch].to("cpu", torch.float64)
        p = extract_patches(chunk, size, stride)
        total += p.sum(0)
        outer += p.T @ p
        count += p.shape[0]
    if count == 0:
        raise ValueError("patch_covariance: no patches (empty image set or images smaller than the patch)")
    mean = total / count
    cov = outer / count - torch.outer(mean, mean)
    return cov.numpy(), mean.numpy(), count


def patch_pca(images: torch.Tensor, size: int = 3, stride: int = 1, batch: int | None = None) -> PatchPCA:
    """Exact patch PCA (Def. 2.1 / 4.1): ``eigh`` of the centred patch covariance."""
    cov, mean, count = patch_covariance(images, size, stride, batch)
    return pca_from_covariance(cov, mean, count, size, images.shape[1])


def pca_of_patches(patches, size: int, channels: int) -> PatchPCA:
    """Exact PCA of explicit patch rows (n, d), e.g. synthetic patches."""
    p = torch.as_tensor(patches, dtype=torch.float64).reshape(-1, channels * size * size)
    mean = p.mean(0)
    cov = (p.T @ p) / p.shape[0] - torch.outer(mean, mean)
    return pca_from_covariance(cov.numpy(), mean.numpy(), p.shape[0], size, channels)


def pca_from_covariance(cov, mean, count, size, channels) -> PatchPCA:
    """Eigen-decomposition, eigenvalues descending, eigenvector signs fixed (largest absolute
    entry positive) so results are reproducible."""
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = np.clip(vals[order], 0.0, None), vecs[:, order]
    signs = np.sign(vecs[np.abs(vecs).argmax(0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(signs == 0, 1.0, signs)
    return PatchPCA(vals, vecs, mean, count, size, channels)


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
        raise ValueError(f"energy_profile: filters have {w.shape[1]} weights, the PCA has {pca.dim} "
                         f"dimensions ({pca.channels}x{pca.size}x{pca.size} patches)")
    e = np.sqrt(np.mean((w @ pca.eigvecs) ** 2, axis=0))
    peak = e.max()
    if not np.isfinite(peak) or peak <= 0:
        raise ValueError("energy_profile: the filter bank has no energy (all zeros or not finite); "
                         "was the first layer frozen, or W equal to W_init?")
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
    return np.array([correlation(profiles[i], profiles[j])
                     for i in range(len(profiles)) for j in range(i + 1, len(profiles))])
