"""The intervals of harness.verdicts.stats, measured: coverage by simulating the claims' own designs
(runs drawn as noisy profiles around a true profile, paired as the claims pair them), against
the interval that takes pairs as independent draws, which must be shown to under-cover.

Two models of how runs differ (docs/method.md):
- ``each run its own t``: a run's profile is eq. 3 at its own t (log-normal around the
  condition's, sd 0.3 in log t), times per-component noise (sd 0.1 in log): runs differ mostly
  as a whole, as the fitted t of the cpu scale's seeds does;
- ``iid per component``: per-component noise only (sd 0.2 in log), the case in which the
  delete-one-run jackknife of pairs within a group is most conservative (Efron & Stein 1981):
  its interval must not under-cover there, and its over-coverage is bounded and reported.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.measures.spectra import correlation
from harness.measures.theory import formula_profile, random_covariance
from harness.verdicts import stats

LAMBDAS = np.sqrt(np.sort(np.linalg.eigvalsh(random_covariance(27, 4.0, seed=1)))[::-1])
T = {"a": 300.0, "b": 600.0, "c": 1000.0}  # true profiles of conditions (true labels, random labels; c: shared)
EXPERIMENTS = 2000  # per design: a 95% coverage is measured to about ±0.005 (one sd)
MODELS = {"each run its own t": (0.3, 0.1), "iid per component": (0.0, 0.2)}  # (sd of log t, sd per component)


def draw(rng, condition: str, shape: tuple, model: str) -> np.ndarray:
    """Profiles of ``shape`` runs (leading axes) of one condition under ``model``."""
    log_t, per_component = MODELS[model]
    t = T[condition] * np.exp(log_t * rng.standard_normal(int(np.prod(shape))))
    p = formula_profile(LAMBDAS, t).reshape(*shape, len(LAMBDAS))
    return p * np.exp(per_component * rng.standard_normal(p.shape))


def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation over the last axis, broadcast."""
    a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def truth(rng, design: tuple, model: str) -> float:
    """tanh(E[atanh corr]) of two independent runs of the design's conditions (the quantity
    the estimators target), from 200,000 independent pairs."""
    second = "a" if design[0] == "within" else "b"
    return float(
        np.tanh(np.arctanh(corr(draw(rng, "a", (200_000,), model), draw(rng, second, (200_000,), model))).mean())
    )


def experiment(rng, design: tuple, model: str):
    """(new estimate, pairs-as-units estimate) of one simulated experiment."""
    if design[0] == "within":
        n = design[1]
        p = draw(rng, "a", (n,), model)
        h = np.array([corr(p[i], p[j]) for i, j in itertools.combinations(range(n), 2)])
        return stats.within_values(h, n), stats.pairs_as_units(h, correlation=True)
    a, b = draw(rng, "a", (design[1],), model), draw(rng, "b", (design[2],), model)
    h = corr(a[:, None, :], b[None, :, :])
    return stats.between_values(h), stats.pairs_as_units(h, correlation=True)


def coverage(design: tuple, model: str, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    target = truth(rng, design, model)
    hits = np.zeros(2)
    for _ in range(EXPERIMENTS):
        for k, e in enumerate(experiment(rng, design, model)):
            lo, hi = e.interval
            hits[k] += lo <= target <= hi
    return tuple(hits / EXPERIMENTS)


# the designs of the cpu scale's claims: seed ~ seed (4 within), true ~ random, VGG ~ ResNet and
# each width ~ the base width (3 x 3), and two more. An unbalanced 6 x 3 covered 92.9% (Welch's
# degrees of freedom are a little liberal there), so no claim pools unequal groups
DESIGNS = [("within", 3), ("within", 4), ("between", 3, 3), ("between", 4, 4), ("between", 5, 5)]
# 97%, but 98% for pairs within a group of three: with three runs no unbiased variance of a
# U-statistic exists and the jackknife is the conservative one (measured 97.7%, docs/method.md)
HIGH = {d: 0.98 if d == ("within", 3) else 0.97 for d in DESIGNS}


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: "x".join(map(str, d[1:])) + f"-{d[0]}")
def test_run_unit_intervals_cover_and_pairs_as_units_do_not(design):
    """Each run its own t: the new interval covers the truth in 93-97% of 2,000 simulated
    experiments (98% for three runs within a group: ``HIGH``); the pairs-as-units interval of
    the same experiments covers less than 93%."""
    new, old = coverage(design, "each run its own t")
    assert 0.93 <= new <= HIGH[design], f"{design}: run-unit interval covers {new:.3f}"
    assert old < 0.93, f"{design}: pairs-as-units covers {old:.3f}, the test could not tell them apart"


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: "x".join(map(str, d[1:])) + f"-{d[0]}")
def test_with_iid_component_noise_the_intervals_are_conservative_not_narrow(design):
    """IID per-component noise, the jackknife's most conservative case: it never under-covers
    (>= 93%) and over-covers by at most 3.5 points; pairs as units still under-covers."""
    new, old = coverage(design, "iid per component", seed=1)
    assert 0.93 <= new <= 0.985, f"{design}: run-unit interval covers {new:.3f}"
    assert old < 0.93, f"{design}: pairs-as-units covers {old:.3f}"


