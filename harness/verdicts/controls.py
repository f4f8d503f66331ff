"""Negative controls built from a claim's own runs or inputs, in the same run of the suite: the
claim's own check is called on them, and a PASS (or a DEVIATES) stands only if the check FAILs
on at least one of them (``harness.verdicts.judge.stands``). A control is the claim made false on
purpose, with everything else kept:

- ``noise``: each run's trained first layer replaced by its init plus iid Gaussian noise of
  the learned change's Frobenius norm (seeded by the run): the layer moved as far as training
  moved it, in no direction in particular;
- ``earliest``: each run's first saved snapshot after its init (step 25): a layer that barely
  moved, whose profile is still ~lambda (eq. 3 at small t);
- structured profiles (``STRUCTURED``), which meet the premises a learned layer meets and differ
  in a way the paper says matters: ``bump`` (each run's profile replaced by its own plausible
  smooth bump, ``harness.measures.nulls``) and ``inverted`` (profiles turned upside down: high
  where the learned profile is low, low at its intermediate peak: the last group's,
  every other run's within one group, or every run's for a claim about each run's shape). A
  PASS needs one of these to FAIL (``harness.verdicts.judge.stands``): init + noise and an
  early snapshot fail on premises alone;
- ``formula_banks`` and ``random_like``: for the claims on filter banks (Table 3 RANDOM INIT.,
  IMAGENET), the banks given eq. 3's profile, or random banks of the same shapes.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.data.patches import PatchPCA
from harness.measures.nulls import inverted, key_seed, plausible
from harness.measures.profiles import moved_profile, profile
from harness.models import random_bank
from harness.verdicts.judge import STRUCTURED

NOISE = "init + noise of the learned change's norm"


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


def bump_profiles(runs, pca: PatchPCA) -> list[np.ndarray]:
    """Each run's own plausible bump (``nulls.plausible``, seeded by its key)."""
    return [plausible(pca, 1, key_seed(r.spec.key))[0] for r in runs]


RANDOM_LIKE = "random banks of the same shapes"
BANK_BUMPS = "each layer with its own plausible smooth bump as its profile" + STRUCTURED


def bank_controls(banks: dict, pca_of, profile_of, every_layer: bool = True) -> dict:
    """The structured controls of the claims on given layers (ImageNet): each layer with its
    own plausible bump as its profile, and layers with their profile turned upside down
    ({name: {layer name: bank}}): every layer for a claim about each layer (a fit), every other
    one for agreement between layers (turning all leaves it as it was); ``pca_of(w)`` its patch
    PCA, ``profile_of(w)`` its measured profile."""
    bumps, flipped = {}, {}
    for i, (name, w) in enumerate(banks.items()):
        p = pca_of(w)
        bumps[name] = profiled_bank(w, p, plausible(p, 1, key_seed(name))[0], 2000 + i)
        turn = every_layer or i % 2 == 1
        flipped[name] = profiled_bank(w, p, inverted(profile_of(w)), 3000 + i) if turn else w
    which = "each layer" if every_layer else "every other layer"
    return {
        RANDOM_LIKE: random_like(banks),
        BANK_BUMPS: bumps,
        f"{which} with its profile turned upside down (high where the learned one is low)" + STRUCTURED: flipped,
    }


WITH_INIT = "a plausible smooth bump plus each run's init profile, in equal parts" + STRUCTURED


def with_init(runs, inits, pca: PatchPCA) -> list[np.ndarray]:
    """For the claims that a profile is far from its init's (TRAINED VS INIT, RANDOM V INIT): a
    shaped profile that keeps its init's, each run's own plausible bump plus its init profile's
    deviations scaled to the bump's spread (corr with the init ~0.7)."""
    out = []
    for run, init in zip(runs, inits, strict=True):
        bump = plausible(pca, 1, key_seed(run.spec.key))[0]
        both = bump + (init - init.mean()) / init.std() * bump.std()
        out.append(both - both.min() + 0.05 * bump.max())
    return out


def profile_controls(judged, pca: PatchPCA | dict, every_run: bool = False, **groups) -> dict:
    """``judged(**{name: profiles})`` (the claim's own check from profiles) on each control of
    the runs in ``groups`` ({name: [runs]}): {control's name: Verdict}. ``pca``: one PCA, or
    one a group ({name: PatchPCA}) where the groups trained on different datasets.

    The inverted control turns the last group where there are several (agreement between groups
    is broken). Within one group it turns every other run: turning all of them leaves agreement
    within the group as it was, a control that cannot fail an agreement check. A claim about
    each run's shape (a fit, the peak) turns every run (``every_run``)."""
    every = [r for runs in groups.values() for r in runs]
    pcas = pca if isinstance(pca, dict) else dict.fromkeys(groups, pca)
    last = list(groups)[-1]
    if every_run:
        which, said = (lambda k, i: k == last), "every run's profile"
    elif len(groups) > 1:
        which, said = (lambda k, i: k == last), f"the {last} profiles"
    else:
        which, said = (lambda k, i: i % 2 == 1), "every other run's profile"

    def turned(k, runs):
        return [inverted(profile(r, pcas[k])) if which(k, i) else profile(r, pcas[k]) for i, r in enumerate(runs)]

    makers = {
        NOISE: lambda k, v: noise_profiles(v, pcas[k]),
        f"the same runs at step {earliest_step(every)}": lambda k, v: earliest_profiles(v, pcas[k]),
        "a plausible smooth bump in place of each run's profile" + STRUCTURED: lambda k, v: bump_profiles(v, pcas[k]),
        f"{said} turned upside down (high where the learned one is low)" + STRUCTURED: turned,
    }
    return {name: judged(**{k: make(k, v) for k, v in groups.items()}) for name, make in makers.items()}


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


def profiled_bank(w, pca: PatchPCA, profile_: np.ndarray, seed: int) -> torch.Tensor:
    """A bank of ``w``'s shape whose energy profile (Def. 2.2) is exactly ``profile_``: filter k
    is sum_i r_ki e_i u_i with random signs r_ki, so (1/K) sum_k (w_k . u_i)^2 = e_i^2 for any
    number of filters K (``formula_banks`` needs K >= the patch dimension)."""
    g = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (w.shape[0], len(profile_)), generator=g, dtype=torch.float64) * 2 - 1
    bank = signs @ torch.diag(torch.from_numpy(np.asarray(profile_, np.float64))) @ torch.from_numpy(pca.eigvecs).T
    return bank.reshape(w.shape).float()


def random_like(banks: dict) -> dict:
    """A random bank (``nn.Conv2d``'s init) of each bank's shape, seeded by its order."""
    return {
        name: random_bank(w.shape[0], w.shape[-1], seed=1000 + i, channels=w.shape[1])
        for i, (name, w) in enumerate(banks.items())
    }
