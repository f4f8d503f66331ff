"""Table 1: the energy profile of VGG11's first layer is consistent across seeds, first-layer
widths and architectures (ResNet-18), and far from its random initialisation. Judged at the
scale's standard length (``steps``); every compared run starts from an independent init."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness import checks
from harness.checks import beyond_lambda, guard, learned_shape, profile
from harness.figures import band, lines
from harness.scales import bar
from harness.spectra import correlation, energy_profile

pytestmark = [pytest.mark.slow]


def seed_runs(s, dataset):
    return {"true": s.seeds(s.seeds_true, dataset=dataset)}


def width_runs(s):
    return {"base": s.seeds(s.seeds_true), "widths": [s.spec(seed=0, first=w) for w in s.widths]}


def resnet_runs(s):
    resnets = s.seeds(s.resnet_seeds, model=s.resnet, width=s.resnet_width, steps=s.resnet_steps)
    return {"vgg": s.seeds(s.seeds_true), "resnet": resnets}


def agreement(a, b, p):
    """(correlations, agreement beyond lambda) of the pairs within ``a``, or of a x b."""
    pairs = list(itertools.combinations(a, 2) if b is None else itertools.product(a, b))
    return [correlation(x, y) for x, y in pairs], float(np.mean([beyond_lambda(x, y, p) for x, y in pairs]))


def details_of(profiles, p, beyond):
    return {
        "corr with lambda, each run": [round(v, 3) for v in checks.vs_lambda(profiles, p)],
        "agreement beyond lambda (partial corr | lambda, log lambda)": beyond,
    }


@pytest.mark.claim("seed", runs=seed_runs)
def test_seed(trained, pca, scale, dataset, record, conclude):
    """Table 1 SEED: pairwise correlation of profiles over seeds (paper 0.99 on CIFAR-10)."""
    p = pca(trained["true"][0].spec)
    profiles = [profile(r, p) for r in trained["true"]]
    corr, beyond = agreement(profiles, None, p)
    record(
        details=details_of(profiles, p, beyond),
        figures=[
            lines(
                "profiles", "Seeds: energy of W - W_init (mean ± sd)", [band(f"VGG11, {len(profiles)} seeds", profiles)]
            )
        ],
    )
    conclude(checks.seed(corr, guard(profiles, p), learned_shape(profiles, p, scale), bar("seed", scale)))


@pytest.mark.claim("width", runs=width_runs)
def test_width(trained, pca, scale, record, conclude):
    """Table 1 WIDTH: profiles of first layers of 32 and 128 filters vs 64 (paper 0.98)."""
    p = pca(trained["base"][0].spec)
    base = [profile(r, p) for r in trained["base"]]
    others = {r.spec.first: profile(r, p) for r in trained["widths"]}
    corr, beyond = agreement(base, list(others.values()), p)
    record(
        dataset=scale.dataset,
        details={
            **details_of(base + list(others.values()), p, beyond),
            **{
                f"{w} filters ~ {scale.first} (mean over seeds)": float(np.mean([correlation(b, e) for b in base]))
                for w, e in others.items()
            },
        },
        figures=[
            lines(
                "profiles",
                "First-layer widths",
                [band(f"{scale.first} filters", base)] + [band(f"{w} filters", [e]) for w, e in others.items()],
            )
        ],
    )
    every = base + list(others.values())
    conclude(checks.width(corr, guard(every, p), learned_shape(every, p, scale), bar("width", scale)))


@pytest.mark.claim("init", runs=seed_runs)
def test_init(trained, pca, scale, dataset, record, conclude):
    """Table 1 TRAINED VS INIT: the trained profile vs the random init's (paper -0.13 ± 0.18);
    a layer that barely moved fails the guard, one that moved randomly fails the shape test."""
    true = trained["true"]
    p = pca(true[0].spec)
    profiles = [profile(r, p) for r in true]
    inits = [energy_profile(r.init, p) for r in true]
    corr = [correlation(e, i) for e, i in zip(profiles, inits, strict=True)]
    record(
        details={"trained ~ init, each seed": [round(c, 3) for c in corr]},
        figures=[
            lines(
                "profiles",
                "Trained (W - W_init) vs random init",
                [band("trained", profiles), band("init", inits, "dashed")],
            )
        ],
    )
    conclude(checks.init(corr, guard(profiles, p), learned_shape(profiles, p, scale), bar("init", scale)))


@pytest.mark.claim("resnet", runs=resnet_runs)
def test_resnet(trained, pca, scale, record, conclude):
    """Table 1 VGG VS RESNET: VGG11 vs ResNet-18 (3x3 stem of 64 filters), paper 0.87."""
    p = pca(trained["vgg"][0].spec)
    vgg, res = ([profile(r, p) for r in trained[k]] for k in ("vgg", "resnet"))
    corr, beyond = agreement(vgg, res, p)
    record(
        dataset=scale.dataset,
        details=details_of(vgg + res, p, beyond),
        figures=[lines("profiles", "VGG11 vs ResNet-18", [band("VGG11", vgg), band("ResNet-18", res)])],
    )
    conclude(checks.resnet(corr, guard(vgg + res, p), learned_shape(vgg + res, p, scale), bar("resnet", scale)))
