"""What trained a run: the training fingerprint, torch, the device and the machine (its CPU
kind: trained values differ between kinds from the third decimal, docs/reproducibility.md)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import torch

from harness.training.fingerprint import fingerprint
from harness.training.numerics import described


def machine() -> str:
    """The machine a run was trained on, in words: the processor with its family and model
    (two CPU kinds under one brand name sum in other orders: docs/reproducibility.md) and
    whether it has AVX-512, and the cores."""
    cpu, kind = platform.processor() or platform.machine(), ""
    try:
        info = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in Path("/proc/cpuinfo").read_text().splitlines())
            if k.strip() in ("model name", "cpu family", "model", "flags")
        )
        cpu = info.get("model name", cpu)
        if "cpu family" in info:
            avx = ", AVX-512" if "avx512f" in info.get("flags", "").split() else ""
            kind = f" (family {info['cpu family']}, model {info.get('model', '?')}{avx})"
    except OSError:
        pass
    return f"{cpu}{kind}, {os.cpu_count()} cores"


def provenance(device: str) -> dict:
    """What trained a run: code fingerprint, torch, device, machine, threads, date; on a GPU
    also its name, CUDA and cuDNN (cuDNN picks its kernels per GPU architecture, so a GPU's
    numbers depend on all three: docs/reproducibility.md) and the numerics set."""
    gpu = torch.cuda.get_device_name(device) if device.startswith("cuda") else None
    cuda = {}
    if gpu is not None:
        cuda = {"cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "gpu": gpu}
    return {
        "fingerprint": fingerprint(),
        "torch": torch.__version__,
        "device": gpu or device,
        **cuda,
        "numerics": described(device),
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
