"""How a verdict reads the paper: premises make a row INCONCLUSIVE and win over a failing
condition; a PASS needs a structured control that FAILs; the null of plausible bumps; the
per-seed statement; Fig. 1's peak; the training copy as a premise."""

from __future__ import annotations

import numpy as np
import torch

from harness.data.patches import pca_from_covariance
from harness.measures import nulls
from harness.measures.spectra import correlation, energy_profile
from harness.measures.theory import fit_formula_authors, formula_profile, random_covariance, trivial_bar
from harness.verdicts import checks, stats
from harness.verdicts.controls import STRUCTURED, profiled_bank
from harness.verdicts.judge import Verdict, check, judge, stands

PCA = pca_from_covariance(random_covariance(27, 4.0, seed=1), np.zeros(27), 1, 3, 3)


def test_an_unmet_premise_wins_over_a_failing_condition():
    premise = check("max corr with lambda (guard)", stats.exact(0.9), "<=", 0.775, premise=True)
    stated = check("seed ~ seed", stats.over_runs([0.1, 0.2, 0.15], correlation=True), ">=", 0.91)
    v = judge(premise, stated)
    assert v.verdict == "INCONCLUSIVE"
    assert "premise not met" in v.reason and "guard" in v.reason and "Would FAIL on: seed ~ seed" in v.reason


def test_a_premise_not_established_is_inconclusive_too():
    """A premise whose interval straddles its bar is not met: the row cannot FAIL on it either."""
    moved = check("moved", stats.over_runs([0.2, 0.5, 0.8], correlation=True), "<=", 0.44, premise=True)
    stated = check("C10 ratio", stats.over_runs([0.7, 0.75, 0.8]), "<=", 0.4)
    v = judge(moved, stated)
    assert v.verdict == "INCONCLUSIVE" and "not established" in v.reason


def test_a_deviation_never_stands_on_an_unmet_premise():
    """A layer still at its init cannot DEVIATE: the premise wins before the deviation is read."""
    from harness.verdicts.judge import Deviation

    moved = check("moved", stats.exact(0.95), "<=", 0.44, premise=True)
    stated = check("C10 ratio", stats.over_runs([0.7, 0.75, 0.8]), "<=", 0.4)
    v = judge(moved, stated, deviation=Deviation("because", "fit >= 0.5"), measured={"fit": 0.9})
    assert v.verdict == "INCONCLUSIVE"


def test_a_pass_needs_a_structured_control_that_fails():
    ok = Verdict("PASS", "fine")
    failed, passed = Verdict("FAIL", "no"), Verdict("PASS", "yes")
    assert stands(ok, {"init + noise": failed, "bumps" + STRUCTURED: failed}) is None
    why = stands(ok, {"init + noise": failed, "bumps" + STRUCTURED: passed})
    assert why is not None and "structure" in why
    assert stands(ok, {"a control of another kind": failed}) is None  # claims with no structured control


def test_plausible_bumps_meet_the_guard_and_are_drawn_the_same_every_time():
    b = nulls.plausible(PCA, 200)
    assert b.shape == (200, 27)
    assert all(correlation(x, PCA.lambdas) <= trivial_bar(PCA.lambdas) for x in b)
    assert np.array_equal(b, nulls.plausible(PCA, 200))
    assert np.argmax(b, axis=1).max() <= 0.4 * 26 + 1  # centres over the first 40% of components


def test_null_pass_rates_are_shares_and_fall_as_the_bar_rises():
    learned = [formula_profile(PCA.lambdas, 300.0)]
    low, high = (nulls.agreement_pass_rate(learned, PCA, b) for b in (0.5, 0.95))
    assert 0 <= high <= low <= 1
    assert nulls.agreement_pass_rate([nulls.plausible(PCA, 1)[0]], PCA, -1.0) == 1.0


def test_an_inverted_profile_does_not_fit_eq_3():
    """The structured control of the fit rows: eq. 3's own profile fits; turned upside down (U-
    shaped, peaks at both ends) it no longer does."""
    eq3 = formula_profile(PCA.lambdas, 300.0)
    assert fit_formula_authors(eq3, PCA.lambdas).correlation > 0.99
    assert fit_formula_authors(nulls.inverted(eq3), PCA.lambdas).correlation < 0.9


def test_a_profiled_bank_has_exactly_the_profile_asked_for_at_any_width():
    e = nulls.plausible(PCA, 1)[0]
    for filters in (8, 64):
        w = profiled_bank(torch.zeros(filters, 3, 3, 3), PCA, e, seed=1)
        got = energy_profile(w, PCA)
        assert np.allclose(got / got.max(), e / e.max(), atol=1e-5)


def test_per_seed_statement_is_judged_run_by_run():
    """App. C, Fig. 15 "Correlations are above 0.94": every run, not the mean."""
    g = check("guard", stats.exact(0.1), "<=", 0.775, premise=True)
    fits = [0.97, 0.96, 0.93]
    est = stats.over_runs(fits, correlation=True)
    v = checks.formula(est, g, 0.92, per_seed=(fits, 0.94))
    assert v.verdict == "FAIL" and "lowest seed" in v.reason
    good = [0.97, 0.965, 0.96]
    assert checks.formula(stats.over_runs(good, correlation=True), g, 0.92, per_seed=(good, 0.94)).verdict == "PASS"
    assert checks.formula(None, g, None, per_seed=([0.97], 0.94)).verdict == "INCONCLUSIVE"  # one run


def test_the_copy_is_a_premise_of_eq_3_fits_on_it():
    assert checks.copy_keeps_spectrum("cifar10-exact (train)", lambda: 1 / 0) is None  # not even measured
    low = checks.copy_keeps_spectrum("cifar10-jpeg (train, sha256 x)", lambda: 0.976)
    assert low.premise and low.verdict == "FAIL"
    unknown = checks.copy_keeps_spectrum("cifar10-jpeg (train)", lambda: None)
    assert unknown.verdict == "FAIL" and "not measured" in unknown.what
    g = check("guard", stats.exact(0.1), "<=", 0.775, premise=True)
    v = checks.formula(stats.over_runs([0.97, 0.96, 0.95], correlation=True), g, 0.92, copy=low)
    assert v.verdict == "INCONCLUSIVE" and "training copy" in v.reason


def test_the_peak_check_fails_a_profile_that_peaks_at_an_end():
    g = check("guard", stats.exact(0.1), "<=", 0.775, premise=True)
    shape = check("shape", stats.exact(1.0), ">", 0.2, premise=True)
    below = {"first": stats.over_runs([0.3, 0.4, 0.35]), "last": stats.over_runs([0.1, 0.12, 0.11])}
    assert checks.peak(below, 5, 27, g, shape).verdict == "PASS"
    assert checks.peak(below, 0, 27, g, shape).verdict == "FAIL"
    above = {"first": stats.over_runs([1.3, 1.4, 1.35]), "last": stats.over_runs([0.1, 0.12, 0.11])}
    assert checks.peak(above, 5, 27, g, shape).verdict == "FAIL"
