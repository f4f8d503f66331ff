"""Verdicts: one check per claim, measured numbers in, a ``Verdict`` with its reason out. The
claims call the same check on their runs and on controls built from those runs
(``harness.verdicts.controls``), and a PASS stands only where a control FAILs (``harness.plugin.conclude``):
the verdict could have gone the other way. tests/test_negative_controls.py holds the checks'
unit tests on cases where the condition under test is the one that fails.

Each check compares ``harness.verdicts.stats.Estimate``s with bars through ``Condition``s and
combines them with ``judge`` (``harness.verdicts.judge``, whose docstring says how a verdict is
reached). The premises every profile claim shares live here too, ours and not the paper's, so an
unmet one makes a row INCONCLUSIVE, never FAIL: the trivial-profile guard, "moved" (W is not
still mostly its init) and the learned shape; the profiles themselves are measured by
``harness.measures.profiles``.
"""

from __future__ import annotations

import numpy as np

from harness.config.paper import paper
from harness.config.scales import Scale
from harness.measures.profiles import random_profiles, vs_lambda, w_vs_init
from harness.measures.theory import trivial_bar
from harness.verdicts.judge import Condition, Verdict, check, judge
from harness.verdicts.stats import MIN_RUNS, Estimate, exact, over_runs


def moved(runs, pca, limit: float) -> Condition:
    """The layer moved as a representation: |corr(profile of W, profile of W_init)| over runs
    stays within the claim's own bar, so a layer whose W is still its init's cannot pass a claim
    about W - W_init alone."""
    corr = over_runs([abs(w_vs_init(r, pca)) for r in runs], correlation=True)
    return check("|profile of W ~ W_init's| (moved)", corr, "<=", limit, premise=True)


def guard(profiles, pca) -> Condition:
    """Past the trivial point: every profile's correlation with lambda is at most eq. 3's
    when its peak leaves the largest component (``theory.trivial_bar``): below it, agreement
    between profiles is not free. A rule each run must meet: the worst profile is judged."""
    worst = exact(max(vs_lambda(profiles, pca)))
    return check("max corr with lambda (guard)", worst, "<=", round(trivial_bar(pca.lambdas), 3), premise=True)


def learned_shape(profiles, pca, s: Scale) -> Condition:
    """``shaped`` against the scale's random banks (``s.random_init_seeds`` of ``s.first`` filters)."""
    return shaped(profiles, random_profiles(pca, s.random_init_seeds, s.first))


def shaped(profiles, null_profiles) -> Condition:
    """A learned profile is shaped, not flat like a random bank's: its coefficient of variation
    over components exceeds the largest of ``null_profiles`` (random banks). A rule each run
    must meet: the flattest profile is judged."""
    cv = [float(np.std(p) / np.mean(p)) for p in profiles]
    null = max(float(np.std(p) / np.mean(p)) for p in null_profiles)
    return check("profile CV (shape) vs random banks' max", exact(min(cv)), ">", round(null, 3), premise=True)


def memorised(runs) -> Condition:
    """The premise of the claims that compare with random labels: the nets memorised their
    training set (train accuracy at the judged step, Sec. 3 and [2]), each of them."""
    acc = exact(min(r.evaluation["train_acc"] for r in runs))  # every run, not their mean
    return check(
        "lowest train accuracy at the judged step", acc, ">=", paper("converged")["min_train_acc"], premise=True
    )


def peak(ends: dict, peak_component: int, n_components: int, guard_: Condition, shape: Condition) -> Verdict:
    """Fig. 1 / Sec. 1-2: "sensitivity peaks at intermediate spatial frequencies, while being
    insensitive to very high and low spatial frequencies": the mean profile's peak is neither the
    first (lowest-frequency) nor the last PCA component, and each end's energy over the energy at
    that peak ({end: Estimate over runs}) is below 1."""
    inner = exact(min(peak_component, n_components - 1 - peak_component))
    return judge(
        guard_,
        shape,
        check("peak component's distance from either end (components)", inner, ">=", 1),
        *[check(f"energy at the {end} component / at the peak", e, "<", 1.0) for end, e in ends.items()],
    )


def copy_keeps_spectrum(source: str, fit_of) -> Condition | None:
    """The premise of a row that fits eq. 3 to runs trained on the CIFAR-10 JPEG copy
    (``source``): the copy's lambda costs eq. 3 no more fit than Table 3's sd (fixtures/paper.toml
    [data_copy]; ``fit_of()`` = ``datacopy.copy_fit``, read only for such a row, None where it
    cannot be measured). None for a row trained on other data."""
    if not source.startswith("cifar10-jpeg"):
        return None
    fit = fit_of()
    what = "eq. 3 fit with the training copy's lambda (worst t; cifar10-exact needed to measure it)"
    if fit is None:
        what = what.replace("; cifar10-exact needed to measure it", "; not measured: cifar10-exact absent")
    value = exact(0.0 if fit is None else fit)
    return check(what, value, ">=", paper("data_copy")["min_fit"], premise=True)


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


