"""``RunSpec``: everything that determines a trained run, and its key (the trajectory's name)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass


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
    eval_images: int = 10_000  # train and test images evaluated at each stop

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> RunSpec:
        return cls(**d)

    @property
    def key(self) -> str:
        """The trajectory's name: a hash of the fields that differ from their defaults, but
        ``steps`` (a run of any length is a step of one trajectory)."""
        changed = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "steps" and getattr(self, f.name) != f.default
        }
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
