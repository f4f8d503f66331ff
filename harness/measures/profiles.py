"""The energy profile of a run's first layer as the authors measure it (of W - W_init, Def. 2.2),
and what profiling W - W_init hides: the share of W that is still its init, the profile of W
itself, agreement beyond lambda, and random profiles of the same filters."""

from __future__ import annotations

import numpy as np

from harness.measures.spectra import correlation, energy_profile, partial_correlation
from harness.models import random_banks


def profile(run, pca, step: int | None = None) -> np.ndarray:
    """Energy profile (Def. 2.2) of W(step) - W_init, as the authors' code measures it. A
    layer that did not move, or whose weights are not finite, fails the claim."""
    return moved_profile(weights_at(run, step), run.init, pca, run.spec.label())


def moved_profile(w, init, pca, label: str = "the first layer") -> np.ndarray:
    """Energy profile of ``w - init``, which must be finite and not zero."""
    if not bool(np.isfinite(np.asarray(w)).all()):
        raise AssertionError(f"{label}: the first layer's weights are not finite")
    if float(np.abs(np.asarray(w) - np.asarray(init)).max()) == 0.0:
        raise AssertionError(f"{label}: the first layer did not move (W = W_init)")
    return energy_profile(w, pca, init=init)


def weights_at(run, step: int | None = None):
    """The run's first layer at ``step`` (default: its judged length)."""
    return run.weights[step if step is not None else run.spec.steps]


def of_w(run, pca, step: int | None = None) -> np.ndarray:
    """Energy profile of W itself (Def. 2.2 as written), not of W - W_init."""
    return energy_profile(weights_at(run, step), pca)


def init_share(run, step: int | None = None) -> float:
    """The share of the first layer's energy still held by its init: |W_init|^2 / |W|^2."""
    return float(run.init.double().pow(2).sum() / weights_at(run, step).double().pow(2).sum())


def w_vs_init(run, pca) -> float:
    """corr(profile of W, profile of W_init): near 1 while W is still mostly its init."""
    return correlation(of_w(run, pca), energy_profile(run.init, pca))


def representation(runs, pca) -> dict:
    """What profiling W - W_init hides (the authors' code; Def. 2.2 speaks of W): each run's
    init share, corr(profile of W, profile of W - W_init) and corr(profile of W, W_init's)."""
    return {
        "init's share of |W|^2, each run": [round(init_share(r), 3) for r in runs],
        "profile of W ~ profile of W - W_init, each run": [
            round(correlation(of_w(r, pca), profile(r, pca)), 3) for r in runs
        ],
        "profile of W ~ W_init's, each run": [round(w_vs_init(r, pca), 3) for r in runs],
    }


def vs_lambda(profiles, pca) -> list[float]:
    """Each profile's correlation with the patch profile lambda (Def. 4.1)."""
    return [correlation(p, pca.lambdas) for p in profiles]


def beyond_lambda(a, b, pca) -> float:
    """Agreement of two profiles beyond what lambda and log lambda explain."""
    return partial_correlation(a, b, [pca.lambdas, np.log(np.clip(pca.lambdas, 1e-300, None))])


def random_profiles(pca, n: int, filters: int) -> list[np.ndarray]:
    """Energy profiles of ``n`` random first layers (the null a learned profile is tested
    against)."""
    return [energy_profile(w, pca) for w in random_banks(n, filters, pca.size)]