def test_one_value_per_run_covers():
    """A value per run (a formula fit), on Fisher's z: the t interval covers 93-97%."""
    rng = np.random.default_rng(2)
    fits = np.tanh(np.arctanh(0.93) + 0.3 * rng.standard_normal((EXPERIMENTS, 3)))
    hits = [stats.over_runs(f, correlation=True).interval for f in fits]
    share = np.mean([lo <= 0.93 <= hi for lo, hi in hits])
    assert 0.93 <= share <= 0.97, share


@pytest.mark.parametrize("shape", [(3, 1), (1, 3), (2, 2)], ids=["3x1", "1x3", "2x2"])
def test_a_group_of_fewer_than_three_runs_gives_no_interval(shape):
    """3 x 1 (VGG ~ one ResNet), 1 x 3 (one energy-label run ~ random), 2 x 2 (the converged
    scale's seeds): too few runs, no interval; where pairs as units would give one, it
    under-covers."""
    rng = np.random.default_rng(3)
    target = truth(rng, ("between",), "each run its own t")
    hits = 0
    for _ in range(EXPERIMENTS):
        a, b = draw(rng, "a", (shape[0],), "each run its own t"), draw(rng, "b", (shape[1],), "each run its own t")
        h = corr(a[:, None, :], b[None, :, :])
        e = stats.between_values(h)
        assert e.too_few and e.interval is None
        lo, hi = stats.pairs_as_units(h, correlation=True).interval
        hits += lo <= target <= hi
    assert hits / EXPERIMENTS < 0.93


def test_correlation_intervals_stay_within_minus_one_and_one():
    """Fisher's z keeps every interval of correlations inside [-1, 1], even at 0.999 with two
    degrees of freedom; a mean of near-1 correlations is not pushed past 1."""
    e = stats.within_values([0.999, 0.95, 0.9], 3)
    lo, hi = e.interval
    assert -1 <= lo < e.value < hi <= 1
    e = stats.over_runs([0.99, 0.999, 0.9999], correlation=True)
    assert e.interval[1] <= 1 and e.value < 1
    e = stats.between_values(np.full((3, 3), -0.9999))
    assert e.interval[0] >= -1


def test_the_within_jackknife_is_the_leave_one_run_out_variance():
    """Three runs: each leave-one-out mean is the one pair without that run, so the jackknife
    variance is (n - 1) / n times their sum of squares, on z."""
    h = np.array([0.9, 0.8, 0.95])  # pairs (0, 1), (0, 2), (1, 2)
    z = np.arctanh(h)
    loo = z[::-1]  # without run 0: pair (1, 2); without 1: (0, 2); without 2: (0, 1)
    se = np.sqrt(2 / 3 * ((loo - loo.mean()) ** 2).sum())
    assert stats.within_values(h, 3).se == pytest.approx(se)
    assert stats.within([1, 2, 3], lambda a, b: {(1, 2): 0.9, (1, 3): 0.8, (2, 3): 0.95}[a, b]).se == pytest.approx(se)


