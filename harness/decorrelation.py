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
                    max_shift: int = 10, batch: int = 250) -> np.ndarray:
    """C(delta) for delta = 0..max_shift of the responses of ``weights`` (Fig. 6), C(0) = 1.

    The sums over all location pairs at every shift come at once from the zero-padded FFT:
    sum_i y(i) y(i + delta) = IFFT(sum_{images, channels} |FFT(y)|^2)(delta), exact (no
    wrap-around) and in float64."""
    chunks = [slice(s, s + batch) for s in range(0, len(images), batch)]
    # channel means over the whole set, so every batch is centred alike
    total = sum(responses(images[c], weights).sum((0, 2, 3), dtype=torch.float64) for c in chunks)
    first = responses(images[:1], weights)
    h, w = first.shape[2], first.shape[3]
    mean = total / (len(images) * h * w)
    power = 0
    for c in chunks:
        y = responses(images[c], weights).double() - mean[None, :, None, None]
        power = power + (torch.fft.rfft2(y, s=(2 * h, 2 * w)).abs() ** 2).sum((0, 1))
    sums = torch.fft.irfft2(power, s=(2 * h, 2 * w)).numpy()  # sums[dy, dx] over all pairs
    d = np.arange(max_shift + 1)
    horiz = sums[0, d] / (h * (w - d))
    vert = sums[d, 0] / ((h - d) * w)
    return (horiz + vert) / 2 / (sums[0, 0] / (h * w))


def spectral_whitening(images: torch.Tensor) -> torch.Tensor:
    """'Perfect whitening' (Fig. 6): divide every image's 2-D spectrum by the square root of
    the mean power spectrum (per channel), which flattens the expected spectrum so C(delta)
    is a delta function (eq. 18-23)."""
    x = images.double()
    x = x - x.mean((0, 2, 3), keepdim=True)
    spec = torch.fft.fft2(x)
    power = (spec.abs() ** 2).mean(0, keepdim=True)
    return torch.fft.ifft2(spec / power.clamp_min(1e-12).sqrt()).real.float()
