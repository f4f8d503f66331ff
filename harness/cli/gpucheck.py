"""``python -m harness.cli.gpucheck``: what the paper scale needs to trust a GPU, in ~8 minutes,
written as one JSON (default ``reports/gpucheck.json``; its schema: docs/cluster.md) and one
line a part, in this order:

1. ``tf32_off``: a numeric probe that float32 is IEEE on the device: a matmul and a convolution
   against float64 on the CPU (TF32's 10-bit mantissa errs ~1e-3 relative, IEEE float32 ~1e-6).
2. ``train``: a few hundred steps of the real ``train()`` on the paper scale's VGG11, through the
   run cache (snapshots and checkpoints written as a session writes them).
3. ``resume``: a run continued from its checkpoint equals, bit for bit, the run trained in one go.
4. ``cpu_read``: the GPU-made trajectory loads in a process that sees no GPU.
5. ``throughput``: training images/s of the paper's VGG11 with 1, 2 and 4 trajectories at once
   (one process each), and the fraction of the GPU's FP32 peak it reaches (harness.training.cost).
6. ``gpu_vs_cpu``: one run on the GPU against the same run on the CPU, within a stated tolerance
   (float32 sums in another order: close, not equal).
7. ``versions``: torch, CUDA, cuDNN, the GPU and the numerics set.

Data: a CIFAR-10 copy under the data root where there is one, else a small generated
ImageFolder (``data``: which). Without CUDA every device part is skipped with one line and the
others run on the CPU, so the script is tested on any machine.
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
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from harness.config.scales import scale
from harness.data.copies import default_root
from harness.data.door import Datasets
from harness.measures.spectra import correlation, energy_profile
from harness.plugin.plan import rate
from harness.training.cache import RunCache
from harness.training.cost import EFFICIENCY, FP32_PEAK, step_flops
from harness.training.numerics import described, set_numerics

ROOT = Path(__file__).resolve().parents[2]
IEEE_BOUND = 1e-4  # largest relative error of float32 against float64 that reads as IEEE (TF32: ~1e-3)
GPU_VS_CPU = {"min_profile_correlation": 0.99, "max_train_loss_gap": 0.05}  # the stated tolerance
CIFAR10 = ("cifar-10-batches-py", "cifar10-jpeg", "cifar10-exact")


def data_source(work: Path) -> tuple[Path, str, str]:
    """(data root, dataset name, what it is): CIFAR-10 where a copy is, else a generated one."""
    root = default_root()
    if any((root / d).exists() for d in CIFAR10):
        return root, "cifar10", f"cifar10 under {root}"
    rng = np.random.default_rng(0)
    for split, n in (("train", 64), ("test", 16)):
        for c in range(10):
            folder = work / "generated" / split / f"class{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return work, "generated", "a generated 10-class ImageFolder of 640 random 32x32 images (no CIFAR-10 copy)"


def tf32_off(device: str) -> dict:
    made = set_numerics(device)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1024, 1024, generator=g), torch.randn(1024, 1024, generator=g)
    x, w = torch.randn(8, 64, 32, 32, generator=g), torch.randn(64, 64, 3, 3, generator=g)

    def err(got, want):
        return float((got.double().cpu() - want).abs().max() / want.abs().max())

    matmul = err(a.to(device) @ b.to(device), a.double() @ b.double())
    conv = err(F.conv2d(x.to(device), w.to(device), padding=1), F.conv2d(x.double(), w.double(), padding=1))
    return {"matmul_rel_err": matmul, "conv_rel_err": conv, "bound": IEEE_BOUND, "numerics": made,
            "ieee": matmul < IEEE_BOUND and conv < IEEE_BOUND}  # fmt: skip


def _spec(device: str, name: str, steps: int):
    """The paper scale's VGG11 on a GPU; on the CPU the cpu scale's, small enough to run here."""
    s = scale("paper" if device.startswith("cuda") else "cpu")
    return replace(s.spec(steps=steps), dataset=name, images=None if name == "generated" else 5000, eval_images=500)


def train_part(device: str, root: Path, name: str, cache: Path, steps: int) -> dict:
    spec = _spec(device, name, steps)
    runs = RunCache(cache, Datasets(root, cache), device, progress=False, checkpoint_every=steps // 3)
    start = time.perf_counter()
    run = runs.get(spec)
    seconds = round(time.perf_counter() - start, 1)
    return {"spec": spec.label(), "key": spec.key, "steps": steps, "seconds_training": seconds,
            "saved_steps": len(run.weights), "final_train_loss": run.history[-1]["train_loss"],
            "cache": str(runs.path(spec))}  # fmt: skip


def resume(device: str, root: Path, name: str, work: Path, steps: int) -> dict:
    spec = _spec(device, name, steps)
    data = Datasets(root)  # one decode for the three caches
    once = RunCache(work / "once", data, device, progress=False).get(spec)
    RunCache(work / "halves", data, device, progress=False).get(replace(spec, steps=steps // 2))
    continued = RunCache(work / "halves", data, device, progress=False).get(spec)
    same = set(once.weights) <= set(continued.weights) and all(
        torch.equal(once.weights[k], continued.weights[k]) for k in once.weights
    )
    logged = {h["step"]: h for h in continued.history}  # the continued run also logged its first stop
    history = all(logged.get(h["step"]) == h for h in once.history)
    return {"device": device, "spec": spec.label(), "steps": [steps // 2, steps],
            "identical": bool(same and history and once.evaluation == continued.evaluation)}  # fmt: skip


def cpu_read(path: str) -> dict:
    code = (
        "import sys, torch; blob = torch.load(sys.argv[1] + '/trajectory.pt', map_location='cpu', weights_only=False);"
        "print(len(blob['weights']), blob['state']['optimizer']['state'].__len__())"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", code, path], env=env, capture_output=True, text=True, check=False)
    return {"loaded": proc.returncode == 0, "said": (proc.stdout + proc.stderr).strip()[-300:]}


def gpu_kind() -> str | None:
    name = torch.cuda.get_device_name().lower()
    return next((k for k in FP32_PEAK if k in name), None)


def throughput() -> dict:
    spec = scale("paper").spec()
    kind = gpu_kind()
    flops_per_image = step_flops(spec) / spec.batch
    code = (
        "import json; from harness.config.scales import scale; from harness.plugin.plan import rate;"
        "print(json.dumps(rate(scale('paper').spec(), 'cuda')))"
    )
    out = {"model": spec.label(), "batch": spec.batch, "fp32_peak_tflops": FP32_PEAK.get(kind, 0) / 1e12 or None}
    torch.cuda.reset_peak_memory_stats()
    out["one_here"] = round(rate(spec, "cuda"), 1)
    out["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    for k in (1, 2, 4):
        procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
                 for _ in range(k)]  # fmt: skip
        rates = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        total = sum(rates)
        out[f"{k}_at_once"] = {
            "images_per_s": round(total, 1),
            "fraction_of_fp32_peak": round(total * flops_per_image / FP32_PEAK[kind], 3) if kind else None,
        }
    out["assumed_by_the_planner"] = EFFICIENCY
    return out


def gpu_vs_cpu(root: Path, name: str, steps: int = 200) -> dict:
    images = None if name == "generated" else 5000
    spec = replace(scale("cpu").spec(steps=steps, eval_images=500), dataset=name, images=images)
    data = Datasets(root)
    got = {d: RunCache(Path(tempfile.mkdtemp()), data, d, progress=False).get(spec) for d in ("cuda", "cpu")}
    pca = data.pca(spec)
    profiles = [energy_profile(r.weights[steps], pca, init=r.weights[0]) for r in got.values()]
    losses = [np.array([h["train_loss"] for h in r.history]) for r in got.values()]
    corr, gap = float(correlation(*profiles)), float(np.max(np.abs(losses[0] - losses[1])))
    return {"spec": spec.label(), "profile_correlation": round(corr, 4), "largest_train_loss_gap": round(gap, 4),
            "tolerance": GPU_VS_CPU, "within": corr >= GPU_VS_CPU["min_profile_correlation"]
            and gap <= GPU_VS_CPU["max_train_loss_gap"]}  # fmt: skip


def versions() -> dict:
    cuda = torch.cuda.is_available()
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "numerics": described("cuda" if cuda else "cpu"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.cli.gpucheck", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "gpucheck.json"), help="the JSON to write")
    ap.add_argument("--steps", type=int, default=300, help="steps of the train and resume parts (default 300)")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "device": torch.cuda.get_device_name() if cuda else "cpu",
              "checks": {}}  # fmt: skip

    def run(name, fn, *a, device_part=True):
        if device_part and not cuda:
            result["checks"][name] = {"skipped": "no CUDA device"}
            print(f"gpucheck: {name}: skipped (no CUDA device)", flush=True)
            return None
        start = time.perf_counter()
        try:
            got = fn(*a)
        except Exception as exc:  # one part's failure is its row, not the end of the others
            got = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}
        got["seconds"] = round(time.perf_counter() - start, 1)
        result["checks"][name] = got
        print(f"gpucheck: {name}: {json.dumps(got)}", flush=True)
        return got

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root, name, said = data_source(work)
        result["data"] = said
        steps = args.steps if cuda else 20
        run("tf32_off", tf32_off, "cuda")
        trained = run("train", train_part, "cuda", root, name, work / "cache", steps)
        run("resume", resume, device, root, name, work / "resume", steps, device_part=False)
        if trained and "cache" in trained:
            run("cpu_read", cpu_read, trained["cache"])
        else:
            run("cpu_read", lambda: {"error": "no GPU-made trajectory (the train part failed)"})
        run("throughput", throughput)
        run("gpu_vs_cpu", gpu_vs_cpu, root, name)
        run("versions", versions, device_part=False)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"gpucheck: written to {out}")
    failed = [k for k, c in result["checks"].items() if "error" in c or c.get("identical") is False]
    failed += [k for k, c in result["checks"].items() if c.get("ieee") is False or c.get("within") is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
