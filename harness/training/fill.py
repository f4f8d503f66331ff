"""Fill the run store within a time budget, one machine after another:

    python -m harness.training.fill --scale converged --budget 2h --run-cache DIR -n 2

It plans the scale's runs (``pytest claims/ --plan``), trains the missing ones into the run cache
(unfinished runs first, continued from their last checkpoint; then the longest first), never
starts a run that cannot reach its next checkpoint in the time left, stops every run at the
budget (a killed run keeps its last checkpoint: nothing is lost), trains the stop rule's groups on
from stop to stop as a pytest run would (``converge``), stores the finished runs and the unfinished
ones with their checkpoints (``harness.training.store.export``), and says what remains and how
long it will take at the rate the plan measured. Commit ``reports/runs``: the next machine
continues the unfinished runs from the store (``harness.training.store.restore``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import signal
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
from harness.training.stoprule import stop_rule
from harness.training.store import ROOT, STORE, export, restore, stored

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
    checkpoints, the run cache's decode cache: a split is decoded once, not once a job), its
    error raised so that the process exits non-zero."""
    done = train_job(run_cache, str(default_root()), "cpu", spec, stops, 1, CHECKPOINT, run_cache)
    if "error" in done:
        raise done["error"]


LIVE: set = set()  # the job processes training now (stopped with fill: ``_stop``)
STOPPED: list = []  # set by ``_stop``: no job starts after it


def _stop(signum, frame) -> None:
    """fill killed (SIGTERM, SIGINT): its jobs are killed with it, each run keeping its last
    checkpoint, instead of training on as orphans."""
    STOPPED.append(signum)
    for job in list(LIVE):
        job.kill()
    raise SystemExit(128 + signum)


def train_one(run: dict, run_cache: Path, deadline: float) -> str:
    """Train (or continue) one planned run in its own process until ``deadline``; a run past
    it is stopped and keeps its last checkpoint."""
    stops = sorted({*run.get("asked", []), run["steps"]})
    if STOPPED or time.time() >= deadline:
        return f"not started (the budget is spent, or fill was stopped): {run['run']}"
    job = multiprocessing.get_context("spawn").Process(target=_job, args=(str(run_cache), run["spec"], stops))
    job.start()
    LIVE.add(job)
    job.join(max(deadline - time.time(), 1))
    LIVE.discard(job)
    if job.is_alive():
        job.kill()
        job.join()
        return f"stopped at the budget (kept its last checkpoint): {run['run']}"
    return f"{'trained' if job.exitcode == 0 else f'failed ({job.exitcode})'}: {run['run']}"


def _copy(folder: Path) -> tuple[int, dict]:
    """(step, {stop: evaluation}) of one copy of a run (in a run cache or the store) trained by
    today's training code; (0, {}) where there is none."""
    try:
        made = json.loads((folder / "provenance.json").read_text())
        d = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return 0, {}
    if made.get("fingerprint") != fingerprint():
        return 0, {}
    return d["step"], {int(k): v for k, v in d["evals"].items()}


def held(key: str, cache: Path, store: Path) -> tuple[int, dict]:
    """(step, {stop: evaluation}) of a run as far as the run cache and the store hold it by
    today's training code (``_copy``): the further step, and the evaluations of both copies."""
    (a, ea), (b, eb) = _copy(store / "runs" / key), _copy(cache / "runs" / key)
    return max(a, b), {**ea, **eb}


def judged_at(group: dict, cache: Path, store: Path) -> int | None:
    """The stop-rule step (``stop_rule``) of a plan's ``stop_rule`` group as far as it is
    trained: a stop is reached where every run is evaluated, and ready where every random-label
    run has memorised (train accuracy >= the group's ``min_train_acc``, the premise
    ``checks.memorised`` reads); None while no stop decides it yet."""
    evals = {k: held(k, cache, store)[1] for k in group["runs"]}
    return stop_rule(
        group["stops"],
        lambda n: all(n in e for e in evals.values()),
        lambda n: all(evals[k][n]["train_acc"] >= group["min_train_acc"] for k in group["random"]),
    )


