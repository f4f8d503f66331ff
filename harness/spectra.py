"""Patch statistics and energy profiles (Chowers & Weiss 2023, Section 2 and Def. 4.1).

All statistics are exact: the centred patch covariance is summed exactly (integer sums for
uint8 pixels, float64 otherwise) and diagonalised with ``eigh``; no randomized decomposition.
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


def patch_covariance(images: torch.Tensor, size: int, stride: int = 1, batch: int | None = None,
                     stats: tuple | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Centred covariance (1/N) sum (p - m)(p - m)^T of all patches and their mean.

    uint8 images (stride 1) take the exact integer path (``_uint8_moments``); ``stats`` =
    (mean, std) per channel then gives the statistics of the normalised images
    (u/255 - mean)/std (``harness.data.normalise``) by the exact affine map. Float images
    are accumulated in float64 over batches of ~4M patch entries.
    """
    if images.dtype == torch.uint8 and stride == 1:
        outer, total, count = _uint8_moments(images, size)
        offset = 128.0
    else:
        outer, total, count = _float_moments(images, size, stride, batch)
        offset = 0.0
    if count == 0:
        raise ValueError("patch_covariance: no patches (empty image set or images smaller than the patch)")
    mean = total / count
    cov = outer / count - torch.outer(mean, mean)
    mean = mean + offset
    if stats is not None:
        if images.dtype != torch.uint8:
            raise ValueError("patch_covariance: stats= normalises uint8 pixels; these images are already float")
        m, s = (torch.as_tensor(v, dtype=torch.float64).repeat_interleave(size * size) for v in stats)
        scale = 1.0 / (255.0 * s)
        cov = cov * torch.outer(scale, scale)
        mean = mean * scale - m / s
    return cov.numpy(), mean.numpy(), count


def _float_moments(images, size, stride, batch):
    """(sum p p^T, sum p, count) over the patch rows of float images, in float64."""
    dim = images.shape[1] * size * size
    if batch is None:
        per_image = ((images.shape[2] - size) // stride + 1) * ((images.shape[3] - size) // stride + 1) * dim
        batch = max(1, 4_000_000 // per_image)
    total = torch.zeros(dim, dtype=torch.float64)
    outer = torch.zeros(dim, dim, dtype=torch.float64)
    count = 0
    for start in range(0, images.shape[0], batch):
        p = extract_patches(images[start:start + batch].to("cpu", torch.float64), size, stride)
        total += p.sum(0)
        outer += p.T @ p
        count += p.shape[0]
    return outer, total, count


EXACT_TERMS = 1024  # 1024 products of |u - 128| <= 128 sum to <= 2**24: exact in float32


def _uint8_moments(pixels: torch.Tensor, k: int, chunks_per_batch: int = 12):
    """Exact (sum q q^T, sum q, count) over all k x k patches q of u - 128 (stride 1).

    A patch is k adjacent columns v(x) of C*k pixels, so sum q q^T needs only the k column
    Grams G_e(x) = sum v(x) v(x+e)^T, summed over x ranges: a third of the flops of
    patches.T @ patches and no unfold. The float32 matmuls run over blocks of at most
    EXACT_TERMS integer products, exact sums, that are added in float64.
    """
    n_img, c, h, w = pixels.shape
    hv, wv, r = h - k + 1, w - k + 1, c * k
    if n_img == 0 or hv <= 0 or wv <= 0:
        return torch.zeros(c * k * k, c * k * k, dtype=torch.float64), torch.zeros(c * k * k, dtype=torch.float64), 0
    per = max(1, EXACT_TERMS // hv)  # images per block: per * hv <= EXACT_TERMS terms
    length, wp = per * hv, w + k - 1
    gram = torch.zeros(w, r, k * r, dtype=torch.float64)
    sums = torch.zeros(c, h, w, dtype=torch.float64)
    chunks = min(chunks_per_batch, -(-n_img // per))
    # buffers reused across batches; per block: w columns v(x), then k-1 zero columns
    xbuf = torch.empty(chunks * per, c, h, w)
    cols = torch.zeros(chunks * wp + k - 1, r, length)
    prod = torch.empty(chunks * wp, r, k * r)
    view = cols[:chunks * wp].view(chunks, wp, r, per, hv)
    for start in range(0, n_img, per * chunks):
        m = min(per * chunks, n_img - start)
        blocks = -(-m // per)
        x = xbuf[:blocks * per]
        x[:m].copy_(pixels[start:start + m]).sub_(128)
        x[m:].zero_()  # padding images: mid-grey, zero after the shift
        sums += x[:m].sum(0, dtype=torch.float64)
        xv = x.view(blocks, per, c, h, w)
        for ch in range(c):
            for dy in range(k):
                view[:blocks, :w, ch * k + dy].copy_(xv[:, :, ch, dy:dy + hv, :].permute(0, 3, 1, 2))
        n = blocks * wp
        if blocks < chunks:
            cols[n:n + k - 1].zero_()
        right = cols.as_strided((n, k * r, length), (r * length, length, 1))  # v(x), ..., v(x+k-1)
        torch.bmm(cols[:n], right.transpose(1, 2), out=prod[:n])
        gram += prod[:n].view(blocks, wp, r, k * r)[:, :w].sum(0, dtype=torch.float64)
    run = torch.cat([gram.new_zeros(1, r, k * r), gram.cumsum(0)])
    outer = torch.zeros(k, r, k, r, dtype=torch.float64)  # (dx, c*k+dy) ordering
    for a in range(k):
        for b in range(a, k):
            blk = (run[a + wv] - run[a])[:, (b - a) * r:(b - a + 1) * r]
            outer[a, :, b, :], outer[b, :, a, :] = blk, blk.T
    outer = outer.view(k, c, k, k, c, k).permute(1, 2, 0, 4, 5, 3).reshape(c * k * k, c * k * k)
    total = torch.stack([sums[ch, dy:dy + hv, dx:dx + wv].sum()
                         for ch in range(c) for dy in range(k) for dx in range(k)])
    return outer, total, n_img * hv * wv


def patch_pca(images: torch.Tensor, size: int = 3, stride: int = 1, batch: int | None = None,
              stats: tuple | None = None) -> PatchPCA:
    """Exact patch PCA (Def. 2.1 / 4.1): ``eigh`` of the centred patch covariance. Pass the
    uint8 pixels and their normalisation ``stats`` for the exact integer path."""
    cov, mean, count = patch_covariance(images, size, stride, batch, stats)
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
