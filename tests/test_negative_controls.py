"""Unit tests of the claims' checks (harness.verdicts.checks): each feeds a claim's own check a case
where the claim is false, and the condition under test is the one that fails (the others are
shown to hold), so the verdict is FAIL (or, for an unmet premise or too few runs,
INCONCLUSIVE). The claims themselves also run their checks on controls built from their own
runs, every time (harness.verdicts.controls, harness.plugin.conclude). Synthetic spectra and filter banks
keep these fast and free of data; the data-dependent ones skip without it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.config.paper import bar, paper
from harness.config.scales import scale as load_scale
from harness.data.copies import default_root
from harness.data.door import load_split
from harness.data.images import normalise, subset
from harness.data.patches import patch_pca, pca_from_covariance
from harness.measures.decorrelation import shift_moments
from harness.measures.labelstats import chance_largest, decile_labels, image_pca_stats, label_correlations
from harness.measures.profiles import profile, representation
from harness.measures.spectra import correlation, energy_profile
from harness.measures.theory import fit_formula, formula_profile, linear_cnn_fit, random_covariance, synthetic_patches
from harness.models import random_banks
from harness.verdicts import checks, judge, stats
from harness.verdicts.checks import guard
from harness.verdicts.judge import check

CPU = load_scale("cpu")
PCA = pca_from_covariance(random_covariance(27, 4.0, seed=1), np.zeros(27), 1, 3, 3)
MOVED = check("|profile of W ~ W_init's| (moved)", stats.exact(0.1), "<=", 0.44, premise=True)  # a layer that moved
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
    assert judge.check("x", stats.over_runs([0.89, 0.91, 0.93]), ">=", 0.90).verdict == "INCONCLUSIVE"
    assert judge.check("x", stats.over_runs([0.80, 0.81, 0.82]), ">=", 0.90).verdict == "FAIL"
    assert judge.check("x", stats.over_runs([0.95, 0.96, 0.97]), ">=", 0.90).verdict == "PASS"
    assert judge.judge(judge.check("x", stats.exact(0.5), ">=", 0.9, premise=True)).verdict == "INCONCLUSIVE"


def test_fewer_than_three_runs_never_pass_or_fail():
    """One or two runs: INCONCLUSIVE "too few runs", however far from the bar, and whatever
    the other conditions say."""
    for values in ([0.99], [0.2], [0.99, 0.995]):
        v = judge.judge(judge.check("x", stats.over_runs(values), ">=", 0.9))
        assert v.verdict == "INCONCLUSIVE" and "too few runs" in v.reason
    failing_guard = judge.check("guard", stats.exact(0.9), "<=", 0.7)
    v = judge.judge(failing_guard, judge.check("x", stats.over_runs([0.2]), ">=", 0.9))
    assert v.verdict == "INCONCLUSIVE"


def test_a_deviation_needs_its_cause_measured():
    fail = judge.check("fit", stats.over_runs([0.5, 0.51, 0.52]), ">=", 0.9)
    dev = judge.Deviation("explained by z", "z > 0.5")
    assert judge.judge(fail, deviation=dev, measured={"z": 0.7}).verdict == "DEVIATES"
    assert judge.judge(fail, deviation=dev, measured={"z": 0.3}).verdict == "FAIL"
    assert judge.judge(fail, deviation=dev, measured={}).verdict == "FAIL"  # cause not measured
    assert "not measured" in judge.judge(fail, deviation=dev).reason


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


STAGES = (300.0, 3e6) * 3  # eq. 3 at two stages, past the trivial point and shaped, unlike each other


def test_seed_check_rejects_seeds_that_disagree():
    """Shaped profiles past the trivial point that disagree with each other: the agreement is
    what fails."""
    p = [energy_profile(learned_bank(s, t=t), PCA) for s, t in enumerate(STAGES)]
    g, shape = guard(p, PCA), checks.shaped(p, random_profiles(10))
    assert (g.verdict, shape.verdict) == ("PASS", "PASS")
    v = checks.seed(stats.within(p, correlation), g, shape, bar("seed", "cifar10"))
    assert v.verdict == "FAIL" and v.reason.startswith("seed ~ seed")


def test_width_check_rejects_widths_that_disagree():
    a = [energy_profile(learned_bank(s), PCA) for s in range(3)]
    b = [energy_profile(learned_bank(10 + s, t=3e6), PCA) for s in range(3)]
    g, shape = guard(a + b, PCA), checks.shaped(a + b, random_profiles(10))
    assert (g.verdict, shape.verdict) == ("PASS", "PASS")
    v = checks.width({128: stats.between(b, a, correlation)}, g, shape, bar("width", "cifar10"))
    assert v.verdict == "FAIL" and v.reason.startswith("128 filters ~ 64")


def test_resnet_check_rejects_unrelated_profiles():
    a = [energy_profile(learned_bank(s), PCA) for s in range(3)]
    b = [energy_profile(learned_bank(9 + s, t=3e6), PCA) for s in range(3)]  # a different stage of eq. 3
    shape = checks.shaped(a + b, random_profiles(10))
    v = checks.resnet(stats.between(a, b, correlation), guard(a + b, PCA), shape, bar("resnet", "cifar10"))
    assert v.verdict == "FAIL" and v.reason.startswith("VGG ~ ResNet")


def test_agreement_of_identically_corrupted_layers_is_rejected():
    """Every run moved by the same random noise: their profiles agree perfectly, but they are
    flat like a random bank's, so the shape premise is unmet: INCONCLUSIVE, never PASS (and
    never FAIL: an unlearned layer is not a finding against the paper)."""
    noise = 0.3 * torch.randn(64, 27, generator=torch.Generator().manual_seed(7))
    profiles = [profile(run(s, noise), PCA) for s in range(3)]
    agree = stats.within(profiles, correlation)
    assert agree.value > 0.99
    v = checks.seed(agree, guard(profiles, PCA), checks.shaped(profiles, random_profiles(10)), 0.9)
    assert v.verdict == "INCONCLUSIVE" and "premise not met" in v.reason and "CV" in v.reason


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
    corr = [abs(correlation(e, energy_profile(r.init, PCA))) for e, r in zip(profiles, runs, strict=True)]
    null = random_profiles(10)
    v = checks.init(stats.over_runs(corr, correlation=True), guard(profiles, PCA), checks.shaped(profiles, null), 0.4)
    assert v.verdict == "INCONCLUSIVE" and "premise not met" in v.reason  # a layer that did not learn: no finding
    good = [energy_profile(learned_bank(s), PCA) for s in range(3)]
    assert checks.shaped(good, null).verdict == "PASS"


def test_init_check_rejects_a_shaped_profile_that_follows_its_init():
    """Past the trivial point and shaped, but the profile is its init's: |trained ~ init| fails."""
    p = [energy_profile(learned_bank(s), PCA) for s in range(3)]
    g, shape = guard(p, PCA), checks.shaped(p, random_profiles(10))
    assert (g.verdict, shape.verdict) == ("PASS", "PASS")
    same = stats.over_runs([abs(correlation(e, e + 0.01 * np.cos(np.arange(27)))) for e in p], correlation=True)
    v = checks.init(same, g, shape, bar("init", "cifar10"))
    assert v.verdict == "FAIL" and v.reason.startswith("|trained ~ init|")


