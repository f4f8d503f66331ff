"""First layers from outside the suite's own claims, for ``firstlayer inspect``: a filter bank
(out, in, k, k) read from a checkpoint, an array, a torchvision or timm model, a pretrained
layer beside the data root, or a run of the suite's cache. Every source that cannot be read
raises ``SourceError`` with one line that says what was expected.

Source strings:

- ``PATH.pt`` / ``PATH.pth`` (``.ckpt``, ``.bin``): a state dict (also nested under ``state_dict``,
  ``model``, ``model_state_dict`` or ``net``), or, with ``trust_pickle``, a whole ``nn.Module``
  (unpickling runs the file's code); the first convolution that reads
  the image is the first 4-D weight whose input channels are the image's;
- ``PATH.npy``: an array (out, in, k, k); ``PATH.npz``: its one 4-D array, or ``weight``
  (and ``init``, W_init, when present);
- ``torchvision:NAME[:WEIGHTS]``: torchvision's model with its ``DEFAULT`` weights, or the
  named weights enum member, or ``none`` (a seeded random initialisation), through
  torchvision's weights API into torch's hub cache;
- ``timm:NAME``: where timm is installed, ``timm.create_model(NAME, pretrained=True)``;
- ``pretrained:NAME``: ``pretrained/NAME_conv1.npy`` beside the data root (the App. C layers);
- ``run:KEY`` or ``run:FIELD=VALUE,...``: a trajectory of the run cache, by its key or by the
  spec fields that pick exactly one; ``@STEP`` picks a saved step (default: the last). Its
  W_init comes with it.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from harness.data.copies import DatasetNotFound, default_root
from harness.data.door import Datasets, torchvision_first_layer
from harness.training.cache import RunCache


class SourceError(ValueError):
    """A source that cannot be read; the message is one line."""


@dataclass
class Bank:
    """A first layer: ``weights`` (out, in, k, k), float; ``init`` (W_init) where known;
    ``name`` as the report shows it; ``origin`` says where it came from."""

    name: str
    weights: torch.Tensor
    origin: str
    init: torch.Tensor | None = None

    @property
    def kernel(self) -> int:
        return int(self.weights.shape[-1])

    @property
    def shape(self) -> tuple:
        return tuple(self.weights.shape)


def _as_bank(w, name: str, origin: str, init=None, channels: int = 3) -> Bank:
    w = torch.as_tensor(np.asarray(w) if not isinstance(w, torch.Tensor) else w).detach().to("cpu", torch.float32)
    if w.ndim != 4 or w.shape[-1] != w.shape[-2]:
        raise SourceError(
            f"{name}: expected a filter bank of shape (out, in, k, k) with square k, got {tuple(w.shape)}"
        )
    if w.shape[1] != channels:
        raise SourceError(f"{name}: the bank reads {w.shape[1]} channels, the images have {channels}")
    if init is not None:
        init = torch.as_tensor(np.asarray(init) if not isinstance(init, torch.Tensor) else init).float()
        if tuple(init.shape) != tuple(w.shape):
            raise SourceError(f"{name}: W_init has shape {tuple(init.shape)}, W has {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()):
        raise SourceError(f"{name}: the bank's weights are not all finite")
    return Bank(name, w, origin, init)


def first_conv(state: dict, channels: int = 3) -> tuple[str, torch.Tensor]:
    """(key, weight) of the first 4-D weight in ``state`` whose input channels are the image's:
    a network's first convolution (state dicts keep the modules' order)."""
    for key, v in state.items():
        if isinstance(v, torch.Tensor) and v.ndim == 4 and v.shape[1] == channels and key.endswith("weight"):
            return key, v
    raise SourceError(f"no convolution weight (out, {channels}, k, k) among the {len(state)} entries of the state dict")


def module_first_conv(model: nn.Module, channels: int = 3) -> tuple[str, torch.Tensor]:
    """(name, weight) of the first ``Conv2d`` of ``model`` that reads ``channels`` channels."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.in_channels == channels:
            return name, m.weight
    raise SourceError(f"the model has no Conv2d reading {channels} channels")


