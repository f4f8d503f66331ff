"""The scale table (``fixtures/scales.toml``) and the paper's numbers (``fixtures/paper.toml``),
and the run specs a claim asks for at a scale."""
from __future__ import annotations

import tomllib
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from .runs import RunSpec

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@lru_cache(maxsize=None)
def _toml(name: str) -> dict:
    return tomllib.loads((FIXTURES / name).read_text())


def scales() -> list[str]:
    return list(_toml("scales.toml"))


def scale(name: str) -> SimpleNamespace:
    """The sizes of scale ``name`` (attribute access; ``images = 0`` means all)."""
    table = _toml("scales.toml")
    if name not in table:
        raise ValueError(f"unknown scale '{name}': choose one of {', '.join(table)} (fixtures/scales.toml)")
    s = SimpleNamespace(name=name, **table[name])
    s.images = s.images or None
    s.pca_images = s.pca_images or None
    return s


def paper(claim: str) -> dict:
    """The paper's value, source and thresholds for a claim family (fixtures/paper.toml)."""
    return _toml("paper.toml")[claim]


def bar(claim: str, scale_name: str) -> float:
    """The threshold of ``claim`` at a scale: the ``cpu`` bar at cpu, else ``paper_scale``."""
    entry = paper(claim)
    return entry["cpu"] if scale_name == "cpu" else entry["paper_scale"]


def spec(s: SimpleNamespace, **over) -> RunSpec:
    """The scale's standard VGG run, with ``over`` changed (labels, seed, model, ...)."""
    base = RunSpec(dataset=s.dataset, images=s.images, model=s.model, width=s.width, steps=s.steps,
                   lr=s.lr, momentum=s.momentum, batch=s.batch, snapshots=tuple(s.snapshots))
    return replace(base, **over)
