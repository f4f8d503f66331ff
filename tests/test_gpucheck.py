"""The GPU check (harness.cli.gpucheck) runs on a machine without CUDA: every device part is
skipped with one line, the CPU half of the determinism check runs, and one JSON is written."""

from __future__ import annotations

import json

import pytest
import torch

from harness.cli import gpucheck
from harness.data.copies import default_root


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the device parts")
@pytest.mark.skipif(
    not any((default_root() / d).exists() for d in ("cifar-10-batches-py", "cifar10-jpeg", "cifar10-exact")),
    reason="no CIFAR-10 copy under FIRSTLAYER_DATA",
)
def test_without_cuda_the_device_parts_skip_with_one_line_each(tmp_path, capsys):
    assert gpucheck.main(["--out", str(tmp_path / "gpucheck.json")]) == 0
    found = json.loads((tmp_path / "gpucheck.json").read_text())
    checks = found["checks"]
    assert {k for k, v in checks.items() if v.get("skipped") == "no CUDA device"} == {
        "smoke", "throughput", "gpu_vs_cpu", "plan"
    }  # fmt: skip
    assert checks["determinism"]["device"] == "cpu" and checks["determinism"]["identical"] is True
    said = capsys.readouterr().out.splitlines()
    assert sum("skipped (no CUDA device)" in line for line in said) == 4
