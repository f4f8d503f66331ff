"""Verdicts: one check per claim, measured numbers in, a ``Verdict`` with its reason out. The
claims call the same check on their runs and on controls built from those runs
(``harness.verdicts.controls``), and a PASS stands only where a control FAILs (``harness.plugin.conclude``):
the verdict could have gone the other way. tests/test_negative_controls.py holds the checks'
unit tests on cases where the condition under test is the one that fails.

Each check compares ``harness.verdicts.stats.Estimate``s with bars through ``Condition``s and
combines them with ``judge`` (``harness.verdicts.judge``, whose docstring says how a verdict is
reached). The conditions every profile claim shares live here too: the trivial-profile guard,
"moved" (W is not still mostly its init) and the learned shape; the profiles themselves are
measured by ``harness.measures.profiles``.
"""

from __future__ import annotations

import numpy as np

from harness.config.paper import paper
from harness.config.scales import Scale
from harness.measures.profiles import random_profiles, vs_lambda, w_vs_init
from harness.measures.theory import trivial_bar
from harness.verdicts.judge import Condition, Verdict, check, judge
from harness.verdicts.stats import Estimate, exact, over_runs


def moved(runs, pca, limit: float) -> Condition:
    """The layer moved as a representation: |corr(profile of W, profile of W_init)| over runs
    stays within the claim's own bar, so a layer whose W is still its init's cannot pass a claim
    about W - W_init alone."""
    corr = over_runs([abs(w_vs_init(r, pca)) for r in runs], correlation=True)
    return check("|profile of W ~ W_init's| (moved)", corr, "<=", limit)


def guard(profiles, pca) -> Condition:
    """Past the trivial point: every profile's correlation with lambda is at most eq. 3's
    when its peak leaves the largest component (``theory.trivial_bar``): below it, agreement
    between profiles is not free. A rule each run must meet: the worst profile is judged."""
    worst = exact(max(vs_lambda(profiles, pca)))
    return check("max corr with lambda (guard)", worst, "<=", round(trivial_bar(pca.lambdas), 3))


def learned_shape(profiles, pca, s: Scale) -> Condition:
    """``shaped`` against the scale's random banks (``s.random_init_seeds`` of ``s.first`` filters)."""
    return shaped(profiles, random_profiles(pca, s.random_init_seeds, s.first))


def shaped(profiles, null_profiles) -> Condition:
    """A learned profile is shaped, not flat like a random bank's: its coefficient of variation
    over components exceeds the largest of ``null_profiles`` (random banks). A rule each run
    must meet: the flattest profile is judged."""
    cv = [float(np.std(p) / np.mean(p)) for p in profiles]
    null = max(float(np.std(p) / np.mean(p)) for p in null_profiles)
    return check("profile CV (shape) vs random banks' max", exact(min(cv)), ">", round(null, 3))


def memorised(runs) -> Condition:
    """The premise of the claims that compare with random labels: the nets memorised their
    training set (train accuracy at the judged step, Sec. 3 and [2]), each of them."""
    acc = exact(min(r.evaluation["train_acc"] for r in runs))  # every run, not their mean
    return check(
        "lowest train accuracy at the judged step", acc, ">=", paper("converged")["min_train_acc"], premise=True
    )


def seed(agreement: Estimate, guard_: Condition, shape: Condition, bar: float) -> Verdict:
    """Table 1 SEED: pairwise correlations of profiles over seeds clear the bar, between
    profiles past the trivial point and shaped (agreement of flat profiles is free too)."""
    return judge(guard_, shape, check("seed ~ seed", agreement, ">=", bar))


def width(agreements: dict, guard_: Condition, shape: Condition, bar: float) -> Verdict:
    """Table 1 WIDTH: profiles of each other first-layer width ({filters: Estimate of its runs
    ~ the base width's}) correlate with the base width's."""
    return judge(guard_, shape, *[check(f"{w} filters ~ 64 filters", e, ">=", bar) for w, e in agreements.items()])


def init(corr: Estimate, guard_: Condition, shape: Condition, limit: float, moved_: Condition | None = None) -> Verdict:
    """Table 1 TRAINED VS INIT: the trained profile is past the trivial point, shaped (not flat
    like an init's), |corr| with the init's profile stays below the limit, and (``moved``) W
    itself left its init's profile."""
    extra = [moved_] if moved_ is not None else []
    return judge(guard_, shape, check("|trained ~ init|", corr, "<=", limit), *extra)


