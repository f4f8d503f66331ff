"""Shared set-up for the benchmarks (run by hand, not in CI): the images they time on."""
from __future__ import annotations

import time
from contextlib import contextmanager

from harness.data import load_split, normalise, subset


def cifar(n: int = 10_000, name: str = "cifar10"):
    """``n`` normalised CIFAR-10 training images and their labels (the cpu scale's data)."""
    train = subset(load_split(name, "train"), n)
    return normalise(train.pixels)[0], train.labels


@contextmanager
def timer(label: str, out: dict):
    t = time.perf_counter()
    yield
    out[label] = time.perf_counter() - t
    print(f"{label}: {out[label]:.3f} s", flush=True)
