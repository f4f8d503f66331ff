"""The numerics every run trains with, set in one place: IEEE float32 for convolutions and
matmuls (no TF32, no autocast) and deterministic kernels, so that a continued run equals one
trained in one go and a fixed seed gives the same numbers on one GPU and one software stack.

On CUDA, cuDNN defaults to TF32 convolutions (a 10-bit mantissa) on Ampere and later, picks the
fastest kernels by benchmark (some backward kernels sum with atomics, in no fixed order), and
cuBLAS needs a fixed workspace to be deterministic. torch 2.9 brought a new switch for TF32
(``fp32_precision``); reading or setting the old one (``allow_tf32``) after the new one raises,
so each torch uses its own API and only it. On the CPU there is nothing to set: its float32
sums depend on the CPU kind and the thread count (docs/reproducibility.md).
"""

from __future__ import annotations

import os

import torch

CUBLAS_WORKSPACE = ":4096:8"  # cuBLAS's documented setting for deterministic results


def new_precision_api(version: str) -> bool:
    """torch >= 2.9 sets TF32 with ``fp32_precision``; earlier ones with ``allow_tf32``."""
    major, minor = (int(p) for p in version.split("+")[0].split(".")[:2])
    return (major, minor) >= (2, 9)


def described(device: str, version: str | None = None) -> dict:
    """What ``set_numerics`` sets for ``device``, in words (a run's provenance), setting nothing."""
    if not device.startswith("cuda"):
        return {"device": "cpu", "float32": "ieee"}
    version = torch.__version__ if version is None else version
    return {
        "device": "cuda",
        "float32": "ieee",
        "tf32_off_by": "fp32_precision" if new_precision_api(version) else "allow_tf32",
        "cudnn_deterministic": True,
        "cublas_workspace": os.environ.get("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE),
    }


def set_numerics(device: str, backends=None, version: str | None = None) -> dict:
    """Set IEEE float32 and deterministic kernels for ``device``; returns what was set
    (``described``). ``backends``/``version`` stand in for ``torch.backends``/``torch.__version__``
    in tests."""
    if not device.startswith("cuda"):
        return described(device)
    backends = torch.backends if backends is None else backends
    version = torch.__version__ if version is None else version
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)  # read when cuBLAS starts
    if new_precision_api(version):
        backends.cudnn.conv.fp32_precision = "ieee"
        backends.cuda.matmul.fp32_precision = "ieee"
    else:
        backends.cudnn.allow_tf32 = False
        backends.cuda.matmul.allow_tf32 = False
    backends.cudnn.deterministic = True
    backends.cudnn.benchmark = False
    if backends is torch.backends:  # ops without a deterministic kernel warn (the GPU check compares bits)
        torch.use_deterministic_algorithms(True, warn_only=True)
    return described(device, version)
