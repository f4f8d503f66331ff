"""Theorem 4.2 as a property of the depth-2 linear CNN (Section 4, Appendix A),
on synthetic patches drawn from random covariances.

Premises of Thm 4.2: patches within an image uncorrelated, labels uncorrelated with the
PCA coefficients, many patches. One finding on the way: |u_i^T b| (eq. 15-16) is a folded
Gaussian whose relative spread (sd/mean ~ 0.76) does not shrink as N grows, so a *single*
network matches eq. 3 only up to that per-component noise; the formula is the expected
profile. We therefore train R networks on R independent label vectors side by side and
take the energy over all their filters (the average of eq. 1 over label draws).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.config.paper import paper
from harness.measures.spectra import correlation, energy_profile
from harness.measures.theory import linear_cnn_fit, linear_cnn_formula, synthetic_patches
from harness.verdicts import checks
from harness.verdicts.judge import STRUCTURED, property_control

common = dict(
    seed=st.integers(0, 10_000),
    filters=st.sampled_from([1, 2, 5, 8]),
    steps=st.sampled_from([10, 100, 1000]),
    init_scale=st.sampled_from([0.0, 1e-5, 1e-4, 1e-3]),
    decades=st.floats(2.0, 4.0),
)


def scrambled_fit(moved, patches, pca, filters, steps, seed) -> float:
    """The control: corr with eq. 3 of the same update, its 27 patch coordinates permuted (one
    permutation for every filter), so that it no longer lies in the PCA basis."""
    perm = torch.randperm(pca.dim, generator=torch.Generator().manual_seed(seed))
    e = energy_profile(moved.reshape(-1, pca.dim)[:, perm], pca)
    return correlation(e, linear_cnn_formula(patches, pca, filters, steps))


@pytest.mark.claim("linear_theory")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**common)
def test_formula_theorem_4_2_linear_cnn(seed, filters, steps, init_scale, decades, record):
    """(a) GD on the linear CNN gives the eq. 3 profile of W(t) - W(0) (corr >= 0.99) for any
    width and any small init scale; (b) every filter moves by the same vector (eq. 10).

    The init enters W(t) - W(0) through -K A w_bar(0), whose profile is ~lambda^2 rather than
    lambda: this is the xi of eq. 3, which vanishes only as sigma -> 0 (measured: sigma = 0.1
    with unit top eigenvalue drops the fit to ~0.98 at t = 10), so sigma is drawn small."""
    patches, labels, pca = synthetic_patches(seed, decades)
    corr, w0, wt = linear_cnn_fit(patches, labels, pca, filters, steps, init_scale, seed)
    worst = min(corr, record().get("measured") or 1.0)  # the row reports the worst example
    record(measured=worst, threshold=">= 0.99 (every example)", paper="eq. 3 exact as patches -> inf")
    verdict = checks.linear_theory(corr, paper("linear_theory")["min_fit"])
    assert verdict.passed, verdict.reason
    moved = wt - w0
    control = checks.linear_theory(
        scrambled_fit(moved, patches, pca, filters, steps, seed), paper("linear_theory")["min_fit"]
    )
    property_control(record, "the same update with its patch coordinates permuted" + STRUCTURED, control)
    assert torch.allclose(moved, moved[:, :1].expand_as(moved), atol=1e-10 * moved.abs().max().item()), (
        "eq. 10: filters moved by different vectors"
    )
