"""The onset curves (harness.measures.onset): measures along the snapshots of a claim's runs."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from harness.data.patches import patch_pca
from harness.measures.onset import along, onset_figure


def run(seed, steps=(0, 25, 50, 75), accuracy=((50, 0.4), (75, 0.9))):
    g = torch.Generator().manual_seed(seed)
    w = {s: torch.randn(8, 3, 3, 3, generator=g) for s in steps}
    return SimpleNamespace(weights=w, init=w[0], history=[{"step": s, "train_acc": a} for s, a in accuracy])


@pytest.fixture(scope="module")
def pca():
    return patch_pca(torch.randn(6, 3, 10, 10, generator=torch.Generator().manual_seed(0)))


def test_two_groups_give_agreement_fits_and_the_last_groups_accuracy(pca):
    out = along({"true": [run(0), run(1)], "random": [run(2, steps=(0, 25, 50))]}, pca)
    assert out["step"] == [25, 50]  # common to every run, step 0 excluded
    assert set(out) == {"step", "guard", "true ~ random", "formula fit (true)", "formula fit (random)",
                        "train accuracy (random)"}  # fmt: skip
    assert np.isnan(out["train accuracy (random)"][0]) and out["train accuracy (random)"][1] == 0.4
    assert all(-1 <= v <= 1 for k, vs in out.items() if k not in ("step", "train accuracy (random)") for v in vs)


def test_one_group_has_no_agreement_curve(pca):
    out = along({"random": [run(0)]}, pca)
    assert "random ~ random" not in out and len(out) == 4
    fig = onset_figure(out, pca, judged=75)
    assert fig["logx"] and fig["series"][-1]["x"] == [75, 75]
