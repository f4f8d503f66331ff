"""Negative controls built from a claim's own runs or inputs, in the same run of the suite: the
claim's own check is called on them, and a PASS (or a DEVIATES) stands only if the check FAILs
on at least one of them (``harness.verdicts.judge.stands``). A control is the claim made false on
purpose, with everything else kept:

- ``noise``: each run's trained first layer replaced by its init plus iid Gaussian noise of
  the learned change's Frobenius norm (seeded by the run): the layer moved as far as training
  moved it, in no direction in particular;
- ``earliest``: each run's first saved snapshot after its init (step 25): a layer that barely
  moved, whose profile is still ~lambda (eq. 3 at small t);
- ``formula_banks`` and ``random_like``: for the claims on filter banks (Table 3 RANDOM INIT.,
  IMAGENET), the banks given eq. 3's profile, or random banks of the same shapes.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.data.patches import PatchPCA
from harness.measures.profiles import moved_profile, profile
from harness.models import random_bank


def noise_layer(run, step: int | None = None) -> torch.Tensor:
    """W_init + noise with ||noise|| = ||W(step) - W_init|| (Frobenius), seeded by the run's key."""
    w = run.weights[step if step is not None else run.spec.steps]
    moved = (w - run.init).double()
    g = torch.Generator().manual_seed(int(run.spec.key[:8], 16))
    noise = torch.randn(moved.shape, generator=g, dtype=torch.float64)
    return (run.init.double() + noise * (moved.norm() / noise.norm())).to(w.dtype)


def noise_profiles(runs, pca: PatchPCA) -> list[np.ndarray]:
    return [moved_profile(noise_layer(r), r.init, pca, r.spec.label()) for r in runs]


def earliest_step(runs) -> int:
    """The first snapshot after the init that every run has saved."""
    return max(min(s for s in r.weights if s > 0) for r in runs)


def earliest_profiles(runs, pca: PatchPCA) -> list[np.ndarray]:
    step = earliest_step(runs)
    return [profile(r, pca, step) for r in runs]


def profile_controls(judged, pca: PatchPCA | dict, **groups) -> dict:
    """``judged(**{name: profiles})`` (the claim's own check from profiles) on each control of
    the runs in ``groups`` ({name: [runs]}): {control's name: Verdict}. ``pca``: one PCA, or
    one a group ({name: PatchPCA}) where the groups trained on different datasets."""
    every = [r for runs in groups.values() for r in runs]
    pcas = pca if isinstance(pca, dict) else dict.fromkeys(groups, pca)
    makers = {
        "init + noise of the learned change's norm": noise_profiles,
        f"the same runs at step {earliest_step(every)}": earliest_profiles,
    }
    return {name: judged(**{k: make(v, pcas[k]) for k, v in groups.items()}) for name, make in makers.items()}


def formula_banks(banks, pca: PatchPCA, profile_: np.ndarray) -> list[torch.Tensor]:
    """Each bank with its filters' energies along the PCA basis set to ``profile_`` (eq. 3 at
    some t), keeping the bank's own random mixing across filters (the QR of its weights)."""
    out = []
    for w in banks:
        flat = torch.as_tensor(w, dtype=torch.float64).reshape(w.shape[0], -1)
        q, _ = torch.linalg.qr(flat)  # (filters, dim) orthonormal columns when filters >= dim
        basis = torch.from_numpy(pca.eigvecs)
        bank = q[:, : basis.shape[1]] @ torch.diag(torch.from_numpy(profile_)) @ basis.T
        out.append(bank.reshape(w.shape).float())
    return out


def random_like(banks: dict) -> dict:
    """A random bank (``nn.Conv2d``'s init) of each bank's shape, seeded by its order."""
    return {
        name: random_bank(w.shape[0], w.shape[-1], seed=1000 + i, channels=w.shape[1])
        for i, (name, w) in enumerate(banks.items())
    }
