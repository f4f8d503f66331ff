"""What the network sees: subsets, binary pairs, random labels, normalisation, the label and
input variants of Appendix D, and ``prepare``, which turns a spec's decoded images into its
``TrainData``. Pure functions of tensors: where the images come from is ``harness.data.door``.

Most of it computes trained numbers: the definitions listed in ``harness.training.fingerprint``
(``TRAINED``) are the training code's fingerprint, and a change to one of them retrains every
cached run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from harness.data.patches import PatchPCA, patch_pca

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


# The binary subsets of Table 3 (the paper's "boat" is CIFAR-10's "ship").
BINARY_PAIRS = {
    "car-truck": ("automobile", "truck"),
    "dog-frog": ("dog", "frog"),
    "dog-cat": ("dog", "cat"),
    "bird-plane": ("bird", "airplane"),
    "ship-plane": ("ship", "airplane"),
}


@dataclass
class Images:
    """A decoded split: uint8 ``pixels`` (N, C, H, W), int64 ``labels``, the class names and
    a ``source`` string naming the copy that was read."""

    pixels: torch.Tensor
    labels: torch.Tensor
    classes: tuple
    source: str

    def __len__(self) -> int:
        return self.labels.shape[0]

    def take(self, index) -> Images:
        index = torch.as_tensor(index)
        return Images(self.pixels[index], self.labels[index], self.classes, self.source)


def subset(images: Images, n: int | None, seed: int = 0) -> Images:
    """A fixed, seeded random subset of ``n`` images (all when n is None or too large):
    ImageFolder copies are sorted by class, so a prefix would not be class-balanced."""
    if n is None or n >= len(images):
        return images
    g = torch.Generator().manual_seed(seed)
    return images.take(torch.randperm(len(images), generator=g)[:n].sort().values)


def binary(images: Images, pair: str) -> Images:
    """The binary subset ``pair`` (a key of BINARY_PAIRS, or 'a-b' class names), labels 0/1."""
    a, b = BINARY_PAIRS.get(pair, tuple(pair.split("-")))
    try:
        ia, ib = images.classes.index(a), images.classes.index(b)
    except ValueError:
        raise ValueError(f"binary subset '{pair}': classes {a!r}, {b!r} not in {images.classes}") from None
    keep = (images.labels == ia) | (images.labels == ib)
    out = images.take(keep.nonzero().squeeze(1))
    return Images(out.pixels, (out.labels == ib).long(), (a, b), out.source)


def random_labels(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Random labels as the authors make them: a seeded permutation (class counts kept)."""
    g = torch.Generator().manual_seed(10_000 + seed)
    return labels[torch.randperm(labels.shape[0], generator=g)]


def normalise(pixels: torch.Tensor, stats: tuple | None = None):
    """uint8 -> float32 scaled to [0,1] and standardised per channel (mean/std of ``pixels``
    unless ``stats`` = (mean, std) is given). Returns (images, (mean, std))."""
    x = pixels.float().div(255.0)
    if stats is None:
        mean = x.mean((0, 2, 3))
        std = x.std((0, 2, 3))
        stats = (mean, std)
    mean, std = stats
    return (x - mean[None, :, None, None]) / std[None, :, None, None], stats


def energy_decile_labels(x: torch.Tensor, u) -> torch.Tensor:
    """App. D.1: label = decile of an image's patch energy sum_i (P_i(X)^T u)^2 along u."""
    w = torch.as_tensor(u, dtype=torch.float32).reshape(1, x.shape[1], 3, 3)
    energy = torch.cat([F.conv2d(x[s : s + 1000], w).pow(2).sum((1, 2, 3)) for s in range(0, len(x), 1000)])
    rank = energy.argsort(descending=True).argsort()
    return (rank * 10 // len(x)).long()


def scale_component(x: torch.Tensor, u, alpha: float, size: int = 3) -> torch.Tensor:
    """App. D.2 (eq. 25): every non-overlapping size x size patch's coordinate along u is
    multiplied by alpha (the first layer then uses stride = size so patches do not overlap)."""
    _n, _c, h, w = x.shape
    hh, ww = h - h % size, w - w % size
    u = torch.as_tensor(u, dtype=x.dtype)
    cols = F.unfold(x[:, :, :hh, :ww], size, stride=size)  # (N, d, L)
    cols = cols + (alpha - 1) * u[None, :, None] * (u[None, :, None] * cols).sum(1, keepdim=True)
    return F.fold(cols, (hh, ww), size, stride=size)


@dataclass
class TrainData:
    """A run's training and test sets as the network sees them (normalised, variants applied)."""

    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    source: str
    pixels: torch.Tensor | None = None  # the uint8 training images before normalisation
    stats: tuple | None = None  # their normalisation (mean, std) per channel

    def patch_pca(self, size: int = 3) -> PatchPCA:
        """Exact patch PCA of the plain training images as the network sees them normalised
        (Def. 2.1), from the uint8 pixels when known (the exact integer path)."""
        if self.pixels is None:
            return patch_pca(self.x, size)
        return patch_pca(self.pixels, size, stats=self.stats)


def prepare(spec, train: Images, test: Images) -> TrainData:
    """The spec's images and labels, normalised once (train statistics for both splits), with
    the spec's binary subset, label variant (random, App. D.1 energy deciles) and input
    variant (App. D.2 scaled component) applied."""
    if spec.subset:
        train, test = binary(train, spec.subset), binary(test, spec.subset)
    train = subset(train, spec.images)
    x, stats = normalise(train.pixels)
    x_test, _ = normalise(test.pixels, stats)
    y, y_test = train.labels.clone(), test.labels.clone()
    num_classes = len(train.classes)
    kind, _, arg = spec.labels.partition(":")
    # App. D variants work in the patch PCA basis of the (normalised) training images
    pca = patch_pca(train.pixels, 3, stats=stats) if kind == "energy" or spec.inputs != "plain" else None
    if kind == "random":
        y = random_labels(y, spec.seed)
    elif kind == "energy":
        u = pca.eigvecs[:, int(arg)]
        y, y_test, num_classes = energy_decile_labels(x, u), energy_decile_labels(x_test, u), 10
    elif kind != "true":
        raise ValueError(f"unknown label variant '{spec.labels}' (true, random, energy:<component>)")
    if spec.inputs != "plain":
        kind, comp, alpha = spec.inputs.split(":")
        if kind != "scale":
            raise ValueError(f"unknown input variant '{spec.inputs}' (plain, scale:<component>:<alpha>)")
        u = pca.eigvecs[:, int(comp)]
        x, x_test = scale_component(x, u, float(alpha)), scale_component(x_test, u, float(alpha))
    return TrainData(x, y, x_test, y_test, num_classes, train.source, train.pixels, stats)
