"""Run specs and the on-disk run cache: ``<cache>/runs/<key>/`` holds ``spec.json``,
``metrics.json``, ``provenance.json`` and ``first_layer.pt`` (the first layer at init and at
each snapshot).

The key hashes only the spec fields that differ from their defaults, so adding a field with
a default keeps every cached run valid (never change a default: add a field). Each run
records which training code trained it (``fingerprint``: the AST of train.py, models.py and
data.py, comments and docstrings left out), the torch version and the machine; a run whose
fingerprint differs from the current code's is retrained, never silently reused.

Training happens under a ``filelock`` per key and is published by ``os.replace`` of a
finished temp dir, so concurrent workers train a run once and a killed run leaves nothing
half-written. An entry that fails its self-check is deleted and retrained.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import torch
from filelock import FileLock, Timeout

TRAINING_CODE = ("train.py", "models.py", "data.py")


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a trained run (and nothing else)."""

    dataset: str = "cifar10"
    images: int | None = 10_000  # training images (None: all)
    subset: str = ""  # binary pair, e.g. "car-truck" (Table 3)
    labels: str = "true"  # true | random | energy:<component> (App. D.1)
    inputs: str = "plain"  # plain | scale:<component>:<alpha> (App. D.2)
    model: str = "vgg11"
    width: float = 0.25  # body width multiplier
    first: int = 64  # first-layer filters
    frozen: bool = False  # first layer kept at init (Fig. 2)
    seed: int = 0
    steps: int = 1000
    lr: float = 0.01
    momentum: float = 0.0
    batch: int = 256
    snapshots: tuple = ()  # extra steps at which the first layer is saved
    eval_images: int = 10_000  # train and test images evaluated at the end

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["snapshots"] = list(self.snapshots)
        return d

    @classmethod
    def from_json(cls, d: dict) -> RunSpec:
        return cls(**{**d, "snapshots": tuple(d.get("snapshots", ()))})

    @property
    def key(self) -> str:
        """Hash of the fields that differ from their defaults."""
        changed = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default
        }
        if "snapshots" in changed:
            changed["snapshots"] = list(changed["snapshots"])
        return hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:16]

    def label(self) -> str:
        bits = [self.model, self.dataset + (f"[{self.subset}]" if self.subset else ""), self.labels]
        if self.first != 64:
            bits.append(f"first={self.first}")
        if self.inputs != "plain":
            bits.append(self.inputs)
        if self.frozen:
            bits.append("frozen")
        return " ".join(bits) + f" seed={self.seed} steps={self.steps}"


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