def converge(groups: list, rows: dict, cache: Path, store: Path, deadline: float, pool) -> list[str]:
    """Train each stop-rule group on from stop to stop, as a pytest run's stop rule would, until it
    is decided or the budget ends; a stretch is started only if it reaches a checkpoint in time
    (at the plan's rate), and every stop up to it is evaluated on the way (a run the store holds
    finished, without its state, is trained again from step 0)."""
    said = []
    for g in groups:
        while time.time() < deadline and judged_at(g, cache, store) is None:
            at = {k: held(k, cache, store) for k in g["runs"]}
            n = next(n for n in g["stops"] if any(n not in e for _, e in at.values()))
            jobs = []
            for k in (k for k in g["runs"] if n not in at[k][1]):
                r = rows[k]
                per_step = r["batch"] / r["images_per_s"] if r.get("images_per_s") else 0.0
                if time.time() + per_step * CHECKPOINT > deadline:
                    said.append(f"left at the budget: {r['run']} on to step {n}")
                    break
                label = re.sub(r"steps=\d+", f"steps={n}", r["run"])
                asked = sorted({*r.get("asked", []), *(s for s in g["stops"] if s <= n)})
                jobs.append({**r, "run": label, "spec": {**r["spec"], "steps": n}, "steps": n, "asked": asked})
            else:
                said += list(pool.map(lambda r: train_one(r, cache, deadline), jobs))
                trained = all(line.startswith("trained") for line in said[-len(jobs) :])
                if trained and all(n in held(k, cache, store)[1] for k in g["runs"]):
                    continue
            break  # out of time, a job failed, or a stop not evaluated after all: the next group
    return said


def main(argv=None, prog: str = "python -m harness.training.fill") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
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
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    deadline, cache, store = time.time() + budget, Path(args.run_cache).resolve(), Path(args.store).resolve()
    back = restore(cache, store)  # unfinished stored runs continue here
    if back:
        print(f"continuing {len(back)} unfinished runs from the store")
    found = plan(args.scale, cache, args.select)
    have = stored(store)
    for r in found["runs"]:  # a run the store holds to its step by today's training code needs no training
        run = have.get(r["key"], {})
        if run.get("fingerprint") == fingerprint() and run.get("step", 0) >= r["steps"]:
            r["cached_to"] = max(r["cached_to"], r["steps"])
    start, left = schedule(found["runs"], budget, args.workers)
    print(f"{len(start)} runs to train now, {len(left)} left for later (budget {timedelta(seconds=round(budget))})")
    groups, rows = found.get("stop_rule", []), {r["key"]: r for r in found["runs"]}
    with ThreadPoolExecutor(max_workers=max(args.workers, 1)) as pool:
        for line in pool.map(lambda r: train_one(r, cache, deadline), start):
            print(line, flush=True)
        for line in converge(groups, rows, cache, store, deadline, pool):
            print(line, flush=True)
    need: dict = {k: r["steps"] for k, r in rows.items()}  # the step each run is finished at; None: open
    for g in groups:
        n = judged_at(g, cache, store)
        for k in g["runs"]:
            need[k] = None if n is None or need[k] is None else max(need[k], n)
    here = {k: _copy(cache / "runs" / k)[0] for k in rows}
    kept = {k: _copy(store / "runs" / k)[0] for k in rows}
    ahead = {k for k in rows if here[k] > kept[k] or (have.get(k, {}).get("unfinished") and here[k] >= kept[k] > 0)}
    done = [k for k in ahead if need[k] is not None and here[k] >= need[k]]
    unfinished = [k for k in ahead if k not in done]
    export(cache, done, store, unfinished=unfinished)
    rest = [r for k, r in rows.items() if need[k] is None or held(k, cache, store)[0] < need[k]]
    rest_s = sum(r["seconds_to_cap"] if need[r["key"]] is None else r["seconds"] for r in rest) / max(args.workers, 1)
    print(f"stored {len(done)} finished and {len(unfinished)} unfinished runs (with their checkpoints) in "
          f"{store / 'runs'}; {len(rest)} remain, ~{timedelta(seconds=round(rest_s))} with "
          f"{max(args.workers, 1)} worker(s) at the planned rate (to the cap where the stop rule is open)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