def test_moved_rejects_a_layer_whose_w_is_still_its_init():
    """TRAINED VS INIT is about W: a layer that moved a little keeps its init's profile of W, and
    ``moved`` FAILs even where the profile of W - W_init is learned; a layer that moved far PASSes."""
    inits = [torch.randn(64, 27, generator=torch.Generator().manual_seed(s)) for s in range(3)]
    little = [FakeRun(w0, w0 + 1e-3 * learned_bank(s), [], {}) for s, w0 in enumerate(inits)]
    far = [FakeRun(w0, w0 + 100 * learned_bank(s), [], {}) for s, w0 in enumerate(inits)]
    assert checks.moved(little, PCA, bar("init", "cifar10")).verdict == "FAIL"
    assert checks.moved(far, PCA, bar("init", "cifar10")).verdict == "PASS"
    shares = representation(little, PCA)["init's share of |W|^2, each run"]
    assert all(s > 0.99 for s in shares)


# ---------------------------------------------------------------- Table 2, 3


def test_random_labels_check_rejects_disagreeing_profiles_and_needs_memorisation():
    true = [energy_profile(learned_bank(s), PCA) for s in range(3)]
    rand = [energy_profile(learned_bank(10 + s, t=3e6), PCA) for s in range(3)]
    corr = stats.between(true, rand, correlation)
    ok = checks.memorised([run(0, torch.ones(64, 27))])
    shape = checks.shaped(true + rand, random_profiles(10))
    assert (
        checks.random_labels(corr, guard(true + rand, PCA), shape, ok, bar("random_labels", "cifar10")).verdict
        == "FAIL"
    )
    agree = stats.within(true, correlation)
    young = checks.memorised([run(0, torch.ones(64, 27), acc=1.0), run(1, torch.ones(64, 27), acc=0.4)])
    v = checks.random_labels(agree, guard(true, PCA), checks.shaped(true, random_profiles(10)), young, 0.85)
    assert v.verdict == "INCONCLUSIVE" and "premise" in v.reason


