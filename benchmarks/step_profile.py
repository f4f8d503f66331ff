"""Where a training step of the cpu scale's model goes, one thread (as each ``-n 2`` worker
trains): ms a step by aten op (torch.profiler, self time), and the share an exact speed-up can
touch. A conv's or a batch norm's result depends on its summation order, so a faster kernel
for them changes the numbers; max-pool, ReLU and the zero-fill of the pool's gradient choose
or copy and do not."""

import sys

import torch
from _common import cpu_step
from torch import nn
from torch.profiler import ProfilerActivity, profile

from harness.training.train import keep_freed_memory

STEPS = 20
ORDER_FREE = ("max_pool2d", "fill_", "threshold_backward", "clamp_min", "relu")
keep_freed_memory()
s, x, y, model = cpu_step(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
opt = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum)


def step():
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


for _ in range(5):
    step()
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(STEPS):
        step()
ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
total = sum(e.self_cpu_time_total for e in ops)
for e in ops[:12]:
    print(f"{e.key:45s} {e.self_cpu_time_total / STEPS / 1e3:7.1f} ms a step {e.self_cpu_time_total / total:6.1%}")
free = sum(e.self_cpu_time_total for e in ops if any(k in e.key for k in ORDER_FREE))
print(f"all ops: {total / STEPS / 1e3:.1f} ms a step ({torch.get_num_threads()} thread(s))")
print(f"order-free ops (pool, ReLU, fill): {free / total:.1%}; without them: {total / (total - free):.2f}x at most")
