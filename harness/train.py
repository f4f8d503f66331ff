"""One training run from a ``RunSpec``: the authors' plain SGD (lr 0.01, batch 256, no
momentum, no augmentation, cross-entropy) unless the spec says otherwise; data resident on
the device, channels_last, float32 throughout (no TF32 or autocast on CUDA, so a run does not
depend on the GPU generation), no host sync per step; the first layer saved at init and at the
spec's snapshot steps. The data come prepared (``harness.data.TrainData``)."""

from __future__ import annotations

import ctypes
import math
import sys
import time

import torch
import torch.nn.functional as F

from . import models
from .data import TrainData


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf."""


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
        out = model(x[s : s + batch])
        total += float(loss_fn(out, y[s : s + batch], reduction="sum"))
        if out.ndim == 2:
            correct += int((out.argmax(1) == y[s : s + batch]).sum())
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
    loss_fn = (
        (lambda out, y, reduction="mean": F.mse_loss(out, y.float(), reduction=reduction))
        if linear
        else F.cross_entropy
    )
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
        idx = order[pos * batch : (pos + 1) * batch]
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
                    f"(lr={spec.lr}, momentum={spec.momentum}); lower the learning rate in the scale table"
                )
            history.append(
                {
                    "step": step,
                    "train_loss": mean_loss,
                    "train_acc": float(run_correct) / (since * batch) if not linear else None,
                }
            )
            run_loss.zero_()
            run_correct.zero_()
            since = 0
            if progress:
                rate = step * batch / (time.perf_counter() - t0)
                progress(f"step {step}/{spec.steps} loss {mean_loss:.3f} ({rate:.0f} img/s)")
    snapshots[spec.steps] = conv.weight.detach().cpu().clone()
    train_seconds = time.perf_counter() - t0
    x_eval, y_eval = x[: spec.eval_images], y[: spec.eval_images]
    train_loss, train_acc = evaluate(model, x_eval, y_eval, loss_fn)
    x_test = data.x_test[: spec.eval_images].to(device).contiguous(memory_format=fmt)
    test_loss, test_acc = evaluate(model, x_test, data.y_test[: spec.eval_images].to(device), loss_fn)
    return {
        "snapshots": snapshots,
        "metrics": {
            "history": history,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "seconds": time.perf_counter() - t0,
            "images_per_s": spec.steps * batch / train_seconds,
            "device": device,
            "data_source": data.source,
            "torch": torch.__version__,
        },
    }
