"""``--plan``: what a selection will cost, before anything is trained.

Every run the selected claims declare (``harness.plugin.declared.declared_runs``), one row a
trajectory: its steps and images, how far the run cache already holds it, and the training
time left on this device. A claim judged by the stop rule may continue its runs past their
declared length, up to the scale's cap; the plan gives both ends. The time comes from a rate
measured on the spot: a few timed SGD steps of each model at the scale's batch on the chosen
device (random images of the data's size; the first steps are not timed), extrapolated to
the steps left. Evaluation at each stop and data decoding are not counted. With ``-n N`` the
runs are shared as the session shares them, the longest first, each to the worker free first.

The plan is printed and written as ``plan.json`` into the report folder; no claim runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from harness.config.paper import paper
from harness.config.scales import Scale
from harness.data.copies import copies
from harness.plugin.declared import converging, declared_runs, specs_of
from harness.training.cache import RunCache
from harness.training.cost import EFFICIENCY, FP32_PEAK, modelled_rate, step_flops
from harness.training.numerics import set_numerics
from harness.training.spec import RunSpec
from harness.training.train import build_model, keep_freed_memory

TIMED_STEPS, WARMUP_STEPS = 4, 2


def planned(items, s: Scale) -> list[dict]:
    """One entry a trajectory: the longest length its claims declare, the cap the stop rule may
    continue it to, and the claims that read it."""
    out: dict[str, dict] = {}
    for item in items:
        for spec in specs_of(declared_runs(item, s)):
            cap = s.stops(spec.steps)[-1] if converging(item) else spec.steps
            e = out.setdefault(spec.key, {"spec": spec, "cap": cap, "claims": [], "asked": set()})
            if spec.steps > e["spec"].steps:
                e["spec"] = spec
            e["cap"] = max(e["cap"], cap, e["spec"].steps)
            e["asked"].add(spec.steps)
            e["claims"].append(item.nodeid.split("::")[-1])
    return list(out.values())


def stop_rule_groups(items, s: Scale) -> list[dict]:
    """The runs each claim judged by the stop rule reads, with its stops and the premise that
    ends it ([converged] min_train_acc): every run of a group is trained to the first stop at
    which all its random-label runs have memorised (``harness.plugin.stoprule.judged_step``), so
    that ``python -m harness.training.fill`` trains a group as the session would."""
    out: dict[tuple, dict] = {}
    for item in items:
        specs = specs_of(declared_runs(item, s))
        if not converging(item) or not specs:
            continue
        keys = tuple(sorted({r.key for r in specs}))
        stops = s.stops(max(r.steps for r in specs))
        g = out.setdefault((keys, tuple(stops)), {"runs": list(keys), "stops": stops, "claims": []})
        g["random"] = sorted({r.key for r in specs if r.labels == "random"})
        g["min_train_acc"] = paper("converged")["min_train_acc"]
        g["claims"].append(item.nodeid.split("::")[-1])
    return list(out.values())


def cached_step(runs: RunCache, spec: RunSpec, asked=()) -> int:
    """The step from which the session trains ``spec``'s trajectory: how far the cache holds
    it, or 0 where it does not, or where a step asked of it lies behind its end unevaluated
    (``RunCache._train`` then trains it again from step 0)."""
    found = runs.trajectory(spec)
    if not found:
        return 0
    traj = found[0]
    return 0 if any(n <= traj.step and n not in traj.evals for n in asked) else traj.step


def has_data(runs: RunCache, spec: RunSpec) -> bool:
    """A copy of the run's dataset is under the data root (without it the session downloads
    it where it can, else skips the claims that read the run)."""
    return any((runs.datasets.root / c.folder).exists() for c in copies(spec.dataset))


def rate(spec: RunSpec, device: str, size: int = 32, classes: int = 10) -> float:
    """Training images a second of ``spec``'s model at its batch on ``device``, one process."""
    set_numerics(device)  # as harness.training.train.train: IEEE float32, deterministic kernels
    if not device.startswith("cuda"):
        keep_freed_memory()
    torch.manual_seed(0)
    fmt = torch.channels_last
    model = build_model(spec, classes).to(device, memory_format=fmt)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=spec.lr, momentum=spec.momentum)
    x = torch.randn(spec.batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, classes, (spec.batch,), device=device)
    for i in range(WARMUP_STEPS + TIMED_STEPS):
        if i == WARMUP_STEPS:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return TIMED_STEPS * spec.batch / (time.perf_counter() - start)


