"""Every claim's check must be able to fail: each test here feeds a claim's check an input
where the claim is false and asserts that the check rejects it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness import checks
from harness.checks import frozen_violations, guard, profile
from harness.data import normalise, subset
from harness.decorrelation import autocorrelation
from harness.labelstats import image_pca_stats, label_correlations
from harness.models import random_banks
from harness.scales import bar, paper
from harness.scales import scale as load_scale
from harness.sources import default_root, load_split
from harness.spectra import correlation, energy_profile, pairwise_correlations, patch_pca
from harness.theory import fit_formula, formula_profile, linear_cnn_fit, synthetic_patches

CPU = load_scale("cpu")


@pytest.fixture(scope="module")
def cifar_pca():
    return patch_pca(_images(2000), 3)


def _images(n):
    train = load_split("cifar10-exact", "train")
    return normalise(subset(train, n).pixels)[0]


needs_data = pytest.mark.skipif(
    not (Path(default_root()) / "cifar10-exact").exists(), reason="cifar10-exact not under FIRSTLAYER_DATA"
)


# ---- Theorem 4.2 (linear theory): premise broken -> the property fails


def test_linear_theory_fails_when_labels_follow_a_pca_direction():
    patches, labels, pca = synthetic_patches(seed=3, decades=3.0)
    u = torch.from_numpy(pca.eigvecs[:, 5])
    correlated = labels + 5 * (patches.mean(1) @ u)[:, None]
    ok, _, _ = linear_cnn_fit(patches, labels, pca, filters=4, steps=100, init_scale=0.0)
    broken, _, _ = linear_cnn_fit(patches, correlated, pca, filters=4, steps=100, init_scale=0.0)
    assert ok >= paper("linear_theory")["min_fit"] > broken


# ---- formula (Table 3): random-init filters fail the fit


@needs_data
def test_formula_rejects_random_filters(cifar_pca):
    fits = [fit_formula(energy_profile(w, cifar_pca), cifar_pca.lambdas).correlation for w in random_banks(10)]
    assert max(fits) < bar("formula", CPU)


# ---- guard: an early profile (eq. 3 at small t ~ lambda) is rejected


@needs_data
def test_guard_rejects_trivial_profiles(cifar_pca):
    early = formula_profile(cifar_pca.lambdas, 1)
    with pytest.raises(AssertionError, match="too short"):
        guard([early], cifar_pca)


@pytest.mark.slow
def test_guard_rejects_a_too_short_run(runs, pca, scale):
    run = runs.get(scale.spec(seed=0))
    with pytest.raises(AssertionError, match="too short"):
        guard([profile(run, pca(run.spec), step=scale.snapshots[0])], pca(run.spec))


# ---- seed / width (Table 1): unrelated filter banks do not look consistent


@needs_data
def test_seed_check_rejects_random_banks(cifar_pca):
    corr = pairwise_correlations([energy_profile(w, cifar_pca) for w in random_banks(3)])
    assert corr.mean() < bar("seed", CPU)


# ---- random_labels (Table 2): energy-correlated labels break true ~ random


@pytest.mark.slow
def test_random_labels_check_rejects_energy_labels(runs, pca, scale):
    p = pca(scale.spec())
    energy = profile(runs.get(scale.spec(seed=0, labels=f"energy:{scale.d1_components[-1]}")), p)
    rand = profile(runs.get(scale.spec(seed=0, labels="random")), p)
    assert correlation(energy, rand) < bar("random_labels", scale)


# ---- appendix_d1: true labels in place of energy labels show no drop


@pytest.mark.slow
def test_appendix_d1_check_rejects_uncorrelated_labels(runs, pca, scale):
    """Labels that do not follow the patch energy (true labels, another seed) show no drop."""
    p = pca(scale.spec())
    rand = [profile(runs.get(scale.spec(seed=s, labels="random")), p) for s in range(scale.seeds_random)]
    base = np.mean([correlation(profile(runs.get(scale.spec(seed=0)), p), b) for b in rand])
    other = np.mean([correlation(profile(runs.get(scale.spec(seed=scale.seeds_true - 1)), p), b) for b in rand])
    assert base - other < bar("appendix_d1", CPU)


# ---- whitening (Fig. 6): random filters do not decorrelate


@needs_data
def test_whitening_check_rejects_random_filters():
    x = _images(300)
    rgb = autocorrelation(x, max_shift=10)[10]
    c10 = autocorrelation(x, random_banks(1)[0], 10)[10]
    assert c10 > paper("whitening")["max_learned_ratio"] * rgb


# ---- label_patch (Fig. 5): labels built from PCA coefficients are caught


@needs_data
def test_label_patch_check_rejects_coefficient_labels(cifar_pca):
    x = _images(2000)
    coef, _ = image_pca_stats(x, cifar_pca)
    z = (coef - coef.mean(0)) / coef.std(0)  # every component weighs alike
    labels = (z @ np.random.default_rng(0).standard_normal((coef.shape[1], 10))).argmax(1)
    corr = label_correlations(coef, labels, 10)
    assert np.median(np.abs(corr)) > paper("label_patch")["max_median"]


# ---- frozen (Fig. 2): a frozen net that trains worse is caught


def test_frozen_validation_check_rejects_a_frozen_net_worse_on_held_out_images():
    learned = {"test_acc": 0.70, "test_loss": 0.90}
    with pytest.raises(AssertionError, match="frozen test accuracy"):
        checks.frozen_validation(learned, {"test_acc": 0.60, "test_loss": 0.95})
    with pytest.raises(AssertionError, match="frozen test loss"):
        checks.frozen_validation(learned, {"test_acc": 0.70, "test_loss": 1.20})
    checks.frozen_validation(learned, {"test_acc": 0.69, "test_loss": 0.95})


def test_frozen_check_rejects_a_worse_frozen_net():
    learned = {"train_acc": 0.90, "train_loss": 0.30}
    assert len(frozen_violations(learned, {"train_acc": 0.85, "train_loss": 0.40})) == 2
    assert frozen_violations(learned, {"train_acc": 0.89, "train_loss": 0.32}) == []
