"""The on-disk run cache. A run is a step of a trajectory: ``<cache>/runs/<key>/``
holds one trajectory of a spec (every field but ``steps``): ``spec.json``,
``provenance.json``, ``trajectory.pt`` (the first layer every few steps, the training
history, evaluations, and the state to continue from; replaced atomically) and
``metrics.json`` (a readable summary). Asking for a longer run continues the trajectory from
its last step instead of training from 0; a shorter one reads its snapshot.

The key hashes only the spec fields that differ from their defaults, so adding a field with
a default keeps every cached run valid (never change a default: add a field). Each run
records which training code trained it (``harness.training.fingerprint``: the code that computes trained
numbers, wherever it lives), the torch version and the machine; a run whose fingerprint
differs from the current code's is retrained, never silently reused.

Training happens under a ``filelock`` per key and every file is published by ``os.replace``,
so concurrent workers train a run once and a killed run leaves its last checkpoint, from
which the next call continues. An entry that cannot be read is never deleted: it is kept
aside as ``<key>.unreadable-<time>`` and the run is trained anew. Trajectories are saved with
every tensor on the CPU and loaded onto it, so a run made on a GPU reads anywhere.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from filelock import FileLock, Timeout

from harness.training.fingerprint import fingerprint
from harness.training.provenance import machine, provenance
from harness.training.spec import RunSpec
from harness.training.stoprule import stop_rule
from harness.training.train import Trajectory, train


@dataclass
class Run:
    """A run at step ``spec.steps`` of its trajectory: the first layer at init (``weights[0]``)
    and at every saved step up to ``spec.steps``, the running train loss/accuracy ``history``
    up to there, the full ``evaluation`` at ``spec.steps``, and what trained it."""

    spec: RunSpec
    weights: dict
    history: list
    evaluation: dict
    provenance: dict = field(default_factory=dict)
    path: Path = field(default=None)

    @property
    def init(self) -> torch.Tensor:
        return self.weights[0]

    @property
    def final(self) -> torch.Tensor:
        return self.weights[self.spec.steps]

    @property
    def metrics(self) -> dict:
        """The evaluation at ``spec.steps`` with the history, data source and device."""
        made = self.provenance
        return {
            **self.evaluation,
            "history": self.history,
            "data_source": made.get("data_source", ""),
            "device": made.get("device", ""),
        }


class RunCache:
    """``get(spec)`` returns the run at ``spec.steps`` of the cached trajectory of ``spec``
    (every field but ``steps``), training or continuing it (once, across processes) on the
    data of ``datasets`` (a ``harness.data.door.Datasets``). A trajectory is published every
    ``checkpoint_every`` steps, so a killed run continues from its last checkpoint."""

    def __init__(self, root, datasets, device: str = "cpu", progress=None, checkpoint_every: int = 500, launcher=None):
        self.root = Path(root)
        self.datasets, self.device, self.checkpoint_every = datasets, device, checkpoint_every
        self.progress = progress if progress is not None else _stderr_progress
        self.launcher = launcher  # trains prefill's missing runs as jobs (harness.training.launch); None: here
        self.failed: dict = {}  # key -> the error of its job, raised where the run is read
        self._memo: dict = {}
        self.trained: list = []  # {key, label, from, to, seconds} of every stretch this process trained
        self.loaded: set = set()  # keys read from disk without training
        self.unreadable: dict = {}  # key -> why its cached trajectory could not be read

    def path(self, spec: RunSpec) -> Path:
        return self.root / "runs" / spec.key

    @property
    def requested(self) -> list:
        """The specs this process has asked for (loaded or trained)."""
        return list(self._memo)

    def stored(self) -> dict[str, dict]:
        """{key: its spec's fields but ``steps``} of every trajectory the cache holds, whatever
        training code made it (read-only: for reading first layers, never for judging)."""
        runs = self.root / "runs"
        found = {}
        for path in sorted(runs.iterdir()) if runs.is_dir() else ():
            if "." not in path.name and (path / "trajectory.pt").exists() and (path / "spec.json").exists():
                found[path.name] = json.loads((path / "spec.json").read_text())
        return found

    def first_layers(self, key: str) -> dict:
        """{step: first-layer weights} of every saved step of trajectory ``key``, on the CPU,
        whatever training code made it (read-only); KeyError where the cache has no such run."""
        path = self.root / "runs" / key
        if not (path / "trajectory.pt").exists():
            raise KeyError(key)
        return torch.load(path / "trajectory.pt", map_location="cpu", weights_only=False)["weights"]

    def _say(self, spec, msg):
        if self.progress:
            self.progress(f"[{spec.label()}] {msg}")

    def trajectory(self, spec: RunSpec):
        """(trajectory, provenance) of ``spec`` if cached, sound and trained by the current
        training code, else None."""
        path = self.path(spec)
        if not (path / "trajectory.pt").exists():  # absent, or killed before its first checkpoint
            return None
        try:  # on the CPU whatever device made it (a GPU-made trajectory loads here too)
            saved = json.loads((path / "spec.json").read_text())
            made = json.loads((path / "provenance.json").read_text())
            blob = torch.load(path / "trajectory.pt", map_location="cpu", weights_only=False)
            traj = Trajectory(**blob)
        except Exception as exc:  # unreadable in any way (truncated, unpickling, bad JSON)
            self.unreadable[spec.key] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            return None
        shapes = {tuple(w.shape) for w in traj.weights.values()}
        if saved != _trajectory_json(spec) or len(shapes) != 1 or next(iter(shapes))[0] != spec.first:
            self.unreadable[spec.key] = "its files do not match its spec"
            return None
        if made.get("fingerprint") != fingerprint():
            self._say(spec, f"trained by other training code ({made.get('fingerprint')}): retraining")
            return None
        return traj, made

    def _view(self, spec, found) -> Run | None:
        if found is None:
            return None
        traj, made = found
        if spec.steps not in traj.weights or spec.steps not in traj.evals:
            return None
        weights = {s: w for s, w in traj.weights.items() if s <= spec.steps}
        history = [h for h in traj.history if h["step"] <= spec.steps]
        return Run(spec, weights, history, traj.evals[spec.steps], made, self.path(spec))

    def get(self, spec: RunSpec, wait: bool = True, stops=()) -> Run | None:
        """The run at ``spec.steps``, trained (or continued) here if missing; ``stops``: other
        steps of the same trajectory to evaluate on the way. With ``wait=False``, None when
        another process holds its lock (is training it) instead of waiting for it."""
        if spec in self._memo:
            return self._memo[spec]
        if spec.key in self.failed:  # its job failed: the claims that read it meet the job's error
            raise self.failed[spec.key]
        found = self.trajectory(spec)
        run = self._view(spec, found)
        if run is None or any(self._view(replace(spec, steps=s), found) is None for s in stops):
            (self.root / "runs").mkdir(parents=True, exist_ok=True)
            try:
                with FileLock(str(self.path(spec)) + ".lock", timeout=-1 if wait else 0):
                    run = self._train(spec, set(stops) | {spec.steps})  # re-reads under the lock
            except Timeout:
                return None
        else:
            self.loaded.add(spec.key)
        self._memo[spec] = run
        return run

    def prefill(self, specs, skip=()) -> None:
        """Train the missing runs of ``specs`` (each trajectory once, to the longest step asked
        of it, evaluated at every step asked), passing over those another process is
        training, then wait for those. Processes that prefill the same list share the work
        instead of queueing on one lock. Errors of a type in ``skip`` (a missing dataset)
        leave that run to the claim that needs it."""
        stops: dict = {}
        for spec in specs:
            stops.setdefault(spec.key, []).append(spec)
        longest = [max(group, key=lambda r: r.steps) for group in stops.values()]
        if self.launcher is not None:
            self._launch([(spec, [r.steps for r in stops[spec.key]]) for spec in longest])
        waiting = []
        for spec in longest:
            if spec.key in self.failed:  # its job failed: left to the claims that read it (``get`` raises)
                continue
            asked = [r.steps for r in stops[spec.key]]
            try:
                if self.get(spec, wait=False, stops=asked) is None:
                    waiting.append((spec, asked))
            except skip:
                continue
        for spec, asked in waiting:  # another process held it: it may have failed the same way
            try:
                self.get(spec, stops=asked)
            except skip:
                continue

    def _launch(self, asked: list) -> None:
        """Train the runs of ``asked`` [(spec, steps)] that the cache lacks as jobs of the
        launcher, holding each run's lock meanwhile (another process holding it trains it).
        Their data is decoded here first (a missing dataset fails the run here, as locally),
        so a job reads it from the data root and needs no network. A job's error, or a job
        that leaves its run short, is kept in ``failed`` and raised where the run is read."""
        todo, locks = [], []

        def held(spec, steps) -> bool:
            found = self.trajectory(spec)
            return all(self._view(replace(spec, steps=n), found) is not None for n in steps)

        try:
            for spec, steps in asked:
                if spec.key in self.failed or held(spec, steps):
                    continue
                try:
                    for split in ("train", "test"):
                        self.datasets.split(spec.dataset, split)
                except Exception as exc:  # absent data: the claims that read the run meet it
                    self.failed[spec.key] = exc
                    continue
                (self.root / "runs").mkdir(parents=True, exist_ok=True)
                lock = FileLock(str(self.path(spec)) + ".lock", timeout=0)
                try:
                    lock.acquire()
                except Timeout:  # another process trains it
                    continue
                locks.append(lock)
                todo.append((spec, steps))
            done = self.launcher.train(self, todo) if todo else {}
        finally:
            for lock in locks:
                lock.release()
        for spec, steps in todo:
            result = done.get(spec.key, {})
            if "error" in result:
                self.failed[spec.key] = result["error"]
            elif not held(spec, steps):
                self.failed[spec.key] = RuntimeError(
                    f"{spec.label()}: its job ended, but the run cache does not hold it at steps {sorted(steps)}"
                )
            else:
                self.trained += result.get("trained", [])

    def converge(self, specs, stops, ready, skip=()) -> int:
        """The stop rule (``stop_rule``) for the runs of ``specs``: every spec is trained on to
        each stop (``prefill``: continued, shared by processes), never past the stop judged, and
        ``ready(runs)`` asked there (not at the last stop, which is judged whatever it says)."""

        def reached(n: int) -> bool:
            self.prefill([replace(s, steps=n) for s in specs], skip)
            return True

        return stop_rule(stops, reached, lambda n: bool(ready([self.get(replace(s, steps=n)) for s in specs])))

    def _train(self, spec: RunSpec, stops: set) -> Run:
        """Under the run's lock: continue the cached trajectory to ``max(stops)``, or train it
        from step 0 where a stop lies behind it unevaluated (or there is none)."""
        found = self.trajectory(spec)
        path = self.path(spec)
        start, made = found if found else (None, None)
        if start is not None and all(s in start.evals for s in stops):
            return self._view(spec, found)
        if start is not None and any(s <= start.step and s not in start.evals for s in stops):
            stops |= set(start.evals) | {start.step}  # behind it: retrain, keeping what it had
            start = None
        data = self.datasets.train_data(spec)  # first: absent data leaves no empty run behind
        if found is None and spec.key in self.unreadable and path.exists():  # never deleted: kept aside
            aside = path.with_name(f"{path.name}.unreadable-{datetime.datetime.now():%Y%m%dT%H%M%S}")
            path.rename(aside)
            self._say(spec, f"its cached trajectory cannot be read ({self.unreadable[spec.key]}): kept as "
                      f"{aside.name}, training it anew")  # fmt: skip
        # A retrain of a sound trajectory is written beside it and replaces it when complete:
        # a kill on the way loses nothing that was cached (before, it was deleted first).
        work = path.with_name(path.name + ".retrain") if start is None and found else path
        if start is None:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            made = None
        if made is None:
            made = {**provenance(self.device), "data_source": data.source}
            _write(work / "spec.json", json.dumps(_trajectory_json(spec), indent=1, sort_keys=True))
            _write(work / "provenance.json", json.dumps(made, indent=1))
        begin = 0 if start is None else start.step
        targets = sorted(s for s in stops if s > begin)
        self._say(spec, f"training steps {begin}-{targets[-1]}" + (" (continuing)" if begin else ""))
        say = (lambda msg: self._say(spec, msg)) if self.progress else None
        traj = train(
            spec, data, self.device, targets, start, say, lambda t: self._publish(work, t), self.checkpoint_every
        )
        self._publish(work, traj)
        if work != path:
            old = path.with_name(path.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
            work.rename(path)
            shutil.rmtree(old)
        seconds = sum(sg["seconds"] for sg in traj.segments if sg["from"] >= begin)
        self.trained.append(
            {"key": spec.key, "label": spec.label(), "from": begin, "to": traj.step, "seconds": seconds}
        )
        return self._view(spec, (traj, made))

    def _publish(self, path: Path, traj) -> None:
        """Write the trajectory atomically (and a readable summary beside it)."""
        for segment in traj.segments:
            segment.setdefault("machine", machine())
        tmp = path / f"trajectory.pt.tmp{os.getpid()}"
        torch.save(dataclasses.asdict(traj), tmp)
        os.replace(tmp, path / "trajectory.pt")
        summary = {"step": traj.step, "evals": traj.evals, "segments": traj.segments, "history": traj.history}
        _write(path / "metrics.json", json.dumps(summary, indent=1))


def _trajectory_json(spec: RunSpec) -> dict:
    """The fields that name a trajectory: the spec without its length."""
    d = spec.to_json()
    del d["steps"]
    return d


def _write(file: Path, text: str) -> None:
    tmp = file.with_name(f"{file.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, file)


def _stderr_progress(msg: str) -> None:
    """Progress on the real terminal (pytest captures sys.stderr)."""
    stream = sys.__stderr__
    if stream is not None:
        print(f"firstlayer: {msg}", file=stream, flush=True)