def test_random_labels_init_check_rejects_a_random_net_that_stayed_at_its_init():
    runs = [run(s, 0.3 * torch.randn(64, 27, generator=torch.Generator().manual_seed(s))) for s in range(3)]
    profiles = [profile(r, PCA) for r in runs]
    corr = [abs(correlation(e, energy_profile(r.init, PCA))) for e, r in zip(profiles, runs, strict=True)]
    ok = checks.memorised(runs)
    corr = stats.over_runs(corr, correlation=True)
    v = checks.random_labels_init(corr, guard(profiles, PCA), checks.shaped(profiles, random_profiles(10)), ok, 0.4)
    assert v.verdict == "INCONCLUSIVE" and "premise not met" in v.reason


def test_formula_check_rejects_random_filters():
    fits = stats.over_runs([fit_formula(e, PCA.lambdas).correlation for e in random_profiles(3)], correlation=True)
    assert checks.formula(fits, guard(random_profiles(3), PCA), bar("formula", "cifar10")).verdict == "FAIL"


def test_formula_random_init_check_rejects_learned_looking_filters():
    fits = [fit_formula(energy_profile(learned_bank(s), PCA), PCA.lambdas).correlation for s in range(10)]
    fits = stats.over_runs(fits, correlation=True, noun="banks")
    assert checks.formula_random_init(fits, bar("formula_random_init")).verdict == "FAIL"


def test_imagenet_check_rejects_random_filters():
    fits = stats.over_runs([fit_formula(e, PCA.lambdas).correlation for e in random_profiles(5)], correlation=True)
    assert checks.imagenet(fits, bar("imagenet")).verdict == "FAIL"


@pytest.mark.parametrize(
    ("peaks", "failing"),
    [
        ([0, 0, 3, 2, 26], "largest move of the peak back"),  # the peak moves back along t
        ([1, 3, 26], "peak component at t = 1"),  # not the first component at the start
        ([0, 3, 20], "peak component at the largest t"),  # never reaches the last component
    ],
)
def test_formula_shift_fails_where_the_peak_does_not_move_as_fig_4(peaks, failing):
    v = checks.formula_shift(peaks, 27, 1.0, paper("formula_shift")["min_whitening_corr"])
    assert v.verdict == "FAIL" and [c.what for c in v.conditions if c.verdict == "FAIL"] == [
        next(c.what for c in v.conditions if c.what.startswith(failing))
    ]
    assert checks.formula_shift(np.sort(peaks), 27, 0.5, 0.99).verdict == "FAIL"  # the limit is not 1/lambda


