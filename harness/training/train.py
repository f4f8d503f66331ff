"""One training trajectory of a ``RunSpec``: the authors' plain SGD (lr 0.01, batch 256, no
momentum, no augmentation, cross-entropy) unless the spec says otherwise; data resident on
the device, channels_last, IEEE float32 throughout with deterministic kernels
(``harness.training.numerics``: no TF32 or autocast on CUDA), no host sync per step. A
trajectory can be continued from its last step with the same numbers as training in one go;
the first layer is saved every SNAPSHOT_EVERY steps. The data come prepared
(``harness.data.images.TrainData``)."""

from __future__ import annotations

import ctypes
import math
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from harness import models
from harness.data.images import TrainData
from harness.training.numerics import set_numerics


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


@dataclass
class Trajectory:
    """A run so far: trained to ``step``; the first layer at step 0, every SNAPSHOT_EVERY
    steps and at every stop; running train loss/accuracy every LOG_EVERY steps; a full
    evaluation (train and test) at every stop; and ``state``, all that continuing needs
    (model, optimizer, data-order generator and epoch order, running sums)."""

    step: int
    weights: dict
    history: list
    evals: dict
    state: dict
    segments: list = field(default_factory=list)


SNAPSHOT_EVERY = 25
LOG_EVERY = 50


def init_seed(spec) -> int:
    """The seed of a run's initial weights: its cache key (every field but the length), so
    runs of different conditions (width, model, labels, inputs, ...) start from independent
    first layers even at the same ``seed``, and a longer run of the same spec from the same."""
    return int(spec.key, 16)


def _loss_fn(linear: bool):
    if linear:
        return lambda out, y, reduction="mean": F.mse_loss(out, y.float(), reduction=reduction)
    return F.cross_entropy


def train(
    spec,
    data: TrainData,
    device: str = "cpu",
    stops=(),
    start: Trajectory | None = None,
    progress=None,
    checkpoint=None,
    checkpoint_every: int = 500,
) -> Trajectory:
    """Train ``spec`` on ``data`` to step ``max(stops)`` (default ``spec.steps``), from step 0 or
    from the trajectory ``start``; continuing gives the same numbers as training in one go.
    ``checkpoint(trajectory)`` is called every ``checkpoint_every`` steps (for a cache to
    publish, so a killed run loses at most that many steps)."""
    stops = sorted(set(stops) | {spec.steps}) if not stops else sorted(set(stops))
    last = stops[-1]
    if device == "cpu":
        keep_freed_memory()
    set_numerics(device)
    torch.manual_seed(init_seed(spec))
    model = build_model(spec, data.num_classes)
    linear = spec.model == "linear"
    loss_fn = _loss_fn(linear)
    fmt = torch.channels_last
    model = model.to(device, memory_format=fmt)
    conv = models.first_layer(model)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=spec.lr, momentum=spec.momentum)
    x = data.x.to(device).contiguous(memory_format=fmt)
    y = data.y.to(device)
    n, batch = len(x), min(spec.batch, len(x))
    per_epoch = n // batch
    g = torch.Generator()
    run_loss, run_correct = torch.zeros((), device=device), torch.zeros((), device=device)
    if start is None:
        g.manual_seed(spec.seed)
        traj = Trajectory(0, {0: conv.weight.detach().cpu().clone()}, [], {}, {})
        order, since = torch.empty(0, dtype=torch.long, device=device), 0
    else:
        traj = start
        st = start.state
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        g.set_state(st["generator"])
        order, since = st["order"].to(device), st["since"]
        run_loss += st["run_loss"].to(device)
        run_correct += st["run_correct"].to(device)

    first, t0 = traj.step + 1, time.perf_counter()
    for step in range(first, last + 1):
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
        if step % SNAPSHOT_EVERY == 0 or step in stops:
            traj.weights[step] = conv.weight.detach().cpu().clone()
        if step % LOG_EVERY == 0 or (step in stops and since):
            mean_loss = float(run_loss) / since  # the only host sync: every LOG_EVERY steps
            if not math.isfinite(mean_loss):
                raise TrainingDiverged(
                    f"training diverged: loss became {mean_loss} by step {step} of {spec.model} "
                    f"(lr={spec.lr}, momentum={spec.momentum}); lower the learning rate in the scale table"
                )
            acc = float(run_correct) / (since * batch) if not linear else None
            traj.history.append({"step": step, "train_loss": mean_loss, "train_acc": acc})
            if step % LOG_EVERY == 0:  # a stop between log steps is logged without resetting the sums
                run_loss.zero_()
                run_correct.zero_()
                since = 0
            if progress:
                rate = (step - first + 1) * batch / (time.perf_counter() - t0)
                progress(f"step {step}/{last} loss {mean_loss:.3f} ({rate:.0f} img/s)")
        if step in stops:
            traj.evals[step] = evaluate_split(model, x, y, data, spec.eval_images, loss_fn, device)
        if step == last or (checkpoint is not None and step % checkpoint_every == 0):
            traj.step, traj.state = step, continuation(model, opt, g, order, since, run_loss, run_correct)
            record_segment(traj, first, step, batch, time.perf_counter() - t0, device)
            if checkpoint is not None and step != last:
                checkpoint(traj)
    return traj


def on_cpu(value):
    """``value`` with every tensor in it copied to the CPU (dicts and lists followed)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: on_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(on_cpu(v) for v in value)
    return value


def continuation(model, opt, g, order, since, run_loss, run_correct) -> dict:
    """All that continuing a trajectory needs, every tensor on the CPU, the optimizer's state
    included, so that a trajectory made on a GPU loads anywhere (saving: not in the
    fingerprint; ``load_state_dict`` moves the state back to the parameters' device)."""
    return on_cpu(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "generator": g.get_state(),
            "order": order,
            "since": since,
            "run_loss": run_loss,
            "run_correct": run_correct,
        }
    )


def record_segment(traj: Trajectory, first: int, step: int, batch: int, seconds: float, device: str) -> None:
    """What trained steps ``first``..``step`` and how fast (provenance: not in the fingerprint)."""
    segment = {
        "from": first - 1,
        "to": step,
        "seconds": round(seconds, 1),
        "images_per_s": round((step - first + 1) * batch / max(seconds, 1e-9)),
        "device": device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    traj.segments = [sg for sg in traj.segments if sg["from"] != first - 1] + [segment]


def evaluate_split(model, x, y, data: TrainData, images: int, loss_fn, device) -> dict:
    """Loss and accuracy on the first ``images`` training and test images (eval mode)."""
    fmt = torch.channels_last
    train_loss, train_acc = evaluate(model, x[:images], y[:images], loss_fn)
    x_test = data.x_test[:images].to(device).contiguous(memory_format=fmt)
    test_loss, test_acc = evaluate(model, x_test, data.y_test[:images].to(device), loss_fn)
    return {"train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc}
