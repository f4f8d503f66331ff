"""Table 3 IMAGENET / App. C: the formula fits first layers trained on ImageNet.

The paper's five torchvision models need downloaded weights (run with --download, or have
them in the torch hub cache). Without them the ImageNet MobileNet first layers in
``pretrained/`` beside the data root stand in: their fit is reported and must beat random
filters, but the paper's 0.9 bar is asserted only for the models the paper measured.
"""

from __future__ import annotations

import pytest

from harness import checks
from harness.data import normalise
from harness.models import random_bank
from harness.scales import paper
from harness.spectra import energy_profile, patch_pca
from harness.theory import fit_formula

TORCHVISION = ["resnet18", "vgg11", "alexnet", "googlenet", "densenet121"]
MOBILENETS = ["mobilenet_v1_1.0_224", "mobilenet_v2_1.0_224", "tf2_mobilenet_v2_1.0_224"]


@pytest.fixture(scope="module")
def imagenet_pca(datasets, scale):
    """Patch PCA of ImageNet images (tiny-imagenet-10 here), keyed by patch size."""
    train = datasets.split("tiny-imagenet-10")
    _, stats = normalise(train.pixels)
    memo = {}

    def get(size):
        if size not in memo:
            memo[size] = (
                patch_pca(train.pixels, size, stats=stats)
                if size == 3
                else patch_pca(
                    train.pixels[: scale.large_patch_images], size, stride=scale.large_patch_stride, stats=stats
                )
            )
        return memo[size]

    return get, train.source


@pytest.mark.claim("imagenet")
@pytest.mark.parametrize("name", MOBILENETS)
def test_imagenet_mobilenet(imagenet_pca, datasets, name, record):
    """App. C stand-in: formula fit of ImageNet MobileNet first layers (3x3, 32 filters)."""
    w = datasets.pretrained(name)
    pcas, source = imagenet_pca
    p = pcas(w.shape[-1])
    fit = fit_formula(energy_profile(w, p), p.lambdas)
    ref = fit_formula(energy_profile(random_bank(w.shape[0], w.shape[-1]), p), p.lambdas).correlation
    record(
        measured=fit.correlation,
        dataset=f"ImageNet ({name})",
        data_source=f"{datasets.pretrained_dir() / name}_conv1.npy; PCA of {source}",
        paper=paper("imagenet")["paper"] + " (torchvision models)",
        device="cpu",
        threshold=f"> random-filter fit {ref:.2f} (the 0.9 bar applies to the paper's models)",
        details={"fitted t": fit.t, "random filters fit": ref},
    )
    checks.imagenet(fit.correlation, ref, name)


@pytest.mark.claim("imagenet")
@pytest.mark.parametrize("name", TORCHVISION)
def test_imagenet_torchvision(imagenet_pca, datasets, name, record):
    """Table 3 IMAGENET: formula fit of torchvision's ImageNet models (paper 0.9 ± 0.01)."""
    w = datasets.torchvision_first_layer(name)
    pcas, source = imagenet_pca
    p = pcas(w.shape[-1])
    fit = fit_formula(energy_profile(w, p), p.lambdas)
    cfg = paper("imagenet")
    record(
        measured=fit.correlation,
        dataset=f"ImageNet ({name})",
        data_source=f"torchvision; PCA of {source}",
        device="cpu",
        threshold=f">= {cfg['min_fit']}",
        details={"fitted t": fit.t},
    )
    checks.imagenet(fit.correlation, cfg["min_fit"], name)
