"""Datasets: find a dataset under the data root, decode it once to a uint8 tensor (cached on
disk), normalise once, and the label variants of the paper (true, random, binary subsets).

Resolution order for a name (the first that exists wins; ``report`` says which was used):

=================  ======================================================================
``cifar10``        ``<root>/cifar-10-batches-py`` (torchvision original), ``<root>/cifar10-jpeg``,
                   ``<root>/cifar10-exact``; with ``download=True`` torchvision downloads it
``cifar10-exact``  ``<root>/cifar10-exact`` (ImageFolder, pixel-exact subset)
``cifar10-jpeg``   ``<root>/cifar10-jpeg`` (ImageFolder, all of CIFAR-10, JPEG)
``cifar100``       ``<root>/cifar-100-python`` (torchvision), or download
``celeba``         ``<root>/celeba`` (torchvision; label = the ``Smiling`` attribute), or download
``tiny-imagenet-10``  ``<root>/tiny-imagenet-10`` (ImageFolder, splits train/val)
any other name     ``<root>/<name>`` or an absolute path: an ImageFolder tree with train/ and test/ (or val/)
=================  ======================================================================
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
# The binary subsets of Table 3 (the paper's "boat" is CIFAR-10's "ship").
BINARY_PAIRS = {
    "car-truck": ("automobile", "truck"),
    "dog-frog": ("dog", "frog"),
    "dog-cat": ("dog", "cat"),
    "bird-plane": ("bird", "airplane"),
    "ship-plane": ("ship", "airplane"),
}


class DatasetNotFound(FileNotFoundError):
    """No copy of a dataset under the data root; the message lists what was tried."""


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

    def take(self, index) -> "Images":
        index = torch.as_tensor(index)
        return Images(self.pixels[index], self.labels[index], self.classes, self.source)


def default_root() -> Path:
    env = os.environ.get("FIRSTLAYER_DATA")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "firstlayer" / "data"


def _candidates(name: str, root: Path, split: str):
    """(description, loader) pairs in resolution order."""
    train = split == "train"
    tv = _torchvision_loader
    folder = _folder_loader
    if name == "cifar10":
        return [(str(root / "cifar-10-batches-py"), lambda dl=False: tv("CIFAR10", root, train, dl)),
                (str(root / "cifar10-jpeg"), lambda dl=False: folder(root / "cifar10-jpeg", split)),
                (str(root / "cifar10-exact"), lambda dl=False: folder(root / "cifar10-exact", split))]
    if name == "cifar100":
        return [(str(root / "cifar-100-python"), lambda dl=False: tv("CIFAR100", root, train, dl))]
    if name == "celeba":
        return [(str(root / "celeba"), lambda dl=False: tv("CelebA", root, train, dl))]
    path = Path(name) if os.path.isabs(name) else root / name
    return [(str(path), lambda dl=False: folder(path, split))]


def _folder_loader(path: Path, split: str):
    if split != "train" and not (path / split).is_dir():
        split = "val" if split == "test" else "test"
    if not (path / split).is_dir():
        return None
    from torchvision.datasets import ImageFolder
    ds = ImageFolder(str(path / split))
    pixels = np.stack([np.asarray(ds.loader(p).convert("RGB")) for p, _ in ds.samples])
    labels = np.array(ds.targets)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels), tuple(ds.classes)


def _torchvision_loader(kind: str, root: Path, train: bool, download: bool):
    import torchvision.datasets as tvd
    try:
        if kind == "CelebA":
            ds = tvd.CelebA(str(root), split="train" if train else "test", target_type="attr", download=download)
            col = ds.attr_names.index("Smiling")
            from PIL import Image
            pixels = np.stack([np.asarray(Image.open(os.path.join(root, "celeba", "img_align_celeba", f))
                                          .convert("RGB").resize((32, 32))) for f in ds.filename])
            return (torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(),
                    ds.attr[:, col].long(), ("not smiling", "smiling"))
        ds = getattr(tvd, kind)(str(root), train=train, download=download)
    except RuntimeError:  # torchvision: "Dataset not found or corrupted"
        return None
    return (torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(),
            torch.as_tensor(ds.targets), tuple(ds.classes))


def load_split(name: str, split: str = "train", root: Path | str | None = None,
               cache_dir: Path | str | None = None, download: bool = False) -> Images:
    """Decode one split of dataset ``name`` to uint8 (cached under ``cache_dir/data``)."""
    root = Path(root) if root is not None else default_root()
    cands = _candidates(name, root, split)
    for where, load in cands:
        if not Path(where).exists():
            continue
        cached = _decode_cached(where, split, load, cache_dir)
        if cached is not None:
            return cached
    if download and name in ("cifar10", "cifar100", "celeba"):
        root.mkdir(parents=True, exist_ok=True)
        loaded = cands[0][1](True)
        if loaded is not None:
            return Images(*loaded, source=f"{cands[0][0]} (downloaded)")
    tried = ", ".join(w for w, _ in cands)
    hint = " or run with --download" if name in ("cifar10", "cifar100", "celeba") else ""
    raise DatasetNotFound(f"dataset '{name}' ({split}) not found: tried {tried}; put it there, point "
                          f"--data-root or FIRSTLAYER_DATA at a folder holding it{hint}")


def _decode_cached(where: str, split: str, load, cache_dir) -> Images | None:
    if cache_dir is None:
        out = load()
        return None if out is None else Images(*out, source=where)
    cache = Path(cache_dir) / "data"
    cache.mkdir(parents=True, exist_ok=True)
    file = cache / f"{hashlib.sha256(f'{where}|{split}'.encode()).hexdigest()[:16]}.pt"
    with FileLock(str(file) + ".lock"):
        if file.exists():
            try:
                blob = torch.load(file, weights_only=False)
                return Images(blob["pixels"], blob["labels"], tuple(blob["classes"]), where)
            except Exception:  # a corrupt decode cache is only lost time
                file.unlink()
        out = load()
        if out is None:
            return None
        tmp = file.with_suffix(f".tmp{os.getpid()}")
        torch.save({"pixels": out[0], "labels": out[1], "classes": list(out[2])}, tmp)
        os.replace(tmp, file)
        return Images(*out, source=where)


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
