"""The patch PCA of images (Def. 2.1 / 4.1): the exact covariance of every k x k patch, from the
uint8 pixels where known (an exact integer path), and its ``eigh``. A statistic of the data that
App. D's label and input variants are built on, so it is part of the training code's fingerprint."""

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


def patch_covariance(
    images: torch.Tensor, size: int, stride: int = 1, batch: int | None = None, stats: tuple | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Centred covariance (1/N) sum (p - m)(p - m)^T of all patches and their mean.

    uint8 images (stride 1) take the exact integer path (``_uint8_moments``); ``stats`` =
    (mean, std) per channel then gives the statistics of the normalised images
    (u/255 - mean)/std (``harness.data.images.normalise``) by the exact affine map. Float images
    are accumulated in float64 over batches of ~4M patch entries.
    """
    if images.dtype == torch.uint8 and stride == 1 and images.shape[2] - size + 1 <= EXACT_TERMS:
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
        p = extract_patches(images[start : start + batch].to("cpu", torch.float64), size, stride)
        total += p.sum(0)
        outer += p.T @ p
        count += p.shape[0]
    return outer, total, count


EXACT_TERMS = 1024  # 1024 products of |u - 128| <= 128 sum to <= 2**24: exact in float32


def _uint8_moments(pixels: torch.Tensor, k: int, blocks_per_batch: int = 4):
    """Exact (sum q q^T, sum q, count) over all k x k patches q of u - 128 (stride 1).

    A patch is k adjacent columns v(x) of C*k pixels, so sum q q^T needs only the k column
    Grams G_e(x) = sum v(x) v(x+e)^T, summed over ranges of x. g vertically adjacent windows
    share a column of k + g - 1 rows, so one Gram of those taller columns, summed over its g
    diagonal k-row sub-blocks, gives G_e for g windows at once (g = 2: 216 products per
    patch instead of 243, in 12 x 36 matmuls that run 2.5x faster than 9 x 27). The float32
    matmuls run over blocks of at most EXACT_TERMS integer products, exact sums, that are
    added in float64. Images are transposed to image-minor order one batch at a time.
    """
    n_img, c, h, w = pixels.shape
    hv, wv, r = h - k + 1, w - k + 1, c * k
    if n_img == 0 or hv <= 0 or wv <= 0:
        return torch.zeros(c * k * k, c * k * k, dtype=torch.float64), torch.zeros(c * k * k, dtype=torch.float64), 0
    g = next(d for d in (2, 3, 1) if hv % d == 0)  # windows per column group
    groups, rows = hv // g, k + g - 1
    big = c * rows  # rows of a tall column (channel, row in group)
    per = max(1, EXACT_TERMS // groups)  # images per block: per * groups <= EXACT_TERMS terms
    length, chw = per * groups, c * h * w
    n_blocks = -(-n_img // per)
    batch = min(blocks_per_batch, n_blocks)
    flat = pixels.reshape(n_img, chw)
    shifted = torch.empty(chw * batch * per, dtype=torch.uint8)  # u ^ 128 read as int8 is u - 128
    cols = torch.zeros(batch * w + k - 1, big, length)  # per block: w tall columns, then k-1 spare
    prod = torch.empty(batch * w, big, k * big)
    gram = torch.zeros(w, big, k * big, dtype=torch.float64)
    colsum = torch.zeros(w, big, dtype=torch.float64)
    for b0 in range(0, n_blocks, batch):
        nb = min(batch, n_blocks - b0)
        start, m, npad = b0 * per, min(nb * per, n_img - b0 * per), nb * per
        t = shifted[: chw * npad].view(chw, npad)
        torch.bitwise_xor(flat[start : start + m].T, 128, out=t[:, :m])
        t[:, m:].zero_()  # padding images: mid-grey, zero after the shift
        # cols[b, x, (ch, i), (grp, p)] = u[p of block b, ch, grp * g + i, x] - 128
        src = t.view(torch.int8).as_strided(
            (nb, w, c, rows, groups, per), (per, npad, h * w * npad, w * npad, g * w * npad, 1)
        )
        n = nb * w
        cols[:n].view(nb, w, c, rows, groups, per).copy_(src)
        right = cols.as_strided((n, k * big, length), (big * length, length, 1))  # x, ..., x+k-1
        torch.bmm(cols[:n], right.transpose(1, 2), out=prod[:n])
        gram += prod[:n].view(nb, w, big, k * big).sum(0, dtype=torch.float64)
        colsum += cols[:n].sum(-1).view(nb, w, big).sum(0, dtype=torch.float64)
    tall = gram.view(w, c, rows, k, c, rows)
    gram = sum(tall[:, :, i : i + k, :, :, i : i + k] for i in range(g)).reshape(w, r, k * r)
    sums = sum(colsum.view(w, c, rows)[:, :, i : i + k] for i in range(g))  # (x, ch, dy) over windows
    run = torch.cat([gram.new_zeros(1, r, k * r), gram.cumsum(0)])
    outer = torch.zeros(k, r, k, r, dtype=torch.float64)  # (dx, c*k+dy) ordering
    for a in range(k):
        for b in range(a, k):
            blk = (run[a + wv] - run[a])[:, (b - a) * r : (b - a + 1) * r]
            outer[a, :, b, :], outer[b, :, a, :] = blk, blk.T
    outer = outer.view(k, c, k, k, c, k).permute(1, 2, 0, 4, 5, 3).reshape(c * k * k, c * k * k)
    total = torch.stack([sums[dx : dx + wv, ch, dy].sum() for ch in range(c) for dy in range(k) for dx in range(k)])
    return outer, total, n_img * hv * wv


def patch_pca(
    images: torch.Tensor, size: int = 3, stride: int = 1, batch: int | None = None, stats: tuple | None = None
) -> PatchPCA:
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
    entry positive) so results are reproducible. ``torch.linalg.eigh`` (float64) rather than
    numpy's: numpy's OpenBLAS threads spin after a call and slow the next torch work on a
    small machine (~60 ms on 2 cores)."""
    vals, vecs = (v.numpy() for v in torch.linalg.eigh(torch.as_tensor(cov, dtype=torch.float64)))
    order = np.argsort(vals)[::-1]
    vals, vecs = np.clip(vals[order], 0.0, None), vecs[:, order]
    signs = np.sign(vecs[np.abs(vecs).argmax(0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(signs == 0, 1.0, signs)
    return PatchPCA(vals, vecs, mean, count, size, channels)