def test_formula_shift_holds_on_eq_3_itself():
    from harness.measures.theory import t_grid

    peaks = formula_profile(PCA.lambdas, t_grid(PCA.lambdas, points=300)).argmax(axis=1)
    assert checks.formula_shift(peaks, 27, 1.0, 0.99).verdict == "PASS"


def test_whitening_pretrained_fails_where_the_layers_decorrelate_no_more_than_random_filters():
    rand = [0.45, 0.46, 0.44]
    v = checks.whitening_pretrained([0.47, 0.44, 0.46], rand, 0.47, paper("whitening")["max_learned_ratio"])
    assert v.verdict == "FAIL" and [c.verdict for c in v.conditions][1] == "FAIL"
    assert checks.whitening_pretrained([0.15, 0.14, 0.16], rand, 0.47, 0.4).verdict == "PASS"


# ---------------------------------------------------------------- Fig. 2


def test_frozen_check_rejects_a_worse_frozen_net():
    cfg = paper("frozen")
    R = stats.over_runs
    v = checks.frozen(R([-0.06, -0.05, -0.07]), R([1.0, 0.98, 1.02]), cfg["max_acc_drop"], cfg["max_loss_ratio"])
    assert v.verdict == "FAIL" and "accuracy" in v.reason and "loss" not in v.reason
    v = checks.frozen(R([0.0, 0.01, -0.005]), R([1.3, 1.2, 1.25]), cfg["max_acc_drop"], cfg["max_loss_ratio"])
    assert v.verdict == "FAIL" and "loss" in v.reason
    assert checks.frozen(
        R([0.0, 0.01, -0.005]), R([1.0, 0.98, 1.02]), cfg["max_acc_drop"], cfg["max_loss_ratio"]
    ).passed


def test_frozen_depth_check_needs_the_deep_gap_above_the_shallow_one():
    shallow = np.array([-0.05, -0.06, -0.04, -0.05])

    def verdict(deep):
        return checks.frozen_depth(stats.between_values(np.subtract.outer(deep, shallow), correlation=False)).verdict

    assert verdict(shallow + 0.04) == "PASS"
    assert verdict(shallow - 0.04) == "FAIL"
    assert verdict(shallow[::-1]) == "INCONCLUSIVE"  # the same gaps: nothing closes


def test_frozen_validation_check_rejects_a_frozen_net_worse_on_held_out_images():
    cfg = paper("frozen_validation")
    R = stats.over_runs
    v = checks.frozen(R([-0.05, -0.06, -0.04]), R([1.4, 1.5, 1.45]), cfg["max_acc_drop"], cfg["max_loss_ratio"], "test")
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
    """Judged at every delta: C(delta) at the limit below t = 1's at each, C10 below 0.4 x RGB's."""
    ratio = paper("theorem_4_3")["max_ratio"]
    rgb = np.linspace(1.0, 0.39, 11)
    start = np.linspace(1.0, 0.30, 11)
    assert checks.theorem_4_3(rgb, start, rgb, ratio, 10).verdict == "FAIL"  # the limit still ~ RGB
    whitened = np.r_[1.0, np.full(10, 0.09)]
    assert checks.theorem_4_3(whitened, start, rgb, ratio, 10).passed
    near = whitened.copy()
    near[1] = 0.95  # decorrelates at 10 px but not at 1 px: fails at delta = 1 alone
    v = checks.theorem_4_3(near, start, rgb, ratio, 10)
    assert v.verdict == "FAIL" and "(at 1)" in v.reason


def test_whitening_checks_reject_random_filters_as_learned_and_wrong_references():
    cfg = paper("whitening")
    v = checks.whitening_learned([0.37, 0.36, 0.38], [0.35, 0.36, 0.37], 0.39, cfg["max_learned_ratio"], MOVED)
    assert v.verdict == "FAIL"
    still = check("|profile of W ~ W_init's| (moved)", stats.exact(0.9), "<=", 0.44, premise=True)
    v = checks.whitening_learned([0.05, 0.06, 0.05], [0.35, 0.36, 0.37], 0.39, cfg["max_learned_ratio"], still)
    assert v.verdict == "INCONCLUSIVE" and "moved" in v.reason  # a layer still its init's: never PASS or DEVIATE
    v = checks.whitening_references([0.2, 0.21, 0.22], 0.39, 0.0, cfg["max_random_gap"], cfg["max_whitened"])
    assert v.verdict == "FAIL"
    v = checks.whitening_references([0.38, 0.39, 0.385], 0.39, 0.2, cfg["max_random_gap"], cfg["max_whitened"])
    assert v.verdict == "FAIL"


