"""Every claim's verdict can go the other way: each test here feeds a claim's own check
(harness.checks) a case where the claim is false and shows that the verdict is FAIL (or, for
an unmet premise, INCONCLUSIVE). Synthetic spectra and filter banks keep them fast and free of
data; the data-dependent ones skip without it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from harness import checks
from harness.checks import guard, profile
from harness.data import normalise, subset
from harness.decorrelation import shift_moments
from harness.labelstats import image_pca_stats, label_correlations
from harness.models import random_banks
from harness.scales import bar, paper
from harness.scales import scale as load_scale
from harness.sources import default_root, load_split
from harness.spectra import correlation, energy_profile, pairwise_correlations, patch_pca, pca_from_covariance
from harness.theory import fit_formula, formula_profile, linear_cnn_fit, random_covariance, synthetic_patches

CPU = load_scale("cpu")
PCA = pca_from_covariance(random_covariance(27, 4.0, seed=1), np.zeros(27), 1, 3, 3)
LEARNED_T = 300.0  # eq. 3 past the trivial point: what a trained layer's profile looks like


@dataclass
class FakeRun:
    """A first layer at init and at the end, and its history (what claims read of a run)."""

    init: torch.Tensor
    final: torch.Tensor
    history: list
    evaluation: dict

    @property
    def weights(self):
        return {0: self.init, 1: self.final}

    @property
    def spec(self):
        return CPU.spec(steps=1)


def learned_bank(seed: int, t: float = LEARNED_T, noise: float = 0.05) -> torch.Tensor:
    """64 filters whose energy profile is eq. 3 at t (random mixing, a little noise)."""
    g = torch.Generator().manual_seed(seed)
    e = torch.from_numpy(formula_profile(PCA.lambdas, t))
    q, _ = torch.linalg.qr(torch.randn(64, 27, generator=g, dtype=torch.float64))
    w = q @ torch.diag(e) @ torch.from_numpy(PCA.eigvecs).T
    return (w + noise * e.max() * torch.randn(64, 27, generator=g, dtype=torch.float64)).float()


def run(seed: int, moved: torch.Tensor, acc: float = 1.0) -> FakeRun:
    w0 = random_banks(1, 64)[0].reshape(64, 27) if seed == 0 else torch.randn(64, 27) * 0.1
    return FakeRun(w0, w0 + moved, [{"step": 1, "train_acc": acc, "train_loss": 0.0}], {"train_acc": acc})


def verdict_of(v) -> str:
    return v.verdict


# ---------------------------------------------------------------- the machinery itself


def test_a_straddling_interval_is_inconclusive_and_a_miss_fails():
    assert checks.check("x", [0.89, 0.91, 0.93], ">=", 0.90).verdict == "INCONCLUSIVE"
    assert checks.check("x", [0.80, 0.81, 0.82], ">=", 0.90).verdict == "FAIL"
    assert checks.check("x", [0.95, 0.96, 0.97], ">=", 0.90).verdict == "PASS"
    assert checks.judge(checks.check("x", [0.5], ">=", 0.9, premise=True)).verdict == "INCONCLUSIVE"


def test_a_deviation_needs_its_cause_measured():
    fail = checks.check("fit", [0.5, 0.51], ">=", 0.9)
    dev = checks.Deviation("explained by z", "z > 0.5")
    assert checks.judge(fail, deviation=dev, measured={"z": 0.7}).verdict == "DEVIATES"
    assert checks.judge(fail, deviation=dev, measured={"z": 0.3}).verdict == "FAIL"
    assert checks.judge(fail, deviation=dev, measured={}).verdict == "FAIL"  # cause not measured
    assert "not measured" in checks.judge(fail, deviation=dev).reason


def test_the_guard_rejects_trivial_profiles():
    early = formula_profile(PCA.lambdas, 1)
    assert guard([early], PCA).verdict == "FAIL"
    assert guard([energy_profile(learned_bank(0), PCA)], PCA).verdict == "PASS"


def test_a_layer_that_did_not_move_or_is_not_finite_fails():
    r = run(0, torch.zeros(64, 27))
    with pytest.raises(AssertionError, match="did not move"):
        profile(r, PCA)
    with pytest.raises(AssertionError, match="not finite"):
        profile(run(0, torch.full((64, 27), float("nan"))), PCA)


# ---------------------------------------------------------------- Table 1


def random_profiles(n, start=0):
    return [energy_profile(w, PCA) for w in random_banks(n + start, 64)[start:]]


def test_seed_check_rejects_random_banks():
    p = random_profiles(3)
    assert checks.seed(pairwise_correlations(p), guard(p, PCA), checks.shaped(p, p), bar("seed", CPU)).verdict == "FAIL"


def test_width_check_rejects_random_banks():
    a, b = random_profiles(3), random_profiles(2, 3)
    corr = [correlation(x, y) for x in a for y in b]
    assert checks.width(corr, guard(a + b, PCA), checks.shaped(a + b, a), bar("width", CPU)).verdict == "FAIL"


def test_resnet_check_rejects_unrelated_profiles():
    a = [energy_profile(learned_bank(s), PCA) for s in range(3)]
    b = [energy_profile(learned_bank(9, t=3e6), PCA)]  # a different stage of eq. 3
    corr = [correlation(x, y) for x in a for y in b]
    assert (
        checks.resnet(corr, guard(a + b, PCA), checks.shaped(a + b, random_profiles(10)), bar("resnet", CPU)).verdict
        == "FAIL"
    )


def test_agreement_of_identically_corrupted_layers_is_rejected():
    """Every run moved by the same random noise: their profiles agree perfectly, but they are
    flat like a random bank's, so the agreement claims fail on shape."""
    noise = 0.3 * torch.randn(64, 27, generator=torch.Generator().manual_seed(7))
    profiles = [profile(run(s, noise), PCA) for s in range(3)]
    corr = pairwise_correlations(profiles)
    assert corr.min() > 0.99
    assert checks.seed(corr, guard(profiles, PCA), checks.shaped(profiles, random_profiles(10)), 0.9).verdict == "FAIL"


