"""Where data come from: a registry of dataset names -> on-disk copies, decoded once to uint8
(cached on disk), and ``Datasets``, the one door through which runs and claims read data.

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

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from .data import Images, TrainData, binary, normalise, prepare, subset
from .spectra import PatchPCA, patch_pca


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


def default_root() -> Path:
    env = os.environ.get("FIRSTLAYER_DATA")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "firstlayer" / "data"


def load_split(
    name: str,
    split: str = "train",
    root: Path | str | None = None,
    cache_dir: Path | str | None = None,
    download: bool = False,
    progress=None,
) -> Images:
    """Decode one split of dataset ``name`` to uint8 (cached under ``cache_dir/data``). When no
    copy is under the data root and ``download``, the first downloadable copy is fetched by
    torchvision (its own download code and checksums) into the data root. ``progress(msg)``
    hears of a download and of a first decode."""
    root = Path(root) if root is not None else default_root()
    say = progress or (lambda msg: None)
    found = copies(name)
    for copy in found:
        where = root / copy.folder
        if where.exists():
            read = _announced(lambda c=copy: c.read(root, split), say, f"decoding {name} ({split}) from {copy.folder}")
            cached = _decode_cached(str(where), split, read, cache_dir)
            if cached is not None:
                return cached
    tried = ", ".join(str(root / c.folder) for c in found)
    fetchable = [c for c in found if c.downloadable]
    if download and fetchable:
        copy = fetchable[0]
        say(f"{name} is not under {root}: downloading it with torchvision")
        try:
            root.mkdir(parents=True, exist_ok=True)
            read = _announced(lambda: copy.read(root, split, True), say, f"fetching and decoding {name} ({split})")
            cached, outcome = _decode_cached(str(root / copy.folder), split, read, cache_dir), "gave nothing usable"
        except Exception as exc:  # no network, a failed checksum, a missing helper package
            cached, outcome = None, "failed ({})".format(f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
        if cached is not None:
            return cached
        raise DatasetNotFound(
            f"dataset '{name}' ({split}) not found (tried {tried}) and its download {outcome}; "
            f"point --data-root or FIRSTLAYER_DATA at a folder that holds {copy.folder}/"
        )
    hint = " or drop --no-download to fetch it" if fetchable else ""
    raise DatasetNotFound(
        f"dataset '{name}' ({split}) not found: tried {tried}; put it there, point "
        f"--data-root or FIRSTLAYER_DATA at a folder holding it{hint}"
    )


def _announced(read, say, what: str):
    """``read`` that tells ``say`` when it starts and how long it took (a first decode of
    50,000 JPEGs takes a while; a cached one never calls it)."""

    def run():
        say(f"{what} ...")
        t = time.perf_counter()
        out = read()
        if out is not None:
            say(f"{what}: {len(out[1])} images in {time.perf_counter() - t:.1f} s")
        return out

    return run


def _decode_cached(where: str, split: str, load, cache_dir) -> Images | None:
    """Decode once (``load()``), cached under ``cache_dir/data``; the source is named by its
    folder under the data root and a checksum of the decoded split, never by a machine path."""
    if cache_dir is None:
        out = load()
        return None if out is None else Images(*out, source=_named(where, split, out[0], out[1]))
    cache = Path(cache_dir) / "data"
    cache.mkdir(parents=True, exist_ok=True)
    file = cache / f"{hashlib.sha256(f'{where}|{split}'.encode()).hexdigest()[:16]}.pt"
    with FileLock(str(file) + ".lock"):
        if file.exists():
            try:
                blob = torch.load(file, weights_only=False)
                pixels, labels = blob["pixels"], blob["labels"]
                return Images(pixels, labels, tuple(blob["classes"]), _named(where, split, pixels, labels))
            except Exception:  # a corrupt decode cache is only lost time
                file.unlink()
        out = load()
        if out is None:
            return None
        tmp = file.with_suffix(f".tmp{os.getpid()}")
        torch.save({"pixels": out[0], "labels": out[1], "classes": list(out[2])}, tmp)
        os.replace(tmp, file)
        return Images(*out, source=_named(where, split, out[0], out[1]))


def _named(where: str, split: str, pixels: torch.Tensor, labels: torch.Tensor) -> str:
    """'<folder> (<split>, sha256 <first 12 hex of the decoded pixels and labels>)'."""
    digest = hashlib.sha256(pixels.contiguous().numpy().tobytes())
    digest.update(labels.numpy().tobytes())
    return f"{Path(where).name} ({split}, sha256 {digest.hexdigest()[:12]})"


# ---------------------------------------------------------------- pretrained first layers


def torchvision_first_layer(name: str, download: bool = False, progress=None, weights=None) -> torch.Tensor:
    """The first convolution of torchvision's ImageNet model ``name`` (its ``weights``, by
    default DEFAULT, through torchvision's weights API), from the torch hub cache, or fetched
    there when ``download``; DatasetNotFound otherwise."""
    import torchvision

    from .models import first_layer

    weights = weights if weights is not None else torchvision.models.get_model_weights(name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not (download or cached.exists()):
        raise DatasetNotFound(f"{name} ImageNet weights not in the torch hub cache: drop --no-download to fetch them")
    if not cached.exists() and progress:
        progress(f"downloading the {name} ImageNet weights with torchvision")
    try:
        model = torchvision.models.get_model(name, weights=weights)
    except Exception as exc:  # no network, a truncated file: the claim cannot be measured here
        why = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise DatasetNotFound(
            f"{name} ImageNet weights are not in the torch hub cache and their download failed ({why})"
        ) from None
    return first_layer(model).weight.detach()


# ImageNet first layers in ``pretrained/`` beside the data root, by group: {name: file stem}
# (Table 3 IMAGENET / App. C and Fig. 6's ImageNet panel read the same groups): the 8-bit
# MobileNet stand-ins, and a float VGG11-BN layer that is probably torchvision's (not proven).
PRETRAINED_GROUPS = {
    "mobilenet-stand-ins": {n: n for n in ("mobilenet_v1_1.0_224", "mobilenet_v2_1.0_224", "tf2_mobilenet_v2_1.0_224")},
    "vgg11-bn-probable": {"vgg11_bn": "vgg11_bn_imagenet"},
}


class Datasets:
    """The one door to data for runs and claims: splits (decoded once per process, cached on
    disk under ``cache_dir``), a run's ``TrainData``, exact patch PCAs, pretrained layers."""

    def __init__(
        self, root: Path | str | None = None, cache_dir: Path | str | None = None, download: bool = False, progress=None
    ):
        self.root = Path(root) if root is not None else default_root()
        self.cache_dir, self.download, self.progress = cache_dir, download, progress
        self._splits: dict = {}
        self._pcas: dict = {}

    def split(self, name: str, split: str = "train") -> Images:
        """A decoded split; an absent one fails once per process (no second download try)."""
        if (name, split) not in self._splits:
            try:
                got = load_split(name, split, self.root, self.cache_dir, self.download, self.progress)
            except DatasetNotFound as exc:
                got = exc
            self._splits[name, split] = got
        got = self._splits[name, split]
        if isinstance(got, DatasetNotFound):
            raise DatasetNotFound(str(got))
        return got

    def train_data(self, spec) -> TrainData:
        """The spec's normalised training and test sets (``prepare``)."""
        return prepare(spec, self.split(spec.dataset, "train"), self.split(spec.dataset, "test"))

    def pca(self, spec, size: int = 3) -> PatchPCA:
        """Exact patch PCA (Def. 2.1) of the plain images ``spec`` trains on, normalised as the
        network saw them."""
        key = (spec.dataset, spec.subset, spec.images, size)
        if key not in self._pcas:
            train = self.split(spec.dataset, "train")
            if spec.subset:
                train = binary(train, spec.subset)
            pixels = subset(train, spec.images).pixels
            _, stats = normalise(pixels)
            self._pcas[key] = patch_pca(pixels, size, stats=stats)
        return self._pcas[key]

    def pretrained_dir(self) -> Path:
        return self.root.parent / "pretrained"

    def pretrained(self, name: str) -> torch.Tensor:
        """The first-layer weights ``pretrained/<name>_conv1.npy`` beside the data root."""
        file = self.pretrained_dir() / f"{name}_conv1.npy"
        if not file.exists():
            known = sorted(p.name.removesuffix("_conv1.npy") for p in file.parent.glob("*_conv1.npy"))
            raise DatasetNotFound(
                f"{file.name} not found in {file.parent}: the App. C stand-in first layers live in pretrained/ "
                f"beside the data root (a folder of first-layer arrays, <name>_conv1.npy; found: "
                f"{', '.join(known) or 'none'})"
            )
        return torch.from_numpy(np.load(file))

    def pretrained_group(self, group: str) -> dict[str, torch.Tensor]:
        """{name: first-layer weights} of one of ``PRETRAINED_GROUPS``."""
        return {name: self.pretrained(file) for name, file in PRETRAINED_GROUPS[group].items()}

    def torchvision_first_layer(self, name: str) -> torch.Tensor:
        return torchvision_first_layer(name, self.download, self.progress)
