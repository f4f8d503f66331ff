"""The GPU check (harness.cli.gpucheck) on a machine without CUDA: every device part is skipped
with one line, the parts that read data run on the CPU (a generated dataset where no CIFAR-10
copy is), and one JSON is written in the documented shape (docs/cluster.md)."""

from __future__ import annotations

import json

import pytest
import torch

from harness.cli import gpucheck

DEVICE_PARTS = {"tf32_off", "train", "cpu_read", "throughput", "gpu_vs_cpu"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the device parts")
@pytest.mark.parametrize("data", ["given", "generated"])
def test_without_cuda_the_device_parts_skip_with_one_line_each(tmp_path, capsys, monkeypatch, data):
    if data == "generated":
        monkeypatch.setenv("FIRSTLAYER_DATA", str(tmp_path / "no-data-here"))
    assert gpucheck.main(["--out", str(tmp_path / "gpucheck.json")]) == 0
    found = json.loads((tmp_path / "gpucheck.json").read_text())
    checks = found["checks"]
    assert list(checks) == ["tf32_off", "train", "resume", "cpu_read", "throughput", "gpu_vs_cpu", "versions"]
    assert {k for k, v in checks.items() if v.get("skipped") == "no CUDA device"} == DEVICE_PARTS
    assert checks["resume"]["device"] == "cpu" and checks["resume"]["identical"] is True
    assert checks["versions"]["torch"] == torch.__version__
    if data == "generated":
        assert found["data"].startswith("a generated")
    said = capsys.readouterr().out.splitlines()
    assert sum("skipped (no CUDA device)" in line for line in said) == len(DEVICE_PARTS)


def test_the_float32_probe_tells_ieee_from_tf32():
    got = gpucheck.tf32_off("cpu")
    assert got["ieee"] and got["matmul_rel_err"] < gpucheck.IEEE_BOUND
    tf32 = lambda t: t.view(torch.int32).bitwise_and(~0x1FFF).view(torch.float32)  # noqa: E731  10-bit mantissa
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    exact = a.double() @ b.double()
    rel = float(((tf32(a) @ tf32(b)).double() - exact).abs().max() / exact.abs().max())
    assert rel > gpucheck.IEEE_BOUND  # the probe's bound would catch a TF32 matmul
