"""One training run from a ``RunSpec``: the authors' plain SGD (lr 0.01, batch 256, no
momentum, no augmentation, cross-entropy) unless the spec says otherwise; data resident on
the device, channels_last, float32 throughout (no TF32 or autocast on CUDA, so a run does not
depend on the GPU generation), no host sync per step; the first layer saved at init and at the
spec's snapshot steps."""
from __future__ import annotations

import ctypes
import math
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import data as D
from . import models
from .spectra import patch_pca


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf."""


@dataclass
class TrainData:
    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    source: str
    pixels: torch.Tensor | None = None  # the uint8 training images before normalisation
    stats: tuple | None = None  # their normalisation (mean, std) per channel

    def patch_pca(self, size: int = 3):
        """Exact patch PCA of the plain training images as the network sees them normalised
        (Def. 2.1), from the uint8 pixels when known (the exact integer path)."""
        if self.pixels is None:
            return patch_pca(self.x, size)
        return patch_pca(self.pixels, size, stats=self.stats)


def energy_decile_labels(x: torch.Tensor, u) -> torch.Tensor:
    """App. D.1: label = decile of an image's patch energy sum_i (P_i(X)^T u)^2 along u."""
    w = torch.as_tensor(u, dtype=torch.float32).reshape(1, x.shape[1], 3, 3)
    energy = torch.cat([F.conv2d(x[s:s + 1000], w).pow(2).sum((1, 2, 3)) for s in range(0, len(x), 1000)])
    rank = energy.argsort(descending=True).argsort()
    return (rank * 10 // len(x)).long()


def scale_component(x: torch.Tensor, u, alpha: float, size: int = 3) -> torch.Tensor:
    """App. D.2 (eq. 25): every non-overlapping size x size patch's coordinate along u is
    multiplied by alpha (the first layer then uses stride = size so patches do not overlap)."""
    n, c, h, w = x.shape
    hh, ww = h - h % size, w - w % size
    u = torch.as_tensor(u, dtype=x.dtype)
    cols = F.unfold(x[:, :, :hh, :ww], size, stride=size)  # (N, d, L)
    cols = cols + (alpha - 1) * u[None, :, None] * (u[None, :, None] * cols).sum(1, keepdim=True)
    return F.fold(cols, (hh, ww), size, stride=size)


def prepare(spec, root=None, cache_dir=None, download: bool = False) -> TrainData:
    """The spec's images and labels, normalised once (train statistics for both splits)."""
    train = D.load_split(spec.dataset, "train", root, cache_dir, download)
    test = D.load_split(spec.dataset, "test", root, cache_dir, download)
    if spec.subset:
        train, test = D.binary(train, spec.subset), D.binary(test, spec.subset)
    train = D.subset(train, spec.images)
    x, stats = D.normalise(train.pixels)
    x_test, _ = D.normalise(test.pixels, stats)
    y, y_test = train.labels.clone(), test.labels.clone()
    num_classes = len(train.classes)
    kind, _, arg = spec.labels.partition(":")
    # App. D variants work in the patch PCA basis of the (normalised) training images
    pca = patch_pca(train.pixels, 3, stats=stats) if kind == "energy" or spec.inputs != "plain" else None
    if kind == "random":
        y = D.random_labels(y, spec.seed)
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


def build_model(spec, num_classes: int):
    kw = {}
    if spec.inputs != "plain":  # App. D.2: non-overlapping patches in the first layer
        kw = dict(stem_stride=3, stem_padding=0)
    model = models.build(spec.model, num_classes, spec.width, spec.first, **kw)
    return models.freeze_first_layer(model) if spec.frozen else model


@torch.no_grad()
def evaluate(model, x, y, loss_fn, batch: int = 1000) -> tuple[float, float]:
    model.eval()
    total, correct = 0.0, 0
    for s in range(0, len(x), batch):
        out = model(x[s:s + batch])
        total += float(loss_fn(out, y[s:s + batch], reduction="sum"))
        if out.ndim == 2:
            correct += int((out.argmax(1) == y[s:s + batch]).sum())
    model.train()
    return total / len(x), correct / len(x)


def keep_freed_memory() -> None:
    """glibc hands every freed block over 32 MB back to the kernel, so each CPU step's
    activations are mapped and zero-filled afresh (measured on 2 cores: ~1M page faults and a
    quarter of the CPU time in the kernel per 30 steps). Keep freed memory in the heap
    instead; results are unchanged. A no-op where there is no glibc ``mallopt``."""
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    for option, value in ((m_mmap_threshold, 1 << 30), (m_trim_threshold, (1 << 31) - 1), (m_top_pad, 1 << 28)):
        mallopt(option, ctypes.c_int(value))


def train(spec, data: TrainData, device: str = "cpu", progress=None, log_every: int = 50) -> dict:
    """Train ``spec`` on ``data``; returns init/snapshot first-layer weights and metrics."""
    if device == "cpu":
        keep_freed_memory()
    else:  # IEEE float32 convolutions: cuDNN defaults to TF32 (10-bit mantissa) on Ampere and later
        torch.backends.cudnn.conv.fp32_precision = "ieee"
    torch.manual_seed(spec.seed)
    model = build_model(spec, data.num_classes)
    linear = spec.model == "linear"
    loss_fn = (lambda out, y, reduction="mean": F.mse_loss(out, y.float(), reduction=reduction)) if linear \
        else F.cross_entropy
    fmt = torch.channels_last
    model = model.to(device, memory_format=fmt)
    conv = models.first_layer(model)
    snapshots = {0: conv.weight.detach().cpu().clone()}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum)
    x = data.x.to(device).contiguous(memory_format=fmt)
    y = data.y.to(device)
    n, batch = len(x), min(spec.batch, len(x))
    per_epoch = n // batch
    g = torch.Generator().manual_seed(spec.seed)
    order = torch.empty(0, dtype=torch.long)
    history, run_loss, run_correct, since = [], torch.zeros((), device=device), torch.zeros((), device=device), 0
    t0 = time.perf_counter()
    for step in range(1, spec.steps + 1):
        pos = (step - 1) % per_epoch
        if pos == 0:
            order = torch.randperm(n, generator=g).to(device)
        idx = order[pos * batch:(pos + 1) * batch]
        out = model(x[idx])
        loss = loss_fn(out, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run_loss += loss.detach()
        if not linear:
            run_correct += (out.detach().argmax(1) == y[idx]).sum()
        since += 1
        if step in spec.snapshots:
            snapshots[step] = conv.weight.detach().cpu().clone()
        if step % log_every == 0 or step == spec.steps:
            mean_loss = float(run_loss) / since  # the only host sync: every log_every steps
            if not math.isfinite(mean_loss):
                raise TrainingDiverged(
                    f"training diverged: loss became {mean_loss} by step {step} of {spec.model} "
                    f"(lr={spec.lr}, momentum={spec.momentum}); lower the learning rate in the scale table")
            history.append({"step": step, "train_loss": mean_loss,
                            "train_acc": float(run_correct) / (since * batch) if not linear else None})
            run_loss.zero_()
            run_correct.zero_()
            since = 0
            if progress:
                rate = step * batch / (time.perf_counter() - t0)
                progress(f"step {step}/{spec.steps} loss {mean_loss:.3f} ({rate:.0f} img/s)")
    snapshots[spec.steps] = conv.weight.detach().cpu().clone()
    train_seconds = time.perf_counter() - t0
    x_eval, y_eval = x[:10_000], y[:10_000]
    train_loss, train_acc = evaluate(model, x_eval, y_eval, loss_fn)
    test_loss, test_acc = evaluate(model, data.x_test.to(device).contiguous(memory_format=fmt),
                                   data.y_test.to(device), loss_fn)
    return {"snapshots": snapshots, "metrics": {
        "history": history, "train_loss": train_loss, "train_acc": train_acc,
        "test_loss": test_loss, "test_acc": test_acc, "seconds": time.perf_counter() - t0,
        "images_per_s": spec.steps * batch / train_seconds, "device": device,
        "data_source": data.source, "torch": torch.__version__}}
