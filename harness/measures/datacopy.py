"""What the training copy changes: the CIFAR-10 JPEG copy (``cifar10-jpeg``, median PSNR 30 dB)
against the exact pixels of the same 4,000 training images (``cifar10-exact``: train images
0-3,999 named by their original index; the JPEG copy names each image by its rank within its
class, so within a class the exact images sorted by index are the JPEG ranks 0, 1, ...)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from harness.data.images import normalise
from harness.data.patches import patch_pca
from harness.measures.theory import fit_formula_authors, formula_profile, trivial_bar


def matched(root) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, 3, 32, 32) exact and JPEG pixels of the same training images."""
    root = Path(root)
    exact, jpeg = [], []
    for folder in sorted((root / "cifar10-exact" / "train").iterdir()):
        indices = sorted(int(f.stem) for f in folder.glob("*.png"))
        for rank, index in enumerate(indices):
            exact.append(np.asarray(Image.open(folder / f"{index}.png").convert("RGB")))
            jpeg.append(
                np.asarray(Image.open(root / "cifar10-jpeg" / "train" / folder.name / f"{rank:04d}.jpg").convert("RGB"))
            )
    to = lambda xs: torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return to(exact), to(jpeg)


def psnr(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per-image PSNR (dB) of b against a (uint8)."""
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(1).numpy()
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-12))


def spectra(exact: torch.Tensor, jpeg: torch.Tensor, size: int = 3):
    """The exact 3x3 patch PCA of each copy, each normalised as training normalises it."""
    return tuple(patch_pca(x, size, stats=normalise(x)[1]) for x in (exact, jpeg))


def fit_across(p_exact, p_jpeg, ts=(30.0, 90.0, 300.0)) -> list[float]:
    """Eq. 3 at the exact spectrum (several t at the default step: our learned layers fit near
    t = 90), fitted over the authors' t range with the JPEG copy's spectrum: what a profile that
    follows the true pixels loses when the formula is given the copy's lambda."""
    return [fit_formula_authors(formula_profile(p_exact.lambdas, t), p_jpeg.lambdas).correlation for t in ts]


def guard_bars(p_exact, p_jpeg) -> tuple[float, float]:
    return trivial_bar(p_exact.lambdas), trivial_bar(p_jpeg.lambdas)


@cache
def copy_fit(root: str) -> float | None:
    """The worst of ``fit_across`` on the matched images under ``root``: what eq. 3 loses when
    given the JPEG copy's lambda (None where cifar10-exact or cifar10-jpeg is absent)."""
    where = Path(root)
    if not ((where / "cifar10-exact").exists() and (where / "cifar10-jpeg").exists()):
        return None
    return min(fit_across(*spectra(*matched(where))))
