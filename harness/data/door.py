"""The one door through which runs and claims read data (``Datasets``): a dataset's first copy
under the data root decoded once to uint8 (cached on disk), a run's ``TrainData``, exact patch
PCAs, and the pretrained first layers beside the data root."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from harness.data.copies import DatasetNotFound, copies, default_root
from harness.data.images import Images, TrainData, binary, normalise, prepare, subset
from harness.data.patches import PatchPCA, patch_pca
from harness.models import first_layer


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
        for left in cache.glob(f"{file.stem}.tmp*"):  # a decoder killed while writing (under the lock: none live)
            left.unlink(missing_ok=True)
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


def torchvision_first_layer(name: str, download: bool = False, progress=None, weights=None) -> torch.Tensor:
    """The first convolution of torchvision's ImageNet model ``name`` (its ``weights``, by
    default DEFAULT, through torchvision's weights API), from the torch hub cache, or fetched
    there when ``download``; DatasetNotFound otherwise."""
    import torchvision

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