def resnet(agreement: Estimate, guard_: Condition, shape: Condition, bar: float) -> Verdict:
    """Table 1 VGG VS RESNET."""
    return judge(guard_, shape, check("VGG ~ ResNet", agreement, ">=", bar))


def consistency(agreements: dict, premises: list, bar: float) -> Verdict:
    """App. B: first layers of different models or datasets agree ({pair: Estimate}), each
    clearing the bar, with their profiles past the trivial point and shaped (``premises``)."""
    return judge(*premises, *[check(name, e, ">=", bar) for name, e in agreements.items()])


def random_labels(true_random: Estimate, guard_: Condition, shape: Condition, memorised_: Condition, bar: float):
    """Table 2, TRUE VS RANDOM: true ~ random clears the bar, with the random-label nets
    converged and every profile past the trivial point and shaped."""
    return judge(memorised_, guard_, shape, check("true ~ random", true_random, ">=", bar))


def random_labels_init(
    random_init: Estimate, guard_: Condition, shape: Condition, memorised_: Condition, limit, moved_=None
) -> Verdict:
    """Table 2, RANDOM V INIT: the random-label profile is far from the init's (as [init])."""
    extra = [moved_] if moved_ is not None else []
    return judge(memorised_, guard_, shape, check("|random ~ init|", random_init, "<=", limit), *extra)


def formula(fits: Estimate, guard_: Condition, bar: float, memorised: Condition | None = None, **dev) -> Verdict:
    """Table 3: the best-fit correlation of eq. 3 clears the bar."""
    conditions = [c for c in (memorised, guard_) if c is not None]
    return judge(*conditions, check("formula fit", fits, ">=", bar), **dev)


def formula_random_init(fits: Estimate, bar: float) -> Verdict:
    """Table 3 RANDOM INIT.: random filters do not fit eq. 3 (paper 0.1 ± 0.15)."""
    return judge(check("formula fit of random banks", fits, "<=", bar))


def frozen(gaps_acc: Estimate, ratios_loss: Estimate, max_drop: float, max_ratio: float, split="train") -> Verdict:
    """Fig. 2: per seed, frozen - learned accuracy and frozen / learned loss at matched steps
    (averaged over the compared steps) stay within the bars."""
    return judge(
        check(f"frozen - learned {split} accuracy", gaps_acc, ">=", -max_drop),
        check(f"frozen / learned {split} loss", ratios_loss, "<=", max_ratio),
    )


def frozen_depth(closes: Estimate) -> Verdict:
    """Fig. 2: the cost of a frozen first layer shrinks with depth: the deepest VGG's frozen -
    learned accuracy gap minus the shallowest's is above 0."""
    return judge(check("accuracy gap, deepest - shallowest", closes, ">", 0.0))


def label_patch(corr: np.ndarray, max_abs: float) -> Verdict:
    """Fig. 5 / Def. A.4: "for all classes, correlation with the labels is close to 0 for all
    components" (Sec. 5): every |corr(one-vs-all label, mean PCA coefficient)| over (class,
    component) stays below the bar, the largest judged. A statistic of the images alone (no
    run), compared as it is."""
    return judge(check("largest |corr(label, coefficient)|", exact(np.abs(corr).max()), "<=", max_abs))


def formula_shift(peaks, n_components: int, whitening_corr: float, min_corr: float) -> Verdict:
    """Fig. 4: along t, eq. 3's peak starts at the largest component (the first PCA component,
    low spatial frequencies), never moves back toward it, and ends at the last, where the profile
    is 1/lambda (whitening). Exact: a statement of the formula on one set of measured lambdas."""
    peaks = np.asarray(peaks, int)
    back = float(max(0, -int(np.diff(peaks).min()))) if len(peaks) > 1 else 0.0
    return judge(
        check("peak component at the largest t", exact(peaks[-1]), ">=", n_components - 1),
        check("peak component at t = 1", exact(peaks[0]), "<=", 0),
        check("largest move of the peak back toward component 0 along t", exact(back), "<=", 0),
        check("corr(profile at the largest t, 1/lambda)", exact(whitening_corr), ">=", min_corr),
    )