def formula(
    fits: Estimate | None, guard_: Condition, bar: float | None, memorised=None, per_seed=None, copy=None, **dev
):
    """Table 3: the best-fit correlation of eq. 3 clears the bar (``fits`` over runs against
    ``bar``, where Table 3 prints a number), and every seed clears the bound App. C / Sec. 5
    state of the seeds they show (``per_seed``: (each run's fit, bound)), where they state one."""
    conditions = [c for c in (memorised, guard_, copy) if c is not None]
    if bar is None and per_seed is None:
        raise ValueError("checks.formula: the paper states no number for this row (no Table 3 bar, no per-seed bound)")
    if fits is not None and bar is not None:
        conditions.append(check("formula fit (Table 3)", fits, ">=", bar))
    if per_seed is not None:
        values, bound = per_seed  # every run must meet it; fewer than three runs cannot say so
        worst = exact(min(values)) if len(values) >= MIN_RUNS else over_runs(values, correlation=True)
        conditions.append(check("formula fit, lowest seed (every seed)", worst, ">=", bound))
    return judge(*conditions, **dev)


def formula_random_init(fits: Estimate, bar: float) -> Verdict:
    """Table 3 RANDOM INIT.: random filters do not fit eq. 3 (paper 0.1 ± 0.15, signed)."""
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
    component) at most ``max_abs``, an effect size (fixtures/paper.toml), the largest judged. A
    statistic of the images alone (no run), compared as it is."""
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


def whitening_learned(learned_c10, init_c10, rgb_c10: float, ratio: float, moved_: Condition, **dev) -> Verdict:
    """Fig. 6: training lowers C(10) from the init's, seed by seed, and brings it below
    ``ratio`` x C10(RGB) (paper ~0.2 vs > 0.5). C(10) reads W itself, so ``moved`` is its
    premise: a layer still mostly its init can neither PASS nor DEVIATE."""
    return judge(
        moved_,
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


def theorem_4_3(limit, start, rgb, ratio: float, shift: int) -> Verdict:
    """Thm 4.3 on real patches: as t -> inf eq. 3's bank decorrelates: at every distance delta
    = 1..``shift`` its C(delta) at the limit (``limit``, by delta) is below its start's (t = 1,
    the trivial profile ~ lambda: ``start``), and C(``shift``) falls to at most ``ratio`` x
    RGB's. One example of the property: exact numbers of its images."""
    limit, start = np.asarray(limit, float), np.asarray(start, float)
    rise = limit[1 : shift + 1] - start[1 : shift + 1]
    worst = int(np.argmax(rise)) + 1
    return judge(
        check(
            f"C(delta)(t -> inf) - C(delta)(t = 1), largest over delta = 1..{shift} (at {worst})",
            exact(rise.max()),
            "<",
            0.0,
        ),
        check(f"C{shift}(t -> inf) / C{shift}(RGB)", exact(limit[shift] / rgb[shift]), "<=", ratio),
    )


def imagenet(fits: Estimate, bar: float) -> Verdict:
    """Table 3 IMAGENET: the formula fits ImageNet-trained first layers (over the models)."""
    return judge(check("formula fit", fits, ">=", bar))


def appendix_d1(drop: Estimate, agreement: Estimate, guard_, memorised, bar: float) -> Verdict:
    """App. D.1, as the paper states it: with energy labels, true ~ random "drops to around 0":
    ``agreement`` (energy-label ~ random-label profiles) within ``bar`` of 0. The ``drop`` below
    the true-label baseline is reported beside it, not judged (another quantity)."""
    return judge(
        memorised,
        guard_,
        check("true ~ random with energy labels", agreement, "<=", bar),
        check("true ~ random with energy labels", agreement, ">=", -bar),
    )


def appendix_d1_unlearned(gap: Estimate, guard_, memorised) -> Verdict:
    """App. D.1 / Fig. 17: the labels of the component the random-label nets learn least break
    true ~ random more than those of the one they learn most: ``gap`` = corr(energy_most, random)
    - corr(energy_least, random) above 0."""
    return judge(memorised, guard_, check("energy ~ random: most-learned - least-learned component", gap, ">", 0.0))


def appendix_d2(
    modified: Estimate, gain: Estimate, true_random: Estimate, guard_, memorised, min_fit: float, bar: float, copy=None
) -> Verdict:
    """App. D.2: eq. 3 with the scaled eigenvalue fits, beats the unmodified formula, and true
    ~ random stays high; on the JPEG copy, with its spectrum as a premise (``copy``)."""
    return judge(
        memorised,
        guard_,
        check("modified formula fit", modified, ">=", min_fit),
        check("modified - unmodified fit", gain, ">", 0.0),
        check("true ~ random", true_random, ">=", bar),
        *([copy] if copy is not None else []),
    )


def linear_theory(corr: float, min_fit: float) -> Verdict:
    """Thm 4.2: the simulated linear CNN's profile matches eq. 3 (one example of the property:
    exact numbers of its simulation)."""
    return judge(check("eq. 3 vs simulated linear CNN", exact(corr), ">=", min_fit))
