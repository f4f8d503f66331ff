"""``--plan`` (harness.plugin.plan): the runs it plans are the runs a session then trains, and a
second plan finds them cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.data.copies import default_root
from harness.plugin.plan import makespan
from harness.training.cost import modelled_rate, step_flops
from harness.training.spec import RunSpec

ROOT = Path(__file__).resolve().parents[1]
SELECTION = "random_labels and cifar10 and not cifar100"  # 3 true + 3 random-label runs, one stop rule


def session(tmp_path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FIRSTLAYER_DATA": str(default_root())}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "claims/", "-q", "-p", "no:cacheprovider", "--scale", "smoke",
         "-k", SELECTION, "--run-cache", str(tmp_path / "cache"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def test_makespan_shares_the_longest_first():
    assert makespan([5, 4, 3, 3, 1], 2) == 8  # [5, 3] and [4, 3, 1]
    assert makespan([5, 4], 1) == 9 and makespan([], 2) == 0


@pytest.mark.skipif(
    not any((default_root() / d).exists() for d in ("cifar-10-batches-py", "cifar10-jpeg", "cifar10-exact")),
    reason="no CIFAR-10 copy under FIRSTLAYER_DATA",
)
def test_the_plan_is_what_the_session_then_trains(tmp_path):
    planned = session(tmp_path, "--plan", "-n", "2", "--report-dir", str(tmp_path / "p"))
    assert planned.returncode == 0, planned.stdout[-2000:] + planned.stderr[-2000:]
    assert "bringing up nodes" not in planned.stdout and "nothing was trained" in planned.stdout
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert plan["workers"] == 2 and not (tmp_path / "cache" / "runs").exists()  # nothing trained
    assert {r["status"] for r in plan["runs"]} == {"not cached"} and len(plan["runs"]) == 6
    assert all(r["seconds"] > 0 and r["images_per_s"] > 0 for r in plan["runs"])

    ran = session(tmp_path, "--report-dir", str(tmp_path / "r"))
    assert ran.returncode in (0, 1), ran.stdout[-2000:]
    trained = {p.name for p in (tmp_path / "cache" / "runs").iterdir() if p.is_dir()}
    assert trained == {r["key"] for r in plan["runs"]}
    for r in plan["runs"]:  # trained to its declared length, or on by the stop rule to at most its cap
        at = json.loads((tmp_path / "cache" / "runs" / r["key"] / "metrics.json").read_text())["step"]
        assert r["steps"] <= at <= (r["stop_rule_cap"] or r["steps"])

    again = session(tmp_path, "--plan", "--report-dir", str(tmp_path / "p2"))
    assert again.returncode == 0
    replanned = json.loads((tmp_path / "p2" / "plan.json").read_text())["runs"]
    assert all(r["cached_to"] >= r["steps"] and r["seconds"] == 0 for r in replanned)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine times the GPU instead")
def test_a_gpu_plan_without_cuda_models_each_run_from_its_flops(tmp_path):
    """`--plan --gpu` on a machine without CUDA: no refusal; every run's time comes from its FLOPs
    at the H100's FP32 rate, with PFLOP and hours per claim and in all."""
    out = session(tmp_path, "--plan", "--gpu", "--report-dir", str(tmp_path / "p"))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    found = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert found["device"] == "H100" and "67 TFLOP/s" in found["rate"]
    assert found["pflop"] > 0 and found["claims"] and all(r["pflop"] > 0 for r in found["runs"])
    assert "PFLOP" in out.stdout and "one job a run" in out.stdout


def test_a_step_costs_three_forward_passes_of_its_layers():
    spec = RunSpec(model="linear", batch=2)
    conv = 2 * 3 * 3 * 3 * 64 * 30 * 30  # the linear CNN's one 3x3 conv, 64 filters, no padding on 32x32
    assert step_flops(spec) == pytest.approx(3 * 2 * conv, rel=0.2)
    assert modelled_rate(RunSpec(), "h100") > modelled_rate(RunSpec(), "v100")
