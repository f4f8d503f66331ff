"""Any first layer measured: the patch PCA sampling for its kernel size, ``analyse`` (Table 3's
fit of eq. 3 and the profile's agreement with lambda) and ``decorrelation`` (Fig. 6's C(10))."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from harness.data.images import Images, subset
from harness.data.patches import PatchPCA, patch_pca
from harness.measures.decorrelation import ShiftMoments, shift_moments
from harness.measures.spectra import correlation, energy_profile
from harness.measures.theory import Fit, fit_formula, fit_formula_authors
from harness.models import random_bank

SHIFT = 10  # C(10): Fig. 6's distance


def pca_sampling(size: int, images: int | None = None, stride: int | None = None) -> tuple[int | None, int]:
    """(images, stride) of a patch PCA of ``size`` x ``size`` patches: as given, else every
    image at stride 1 for 3x3 patches and a seeded 1,000 images at stride 2 for larger ones (a
    7x7 covariance is 30x the work; the cpu scale's ``large_patch_images`` and ``_stride``)."""
    large = size > 3
    return (images if images is not None else (1000 if large else None)), (
        stride if stride is not None else (2 if large else 1)
    )


def pca_for(pixels: torch.Tensor, size: int, stats, images: int | None = None, stride: int | None = None) -> PatchPCA:
    """The exact patch PCA (Def. 2.1) of ``size`` x ``size`` patches of ``pixels`` (uint8),
    normalised by ``stats``, sampled by ``pca_sampling``."""
    n, s = pca_sampling(size, images, stride)
    chosen = subset(Images(pixels, torch.zeros(len(pixels), dtype=torch.long), (), ""), n).pixels
    return patch_pca(chosen, size, stride=s, stats=stats)


@dataclass
class Analysis:
    """One bank measured on one patch PCA (``analyse``)."""

    profile: np.ndarray  # energy profile of W, / its largest component
    moved: np.ndarray | None  # of W - W_init, where W_init is known
    lambda_corr: float  # corr(profile, lambda)
    fit: Fit  # eq. 3 over the authors' t range (Table 3's reading)
    fit_full: Fit  # eq. 3 over every t, from 1

    @property
    def judged(self) -> np.ndarray:
        """The profile the paper reads: W - W_init where known (the authors' code), else W."""
        return self.moved if self.moved is not None else self.profile

    @property
    def judged_of(self) -> str:
        """What ``judged`` is the profile of: 'W - W_init' or 'W'."""
        return "W - W_init" if self.moved is not None else "W"


def analyse(weights, pca: PatchPCA, init=None) -> Analysis:
    """Table 3 / App. C measured on one bank: its energy profile (of W - W_init when ``init``),
    the profile's correlation with lambda, and eq. 3's best fit over t."""
    profile = energy_profile(weights, pca)
    moved = energy_profile(weights, pca, init=init) if init is not None else None
    judged = moved if moved is not None else profile
    return Analysis(
        profile,
        moved,
        correlation(judged, pca.lambdas),
        fit_formula_authors(judged, pca.lambdas),
        fit_formula(judged, pca.lambdas),
    )


@dataclass
class Decorrelation:
    """Fig. 6 on one image set: C(delta) of each bank's responses, of RGB, and of random banks
    of each bank's shape."""

    rgb: np.ndarray
    banks: dict  # name -> C(delta)
    random_curves: dict  # name -> (seeds, delta) C(delta) of random banks of that bank's shape

    @property
    def random(self) -> dict:
        """name -> the random banks' mean C(delta)."""
        return {name: c.mean(0) for name, c in self.random_curves.items()}

    @property
    def random_c10(self) -> dict:
        """name -> each random bank's C(SHIFT)."""
        return {name: c[:, SHIFT] for name, c in self.random_curves.items()}


def decorrelation(x: torch.Tensor, banks: dict, random_seeds: int = 100) -> Decorrelation:
    """C(delta), delta = 0..SHIFT, of the responses of every bank in ``banks`` ({name: W})
    on the normalised images ``x`` (stride 1), of the pixels themselves, and of
    ``random_seeds`` random banks of each bank's shape (``nn.Conv2d``'s init, seeds 0..n-1)."""
    rgb = shift_moments(x, 1, SHIFT).autocorrelation()
    moments: dict[int, ShiftMoments] = {}
    out, rand, by_shape = {}, {}, {}
    for name, w in banks.items():
        k, filters, channels = int(w.shape[-1]), int(w.shape[0]), int(w.shape[1])
        if k not in moments:
            moments[k] = shift_moments(x, k, SHIFT)
        m = moments[k]
        out[name] = m.autocorrelation(w)
        if (filters, channels, k) not in by_shape:
            by_shape[filters, channels, k] = np.array(
                [m.autocorrelation(random_bank(filters, k, seed, channels)) for seed in range(random_seeds)]
            )
        rand[name] = by_shape[filters, channels, k]
    return Decorrelation(rgb, out, rand)
