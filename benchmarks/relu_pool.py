"""VGG's block order (models.VGG): conv, BN, pool, ReLU (ours) against conv, BN, ReLU, pool,
on the cpu scale's model and batch, real CIFAR-10 images; one thread, as each ``-n 2`` worker
trains. The two orders train the same numbers bit for bit (checked here on the steps timed);
ms a step, interleaved rounds, medians. Two copies at once (`python relu_pool.py 1 & python
relu_pool.py 1`) load the cores as ``-n 2`` does."""

import statistics
import sys
import time

import torch
from _common import cpu_step
from torch import nn

from harness.models import build

s, x, y, ours = cpu_step(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
ref = build(s.model, 10, s.width, s.first).to(memory_format=torch.channels_last)
ref.load_state_dict(ours.state_dict())
layers = list(ref.features)
for i in range(len(layers) - 1):
    if isinstance(layers[i], nn.MaxPool2d) and isinstance(layers[i + 1], nn.ReLU):
        layers[i], layers[i + 1] = layers[i + 1], layers[i]
ref.features = nn.Sequential(*layers)
nets = {"conv, BN, pool, ReLU (ours)": ours, "conv, BN, ReLU, pool": ref}
opts = {k: torch.optim.SGD(m.parameters(), lr=s.lr, momentum=s.momentum) for k, m in nets.items()}


def step(name):
    opts[name].zero_grad()
    loss = nn.functional.cross_entropy(nets[name](x), y)
    loss.backward()
    opts[name].step()


times = {k: [] for k in nets}
for _ in range(8):
    for k in nets:
        step(k)  # not timed: the first step of a round
        t = time.perf_counter()
        for _ in range(10):
            step(k)
        times[k].append((time.perf_counter() - t) / 10)
a, b = ours.state_dict(), ref.state_dict()
print("same weights bit for bit:", all(torch.equal(a[k], b[k]) for k in a))
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in med.items():
    print(f"{k}: {v * 1e3:.1f} ms a step, {s.batch / v:.0f} images/s ({torch.get_num_threads()} thread(s))")
print(f"ratio: {med['conv, BN, ReLU, pool'] / med['conv, BN, pool, ReLU (ours)']:.3f}x")
