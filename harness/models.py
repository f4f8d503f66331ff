"""The networks of the paper: CIFAR VGG-BN (11/13/16/19), CIFAR ResNet-18/20 and the depth-2
linear CNN of Appendix A; a width multiplier for the body that keeps the first layer's
filters unless asked, a frozen-first-layer switch, ``first_layer``, and ``random_bank``, the
random first layer every reference of the paper compares with."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

VGG_CFG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def _bn_relu(c: int) -> list:
    return [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]


class VGG(nn.Module):
    """CIFAR VGG with batch norm; ``width`` scales every conv after the first, whose filter
    count is ``first``. ``stem_stride``/``stem_padding`` set the first conv (App. D.2).

    A block that ends in a max-pool pools before its ReLU: conv, BN, pool, ReLU. ReLU and
    max-pool commute, forward (ReLU is monotone) and backward (the pool's gradient goes to the
    same argmax, and ReLU passes none where the max is <= 0), so every number is the one of
    conv, BN, ReLU, pool bit for bit (tests/test_data_models.py, and every value of a cold cpu
    run), while ReLU touches a quarter of the elements: 1.11-1.12x the steps a second for
    VGG11 w/4 on one thread, alone or two processes at once (benchmarks/relu_pool.py)."""

    def __init__(
        self,
        depth: str = "vgg11",
        num_classes: int = 10,
        width: float = 1.0,
        first: int = 64,
        kernel: int = 3,
        stem_stride: int = 1,
        stem_padding: int | None = None,
    ):
        super().__init__()
        layers, c_in, is_first = [], 3, True
        for v in VGG_CFG[depth]:
            if v == "M":
                layers.insert(len(layers) - 1, nn.MaxPool2d(2, ceil_mode=True))  # before the ReLU
                continue
            if is_first:
                c_out = first
                pad = kernel // 2 if stem_padding is None else stem_padding
                layers += [nn.Conv2d(c_in, c_out, kernel, stride=stem_stride, padding=pad), *_bn_relu(c_out)]
                is_first = False
            else:
                c_out = max(1, round(v * width))
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), *_bn_relu(c_out)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.short(x))


class ResNet(nn.Module):
    """CIFAR ResNet (3x3 stem of ``first`` filters, no max-pool): resnet18 = [2,2,2,2] blocks
    at 64..512 channels, resnet20 = [3,3,3] at 16..64; ``width`` scales the body."""

    SPEC: ClassVar[dict] = {"resnet18": ([2, 2, 2, 2], [64, 128, 256, 512]), "resnet20": ([3, 3, 3], [16, 32, 64])}

    def __init__(self, depth: str = "resnet18", num_classes: int = 10, width: float = 1.0, first: int = 64):
        super().__init__()
        blocks, chans = self.SPEC[depth]
        self.conv1 = nn.Conv2d(3, first, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(first)
        layers, c_in = [], first
        for i, (n, c) in enumerate(zip(blocks, chans, strict=False)):
            c = max(1, round(c * width))
            for j in range(n):
                layers.append(BasicBlock(c_in, c, 2 if (j == 0 and i > 0) else 1))
                c_in = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = self.layers(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class LinearCNN(nn.Module):
    """Depth-2 linear CNN of Appendix A (eq. 8): K filters, global average pool over
    locations, sum over filters -> one scalar per image (trained with MSE)."""

    def __init__(self, filters: int = 64, kernel: int = 3, channels: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(channels, filters, kernel, bias=False)

    def forward(self, x):
        return self.conv(x).mean((2, 3)).sum(1)


def build(model: str, num_classes: int = 10, width: float = 1.0, first: int = 64, **kw) -> nn.Module:
    """A model by name: vgg11/13/16/19, resnet18/20, linear."""
    if model in VGG_CFG:
        return VGG(model, num_classes, width, first, **kw)
    if kw:
        raise ValueError(f"{model}: stem options {sorted(kw)} are only supported for VGG")
    if model in ResNet.SPEC:
        return ResNet(model, num_classes, width, first)
    if model == "linear":
        return LinearCNN(first)
    raise ValueError(f"unknown model '{model}': choose one of {sorted(VGG_CFG) + sorted(ResNet.SPEC) + ['linear']}")


def first_layer(model: nn.Module) -> nn.Conv2d:
    """The first convolution of ``model`` (the layer the paper studies)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise ValueError("model has no Conv2d layer")


def freeze_first_layer(model: nn.Module) -> nn.Module:
    """Keep the first layer at its random initialisation (Fig. 2, App. F)."""
    for p in first_layer(model).parameters():
        p.requires_grad_(False)
    return model


def random_bank(filters: int = 64, size: int = 3, seed: int = 0, channels: int = 3) -> torch.Tensor:
    """A random first layer as ``nn.Conv2d`` initialises one (Kaiming uniform, a = sqrt(5)),
    seeded: the "random init" of Fig. 1, 6 and Table 3."""
    w = torch.empty(filters, channels, size, size)
    return nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=torch.Generator().manual_seed(seed))


def random_banks(n: int, filters: int = 64, size: int = 3) -> list[torch.Tensor]:
    """``n`` independent random banks (seeds 0..n-1)."""
    return [random_bank(filters, size, seed) for seed in range(n)]
