"""Spatial autocorrelation of first-layer responses (Section 5, Fig. 6; Theorem 4.3).

C(delta) = E_i[y(i) . y(i + delta)] / E_i[y(i) . y(i)], where y(i) is the vector of all
channels at location i (mean-removed per channel), the expectation taken over locations,
images, and horizontal and vertical shifts of delta pixels.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def responses(images: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The first layer's response maps (valid convolution, no bias); the images themselves
    (R, G, B) when ``weights`` is None."""
    x = images.float()
    return x if weights is None else F.conv2d(x, torch.as_tensor(weights).float().to(x.device))


def autocorrelation(images: torch.Tensor, weights: torch.Tensor | None = None,
                    max_shift: int = 10, batch: int = 500) -> np.ndarray:
    """C(delta) for delta = 0..max_shift of the responses of ``weights`` (Fig. 6), C(0) = 1."""
    num = np.zeros(max_shift + 1)
    den = 0.0
    # channel means over the whole set, so every batch is centred alike
    mean = sum(responses(images[s:s + batch], weights).double().sum((0, 2, 3))
               for s in range(0, len(images), batch))
    first = responses(images[:1], weights)
    mean = mean / (len(images) * first.shape[2] * first.shape[3])
    for s in range(0, len(images), batch):
        y = responses(images[s:s + batch], weights).double() - mean[None, :, None, None]
        den += float((y * y).sum((1,)).mean((1, 2)).sum())
        for d in range(max_shift + 1):
            h = (y[..., :, d:] * y[..., :, :y.shape[3] - d]).sum(1).mean((1, 2))
            v = (y[..., d:, :] * y[..., :y.shape[2] - d, :]).sum(1).mean((1, 2))
            num[d] += float(((h + v) / 2).sum())
    return num / den


def spectral_whitening(images: torch.Tensor) -> torch.Tensor:
    """'Perfect whitening' (Fig. 6): divide every image's 2-D spectrum by the square root of
    the mean power spectrum (per channel), which flattens the expected spectrum so C(delta)
    is a delta function (eq. 18-23)."""
    x = images.double()
    x = x - x.mean((0, 2, 3), keepdim=True)
    spec = torch.fft.fft2(x)
    power = (spec.abs() ** 2).mean(0, keepdim=True)
    return torch.fft.ifft2(spec / power.clamp_min(1e-12).sqrt()).real.float()
