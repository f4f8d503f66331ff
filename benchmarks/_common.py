"""Shared set-up for the benchmarks (run by hand, not in CI): the images they time on."""

from __future__ import annotations

import time
from contextlib import contextmanager

import torch

from harness.config.scales import scale
from harness.data.door import load_split
from harness.data.images import normalise, subset
from harness.models import build


def cifar_pixels(n: int = 10_000, name: str = "cifar10"):
    """``n`` uint8 CIFAR-10 training images and their labels (the cpu scale's data)."""
    train = subset(load_split(name, "train"), n)
    return train.pixels, train.labels


def cifar(n: int = 10_000, name: str = "cifar10"):
    """``n`` normalised CIFAR-10 training images and their labels."""
    pixels, labels = cifar_pixels(n, name)
    return normalise(pixels)[0], labels


def cpu_step(threads: int = 1):
    """The cpu scale, one of its batches (channels_last) with labels, and its model at seed 0,
    on ``threads`` threads: what one training step of a ``-n 2`` worker sees."""
    torch.set_num_threads(threads)
    s = scale("cpu")
    x, y = cifar(s.batch)
    torch.manual_seed(0)
    model = build(s.model, 10, s.width, s.first).to(memory_format=torch.channels_last)
    return s, x.contiguous(memory_format=torch.channels_last), y, model


@contextmanager
def timer(label: str, out: dict):
    t = time.perf_counter()
    yield
    out[label] = time.perf_counter() - t
    print(f"{label}: {out[label]:.3f} s", flush=True)


def best(label: str, fn, out: dict, repeats: int = 2):
    """Run ``fn`` ``repeats`` times, keep the fastest (the same repeats for every contender)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    out[label] = min(times)
    print(f"{label}: {out[label]:.3f} s (best of {repeats})", flush=True)
    return result
