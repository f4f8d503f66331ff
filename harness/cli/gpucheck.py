"""``python -m harness.cli.gpucheck``: what the paper scale needs to trust a GPU, in a few minutes,
written as one JSON (default ``reports/gpucheck.json``).

1. ``smoke``: the smoke scale with ``--gpu`` (every code path of the paper scale, on CUDA).
2. ``throughput``: training images/s and peak memory of the paper scale's full-width VGG11 and
   ResNet-18 at its batch (timed SGD steps, ``harness.plugin.plan.rate``).
3. ``determinism``: the same seed twice gives the same first layer, bit for bit, on the device.
4. ``gpu_vs_cpu``: a 200-step run of the cpu scale's spec on the GPU against the same run on the
   CPU: the correlation of their energy profiles (of W - W_init) and the largest gap between
   their training-loss curves. Float32 sums in another order: close, not equal.
5. ``plan``: ``--plan`` of the whole paper scale on this GPU (``harness.plugin.plan``), so the cost of
   the paper is a measured number.

Without CUDA every device part is skipped with one line, and the JSON says so; the CPU half of
``determinism`` still runs, so the script itself is tested on any machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import torch

from harness.config.scales import scale
from harness.data.door import Datasets
from harness.measures.spectra import correlation, energy_profile
from harness.plugin.plan import rate
from harness.training.train import train

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*args: str, timeout: int) -> tuple[int, str, float]:
    start = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "claims/", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return proc.returncode, (proc.stdout + proc.stderr)[-3000:], time.perf_counter() - start


def smoke(work: Path) -> dict:
    rc, tail, wall = _pytest(
        "--scale", "smoke", "--gpu", "--no-download", "--run-cache", str(work / "smoke-cache"),
        "--report-dir", str(work / "smoke"), timeout=420,
    )  # fmt: skip
    out = {"rc": rc, "wall_s": round(wall, 1)}
    found = work / "smoke" / "results.json"
    if found.is_file():
        claims = json.loads(found.read_text())["claims"]
        out["verdicts"] = {v: sum(c["verdict"] == v for c in claims) for v in sorted({c["verdict"] for c in claims})}
    if rc > 1:
        out["tail"] = tail
    return out


def throughput() -> dict:

    s = scale("paper")
    out = {}
    for name, spec in (("vgg11", s.spec()), (s.resnet, s.spec(model=s.resnet, width=s.resnet_width))):
        torch.cuda.reset_peak_memory_stats()
        out[name] = {
            "batch": spec.batch,
            "images_per_s": round(rate(spec, "cuda"), 1),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        }
    return out


@cache
def _data():
    """One ``Datasets`` for the checks that train (a split is decoded once, then held)."""

    return Datasets()


def _train(spec, device: str):

    return train(spec, _data().train_data(spec), device)


def determinism(device: str) -> dict:

    spec = replace(scale("cpu").spec(steps=20, eval_images=500), images=2000)
    a, b = _train(spec, device), _train(spec, device)
    same = all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights) and a.history == b.history
    return {"device": device, "spec": spec.label(), "identical": bool(same)}


def gpu_vs_cpu(steps: int = 200) -> dict:

    spec = scale("cpu").spec(steps=steps, eval_images=1000)
    gpu, cpu = _train(spec, "cuda"), _train(spec, "cpu")
    pca = _data().pca(spec)
    profiles = [energy_profile(t.weights[steps].cpu(), pca, init=t.weights[0].cpu()) for t in (gpu, cpu)]
    losses = [np.array([h["train_loss"] for h in t.history]) for t in (gpu, cpu)]
    return {
        "spec": spec.label(),
        "profile_correlation": round(float(correlation(*profiles)), 4),
        "largest_train_loss_gap": round(float(np.max(np.abs(losses[0] - losses[1]))), 4),
        "final_train_loss": [round(float(x[-1]), 4) for x in losses],
    }


def paper_plan(work: Path) -> dict:
    rc, tail, wall = _pytest(
        "--gpu", "--plan", "--run-cache", str(work / "plan-cache"), "--report-dir", str(work / "plan"), timeout=600
    )
    found = work / "plan" / "plan.json"
    if rc != 0 or not found.is_file():
        return {"rc": rc, "tail": tail}
    p = json.loads(found.read_text())
    keep = ("total_s", "total_to_cap_s", "wall_s", "wall_to_cap_s", "no_local_data_s")
    return {**{k: p[k] for k in keep}, "n_runs": len(p["runs"]), "planned_in_s": round(wall, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.cli.gpucheck", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "gpucheck.json"), help="the JSON to write")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "device": torch.cuda.get_device_name() if cuda else "cpu (no CUDA device: the device parts are skipped)",
        "torch": torch.__version__,
        "checks": {},
    }

    def run(name, fn, *a, device_part=True):
        if device_part and not cuda:
            result["checks"][name] = {"skipped": "no CUDA device"}
            print(f"gpucheck: {name}: skipped (no CUDA device)", flush=True)
            return
        start = time.perf_counter()
        try:
            got = fn(*a)
        except Exception as exc:  # one check's failure is its row, not the end of the others
            got = {"error": f"{type(exc).__name__}: {exc}"}
        got["seconds"] = round(time.perf_counter() - start, 1)
        result["checks"][name] = got
        print(f"gpucheck: {name}: {json.dumps(got)}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run("smoke", smoke, work)
        run("throughput", throughput)
        run("determinism", determinism, "cuda" if cuda else "cpu", device_part=False)
        run("gpu_vs_cpu", gpu_vs_cpu)
        run("plan", paper_plan, work)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"gpucheck: written to {out}")
    return 1 if any("error" in c for c in result["checks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
