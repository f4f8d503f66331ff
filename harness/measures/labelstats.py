"""Fig. 5: correlation between one-vs-all class labels and each image's patch statistics
along every PCA component (Definition A.4: labels uncorrelated with PCA coefficients)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from harness.data.patches import PatchPCA


def image_pca_stats(images: torch.Tensor, pca: PatchPCA, stride: int = 1, batch: int = 250):
    """Per image and component: the mean PCA coefficient u_i^T (p - m) over its patches, and
    the mean patch energy (u_i^T (p - m))^2 (patches sampled every ``stride`` pixels)."""
    u = torch.from_numpy(pca.eigvecs).float()
    m = torch.from_numpy(pca.mean).float()
    coef, energy = [], []
    for s in range(0, len(images), batch):
        cols = F.unfold(images[s : s + batch].float(), pca.size, stride=stride).transpose(1, 2)  # (B, L, d)
        proj = (cols - m) @ u
        coef.append(proj.mean(1))
        energy.append(proj.pow(2).mean(1))
    return torch.cat(coef).double().numpy(), torch.cat(energy).double().numpy()


def label_correlations(stats: np.ndarray, labels, classes: int) -> np.ndarray:
    """Pearson correlation of each one-vs-all label (rows) with each column of ``stats``."""
    onehot = np.eye(classes)[np.asarray(labels)]
    a = (onehot - onehot.mean(0)) / onehot.std(0)
    b = (stats - stats.mean(0)) / stats.std(0)
    return a.T @ b / len(a)


def decile_labels(coef: np.ndarray, component: int = 0) -> np.ndarray:
    """Labels that do correlate with a PCA coefficient (Fig. 5's negative control, as App. D.1
    makes labels from patch energy): each image's decile of its mean coefficient along
    ``component``, ten classes."""
    x = coef[:, component]
    return np.searchsorted(np.quantile(x, np.linspace(0.1, 0.9, 9)), x)


def chance_largest(stats: np.ndarray, labels, classes: int, permutations: int, quantile: float, seed: int = 0):
    """The null of Fig. 5's check at the data's own N: the ``quantile`` of the largest
    |corr(label, column)| over (class, column) when the labels are permuted (independent of the
    images, class sizes kept). Returns (that quantile, the permutations' largest |corr|s)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    largest = np.array(
        [np.abs(label_correlations(stats, rng.permutation(labels), classes)).max() for _ in range(permutations)]
    )
    return float(np.quantile(largest, quantile)), largest