@pytest.mark.parametrize(
    "moved",
    [
        lambda s: 1e-3 * torch.from_numpy(np.outer(np.ones(64), PCA.eigvecs @ PCA.lambdas)).float(),  # barely: ~lambda
        lambda s: 0.3 * torch.randn(64, 27, generator=torch.Generator().manual_seed(s)),  # moved at random
    ],
    ids=["barely-trained", "randomly-moved"],
)
def test_init_check_rejects_a_layer_that_did_not_learn(moved):
    runs = [run(s, moved(s)) for s in range(3)]
    profiles = [profile(r, PCA) for r in runs]
    corr = [correlation(e, energy_profile(r.init, PCA)) for e, r in zip(profiles, runs, strict=True)]
    null = random_profiles(10)
    v = checks.init(corr, guard(profiles, PCA), checks.shaped(profiles, null), bar("init", CPU))
    assert v.verdict == "FAIL"
    good = [energy_profile(learned_bank(s), PCA) for s in range(3)]
    assert checks.shaped(good, null).verdict == "PASS"


# ---------------------------------------------------------------- Table 2, 3


def test_random_labels_check_rejects_disagreeing_profiles_and_needs_memorisation():
    true = [energy_profile(learned_bank(s), PCA) for s in range(3)]
    rand = [energy_profile(learned_bank(10 + s, t=3e6), PCA) for s in range(2)]
    corr = [correlation(a, b) for a in true for b in rand]
    ok = checks.memorised([run(0, torch.ones(64, 27))])
    shape = checks.shaped(true + rand, random_profiles(10))
    assert checks.random_labels(corr, guard(true + rand, PCA), shape, ok, bar("random_labels", CPU)).verdict == "FAIL"
    agree = [correlation(a, b) for a in true for b in true]
    young = checks.memorised([run(0, torch.ones(64, 27), acc=1.0), run(1, torch.ones(64, 27), acc=0.4)])
    v = checks.random_labels(agree, guard(true, PCA), checks.shaped(true, random_profiles(10)), young, 0.85)
    assert v.verdict == "INCONCLUSIVE" and "premise" in v.reason


def test_random_labels_init_check_rejects_a_random_net_that_stayed_at_its_init():
    runs = [run(s, 0.3 * torch.randn(64, 27, generator=torch.Generator().manual_seed(s))) for s in range(3)]
    profiles = [profile(r, PCA) for r in runs]
    corr = [correlation(e, energy_profile(r.init, PCA)) for e, r in zip(profiles, runs, strict=True)]
    ok = checks.memorised(runs)
    v = checks.random_labels_init(corr, guard(profiles, PCA), checks.shaped(profiles, random_profiles(10)), ok, 0.4)
    assert v.verdict == "FAIL"


def test_formula_check_rejects_random_filters():
    fits = [fit_formula(e, PCA.lambdas).correlation for e in random_profiles(3)]
    assert checks.formula(fits, guard(random_profiles(3), PCA), bar("formula", CPU)).verdict == "FAIL"


def test_formula_random_init_check_rejects_learned_looking_filters():
    fits = [fit_formula(energy_profile(learned_bank(s), PCA), PCA.lambdas).correlation for s in range(10)]
    assert checks.formula_random_init(fits, bar("formula_random_init", CPU)).verdict == "FAIL"


def test_imagenet_check_rejects_random_filters():
    fits = [fit_formula(e, PCA.lambdas).correlation for e in random_profiles(5)]
    assert checks.imagenet(fits, bar("imagenet", CPU)).verdict == "FAIL"


# ---------------------------------------------------------------- Fig. 2


def test_frozen_check_rejects_a_worse_frozen_net():
    cfg = paper("frozen")
    assert (
        checks.frozen([-0.06, -0.05, -0.07], [1.3, 1.2, 1.25], cfg["max_acc_drop"], cfg["max_loss_ratio"]).verdict
        == "FAIL"
    )
    assert checks.frozen([0.0, 0.01, -0.005], [1.0, 0.98, 1.02], cfg["max_acc_drop"], cfg["max_loss_ratio"]).passed


