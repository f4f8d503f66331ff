"""Where data come from: a registry of dataset names -> on-disk copies, each with the reader
that decodes it to uint8 (``harness.data.door`` reads them, once).

A name resolves under the data root to the first of its copies that exists (the report
says which one was read):

=====================  ===================================================================
``cifar10``            ``cifar-10-batches-py`` (torchvision's original; can be downloaded),
                       ``cifar10-jpeg``, ``cifar10-exact`` (ImageFolder trees)
``cifar10-jpeg``       ``cifar10-jpeg`` (ImageFolder, all of CIFAR-10 re-encoded as JPEG)
``cifar10-exact``      ``cifar10-exact`` (ImageFolder, a pixel-exact 5,000-image subset)
``cifar100``           ``cifar-100-python`` (torchvision; can be downloaded), ``cifar100-resplit``
                       (``train.npz``/``test.npz``: 40,000 real images, not the official split)
``celeba``             ``celeba`` (torchvision; label = the ``Smiling`` attribute; can be downloaded),
                       ``celeba-smiling-10k`` (ImageFolder by ``Smiling``, half resolution)
``tiny-imagenet-10``   ``tiny-imagenet-10`` (ImageFolder, splits train/val)
any other name         ``<root>/<name>`` or an absolute path: an ImageFolder tree with
                       ``train/`` and ``test/`` (or ``val/``)
=====================  ===================================================================

First convolutions of ImageNet-trained models are read from ``pretrained/`` beside the
data root (``Datasets.pretrained``) or from torchvision's weights (``torchvision_first_layer``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


class DatasetNotFound(FileNotFoundError):
    """No copy of a dataset (or of pretrained weights); the message, one line, lists what
    was tried and how to get it. Claims that need it are skipped with that line."""


Decoded = tuple  # (uint8 pixels (N, C, H, W), int64 labels, class names)


@dataclass(frozen=True)
class Copy:
    """One on-disk layout of a dataset: ``folder`` under the data root, read by ``read(root,
    split, download)`` into a ``Decoded`` triple, or None when that split is not there."""

    folder: str
    read: Callable[[Path, str, bool], Decoded | None]
    downloadable: bool = False


# Class names of the ImageNet classes in tiny-imagenet-10 (its folders are WordNet ids).
WORDNET = {
    "n01443537": "goldfish",
    "n01641577": "bullfrog",
    "n01882714": "koala",
    "n02123045": "tabby",
    "n02124075": "Egyptian cat",
    "n02279972": "monarch",
    "n04146614": "school bus",
    "n04285008": "sports car",
    "n07749582": "lemon",
    "n07873807": "pizza",
}


def _image_folder(folder: str) -> Callable:
    def read(root: Path, split: str, download: bool = False):
        path = root / folder
        if split != "train" and not (path / split).is_dir():
            split = "val" if split == "test" else "test"
        if not (path / split).is_dir():
            return None
        from torchvision.datasets import ImageFolder

        ds = ImageFolder(str(path / split))
        pixels = np.stack([np.asarray(ds.loader(p).convert("RGB")) for p, _ in ds.samples])
        labels = torch.as_tensor(ds.targets)
        classes = tuple(WORDNET.get(c, c) for c in ds.classes)
        return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), labels, classes

    return read


def _torchvision(kind: str) -> Callable:
    def read(root: Path, split: str, download: bool = False):
        import torchvision.datasets as tvd

        try:
            ds = getattr(tvd, kind)(str(root), train=split == "train", download=download)
        except RuntimeError:  # torchvision: "Dataset not found or corrupted"
            return None
        pixels = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        return pixels, torch.as_tensor(ds.targets), tuple(ds.classes)

    return read


def _celeba(root: Path, split: str, download: bool = False):
    import torchvision.datasets as tvd
    from PIL import Image

    try:
        ds = tvd.CelebA(str(root), split="train" if split == "train" else "test", target_type="attr", download=download)
    except RuntimeError:
        if download:
            raise
        return None
    col = ds.attr_names.index("Smiling")
    folder = root / "celeba" / "img_align_celeba"
    pixels = np.stack([np.asarray(Image.open(folder / f).convert("RGB").resize((32, 32))) for f in ds.filename])
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), ds.attr[:, col].long(), ("not smiling", "smiling")


def _npz(folder: str) -> Callable:
    """``<folder>/<split>.npz`` with ``x`` uint8 (N, H, W, 3) and ``y`` labels; class names from
    ``classes.txt`` (one a line, in label order) where present."""

    def read(root: Path, split: str, download: bool = False):
        path = root / folder / f"{'train' if split == 'train' else 'test'}.npz"
        if not path.is_file():
            return None
        with np.load(path) as arrays:
            pixels, labels = arrays["x"], arrays["y"].astype(np.int64)
        names = root / folder / "classes.txt"
        n = int(labels.max()) + 1
        classes = tuple(names.read_text().split()) if names.is_file() else tuple(str(i) for i in range(n))
        return (
            torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).contiguous(),
            torch.from_numpy(labels),
            classes,
        )

    return read


def _resized_folder(folder: str, size: int = 32) -> Callable:
    """An ImageFolder tree whose images are resized to ``size`` x ``size`` as ``_celeba`` resizes
    torchvision's CelebA (PIL's ``resize``, its default filter); class folder names with '_'
    read as words ('not_smiling' -> 'not smiling')."""

    def read(root: Path, split: str, download: bool = False):
        path = root / folder / ("train" if split == "train" else "test")
        if not path.is_dir():
            return None
        from PIL import Image
        from torchvision.datasets import ImageFolder

        ds = ImageFolder(str(path))
        pixels = np.stack([np.asarray(Image.open(p).convert("RGB").resize((size, size))) for p, _ in ds.samples])
        classes = tuple(c.replace("_", " ") for c in ds.classes)
        return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(ds.targets), classes

    return read


# How a copy differs from the original dataset (the report names it beside the copy).
DIFFERS = {
    "cifar10-jpeg": "all of CIFAR-10 re-encoded as JPEG (median PSNR 30 dB): the smallest patch eigenvalues are low",
    "cifar10-exact": "pixel-exact, but 4,000 training images of 50,000",
    "cifar100-resplit": "40,000 real CIFAR-100 images re-split 300 / 100 a class: not the official train/test split",
    "celeba-smiling-10k": "the first 10,000 aligned faces at half resolution (89x109 JPEG), resized to 32x32; "
    "not the official split",
}


_CIFAR10_FOLDERS = (
    Copy("cifar10-jpeg", _image_folder("cifar10-jpeg")),
    Copy("cifar10-exact", _image_folder("cifar10-exact")),
)


DATASETS: dict[str, tuple[Copy, ...]] = {
    "cifar10": (Copy("cifar-10-batches-py", _torchvision("CIFAR10"), downloadable=True), *_CIFAR10_FOLDERS),
    "cifar10-jpeg": _CIFAR10_FOLDERS[:1],
    "cifar10-exact": _CIFAR10_FOLDERS[1:],
    "cifar100": (
        Copy("cifar-100-python", _torchvision("CIFAR100"), downloadable=True),
        Copy("cifar100-resplit", _npz("cifar100-resplit")),
    ),
    "celeba": (
        Copy("celeba", _celeba, downloadable=True),
        Copy("celeba-smiling-10k", _resized_folder("celeba-smiling-10k")),
    ),
    "tiny-imagenet-10": (Copy("tiny-imagenet-10", _image_folder("tiny-imagenet-10")),),
}


def copies(name: str) -> tuple[Copy, ...]:
    """The registered copies of ``name``; any other name is one ImageFolder tree (a folder
    under the data root, or an absolute path)."""
    return DATASETS.get(name, (Copy(name, _image_folder(name)),))


def torchvision_mismatch(load=None, versions=None) -> str | None:
    """None where torchvision imports; else one line: which torchvision was built for which torch,
    and the pip line that installs the torchvision of this torch (torchvision 0.(m+15) goes with
    torch 2.m). A torchvision built for another torch fails on its first operator
    ('operator torchvision::nms does not exist')."""
    load = load or (lambda: importlib.import_module("torchvision"))
    try:
        load()
        return None
    except (RuntimeError, ImportError, AttributeError) as exc:
        torch_v, vision_v = versions or (torch.__version__, _installed("torchvision"))
        major, minor = (int(p) for p in torch_v.split("+")[0].split(".")[:2])
        fix = f"0.{minor + 15}" if major == 2 else "the release made for it"
        first = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
        return (
            f"torchvision {vision_v} does not load with torch {torch_v} ({first}): it was built for another "
            f"torch; install the one made for this torch: pip install 'torchvision=={fix}.*'"
        )


def _installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def default_root() -> Path:
    env = os.environ.get("FIRSTLAYER_DATA")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "firstlayer" / "data"