def _checkpoint(path: Path, channels: int, trust_pickle: bool = False) -> Bank:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError:  # torch's weights-only loader refuses pickled code (a whole nn.Module)
        raise SourceError(
            f"{path}: holds pickled objects (a whole nn.Module?): pass --trust-pickle to unpickle it, which runs "
            "the file's code (only for files you trust), or save its state_dict()"
        ) from None
    except Exception as exc:
        raise SourceError(f"{path}: not a torch checkpoint ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    if isinstance(blob, nn.Module):
        key, w = module_first_conv(blob, channels)
        return _as_bank(w, path.name, f"{path} (module, {key})", channels=channels)
    if isinstance(blob, dict):
        for nest in ("state_dict", "model_state_dict", "model", "net"):
            if isinstance(blob.get(nest), dict):
                blob = blob[nest]
                break
            if isinstance(blob.get(nest), nn.Module):
                key, w = module_first_conv(blob[nest], channels)
                return _as_bank(w, path.name, f"{path} ({nest}: module, {key})", channels=channels)
        key, w = first_conv(blob, channels)
        return _as_bank(w, path.name, f"{path} (state dict, {key})", channels=channels)
    raise SourceError(f"{path}: a checkpoint holds a state dict or an nn.Module, not a {type(blob).__name__}")


def _array(path: Path, channels: int) -> Bank:
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise SourceError(f"{path}: not a numpy array file ({type(exc).__name__})") from None
    if isinstance(data, np.ndarray):
        return _as_bank(data, path.name, str(path), channels=channels)
    with data:
        arrays = {k: data[k] for k in data.files}
    if "weight" in arrays:
        return _as_bank(arrays["weight"], path.name, f"{path} (weight)", arrays.get("init"), channels)
    four = [k for k, v in arrays.items() if v.ndim == 4]
    if len(four) != 1:
        raise SourceError(f"{path}: expected one 4-D array (or one named 'weight'), found {sorted(arrays)}")
    return _as_bank(arrays[four[0]], path.name, f"{path} ({four[0]})", channels=channels)


def _torchvision(spec: str, download: bool, channels: int) -> Bank:
    import torchvision

    name, _, which = spec.partition(":")
    try:
        enum = torchvision.models.get_model_weights(name)
    except ValueError:
        raise SourceError(f"torchvision has no model '{name}' (torchvision.models.list_models() lists them)") from None
    if which.lower() == "none":
        with torch.random.fork_rng():  # a seeded init that leaves the caller's generator alone
            torch.manual_seed(0)
            model = torchvision.models.get_model(name, weights=None)
        _, w = module_first_conv(model, channels)
        return _as_bank(w, f"torchvision:{name}:none", f"torchvision {name}, random init (seed 0)", channels=channels)
    try:
        weights = enum[which] if which else enum.DEFAULT
    except KeyError:
        raise SourceError(f"{name} has no weights '{which}': one of {[w.name for w in enum]}, or none") from None

    try:
        w = torchvision_first_layer(name, download=download, weights=weights)
    except DatasetNotFound as exc:
        raise SourceError(str(exc)) from None
    label = f"torchvision:{name}" + (f":{which}" if which else "")
    return _as_bank(w, label, f"torchvision {name} {weights}", channels=channels)


def _timm(name: str, download: bool, channels: int) -> Bank:
    try:
        import timm
    except ImportError:
        raise SourceError("timm: not installed (pip install 'firstlayer[timm]' or pip install timm)") from None
    if not download:
        raise SourceError(f"timm:{name}: pretrained weights need a download; drop --no-download")
    try:
        model = timm.create_model(name, pretrained=True)
    except Exception as exc:
        raise SourceError(f"timm:{name}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    _, w = module_first_conv(model, channels)
    return _as_bank(w, f"timm:{name}", f"timm {name} (pretrained)", channels=channels)


def _pretrained(name: str, data_root: Path, channels: int) -> Bank:
    data = Datasets(data_root)
    try:
        w = data.pretrained(name)
    except DatasetNotFound as exc:
        raise SourceError(f"pretrained:{name}: {exc}") from None
    return _as_bank(w, name, str(data.pretrained_dir() / f"{name}_conv1.npy"), channels=channels)


def _run(spec: str, cache: Path, channels: int) -> Bank:
    """A trajectory of the run cache: ``KEY`` or ``FIELD=VALUE,...`` (e.g.
    ``labels=random,seed=1``), ``@STEP`` for a saved step."""
    what, _, step = spec.partition("@")
    if step and not step.isdigit():
        raise SourceError(f"run:{spec}: the step after @ is a number of steps, e.g. run:KEY@3000")
    if not (cache / "runs").is_dir():
        raise SourceError(f"run:{spec}: no run cache at {cache} (pass --run-cache)")
    runs = RunCache(cache, None)
    specs = runs.stored()
    if "=" in what:
        want = {}
        for item in what.split(","):
            k, _, v = item.partition("=")
            want[k.strip()] = v.strip()
        unknown = sorted(set(want) - {k for spec_ in specs.values() for k in spec_})
        if unknown:
            raise SourceError(f"run:{what}: no run spec has the field(s) {unknown}")
        found = [key for key, spec_ in specs.items() if all(_same(spec_.get(k), v) for k, v in want.items())]
        if len(found) != 1:
            raise SourceError(
                f"run:{what}: {len(found)} trained runs in {cache / 'runs'} match; give more fields, or the key"
            )
        key = found[0]
    elif what in specs:
        key = what
    else:
        raise SourceError(f"run:{what}: no trajectory at {cache / 'runs' / what}")
    path = cache / "runs" / key
    weights = runs.first_layers(key)
    at = int(step) if step else max(weights)
    if at not in weights:
        raise SourceError(f"run:{what}: step {at} not saved; saved steps {sorted(weights)}")
    spec_json = specs[key]
    label = (
        f"{spec_json.get('model')} {spec_json.get('dataset')} {spec_json.get('labels')} seed={spec_json.get('seed')}"
    )
    init = None if torch.equal(weights[at], weights[0]) else weights[0]  # step 0, or a frozen layer: W itself
    return _as_bank(weights[at], f"run:{path.name}@{at}", f"run cache {path} ({label}, step {at})", init, channels)


def _same(value, text: str) -> bool:
    """A spec field's value against its text in a ``run:`` source (``.25`` = 0.25, ``true`` =
    True, ``none`` = None)."""
    t = text.strip()
    low = t.lower()
    if low in ("none", "null"):
        return value is None
    if low in ("true", "false"):
        return value is (low == "true")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value) == float(t)
        except ValueError:
            return False
    return str(value) == t


def load_bank(
    source: str,
    *,
    data_root=None,
    run_cache=None,
    download: bool = True,
    init=None,
    channels: int = 3,
    trust_pickle: bool = False,
) -> Bank:
    """The first layer named by ``source`` (see the module docstring); ``init``: a source of
    W_init for a bank that does not carry its own; ``trust_pickle``: unpickle checkpoints that
    hold objects (a whole ``nn.Module``), which runs their code."""
    kind, sep, rest = source.partition(":")
    if sep and kind == "torchvision":
        bank = _torchvision(rest, download, channels)
    elif sep and kind == "timm":
        bank = _timm(rest, download, channels)
    elif sep and kind == "pretrained":
        bank = _pretrained(rest, Path(data_root) if data_root else default_root(), channels)
    elif sep and kind == "run":
        cache = Path(run_cache or os.environ.get("FIRSTLAYER_CACHE", ".firstlayer-cache"))
        bank = _run(rest, cache, channels)
    else:
        path = Path(source)
        if not path.exists():
            raise SourceError(
                f"{source}: no such file; a source is a .pt/.pth/.npy/.npz file, torchvision:NAME, timm:NAME, "
                "pretrained:NAME or run:KEY"
            )
        suffix = path.suffix.lower()
        if suffix in (".pt", ".pth", ".ckpt", ".bin"):
            bank = _checkpoint(path, channels, trust_pickle)
        elif suffix in (".npy", ".npz"):
            bank = _array(path, channels)
        else:
            raise SourceError(f"{source}: unknown file type '{suffix}': expected .pt, .pth, .ckpt, .bin, .npy or .npz")
    if init is not None and bank.init is None:
        w0 = load_bank(init, data_root=data_root, run_cache=run_cache, download=download, channels=channels)
        if w0.shape != bank.shape:
            raise SourceError(f"{source}: its init {init} has shape {w0.shape}, the bank {bank.shape}")
        bank.init = w0.weights
    return bank