def test_frozen_validation_check_rejects_a_frozen_net_worse_on_held_out_images():
    cfg = paper("frozen_validation")
    v = checks.frozen([-0.05, -0.06, -0.04], [1.4, 1.5, 1.45], cfg["max_acc_drop"], cfg["max_loss_ratio"], "test")
    assert v.verdict == "FAIL" and "test" in v.reason


# ---------------------------------------------------------------- Thm 4.2, 4.3, Fig. 6


def test_linear_theory_fails_when_labels_follow_a_pca_direction():
    patches, labels, pca = synthetic_patches(seed=3, decades=3.0)
    u = torch.from_numpy(pca.eigvecs[:, 5])
    correlated = labels + 5 * (patches.mean(1) @ u)[:, None]
    ok, _, _ = linear_cnn_fit(patches, labels, pca, filters=4, steps=100, init_scale=0.0)
    broken, _, _ = linear_cnn_fit(patches, correlated, pca, filters=4, steps=100, init_scale=0.0)
    assert checks.linear_theory(ok, paper("linear_theory")["min_fit"]).passed
    assert checks.linear_theory(broken, paper("linear_theory")["min_fit"]).verdict == "FAIL"


def test_theorem_4_3_check_rejects_a_bank_that_does_not_whiten():
    ratio = paper("theorem_4_3")["max_ratio"]
    assert checks.theorem_4_3(0.38, 0.39, 0.39, ratio).verdict == "FAIL"  # the limit still ~ RGB
    assert checks.theorem_4_3(0.12, 0.39, 0.10, ratio).verdict == "FAIL"  # correlates more than at t = 1
    assert checks.theorem_4_3(0.09, 0.39, 0.39, ratio).passed


def test_whitening_checks_reject_random_filters_as_learned_and_wrong_references():
    cfg = paper("whitening")
    v = checks.whitening_learned([0.37, 0.36, 0.38], [0.35, 0.36, 0.37], 0.39, cfg["max_learned_ratio"])
    assert v.verdict == "FAIL"
    v = checks.whitening_references([0.2, 0.21], 0.39, 0.0, cfg["max_random_gap"], cfg["max_whitened"])
    assert v.verdict == "FAIL"
    v = checks.whitening_references([0.38, 0.39], 0.39, 0.2, cfg["max_random_gap"], cfg["max_whitened"])
    assert v.verdict == "FAIL"


# ---------------------------------------------------------------- App. D


def test_appendix_d1_check_rejects_labels_that_do_not_break_the_agreement():
    ok = checks.memorised([run(0, torch.ones(64, 27))])
    g = guard([energy_profile(learned_bank(0), PCA)], PCA)
    assert checks.appendix_d1([0.01, -0.02], g, ok, bar("appendix_d1", CPU), drop=True).verdict == "FAIL"
    assert checks.appendix_d1(None, g, ok, 0.3, drop=False, agreement=[0.9, 0.92]).verdict == "FAIL"


def test_appendix_d2_check_rejects_a_modification_that_explains_nothing():
    ok = checks.memorised([run(0, torch.ones(64, 27))])
    g = guard([energy_profile(learned_bank(0), PCA)], PCA)
    v = checks.appendix_d2([0.93], [0.95], [0.9, 0.92], g, ok, 0.9, bar("random_labels", CPU))
    assert v.verdict == "FAIL" and "unmodified" in v.reason


# ---------------------------------------------------------------- Fig. 5 (needs data)

needs_data = pytest.mark.skipif(
    not (Path(default_root()) / "cifar10-exact").exists(), reason="cifar10-exact not under FIRSTLAYER_DATA"
)


@needs_data
def test_label_patch_check_rejects_coefficient_labels():
    train = subset(load_split("cifar10-exact", "train"), 2000)
    x = normalise(train.pixels)[0]
    pca = patch_pca(x, 3)
    coef, _ = image_pca_stats(x, pca)
    z = (coef - coef.mean(0)) / coef.std(0)  # every component weighs alike
    labels = (z @ np.random.default_rng(0).standard_normal((coef.shape[1], 10))).argmax(1)
    corr = label_correlations(coef, labels, 10)
    assert checks.label_patch(corr, paper("label_patch")["max_median"]).verdict == "FAIL"
    assert checks.label_patch(label_correlations(coef, train.labels, 10), 0.1).passed


@needs_data
def test_whitening_learned_check_rejects_a_random_bank_on_real_images():
    x = normalise(subset(load_split("cifar10-exact", "train"), 300).pixels)[0]
    m = shift_moments(x, 3, 10)
    banks = random_banks(12, 64)
    rgb = shift_moments(x, 1, 10).autocorrelation()[10]
    learned = [m.autocorrelation(w)[10] for w in banks[:6]]
    init = [m.autocorrelation(w)[10] for w in banks[6:]]
    v = checks.whitening_learned(learned, init, rgb, paper("whitening")["max_learned_ratio"])
    assert v.verdict == "FAIL"
