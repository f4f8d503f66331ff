"""The fixtures every claim shares: the scale, the device (an xdist worker i pinned to GPU i),
progress lines past pytest's capture, the one door to data, the run cache, the patch PCA (of a
run's images, and of ImageNet images by kernel size), and ``record`` (a claim's numbers for its
report row)."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from harness.config.scales import Scale
from harness.data.door import Datasets
from harness.data.images import normalise
from harness.measures.layers import pca_for
from harness.plugin.state import DATA_ROOT, DEVICE, ROW, RUN_CACHE, RUNS, SCALE, downloading, launcher
from harness.training.cache import RunCache
from harness.training.store import StoreCache


@pytest.fixture(scope="session")
def scale(pytestconfig) -> Scale:
    return pytestconfig.stash[SCALE]


@pytest.fixture(scope="session")
def device(pytestconfig) -> str:
    if pytestconfig.stash[DEVICE] == "cpu":
        return "cpu"
    if not torch.cuda.is_available():  # --launcher submitit from a login node: the jobs train on GPU nodes
        return "cuda"
    return pin_device(os.environ.get("PYTEST_XDIST_WORKER"), torch.cuda.device_count(), torch.cuda.set_device)


def pin_device(worker: str | None, count: int, set_device) -> str:
    """This process's GPU (``gpu_of``), made its current device, so that an ``-n`` worker opens
    its CUDA context there and not on GPU 0."""
    device = gpu_of(worker, count)
    set_device(device)
    return device


def gpu_of(worker: str | None, count: int) -> str:
    """xdist worker gw<i> trains on GPU i, modulo the GPUs there are; one process on GPU 0."""
    i = int(worker[2:]) if worker and worker.startswith("gw") else 0
    return f"cuda:{i % max(1, count)}"


@pytest.fixture(scope="session")
def progress(pytestconfig):
    """``progress(msg)``: a line on the real terminal, past pytest's capture (training,
    downloads and first decodes are long)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(msg):
        with capture.global_and_fixture_disabled():
            print(f"firstlayer: {msg}", file=sys.stderr, flush=True)

    return say


@pytest.fixture(scope="session")
def datasets(pytestconfig, progress) -> Datasets:
    """The one door to data: splits, a run's training set, patch PCAs, pretrained layers."""
    cfg = pytestconfig
    return Datasets(cfg.stash[DATA_ROOT], cfg.stash[RUN_CACHE], download=downloading(cfg), progress=progress)


@pytest.fixture(scope="session")
def runs(pytestconfig, datasets, device, progress) -> RunCache:
    """The shared run cache: ``runs.get(spec)`` returns a trained run (training it once); with
    ``--reference``, the run store, which trains nothing."""
    if pytestconfig.getoption("reference"):
        cache = StoreCache(datasets, progress=progress)
    else:
        cache = RunCache(
            pytestconfig.stash[RUN_CACHE],
            datasets,
            device,
            progress=progress,
            launcher=launcher(pytestconfig, progress),
        )
    pytestconfig.stash[RUNS] = cache  # for the report: the runs this process trained and read
    return cache


@pytest.fixture(scope="session")
def pca(datasets):
    """``pca(spec, size=3)``: exact patch PCA of the images the spec trains on (Def. 2.1)."""
    return datasets.pca


@pytest.fixture(scope="session")
def imagenet_pca(datasets, scale):
    """``(get, source)``: ``get(size)`` is the patch PCA of tiny-imagenet-10 for ``size`` x ``size``
    filters, as ``firstlayer inspect`` builds it (``pca_for``: every image at stride 1 for 3x3,
    the scale's ``large_patch_images`` at ``large_patch_stride`` for larger), each size once;
    Table 3 IMAGENET / App. C and App. B's ImageNet rows read it."""
    train = datasets.split("tiny-imagenet-10")
    _, stats = normalise(train.pixels)
    memo = {}

    def get(size):
        if size not in memo:
            few, stride = (None, 1) if size == 3 else (scale.large_patch_images, scale.large_patch_stride)
            memo[size] = pca_for(train.pixels, size, stats, few, stride)
        return memo[size]

    return get, train.source


@pytest.fixture
def record(request):
    """``record(measured=..., sd=..., n=..., details=..., figures=..., paper=..., threshold=...)``:
    the numbers of this claim for the report (call it before asserting)."""
    row = request.node.stash.setdefault(ROW, {})

    def put(**values) -> dict:
        row.update(values)
        return row

    return put
