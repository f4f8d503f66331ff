"""Table 3 IMAGENET / App. C: the formula fits first layers trained on ImageNet.

The paper's five torchvision models need downloaded weights (run with --download, or have
them in the torch hub cache). Without them the ImageNet MobileNet first layers in
``pretrained/`` beside the data root stand in: their fit is reported and must beat random
filters, but the paper's 0.9 bar is asserted only for the models the paper measured.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.data import DatasetNotFound, load_split, normalise
from harness.scales import paper
from harness.spectra import energy_profile, patch_pca
from harness.theory import fit_formula

TORCHVISION = ["resnet18", "vgg11", "alexnet", "googlenet", "densenet121"]


@pytest.fixture(scope="module")
def imagenet_pca(runs):
    """Patch PCA of ImageNet images (tiny-imagenet-10 here), keyed by patch size."""
    try:
        train = load_split("tiny-imagenet-10", "train", runs.data_root, runs.root)
    except DatasetNotFound as exc:
        pytest.skip(str(exc))
    _, stats = normalise(train.pixels)
    memo = {}

    def get(size):  # 7x7 / 11x11 patches: 1,000 images at stride 2 keep eigh's input small
        if size not in memo:
            memo[size] = (patch_pca(train.pixels, size, stats=stats) if size == 3
                          else patch_pca(train.pixels[:1000], size, stride=2, stats=stats))
        return memo[size]
    return get, train.source


def pretrained_dir(data_root: Path) -> Path:
    return Path(data_root).parent / "pretrained"


def random_fit(pca, filters, size):
    w = torch.nn.init.kaiming_uniform_(torch.empty(filters, 3, size, size), a=np.sqrt(5),
                                       generator=torch.Generator().manual_seed(0))
    return fit_formula(energy_profile(w, pca), pca.lambdas).correlation


@pytest.mark.claim("imagenet")
@pytest.mark.parametrize("name", ["mobilenet_v1_1.0_224", "mobilenet_v2_1.0_224", "tf2_mobilenet_v2_1.0_224"])
def test_imagenet_mobilenet(imagenet_pca, runs, name, record):
    """App. C stand-in: formula fit of ImageNet MobileNet first layers (3x3, 32 filters)."""
    file = pretrained_dir(runs.data_root) / f"{name}_conv1.npy"
    if not file.exists():
        pytest.skip(f"{file} not found: put the MobileNet first layers of shared/pretrained beside the data root")
    pcas, source = imagenet_pca
    w = torch.from_numpy(np.load(file))
    p = pcas(w.shape[-1])
    fit = fit_formula(energy_profile(w, p), p.lambdas)
    ref = random_fit(p, w.shape[0], w.shape[-1])
    record(measured=fit.correlation, dataset=f"ImageNet ({name})", data_source=f"{file}; PCA of {source}",
           paper=paper("imagenet")["paper"] + " (torchvision models)", device="cpu",
           threshold=f"> random-filter fit {ref:.2f} (the 0.9 bar applies to the paper's models)",
           details={"fitted t": fit.t, "random filters fit": ref})
    assert fit.correlation > ref, f"{name}: fit {fit.correlation:.3f} not above random filters {ref:.3f}"


@pytest.mark.claim("imagenet")
@pytest.mark.parametrize("name", TORCHVISION)
def test_imagenet_torchvision(imagenet_pca, runs, name, record):
    """Table 3 IMAGENET: formula fit of torchvision's ImageNet models (paper 0.9 ± 0.01)."""
    import torchvision
    weights = torchvision.models.get_model_weights(name).DEFAULT
    try:
        model = torchvision.models.get_model(name, weights=weights) if runs.download or _cached(weights) else None
    except Exception as exc:  # no network
        pytest.skip(f"{name} weights could not be had: {exc}")
    if model is None:
        pytest.skip(f"{name} ImageNet weights not in the torch hub cache: run with --download")
    from harness.models import first_layer
    w = first_layer(model).weight.detach()
    pcas, source = imagenet_pca
    p = pcas(w.shape[-1])
    fit = fit_formula(energy_profile(w, p), p.lambdas)
    cfg = paper("imagenet")
    record(measured=fit.correlation, dataset=f"ImageNet ({name})", data_source=f"torchvision; PCA of {source}",
           device="cpu", threshold=f">= {cfg['min_fit']}", details={"fitted t": fit.t})
    assert fit.correlation >= cfg["min_fit"], f"{name}: formula fit {fit.correlation:.3f} < {cfg['min_fit']}"


def _cached(weights) -> bool:
    hub = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    return hub.exists()