# ---------------------------------------------------------------- App. D


def test_appendix_d1_check_rejects_labels_that_do_not_break_the_agreement():
    ok = checks.memorised([run(0, torch.ones(64, 27))])
    g = guard([energy_profile(learned_bank(0), PCA)], PCA)
    small, high = stats.over_runs([0.01, -0.02, 0.0]), stats.over_runs([0.9, 0.92, 0.91], correlation=True)
    assert checks.appendix_d1(small, high, g, ok, bar("appendix_d1")).verdict == "FAIL"
    near_zero = stats.over_runs([0.05, -0.02, 0.03], correlation=True)
    assert checks.appendix_d1(small, near_zero, g, ok, bar("appendix_d1")).verdict == "PASS"


def test_appendix_d1_unlearned_check_rejects_components_that_drop_alike_or_the_other_way():
    """Fig. 17's condition: the least-learned component's labels must lower energy ~ random more
    than the most-learned's, beyond the interval over runs (the random-label runs shared)."""
    ok = checks.memorised([run(0, torch.ones(64, 27))])
    g = guard([energy_profile(learned_bank(0), PCA)], PCA)
    most = np.array([[0.60, 0.62, 0.58], [0.64, 0.61, 0.63], [0.59, 0.60, 0.62]])

    def verdict(least):
        return checks.appendix_d1_unlearned(stats.difference_sharing_columns(most, least), g, ok).verdict

    assert verdict(most - 0.3) == "PASS"
    assert verdict(most + 0.3) == "FAIL"
    assert verdict(most[[1, 2, 0]]) == "INCONCLUSIVE"  # the same values in other runs: no difference


def test_appendix_d2_check_rejects_a_modification_that_explains_nothing():
    ok = checks.memorised([run(0, torch.ones(64, 27))])
    g = guard([energy_profile(learned_bank(0), PCA)], PCA)
    R = stats.over_runs
    modified, gain = R([0.93, 0.94, 0.935], correlation=True), R([-0.02, -0.01, -0.015])
    v = checks.appendix_d2(
        modified, gain, R([0.9, 0.92, 0.91], correlation=True), g, ok, 0.9, bar("random_labels", "cifar10")
    )
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
    corr = label_correlations(coef, decile_labels(coef), 10)
    random_labels = np.random.default_rng(0).integers(0, 10, len(coef))
    null, _ = chance_largest(coef, random_labels, 10, 100, 0.95)
    assert 1 / np.sqrt(len(coef)) < null < 5 / np.sqrt(len(coef))  # the largest of 270 pairs at N = 2,000
    assert checks.label_patch(corr, null).verdict == "FAIL"
    other = np.random.default_rng(1).integers(0, 10, len(coef))  # independent labels pass 95% of the time
    assert checks.label_patch(label_correlations(coef, other, 10), null).passed


@needs_data
def test_whitening_learned_check_rejects_a_random_bank_on_real_images():
    x = normalise(subset(load_split("cifar10-exact", "train"), 300).pixels)[0]
    m = shift_moments(x, 3, 10)
    banks = random_banks(12, 64)
    rgb = shift_moments(x, 1, 10).autocorrelation()[10]
    learned = [m.autocorrelation(w)[10] for w in banks[:6]]
    init = [m.autocorrelation(w)[10] for w in banks[6:]]
    v = checks.whitening_learned(learned, init, rgb, paper("whitening")["max_learned_ratio"], MOVED)
    assert v.verdict == "FAIL"
