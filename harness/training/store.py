"""The run store: the runs behind the committed reports, in the repository, so that any verdict
can be re-judged from them without training. ``reports/runs/<key>/`` holds one trajectory:

- ``spec.json`` and ``provenance.json``, as in the run cache (the training code's fingerprint,
  torch, the CPU kind and threads);
- ``layers.npz``: the first layer at step 0 and at the saved steps ``kept`` (``step_<n>``, float32);
- ``metrics.json``: the evaluations at every stop, the loss/accuracy history and the segments
  that trained it (seconds, images/s a worker, machine).

No pickles (a committed ``torch.load`` would run code). A finished run keeps no model or optimizer
state. A run too long for one machine is stored unfinished with its continuation beside it
(``checkpoint.npz`` and ``checkpoint.json``, ``harness.training.state_io``), so that the next
machine continues it (``restore``, by ``harness.training.fill``); storing it finished removes the
checkpoint. ``manifest.json`` gives each file's sha256 and which runs are unfinished. ``StoreCache`` is a ``RunCache``
that reads runs from the store and trains nothing: a run the store lacks is named in its row
(``NotInStore``, a SKIP with one line), a run trained by other training code is read and
flagged (``flagged``), never silently retrained.

    python -m harness.training.store export --run-cache DIR reports/cpu/results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from harness.data.copies import DatasetNotFound, default_root
from harness.data.door import Datasets
from harness.training import state_io
from harness.training.cache import Run, RunCache, _trajectory_json
from harness.training.fingerprint import fingerprint
from harness.training.provenance import machine
from harness.training.spec import RunSpec
from harness.training.train import Trajectory

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "reports"  # runs live in STORE / "runs" / <key>, as a run cache's do
FILES = ("spec.json", "provenance.json", "layers.npz", "metrics.json")
CHECKPOINT = ("checkpoint.npz", "checkpoint.json")  # an unfinished run's continuation only
# The first layers stored: every saved step (every 25) up to DENSE_UNTIL, where the step-25 control
# and the onset figure's early, log-spaced points read, then every SPARSE_EVERY, and every stop and the
# last step (a snapshot is ~6.6 KB compressed). A 500-step run keeps all of its 21; a 3,000-step run 45
# of 121 (~0.3 MB); a 40,000-step run 119 of 1,601 (~0.8 MB instead of ~11 MB). Only the onset figure
# reads other steps than these, and it draws from the steps every run of a claim holds.
DENSE_UNTIL, SPARSE_EVERY = 1000, 500


def kept(steps, stops, last: int) -> list[int]:
    """The saved steps the store keeps of a trajectory (``DENSE_UNTIL``, ``SPARSE_EVERY``)."""
    return sorted(s for s in steps if s <= DENSE_UNTIL or s % SPARSE_EVERY == 0 or s in stops or s == last)


class NotInStore(DatasetNotFound):
    """The run store lacks a run a claim reads (a SKIP naming the run, never a retrain)."""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(traj: Trajectory, spec_fields: dict, made: dict, dest: Path, unfinished: bool = False) -> None:
    """One trajectory into ``dest`` (replaced whole): finished, or ``unfinished`` with its
    continuation state beside it."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "spec.json").write_text(json.dumps(spec_fields, indent=1, sort_keys=True) + "\n")
    (tmp / "provenance.json").write_text(json.dumps(made, indent=1, sort_keys=True) + "\n")
    keep = kept(traj.weights, traj.evals, traj.step)
    layers = {f"step_{s}": traj.weights[s].detach().cpu().float().numpy() for s in keep}
    np.savez_compressed(tmp / "layers.npz", **layers)
    summary = {"step": traj.step, "evals": traj.evals, "segments": traj.segments, "history": traj.history}
    (tmp / "metrics.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    if unfinished:
        state_io.save(traj.state, tmp)
    old = dest.with_name(dest.name + ".old")  # a kill between the two renames leaves the old copy aside
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def read(path: Path) -> tuple[Trajectory, dict]:
    """(trajectory without state, provenance) of a stored run."""
    with np.load(path / "layers.npz", allow_pickle=False) as z:
        weights = {int(k.removeprefix("step_")): torch.from_numpy(z[k].copy()) for k in z.files}
    m = json.loads((path / "metrics.json").read_text())
    evals = {int(k): v for k, v in m["evals"].items()}
    traj = Trajectory(m["step"], weights, m["history"], evals, {}, m.get("segments", []))
    return traj, json.loads((path / "provenance.json").read_text())


def manifest(store: Path = STORE) -> dict:
    """{key: {fingerprint, step, unfinished, files: {name: sha256}}} of every stored run."""
    out = {}
    for path in sorted((store / "runs").iterdir()) if (store / "runs").is_dir() else ():
        if "." not in path.name and path.is_dir() and (path / "layers.npz").exists():  # not a .tmp or .old
            made = json.loads((path / "provenance.json").read_text())
            step = json.loads((path / "metrics.json").read_text())["step"]
            unfinished = (path / CHECKPOINT[0]).exists()
            files = {f: _sha(path / f) for f in FILES + (CHECKPOINT if unfinished else ())}
            out[path.name] = {"fingerprint": made.get("fingerprint"), "step": step, "files": files}
            if unfinished:
                out[path.name]["unfinished"] = True
    return out


def stored(store: Path = STORE) -> dict:
    """The manifest as written (``write_manifest``, by every ``export``): {} where there is none."""
    path = store / "runs" / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def write_manifest(store: Path = STORE) -> Path:
    out = store / "runs" / "manifest.json"
    out.write_text(json.dumps(manifest(store), indent=1, sort_keys=True) + "\n")
    return out


def keys_of(results: Path) -> list[str]:
    """The run keys a report read (each row's ``runs``: 'label [key]')."""
    rows = json.loads(Path(results).read_text()).get("claims", [])
    return sorted({k for c in rows for r in c.get("runs") or [] for k in re.findall(r"\[([0-9a-f]{16})\]", r)})


def export(run_cache: Path, keys, store: Path = STORE, unfinished=()) -> list[str]:
    """Copy the runs ``keys`` from a run cache into the store (those in ``unfinished`` with their
    continuation, the others finished); returns the keys not found."""
    missing = []
    for key in [*keys, *unfinished]:
        src = Path(run_cache) / "runs" / key
        if not (src / "trajectory.pt").exists():
            missing.append(key)
            continue
        blob = torch.load(src / "trajectory.pt", map_location="cpu", weights_only=False)  # the user's own cache
        if key not in unfinished:
            blob["state"] = {}
        traj = Trajectory(**blob)
        spec = json.loads((src / "spec.json").read_text())
        made = json.loads((src / "provenance.json").read_text())
        kept_copy = store / "runs" / key  # the stored copy of the same training code keeps its stops
        if (kept_copy / "layers.npz").exists():
            old, old_made = read(kept_copy)
            if old_made.get("fingerprint") == made.get("fingerprint"):  # what it held up to this copy's step
                traj.evals = {**{n: e for n, e in old.evals.items() if n <= traj.step}, **traj.evals}
                traj.weights = {**{n: w for n, w in old.weights.items() if n <= traj.step}, **traj.weights}
        (store / "runs").mkdir(parents=True, exist_ok=True)
        write(traj, spec, made, store / "runs" / key, unfinished=key in unfinished)
    write_manifest(store)
    return missing


def restore(run_cache: Path, store: Path = STORE) -> list[str]:
    """Put every unfinished stored run of today's training code into ``run_cache`` where the
    cache holds it less far (with its continuation, as a trajectory the cache continues);
    returns their keys. A run of other training code is left: it is trained anew."""
    out = []
    for key, entry in stored(store).items():
        src, dest = store / "runs" / key, Path(run_cache) / "runs" / key
        if not entry.get("unfinished") or entry.get("fingerprint") != fingerprint():
            continue
        if not all((src / f).exists() for f in CHECKPOINT):  # a kill mid-export: the manifest is behind
            continue
        here = dest / "metrics.json"
        if here.exists() and json.loads(here.read_text())["step"] >= entry["step"]:
            continue
        traj, _ = read(src)
        traj.state = state_io.load(src)
        tmp = dest.with_name(dest.name + ".restoring")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in ("spec.json", "provenance.json", "metrics.json"):
            shutil.copyfile(src / name, tmp / name)
        torch.save(dataclasses.asdict(traj), tmp / "trajectory.pt")
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        out.append(key)
    return out


class StoreCache(RunCache):
    """A ``RunCache`` over the store that trains nothing (see the module docstring)."""

    def __init__(self, datasets, store: Path = STORE, progress=None):
        super().__init__(store, datasets, "cpu", progress=progress)
        self.flagged: dict = {}  # key -> the other training code's fingerprint

    def trajectory(self, spec):
        path = self.path(spec)
        if not (path / "layers.npz").exists():
            return None
        traj, made = read(path)
        if json.loads((path / "spec.json").read_text()) != _trajectory_json(spec):
            self.unreadable[spec.key] = "its files do not match its spec"
            return None
        if made.get("fingerprint") != fingerprint():
            self.flagged[spec.key] = made.get("fingerprint")
        return traj, made

    def get(self, spec, wait: bool = True, stops=()) -> Run | None:
        if spec in self._memo:
            return self._memo[spec]
        found = self.trajectory(spec)
        run = self._view(spec, found)
        if run is None or any(self._view(replace(spec, steps=s), found) is None for s in stops):
            raise NotInStore(
                f"{spec.label()} [{spec.key}] is not in the run store {self.root / 'runs'} at the steps read"
            )
        self.loaded.add(spec.key)
        self._memo[spec] = run
        return run


# On another CPU kind sums run in another order and a retrained layer drifts (docs/reproducibility.md):
# there the check is ||W_new - W_stored|| / ||W_stored - W_init|| at the run's last step, and this bound
# is provisional (a sanity bound: training that went another way), until a second kind measures the drift.
TOLERANCE = 0.5


def verify(datasets, count: int, work: Path, store: Path = STORE) -> list[str]:
    """The cold slice: retrain the ``count`` cheapest stored runs from step 0 into ``work`` (with
    the stored run's thread count) and compare every stored first layer with the retrained one:
    bit-equal where this CPU kind trained the stored run, within ``TOLERANCE`` elsewhere. Lines
    that say what differs."""
    found = []  # (training seconds, step, path): the cheapest runs first
    for path in sorted((store / "runs").iterdir()):
        if "." not in path.name and (path / "layers.npz").exists() and not (path / CHECKPOINT[0]).exists():
            m = json.loads((path / "metrics.json").read_text())
            found.append((sum(sg.get("seconds") or 0 for sg in m.get("segments", [])), m["step"], path))
    out, cache = [], RunCache(work, datasets, "cpu", progress=None)
    for _, step, path in sorted(found)[:count]:
        spec = RunSpec.from_json({**json.loads((path / "spec.json").read_text()), "steps": step})
        stored, made = read(path)
        torch.set_num_threads(int(made.get("threads") or 1))  # the stored run's thread count: CPU sums depend on it
        run = cache.get(spec)
        same_kind = {sg.get("machine") for sg in stored.segments} == {machine()}
        worst = max(float((run.weights[s] - w).abs().max()) for s, w in stored.weights.items())
        last = stored.weights[step]
        drift = float((run.weights[step] - last).norm() / (last - stored.weights[0]).norm())
        ok = worst == 0.0 if same_kind else drift <= TOLERANCE
        said = "bit-equal" if worst == 0.0 else f"max |delta w| {worst:.2e}, relative drift {drift:.3f}"
        where = "this CPU kind" if same_kind else f"another CPU kind (provisional bound {TOLERANCE:g})"
        out.append(f"{'ok' if ok else 'DIFFERS'}: {spec.label()} [{spec.key}] {said} on {where}")
    return out


def main(argv=None, prog: str = "python -m harness.training.store") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    ex = sub.add_parser("export", help="copy the runs a report read from a run cache into the store")
    ex.add_argument("--run-cache", required=True, help="the run cache that trained them")
    ex.add_argument("results", nargs="+", help="results.json of the reports whose runs to store")
    ve = sub.add_parser("verify", help="retrain the shortest stored runs and compare them with the store")
    ve.add_argument("--runs", type=int, default=2, help="how many of the shortest stored runs (default 2)")
    ve.add_argument("--work", default=".firstlayer-verify", help="where they are retrained (a run cache)")
    ve.add_argument("--data-root", default=None, help="dataset folder (default: $FIRSTLAYER_DATA)")
    args = ap.parse_args(argv)
    if args.what == "verify":
        lines = verify(Datasets(args.data_root or default_root(), args.work), args.runs, Path(args.work))
        print("\n".join(lines))
        return 1 if any(x.startswith("DIFFERS") for x in lines) else 0
    keys = sorted({k for r in args.results for k in keys_of(Path(r))})
    missing = export(Path(args.run_cache), keys)
    size = sum(f.stat().st_size for f in (STORE / "runs").rglob("*") if f.is_file())
    print(f"stored {len(keys) - len(missing)} runs in {STORE / 'runs'} ({size / 1e6:.1f} MB in all)")
    for key in missing:
        print(f"not in {args.run_cache}: {key}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