@cache
def fingerprint() -> str:
    """A hash of the training code (TRAINING_CODE): its syntax tree without docstrings, so
    comments, docstrings and formatting do not retrain, while any change to code does."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in TRAINING_CODE:
        h.update(ast.dump(_strip_docstrings(ast.parse((here / name).read_text()))).encode())
    return h.hexdigest()[:16]


def machine() -> str:
    """The machine a run was trained on, in words (processor, cores)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def provenance(device: str) -> dict:
    """What trained a run: code fingerprint, torch, device, machine, threads, date."""
    gpu = torch.cuda.get_device_name(device) if device.startswith("cuda") else None
    return {
        "fingerprint": fingerprint(),
        "torch": torch.__version__,
        "device": gpu or device,
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


@dataclass
class Run:
    """A trained run: the first layer at init (``weights[0]``) and at each saved step."""

    spec: RunSpec
    weights: dict
    metrics: dict
    path: Path = field(default=None)
    provenance: dict = field(default_factory=dict)

    @property
    def init(self) -> torch.Tensor:
        return self.weights[0]

    @property
    def final(self) -> torch.Tensor:
        return self.weights[self.spec.steps]


class RunCache:
    """``get(spec)`` returns the cached run or trains it (once, across processes) on the data
    of ``datasets`` (a ``harness.sources.Datasets``)."""

    def __init__(self, root, datasets, device: str = "cpu", progress=None):
        self.root = Path(root)
        self.datasets, self.device = datasets, device
        self.progress = progress if progress is not None else _stderr_progress
        self._memo: dict = {}
        self.trained: list = []  # keys this process trained (the rest came from disk)

    def path(self, spec: RunSpec) -> Path:
        return self.root / "runs" / spec.key

    @property
    def requested(self) -> list:
        """The specs this process has asked for (loaded or trained)."""
        return list(self._memo)

    def load(self, spec: RunSpec) -> Run | None:
        """The cached run if present, sound and trained by the current code, else None."""
        path = self.path(spec)
        try:
            saved = RunSpec.from_json(json.loads((path / "spec.json").read_text()))
            metrics = json.loads((path / "metrics.json").read_text())
            made = json.loads((path / "provenance.json").read_text())
            weights = torch.load(path / "first_layer.pt", weights_only=True)
        except Exception:  # unreadable in any way (truncated, unpickling, bad JSON): rebuild
            return None
        expected = {0, spec.steps, *spec.snapshots}
        shapes = {tuple(w.shape) for w in weights.values()} if isinstance(weights, dict) else set()
        if saved != spec or set(weights) != expected or len(shapes) != 1 or next(iter(shapes))[0] != spec.first:
            return None
        if made.get("fingerprint") != fingerprint():
            if self.progress:
                self.progress(
                    f"[{spec.label()}] trained by other training code ({made.get('fingerprint')}): retraining"
                )
            return None
        return Run(spec, weights, metrics, path, made)

    def get(self, spec: RunSpec, wait: bool = True) -> Run | None:
        """The run, trained here if missing. With ``wait=False``, None when another process
        holds its lock (is training it) instead of waiting for it."""
        if spec in self._memo:
            return self._memo[spec]
        run = self.load(spec)
        if run is None:
            (self.root / "runs").mkdir(parents=True, exist_ok=True)
            try:
                with FileLock(str(self.path(spec)) + ".lock", timeout=-1 if wait else 0):
                    run = self.load(spec)  # another process may have trained it meanwhile
                    if run is None:
                        run = self._train(spec)
            except Timeout:
                return None
        self._memo[spec] = run
        return run

    def prefill(self, specs, skip=()) -> None:
        """Train the missing runs of ``specs`` (in order), passing over those another process
        is training, then wait for those. Processes that prefill the same list share the work
        instead of queueing on one lock. Errors of a type in ``skip`` (a missing dataset)
        leave that run to the claim that needs it."""
        waiting = []
        for spec in dict.fromkeys(specs):
            try:
                if self.get(spec, wait=False) is None:
                    waiting.append(spec)
            except skip:
                continue
        for spec in waiting:
            self.get(spec)

    def _train(self, spec: RunSpec) -> Run:
        from .train import train  # the cache itself needs no torch training code

        final = self.path(spec)
        if final.exists():  # present but failed the self-check: rebuild
            shutil.rmtree(final)
        for stale in final.parent.glob(f".tmp-{spec.key}-*"):  # left by a killed run; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = final.parent / f".tmp-{spec.key}-{os.getpid()}"
        tmp.mkdir(parents=True)
        try:
            data = self.datasets.train_data(spec)
            say = (lambda msg: self.progress(f"[{spec.label()}] {msg}")) if self.progress else None
            out = train(spec, data, self.device, say)
            made = provenance(self.device)
            (tmp / "spec.json").write_text(json.dumps(spec.to_json(), indent=1, sort_keys=True))
            (tmp / "metrics.json").write_text(json.dumps(out["metrics"], indent=1))
            (tmp / "provenance.json").write_text(json.dumps(made, indent=1))
            torch.save(out["snapshots"], tmp / "first_layer.pt")
            os.replace(tmp, final)
            self.trained.append(spec.key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return Run(spec, out["snapshots"], out["metrics"], final, made)


def _stderr_progress(msg: str) -> None:
    """Progress on the real terminal (pytest captures sys.stderr)."""
    stream = sys.__stderr__
    if stream is not None:
        print(f"firstlayer: {msg}", file=stream, flush=True)
