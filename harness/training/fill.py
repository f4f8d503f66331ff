"""Fill the run store within a time budget, one machine after another:

    python -m harness.training.fill --scale converged --budget 2h --run-cache DIR -n 2

It plans the scale's runs (``pytest claims/ --plan``), trains the missing ones into the run cache
(unfinished runs first, continued from their last checkpoint; then the longest first), never
starts a run that cannot reach its next checkpoint in the time left, stops every run at the
budget (a killed run keeps its last checkpoint: nothing is lost), stores the finished runs
(``harness.training.store.export``) and says what remains and how long it will take at the rate
the plan measured. Commit ``reports/runs``; the next machine continues from the run cache, or
from the store for what finished.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from harness.data.copies import default_root
from harness.training.fingerprint import fingerprint
from harness.training.launch import train_job
from harness.training.store import ROOT, STORE, export, stored

CHECKPOINT = 500  # steps between a run's checkpoints (RunCache's default)


def budget_seconds(text: str) -> float:
    """'2h', '90m', '45s', '1h30m' -> seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", text.strip().lower())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s", "", text.lower()):
        raise ValueError(f"budget {text!r}: write it as 2h, 90m, 1h30m or 45s")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def schedule(runs: list[dict], budget_s: float, workers: int = 1) -> tuple[list[dict], list[dict]]:
    """(the runs to start, in order; the runs left) of a plan's ``runs``: unfinished ones first
    (they continue), then the longest first; a run is started only if its first stretch (to its
    next checkpoint, at the planned rate) fits in the time its worker has left."""
    todo = [r for r in runs if r["cached_to"] < r["steps"] and r["status"] != "no local data" and r.get("spec")]
    todo.sort(key=lambda r: (r["cached_to"] == 0, -r["seconds"]))
    free = [0.0] * max(workers, 1)  # seconds each worker is already given
    start, left = [], []
    for r in todo:
        steps_left = max(r["steps"] - r["cached_to"], 1)
        first = r["seconds"] * min(CHECKPOINT, steps_left) / steps_left
        w = min(range(len(free)), key=free.__getitem__)
        if free[w] + first <= budget_s:
            start.append(r)
            free[w] += r["seconds"]
        else:
            left.append(r)
    return start, left


def plan(scale: str, run_cache: Path, select: str | None) -> dict:
    """The scale's plan (``pytest claims/ --plan``) as written to plan.json."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "pytest", "claims/", "-q", "--plan", "--scale", scale, "-p", "no:cacheprovider"]
        cmd += ["--run-cache", str(run_cache), "--report-dir", out] + (["-k", select] if select else [])
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        return json.loads((Path(out) / "plan.json").read_text())


def _job(run_cache: str, spec: dict, stops: list[int]) -> None:
    """The launcher's job (``harness.training.launch.train_job``: one thread, the cache's
    checkpoints), its error raised so that the process exits non-zero."""
    done = train_job(run_cache, str(default_root()), "cpu", spec, stops, 1, CHECKPOINT)
    if "error" in done:
        raise done["error"]


def train_one(run: dict, run_cache: Path, deadline: float) -> str:
    """Train (or continue) one planned run in its own process until ``deadline``; a run past
    it is stopped and keeps its last checkpoint."""
    stops = sorted({*run.get("asked", []), run["steps"]})
    job = multiprocessing.get_context("spawn").Process(target=_job, args=(str(run_cache), run["spec"], stops))
    job.start()
    job.join(max(deadline - time.time(), 1))
    if job.is_alive():
        job.kill()
        job.join()
        return f"stopped at the budget (kept its last checkpoint): {run['run']}"
    return f"{'trained' if job.exitcode == 0 else f'failed ({job.exitcode})'}: {run['run']}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.training.fill", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", required=True, help="the scale whose runs to train (fixtures/scales.toml)")
    ap.add_argument("--budget", required=True, help="wall time to train for: 2h, 90m, 1h30m")
    ap.add_argument("--run-cache", required=True, help="the run cache to train into (kept between machines)")
    ap.add_argument("-n", dest="workers", type=int, default=1, help="runs trained at once, one thread each")
    ap.add_argument("-k", dest="select", default=None, help="only the claims pytest -k selects")
    ap.add_argument("--store", default=str(STORE), help="the folder whose runs/ is the store (default: reports)")
    args = ap.parse_args(argv)
    try:
        budget = budget_seconds(args.budget)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    deadline, cache = time.time() + budget, Path(args.run_cache)
    found = plan(args.scale, cache, args.select)
    held = stored(Path(args.store))
    for r in found["runs"]:  # a run the store holds to its step by today's training code needs no training
        run = held.get(r["key"], {})
        if run.get("fingerprint") == fingerprint() and run.get("step", 0) >= r["steps"]:
            r["cached_to"] = max(r["cached_to"], r["steps"])
    start, left = schedule(found["runs"], budget, args.workers)
    print(f"{len(start)} runs to train now, {len(left)} left for later (budget {timedelta(seconds=round(budget))})")
    with ThreadPoolExecutor(max_workers=max(args.workers, 1)) as pool:
        for line in pool.map(lambda r: train_one(r, cache, deadline), start):
            print(line, flush=True)
    after = plan(args.scale, cache, args.select)
    done = [r["key"] for r in after["runs"] if r["cached_to"] >= r["steps"]]  # to the step the claims read first
    export(cache, done, Path(args.store))
    held = stored(Path(args.store))
    rest = [r for r in after["runs"] if max(r["cached_to"], held.get(r["key"], {}).get("step", 0)) < r["steps"]]
    rest_s = sum(r["seconds"] for r in rest) / max(args.workers, 1)
    print(f"stored {len(done)} finished runs in {Path(args.store) / 'runs'}; {len(rest)} remain, "
          f"~{timedelta(seconds=round(rest_s))} with {max(args.workers, 1)} worker(s) at the planned rate")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
