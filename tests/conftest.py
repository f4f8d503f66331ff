"""Fixtures the suite's own tests share (the claims' fixtures are harness/plugin/claim_fixtures.py's)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_image_folder(
    root: Path, sizes: dict[str, int], image: Callable, classes=("a", "b"), name: str = "{i}.png", seed: int = 0
) -> dict[str, list[np.ndarray]]:
    """An ImageFolder tree ``root/<split>/<class>/<name>`` with ``sizes[split]`` images a class,
    each ``image(rng)`` (uint8, H x W x 3), drawn from one generator seeded ``seed`` in split,
    class, index order; returns {split: [arrays in ImageFolder order]}."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[np.ndarray]] = {}
    for split, n in sizes.items():
        written[split] = []
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                pixels = image(rng)
                Image.fromarray(pixels).save(root / split / c / name.format(i=i))
                written[split].append(pixels)
    return written


@pytest.fixture(scope="session")
def image_folder() -> Callable:
    """``write_image_folder``: a tiny ImageFolder dataset written for a test."""
    return write_image_folder
