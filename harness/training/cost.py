"""What a run costs before it is trained: the floating-point operations of a training step,
counted from the model at the spec's widths and the data's image size, and a device's rate.

A training step costs ~3x its forward pass (the backward pass computes the gradients of both
the activations and the weights, ~2x). The forward pass is counted layer by layer: a
convolution's 2 x (C_in / groups) x k x k multiply-adds per output value, a linear layer's
2 x in x out; normalisation, activations and pooling are left out (a few percent). The
suite trains in IEEE float32 with TF32 off, so a GPU's ceiling is its FP32 (CUDA core) rate,
not its tensor-core rate.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.training.train import build_model

# FP32 (non-tensor) peak of each device, in FLOP/s, from its maker's data sheet: NVIDIA H100
# SXM5 (67 TFLOPS), H200 SXM (67), A100 SXM4 (19.5), V100 SXM2 (15.7), L40S (91.6).
FP32_PEAK = {"h100": 67e12, "h200": 67e12, "a100": 19.5e12, "v100": 15.7e12, "l40s": 91.6e12}
EFFICIENCY = 0.5  # the share of that peak a step reaches: assumed, until a GPU check measures it


def step_flops(spec, classes: int = 10, size: int = 32) -> float:
    """FLOPs of one training step of ``spec`` (its batch), counted as the module docstring says."""
    model = build_model(spec, classes).eval()
    counted = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            per_out = 2 * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
            counted.append(per_out * output.numel())
        elif isinstance(module, nn.Linear):
            counted.append(2 * module.in_features * module.out_features * (output.numel() // module.out_features))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return 3.0 * sum(counted) * spec.batch


def modelled_rate(spec, device: str, flops: float | None = None) -> float:
    """Training images a second of ``spec`` on ``device`` (a key of FP32_PEAK) at EFFICIENCY;
    ``flops``: its ``step_flops`` where already counted."""
    flops = step_flops(spec) if flops is None else flops
    return FP32_PEAK[device] * EFFICIENCY / (flops / spec.batch)
