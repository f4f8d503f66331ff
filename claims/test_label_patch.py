"""Fig. 5: one-vs-all labels are (nearly) uncorrelated with the images' patch PCA
coefficients, the premise of Theorem 4.2 (Definition A.4)."""

from __future__ import annotations

import numpy as np
import pytest

from harness import checks
from harness.data import normalise, subset
from harness.figures import heatmap
from harness.labelstats import image_pca_stats, label_correlations
from harness.plugin import SCALE
from harness.scales import paper
from harness.spectra import patch_pca


def pytest_generate_tests(metafunc):
    if "copy" in metafunc.fixturenames:
        cases = metafunc.config.stash[SCALE].label_patch
        metafunc.parametrize("copy,size", cases, ids=[f"{c}-{s}x{s}" for c, s in cases])


def image_stride(size):
    """Per-image statistics of 7x7 patches use every 4th patch per axis (147 projections each);
    the PCA itself always uses every patch."""
    return 1 if size == 3 else 4


@pytest.fixture(scope="module")
def measured(datasets, scale):
    memo = {}

    def get(copy, size):
        if (copy, size) not in memo:
            train = subset(datasets.split(copy), scale.label_patch_images)
            x, stats = normalise(train.pixels)
            pca = patch_pca(train.pixels, size, stats=stats)  # every patch, exact (0.9 s for 7x7)
            coef, energy = image_pca_stats(x, pca, stride=image_stride(size))
            k = len(train.classes)
            memo[copy, size] = (
                train,
                label_correlations(coef, train.labels, k),
                label_correlations(energy, train.labels, k),
            )
        return memo[copy, size]

    return get


def record_stats(record, train, coef, energy, copy, size, figures=True):
    """The numbers both Fig. 5 rows report; the heatmaps go with the median row only."""
    record(
        measured=float(np.median(np.abs(coef))),
        dataset=f"{copy} ({size}x{size}x3)",
        data_source=train.source,
        device="cpu",
        details={
            "per-image patches every (px)": image_stride(size),
            "max |corr| (coefficient)": float(np.abs(coef).max()),
            "share of pairs > 0.1 (coefficient)": float((np.abs(coef) > 0.1).mean()),
            "median |corr| (patch energy)": float(np.median(np.abs(energy))),
            "max |corr| (patch energy)": float(np.abs(energy).max()),
        },
        figures=[
            heatmap("coefficient", "label vs mean PCA coefficient (Fig. 5)", coef, train.classes),
            heatmap("energy", "label vs mean patch energy", energy, train.classes),
        ]
        if figures
        else [],
    )


@pytest.mark.claim("label_patch")
def test_label_patch(measured, copy, size, record):
    """Fig. 5 in the median: median |corr(label, PCA coefficient)| <= 0.1."""
    train, coef, energy = measured(copy, size)
    cfg = paper("label_patch")
    record_stats(record, train, coef, energy, copy, size)
    record(threshold=f"median |corr| <= {cfg['max_median']}")
    checks.label_patch(coef, cfg["max_median"])


@pytest.mark.claim("label_patch")
def test_label_patch_strict(measured, copy, size, record, request):
    """Fig. 5 read strictly ('all around 0'): every |corr| <= 0.1. A known deviation: it is
    expected to fail (xfail strict), so the day it holds the suite says so."""
    train, coef, energy = measured(copy, size)
    cfg = paper("label_patch")
    record_stats(record, train, coef, energy, copy, size, figures=False)
    worst = float(np.abs(coef).max())
    cls, comp = np.unravel_index(np.abs(coef).argmax(), coef.shape)
    record(measured=worst, threshold=f"max |corr| <= {cfg['strict_max']}")
    request.node.add_marker(
        pytest.mark.xfail(
            strict=True,
            reason=(
                f"known deviation: 'all around 0' holds in the median, not strictly: max |corr| {worst:.2f} "
                f"({train.classes[cls]} vs component {comp}), {(np.abs(coef) > 0.1).mean():.0%} of pairs > 0.1"
            ),
        )
    )
    checks.label_patch_strict(coef, cfg["strict_max"])