def test_the_two_sample_jackknife_is_rows_and_columns():
    """Between two groups: the variance of the row means over n_a plus the column means' over n_b."""
    h = np.array([[0.9, 0.8, 0.7], [0.85, 0.9, 0.6], [0.95, 0.7, 0.8]])
    z = np.arctanh(h)
    v = z.mean(1).var(ddof=1) / 3 + z.mean(0).var(ddof=1) / 3
    assert stats.between_values(h).se == pytest.approx(np.sqrt(v))
    a, b = [0, 1, 2], [0, 1, 2]
    assert stats.between(a, b, lambda i, j: h[i, j]).value == pytest.approx(np.tanh(z.mean()))


def test_the_estimate_names_its_runs_and_says_too_few():
    e = stats.between_values(np.full((3, 3), 0.9) + np.eye(3) * 0.01, ("true", "random"))
    assert e.units() == "3 true x 3 random runs" and not e.too_few
    one = stats.over_runs([0.5])
    assert one.too_few and one.interval is None and "too few" in one.text()
    assert stats.exact(0.5).text() == "0.500" and not stats.exact(0.5).too_few


def test_seeds_needed_grows_as_the_margin_shrinks():
    e = stats.over_runs([0.93, 0.94, 0.92], correlation=True)
    far, near = stats.seeds_needed(e, 0.80), stats.seeds_needed(e, 0.925)
    assert far == 3 and near is not None and near > far
    assert stats.seeds_needed(e, e.value) is None  # on the bar: no number of runs decides
    assert stats.seeds_needed(stats.exact(0.5), 0.4) is None


def test_pairs_as_units_is_not_correlation():
    """Sanity: correlation() of the harness and corr() here agree (the simulation measures what
    the claims measure)."""
    rng = np.random.default_rng(4)
    a = draw(rng, "a", (2,), "each run its own t")
    assert corr(a[0], a[1]) == pytest.approx(correlation(a[0], a[1]))


def shared_experiment(rng, model: str, n: int = 3):
    """App. D.1's design across components: energy-label runs of two components (conditions a, b)
    each paired with the same random-label runs (condition c), n runs a group."""
    a, b, r = (draw(rng, k, (n,), model) for k in ("a", "b", "c"))
    return stats.difference_sharing_columns(corr(a[:, None], r[None]), corr(b[:, None], r[None]))


@pytest.mark.parametrize(("model", "high"), [("each run its own t", 0.97), ("iid per component", 0.985)])
def test_the_difference_against_shared_runs_covers(model, high):
    """mean corr(a, c) - mean corr(b, c) with the c runs shared: its interval covers the truth
    in 93% to ``high`` of 2,000 simulated 3 x 3 x 3 experiments (measured 95.8% and 97.0%)."""
    rng = np.random.default_rng(2)
    big = 200_000
    c = draw(rng, "c", (big,), model)
    target = float(corr(draw(rng, "a", (big,), model), c).mean() - corr(draw(rng, "b", (big,), model), c).mean())
    hits = 0
    for _ in range(EXPERIMENTS):
        lo, hi = shared_experiment(rng, model).interval
        hits += lo <= target <= hi
    assert 0.93 <= hits / EXPERIMENTS <= high, f"{model}: covers {hits / EXPERIMENTS:.3f}"


def test_the_difference_of_two_groups_covers_its_truth_95_in_100():
    """Welch's interval of mean(b) - mean(a), simulated: 3 and 10 runs a group, unequal spreads."""
    rng = np.random.default_rng(0)
    for na, nb in ((3, 3), (10, 10), (3, 10)):
        hits = 0
        for _ in range(2000):
            e = stats.difference(rng.normal(0.9, 0.01, na), rng.normal(0.92, 0.03, nb))
            hits += e.interval[0] <= 0.02 <= e.interval[1]
        assert 0.93 <= hits / 2000 <= 0.975, (na, nb, hits / 2000)
    assert stats.difference([0.9, 0.91], [0.9]).interval is None  # too few runs: no interval
    # two groups' means, not pairs across them: the groups' counts are joined by "and"
    assert stats.difference([0.9] * 3, [0.91] * 4, ("exact", "copy")).units() == "3 exact and 4 copy runs"
    assert stats.between(np.eye(3), np.eye(3), lambda a, b: 1.0, ("a", "b")).units() == "3 a x 3 b runs"
