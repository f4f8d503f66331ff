"""Training throughput of the cpu-scale model: our in-memory batching (data normalised once,
resident, channels_last) vs a torchvision DataLoader with per-image ToTensor/Normalize (the
authors' pipeline; num_workers=2). Images/s for the same number of SGD steps."""

import time

import torch
import torchvision.transforms as T
from _common import cifar
from torch.utils.data import DataLoader, Dataset

from harness.config.scales import scale
from harness.data.door import load_split
from harness.data.images import TrainData, subset
from harness.training.train import build_model, train

STEPS = 60
s = scale("cpu")
run = s.spec(steps=STEPS, eval_images=500)
x, y = cifar(s.images)
ours = train(run, TrainData(x, y, x[:500], y[:500], 10, "bench"), "cpu").segments[-1]["images_per_s"]
print(f"ours (in memory): {ours:.0f} images/s", flush=True)


class Pil(Dataset):
    def __init__(self):
        images = subset(load_split(s.dataset, "train"), s.images)
        self.px, self.labels = images.pixels.permute(0, 2, 3, 1).numpy(), images.labels
        self.tf = T.Compose([T.ToTensor(), T.Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        return self.tf(Image.fromarray(self.px[i])), self.labels[i]


torch.manual_seed(0)
model = build_model(run, 10).to(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum)
loader = DataLoader(Pil(), batch_size=run.batch, shuffle=True, num_workers=2, drop_last=True)
t0, done = time.perf_counter(), 0
while done < STEPS:
    for xb, yb in loader:
        loss = torch.nn.functional.cross_entropy(model(xb.contiguous(memory_format=torch.channels_last)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += 1
        if done == STEPS:
            break
theirs = STEPS * run.batch / (time.perf_counter() - t0)
print(f"DataLoader + per-image transforms: {theirs:.0f} images/s; ratio {ours / theirs:.2f}x")
