"""Spatial autocorrelation of first-layer responses (Section 5, Fig. 6; Theorem 4.3).

C(delta) = E_i[y(i) . y(i + delta)] / E_i[y(i) . y(i)], where y(i) is the vector of all
channels at location i (mean-removed per channel), the expectation taken over locations,
images, and horizontal and vertical shifts of delta pixels.

A response is linear in the patch, y_k(i) = w_k . P(i), so for every filter bank
sum_i y(i) . y(i + delta) = <M(delta), W^T W> with M(delta) = sum_i P(i) P(i + delta)^T
(centred patches). ``shift_moments`` sums M once per image set; each bank is then a
27 x 27 inner product, however many banks a claim compares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ShiftMoments:
    """M(delta) for delta = (0, d) (``horiz``) and (d, 0) (``vert``), d = 0..max_shift, each
    (D, D) over the centred size x size patches; ``h`` x ``w`` is the response grid."""

    horiz: np.ndarray
    vert: np.ndarray
    h: int
    w: int
    size: int
    channels: int

    def autocorrelation(self, weights=None) -> np.ndarray:
        """C(delta), delta = 0..max_shift, of the bank ``weights`` (K, C, size, size); of the
        pixels themselves (RGB) when None (size 1). C(0) = 1."""
        dim = self.channels * self.size * self.size
        if weights is None:
            if self.size != 1:
                raise ValueError("ShiftMoments.autocorrelation: RGB (weights=None) needs moments of size 1")
            w = np.eye(dim)
        else:
            w = torch.as_tensor(weights).detach().to("cpu", torch.float64).reshape(-1, dim).numpy()
        q = w.T @ w
        sh = np.einsum("sij,ij->s", self.horiz, q)
        sv = np.einsum("sij,ij->s", self.vert, q)
        d = np.arange(len(sh))
        horiz = sh / (self.h * (self.w - d))
        vert = sv / ((self.h - d) * self.w)
        return (horiz + vert) / (horiz[0] + vert[0])


def shift_moments(images: torch.Tensor, size: int = 3, max_shift: int = 10, batch: int = 50) -> ShiftMoments:
    """Sum over images and location pairs of P(i) P(i + delta)^T for the centred patches.

    The patch coordinates are laid out (D, x, image, y) (and (D, y, image, x)) so every
    shift is a plain view and each M(delta) one float32 matmul per batch of images, added
    in float64 (~1e-7 relative: the responses are float32 anyway)."""
    n, c, h, w = images.shape
    hv, wv = h - size + 1, w - size + 1
    if max_shift >= min(hv, wv):
        raise ValueError(f"shift_moments: max_shift {max_shift} needs responses wider than {hv}x{wv}")
    dim = c * size * size

    def coords(x):  # (n, D, hv, wv)
        x = x.float()
        return x if size == 1 else F.unfold(x, size).view(len(x), dim, hv, wv)

    chunks = [slice(s, s + batch) for s in range(0, n, batch)]
    mean = sum(coords(images[b]).sum((0, 2, 3), dtype=torch.float64) for b in chunks) / (n * hv * wv)
    horiz = torch.zeros(max_shift + 1, dim, dim, dtype=torch.float64)
    vert = torch.zeros_like(horiz)
    for b in chunks:
        z = coords(images[b]) - mean.float()[None, :, None, None]
        zx = z.permute(1, 3, 0, 2).contiguous()  # (D, wv, n, hv): a shift in x is a slice
        zy = z.permute(1, 2, 0, 3).contiguous()  # (D, hv, n, wv)
        for d in range(max_shift + 1):
            horiz[d] += (zx[:, : wv - d].reshape(dim, -1) @ zx[:, d:].reshape(dim, -1).T).double()
            vert[d] += (zy[:, : hv - d].reshape(dim, -1) @ zy[:, d:].reshape(dim, -1).T).double()
    return ShiftMoments(horiz.numpy(), vert.numpy(), hv, wv, size, c)


def autocorrelation(
    images: torch.Tensor, weights: torch.Tensor | None = None, max_shift: int = 10, batch: int = 50
) -> np.ndarray:
    """C(delta) for delta = 0..max_shift of the responses of ``weights`` (Fig. 6), C(0) = 1;
    of the images themselves when None. For several banks on one image set, compute
    ``shift_moments`` once and call its ``autocorrelation``."""
    size = 1 if weights is None else int(torch.as_tensor(weights).shape[-1])
    return shift_moments(images, size, max_shift, batch).autocorrelation(weights)


def spectral_whitening(images: torch.Tensor) -> torch.Tensor:
    """'Perfect whitening' (Fig. 6): divide every image's 2-D spectrum by the square root of
    the mean power spectrum (per channel), which flattens the expected spectrum so C(delta)
    is a delta function (eq. 18-23)."""
    x = images.double()
    x = x - x.mean((0, 2, 3), keepdim=True)
    spec = torch.fft.fft2(x)
    power = (spec.abs() ** 2).mean(0, keepdim=True)
    return torch.fft.ifft2(spec / power.clamp_min(1e-12).sqrt()).real.float()
