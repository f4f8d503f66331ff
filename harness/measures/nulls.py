"""What a profile check can tell apart: a null of plausible but unrelated profiles, and how often
the same check passes on it (its null pass rate).

The generator, written down (``bumps``): over PCA components i = 0..n-1, a profile is one smooth
Gaussian bump exp(-(i - c)^2 / (2 w^2)), its centre c uniform over the first 40% of the
components (where learned profiles peak: components 0-10 of 27 for 3x3x3 patches) and its width w
uniform over 1..n/4 components. A bump is plausible (``plausible``) where it meets the premises a
learned profile must meet: past the trivial point (corr with lambda at most the guard's bar,
``theory.trivial_bar``). Such profiles are shaped and single-peaked like a learned one, yet
unrelated to any training run; a check that passes most of them says little beyond "a smooth
bump".
"""

from __future__ import annotations

import zlib
from functools import cache

import numpy as np

from harness.measures.spectra import correlation
from harness.measures.theory import fit_formula_authors, trivial_bar

COUNT = 1000  # bumps a null pass rate is measured on (its binomial sd is at most 0.016)
SEED = 20230701  # one fixed seed: every row and every scale draws the same bumps for a PCA size


def bumps(n: int, count: int, seed: int) -> np.ndarray:
    """``count`` bump profiles over ``n`` components (the generator of the module docstring)."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0.0, 0.4 * (n - 1), count)
    width = rng.uniform(1.0, max(n / 4, 1.0), count)
    i = np.arange(n)[None, :]
    return np.exp(-((i - centre[:, None]) ** 2) / (2 * width[:, None] ** 2))


def plausible(pca, count: int = COUNT, seed: int = SEED) -> np.ndarray:
    """``count`` bumps that meet the guard on ``pca``'s lambdas (rejection from ``bumps``)."""
    return _plausible(pca.lambdas, count, seed)


def _plausible(lambdas, count: int, seed: int) -> np.ndarray:
    n, bar, out, k = len(lambdas), trivial_bar(lambdas), [], 0
    while len(out) < count and k < 50:
        drawn = bumps(n, 4 * count, seed + k)
        out += [b for b in drawn if correlation(b, lambdas) <= bar]
        k += 1
    if len(out) < count:
        raise ValueError(f"nulls.plausible: {len(out)} of {count} bumps meet the guard ({bar:.3f}) on these lambdas")
    return np.asarray(out[:count])


def key_seed(key: str) -> int:
    """A seed from a run's key (its control bump is its own, and the same every time)."""
    return zlib.crc32(key.encode())


def agreement_pass_rate(learned, pca, bar: float) -> float:
    """Share of plausible bumps whose correlation with the mean of the ``learned`` profiles
    reaches ``bar``: how often an agreement check would pass on an unrelated smooth profile."""
    mean = np.mean(np.asarray(learned, float), axis=0)
    return float(np.mean([correlation(b, mean) >= bar for b in plausible(pca)]))


@cache
def _bump_fits(lambdas: tuple, count: int) -> np.ndarray:
    """Eq. 3's fit (authors' t range) of ``count`` plausible bumps on ``lambdas``: the same for every
    row and bar on one PCA, so fitted once (seconds a PCA)."""
    lam = np.asarray(lambdas)
    return np.array([fit_formula_authors(b, lam).correlation for b in _plausible(lam, count, SEED)])


def fit_pass_rate(pca, bar: float, count: int = 300) -> float:
    """Share of plausible bumps that eq. 3 fits (authors' t range) at ``bar`` or better."""
    return float(np.mean(_bump_fits(tuple(pca.lambdas), count) >= bar))


def inverted(profile) -> np.ndarray:
    """The profile turned upside down (max + min - p): high where the learned profile is low
    and lowest at its intermediate peak, the shape Sec. 1 says a learned layer does not have
    ("insensitive to very high and low spatial frequencies"). Structured, smooth as the profile
    is, with the same range."""
    p = np.asarray(profile, float)
    return p.max() + p.min() - p


NULL = "null pass rate: plausible smooth bumps that pass the same bar (harness.measures.nulls)"


def agreement_null(learned, pca, bar: float) -> dict:
    """The report's entry for an agreement row: its null pass rate at ``bar``."""
    return {NULL: round(agreement_pass_rate(learned, pca, bar), 3)}


def fit_null(pca, bar: float) -> dict:
    """The report's entry for a fit row: its null pass rate at ``bar``."""
    return {NULL: round(fit_pass_rate(pca, bar), 3)}
