"""Formula fit: ours (every t of a log grid at once, vectorised) vs a Python loop over
t in range(10_000, 5_000_000, 250) with one np.corrcoef per t (the authors' search)."""

import numpy as np
from _common import cifar, timer

from harness.data.patches import patch_pca
from harness.measures.theory import fit_formula, formula_profile

pca = patch_pca(cifar(2000)[0], 3)
lam = pca.lambdas
eta = 1e-4 / lam.max() ** 2 * 100  # a small fixed step, as in the authors' notebooks
target = formula_profile(lam, 123_456, eta) + 0.01 * np.random.default_rng(0).standard_normal(lam.size)
t = {}
with timer("ours: all t at once", t):
    fit = fit_formula(target, lam, eta)
with timer("loop: np.corrcoef per t", t):
    best, best_t = -2.0, None
    for step in range(10_000, 5_000_000, 250):
        c = np.corrcoef(np.abs(1 - (1 - eta * lam**2) ** step) / lam, target)[0, 1]
        if c > best:
            best, best_t = c, step
print(
    f"speed-up {t['loop: np.corrcoef per t'] / t['ours: all t at once']:.0f}x; best correlation ours "
    f"{fit.correlation:.6f} (t={fit.t:.0f}) vs loop {best:.6f} (t={best_t})"
)