def whitening_references(random_c10, rgb_c10: float, whitened_c10: float, max_gap: float, max_white: float) -> Verdict:
    """Fig. 6 references: random filters ~ RGB at 10 px (over the random banks); perfect
    whitening ~ 0 (a transform of the images alone, compared as it is)."""
    gap = over_runs(np.abs(np.asarray(random_c10) - rgb_c10), noun="banks")
    return judge(
        check("|C10(random) - C10(RGB)|", gap, "<=", max_gap),
        check("|C10(perfect whitening)|", exact(abs(whitened_c10)), "<=", max_white),
    )


def whitening_learned(learned_c10, init_c10, rgb_c10: float, ratio: float, **dev) -> Verdict:
    """Fig. 6: training lowers C(10) from the init's, seed by seed, and brings it below
    ``ratio`` x C10(RGB) (paper ~0.2 vs > 0.5)."""
    return judge(
        check("C10(learned) - C10(init)", over_runs(np.asarray(learned_c10) - np.asarray(init_c10)), "<", 0.0),
        check("C10(learned) / C10(RGB)", over_runs(np.asarray(learned_c10) / rgb_c10), "<=", ratio),
        **dev,
    )


def whitening_pretrained(learned_c10, random_c10, rgb_c10: float, ratio: float) -> Verdict:
    """Fig. 6, ImageNet panel: first layers trained on ImageNet decorrelate ImageNet images below
    random filters of their shapes and below ``ratio`` x C10(RGB), over the models."""
    learned = np.asarray(learned_c10, float)
    return judge(
        check(
            "C10(learned) - C10(random banks, mean)",
            over_runs(learned - np.asarray(random_c10, float), noun="models"),
            "<",
            0.0,
        ),
        check("C10(learned) / C10(RGB)", over_runs(learned / rgb_c10, noun="models"), "<=", ratio),
    )


def theorem_4_3(c10_limit: float, c10_rgb: float, c10_start: float, ratio: float) -> Verdict:
    """Thm 4.3 on real patches: the t -> inf limit of eq. 3's bank decorrelates more than its
    start (t = 1, the trivial profile ~ lambda) and brings C10 below ``ratio`` x RGB. One
    example of the property: exact numbers of its images."""
    return judge(
        check("C10(t -> inf) - C10(t = 1)", exact(c10_limit - c10_start), "<", 0.0),
        check("C10(t -> inf) / C10(RGB)", exact(c10_limit / c10_rgb), "<=", ratio),
    )


def imagenet(fits: Estimate, bar: float) -> Verdict:
    """Table 3 IMAGENET: the formula fits ImageNet-trained first layers (over the models)."""
    return judge(check("formula fit", fits, ">=", bar))


def appendix_d1(drop: Estimate, agreement: Estimate, guard_, memorised, bar: float) -> Verdict:
    """App. D.1, as the paper states it: with energy labels, true ~ random "drops to around 0":
    ``agreement`` (energy-label ~ random-label profiles) within ``bar`` of 0. The ``drop`` below
    the true-label baseline is reported beside it, not judged (another quantity)."""
    return judge(memorised, guard_, check("true ~ random with energy labels", agreement, "<=", bar))


def appendix_d1_unlearned(gap: Estimate, guard_, memorised) -> Verdict:
    """App. D.1 / Fig. 17: the labels of the component the random-label nets learn least break
    true ~ random more than those of the one they learn most: ``gap`` = corr(energy_most, random)
    - corr(energy_least, random) above 0."""
    return judge(memorised, guard_, check("energy ~ random: most-learned - least-learned component", gap, ">", 0.0))


def appendix_d2(
    modified: Estimate, gain: Estimate, true_random: Estimate, guard_, memorised, min_fit: float, bar: float
) -> Verdict:
    """App. D.2: eq. 3 with the scaled eigenvalue fits, beats the unmodified formula, and true
    ~ random stays high."""
    return judge(
        memorised,
        guard_,
        check("modified formula fit", modified, ">=", min_fit),
        check("modified - unmodified fit", gain, ">", 0.0),
        check("true ~ random", true_random, ">=", bar),
    )


def linear_theory(corr: float, min_fit: float) -> Verdict:
    """Thm 4.2: the simulated linear CNN's profile matches eq. 3 (one example of the property:
    exact numbers of its simulation)."""
    return judge(check("eq. 3 vs simulated linear CNN", exact(corr), ">=", min_fit))