def model_of(spec: RunSpec) -> tuple:
    """What sets a step's cost: the model, its widths, the batch, whether the first layer trains."""
    return (spec.model, spec.width, spec.first, spec.batch, spec.frozen, spec.momentum > 0, spec.inputs != "plain")


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of runs shared by ``workers`` as prefill shares them: the longest first, each to
    the worker free first."""
    free = [0.0] * max(1, workers)
    for s in sorted(seconds, reverse=True):
        free[free.index(min(free))] += s
    return max(free)


def plan(items, s: Scale, runs: RunCache, device: str, workers: int, modelled: str | None = None) -> dict:
    """Every run of ``items``: what is cached, and the time left at a rate timed on ``device``, or
    modelled from the run's FLOPs at the FP32 peak of ``modelled`` (harness.training.cost)."""
    entries = planned(items, s)
    rates: dict[tuple, float] = {}
    flops: dict[tuple, float] = {}
    rows = []
    for e in sorted(entries, key=lambda e: -e["cap"]):
        spec = e["spec"]
        at = cached_step(runs, spec, e["asked"])
        key = model_of(spec)
        if key not in flops:
            flops[key] = step_flops(spec)
        if key not in rates and max(spec.steps, e["cap"]) > at:
            rates[key] = modelled_rate(spec, modelled, flops[key]) if modelled else rate(spec, device)
        left = [max(0, n - at) for n in (spec.steps, e["cap"])]
        per = [n * spec.batch / rates[key] if n else 0.0 for n in left]
        rows.append(
            {
                "run": spec.label(),
                "key": spec.key,
                "spec": spec.to_json(),  # what `python -m harness.training.fill` trains
                "asked": sorted(e["asked"]),
                "steps": spec.steps,
                "stop_rule_cap": e["cap"] if e["cap"] != spec.steps else None,
                "images": spec.images,
                "batch": spec.batch,
                "cached_to": at,
                "status": (
                    "no local data"
                    if not has_data(runs, spec)
                    else "cached"
                    if at >= e["cap"]
                    else ("partly cached" if at else "not cached")
                ),
                "images_per_s": round(rates[key]) if key in rates else None,
                "seconds": round(per[0], 1),
                "seconds_to_cap": round(per[1], 1),
                "pflop": _sig(left[0] * flops[key] / 1e15),
                "pflop_to_cap": _sig(left[1] * flops[key] / 1e15),
                "claims": sorted(set(e["claims"])),
            }
        )
    here = [r for r in rows if r["status"] != "no local data"]  # the others download or skip
    low, high = [r["seconds"] for r in here], [r["seconds_to_cap"] for r in here]
    claims: dict[str, dict] = {}
    for r in here:
        for c in r["claims"]:
            got = claims.setdefault(c, {"runs": 0, "pflop": 0.0, "seconds": 0.0})
            got["runs"] += 1
            got["pflop"] = _sig(got["pflop"] + r["pflop_to_cap"])
            got["seconds"] = round(got["seconds"] + r["seconds_to_cap"], 1)
    how = (
        f"modelled: {EFFICIENCY:.0%} of the {modelled.upper()}'s FP32 peak, {FP32_PEAK[modelled] / 1e12:g} TFLOP/s"
        if modelled
        else "timed here"
    )
    return {
        "scale": s.name,
        "device": modelled.upper() if modelled else device,
        "rate": how,
        "workers": workers,
        "claims": claims,
        "pflop": _sig(sum(r["pflop"] for r in here)),
        "pflop_to_cap": _sig(sum(r["pflop_to_cap"] for r in here)),
        "runs": rows,
        "stop_rule": stop_rule_groups(items, s),
        "total_s": round(sum(low), 1),
        "total_to_cap_s": round(sum(high), 1),
        "wall_s": round(makespan(low, workers), 1),
        "wall_to_cap_s": round(makespan(high, workers), 1),
        "longest_s": round(max(high, default=0.0), 1),  # every run its own job at once (--launcher submitit)
        "no_local_data_s": round(sum(r["seconds_to_cap"] for r in rows if r not in here), 1),
        "note": f"training steps only, at rates {how}; evaluation at each stop and data decoding are not "
        "counted, nor runs whose data is not under the data root",
    }


def _sig(x: float) -> float:
    """``x`` to 4 significant digits (a smoke run is ~1e-5 PFLOP, the paper scale ~1e3)."""
    return float(f"{x:.4g}")


def hms(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def lines(p: dict) -> list[str]:
    """The plan in words, for the terminal."""
    out = [f"plan: {len(p['runs'])} runs at scale {p['scale']} on {p['device']}"]
    for r in p["runs"]:
        cap = f" (stop rule: up to {r['stop_rule_cap']})" if r["stop_rule_cap"] else ""
        cost = f"{hms(r['seconds'])}" + (
            f" - {hms(r['seconds_to_cap'])}" if r["seconds_to_cap"] != r["seconds"] else ""
        )
        rate_ = f" at {r['images_per_s']:,} images/s" if r["images_per_s"] else ""
        out.append(f"  {r['status']:>14} {cost:>19}{rate_:>22}  {r['run']}{cap}")
    span = lambda a, b: hms(a) + (f" - {hms(b)}" if b != a else "")  # noqa: E731
    for claim, c in sorted(p["claims"].items()):
        out.append(f"  claim {claim}: {c['runs']} runs, {c['pflop']:,.4g} PFLOP, {c['seconds'] / 3600:,.1f} h at most")
    pf = f"{p['pflop']:,.4g}" + (f" - {p['pflop_to_cap']:,.4g}" if p["pflop_to_cap"] != p["pflop"] else "")
    out.append(f"total: {len(p['runs'])} runs, {pf} PFLOP, {span(p['total_s'], p['total_to_cap_s'])} in one process")
    out.append(f"with -n {p['workers']}: {span(p['wall_s'], p['wall_to_cap_s'])} (the longest runs first)")
    out.append(f"one job a run (--launcher submitit), all at once: {hms(p['longest_s'])} (the longest run)")
    if p["no_local_data_s"]:
        out.append(f"not counted: {hms(p['no_local_data_s'])} of runs whose data is not under the data root")
    out.append(f"({p['note']})")
    return out


def write(p: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "plan.json"
    path.write_text(json.dumps(p, indent=1))
    return path
