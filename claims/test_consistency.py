"""Table 1: the energy profile of VGG11's first layer is consistent across seeds, first-layer
widths and architectures (ResNet-18), and far from its random initialisation. Judged at the
scale's standard length (``steps``); every compared run starts from an independent init."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.config.paper import bar
from harness.measures.figures import band, profile_figure
from harness.measures.profiles import beyond_lambda, profile, representation, vs_lambda
from harness.measures.spectra import correlation, energy_profile
from harness.verdicts import checks, stats
from harness.verdicts.checks import guard, learned_shape
from harness.verdicts.controls import profile_controls

pytestmark = [pytest.mark.slow]


def seed_runs(s, dataset):
    return {"true": s.seeds(s.table1_seeds, dataset=dataset)}


def width_runs(s, dataset):
    return {
        "base": s.seeds(s.seeds_true, dataset=dataset),
        "widths": [s.spec(seed=k, first=w, dataset=dataset) for w in s.widths for k in range(s.seeds_true)],
    }


def resnet_runs(s, dataset):
    resnets = s.seeds(s.resnet_seeds, model=s.resnet, width=s.resnet_width, steps=s.resnet_steps, dataset=dataset)
    return {"vgg": s.seeds(s.seeds_true, dataset=dataset), "resnet": resnets}


def beyond(a, b, p) -> float:
    """Mean agreement beyond lambda of the pairs within ``a``, or of a x b."""
    pairs = list(itertools.combinations(a, 2) if b is None else itertools.product(a, b))
    return float(np.mean([beyond_lambda(x, y, p) for x, y in pairs]))


def details_of(profiles, p, beyond):
    return {
        "corr with lambda, each run": [round(v, 3) for v in vs_lambda(profiles, p)],
        "agreement beyond lambda (partial corr | lambda, log lambda)": beyond,
    }


@pytest.mark.claim("seed", runs=seed_runs)
def test_seed(trained, pca, scale, dataset, record, conclude):
    """Table 1 SEED: pairwise correlation of profiles over seeds (paper 0.99 on CIFAR-10)."""
    runs = trained["true"]
    p = pca(runs[0].spec)
    profiles = [profile(r, p) for r in runs]
    record(
        details=details_of(profiles, p, beyond(profiles, None, p)),
        figures=[
            profile_figure(
                "profiles",
                "Seeds: energy of W - W_init (mean ± sd)",
                [band(f"VGG11, {len(profiles)} seeds", profiles)],
                p.lambdas,
            )
        ],
    )

    def judged(seeds):
        pairs = stats.within(seeds, correlation)
        return checks.seed(pairs, guard(seeds, p), learned_shape(seeds, p, scale), bar("seed", dataset))

    conclude(judged(profiles), profile_controls(judged, p, seeds=runs))


@pytest.mark.claim("width", runs=width_runs)
def test_width(trained, pca, scale, dataset, record, conclude):
    """Table 1 WIDTH: profiles of first layers of 32 and 128 filters vs 64 (paper 0.98)."""
    p = pca(trained["base"][0].spec)
    base = [profile(r, p) for r in trained["base"]]
    widths = [profile(r, p) for r in trained["widths"]]

    def by_width(profiles) -> dict:
        """{filters: the profiles of that width's runs}, from profiles in trained["widths"] order."""
        firsts = [r.spec.first for r in trained["widths"]]
        return {w: [e for e, f in zip(profiles, firsts, strict=True) if f == w] for w in scale.widths}

    record(
        details={
            **details_of(base + widths, p, beyond(base, widths, p)),
            "judged": "each width's runs against the base width's (the lower agreement is shown)",
        },
        figures=[
            profile_figure(
                "profiles",
                "First-layer widths",
                [band(f"{scale.first} filters", base)]
                + [band(f"{w} filters", es) for w, es in by_width(widths).items()],
                p.lambdas,
            )
        ],
    )

    def judged(base, widths):
        pairs = {
            w: stats.between(es, base, correlation, (f"{w}-filter", f"{scale.first}-filter"))
            for w, es in by_width(widths).items()
        }
        every = base + widths
        return checks.width(pairs, guard(every, p), learned_shape(every, p, scale), bar("width", dataset))

    verdict = judged(base, widths)
    controls = profile_controls(judged, p, base=trained["base"], widths=trained["widths"])
    conclude(verdict, controls, main=min(verdict.conditions[2:], key=lambda c: c.estimate.value))


@pytest.mark.claim("init", runs=seed_runs)
def test_init(trained, pca, scale, dataset, record, conclude):
    """Table 1 TRAINED VS INIT: the trained profile vs the random init's (paper -0.13 ± 0.18);
    a layer that barely moved fails the guard, one that moved randomly fails the shape test."""
    true = trained["true"]
    p = pca(true[0].spec)
    profiles = [profile(r, p) for r in true]
    inits = [energy_profile(r.init, p) for r in true]
    signed = [correlation(e, i) for e, i in zip(profiles, inits, strict=True)]
    limit = bar("init", dataset)
    record(
        details={
            "trained ~ init (signed), each seed": [round(c, 3) for c in signed],
            "trained ~ init (signed), mean": round(float(np.mean(signed)), 3),
            **representation(true, p),
        },
        figures=[
            profile_figure(
                "profiles",
                "Trained (W - W_init) vs random init",
                [band("trained", profiles), band("init", inits, "dashed")],
                p.lambdas,
            )
        ],
    )

    def judged(seeds):
        corr = stats.over_runs([abs(correlation(e, i)) for e, i in zip(seeds, inits, strict=True)], correlation=True)
        return checks.init(corr, guard(seeds, p), learned_shape(seeds, p, scale), limit, moved)

    moved = checks.moved(true, p, limit)

    conclude(judged(profiles), profile_controls(judged, p, seeds=true))


@pytest.mark.claim("resnet", runs=resnet_runs)
def test_resnet(trained, pca, scale, dataset, record, conclude):
    """Table 1 VGG VS RESNET: VGG11 vs ResNet-18 (3x3 stem of 64 filters), paper 0.87 on CIFAR-10."""
    p = pca(trained["vgg"][0].spec)
    vgg, res = ([profile(r, p) for r in trained[k]] for k in ("vgg", "resnet"))
    record(
        details=details_of(vgg + res, p, beyond(vgg, res, p)),
        figures=[
            profile_figure("profiles", "VGG11 vs ResNet-18", [band("VGG11", vgg), band("ResNet-18", res)], p.lambdas)
        ],
    )

    def judged(vgg, resnet):
        pairs = stats.between(vgg, resnet, correlation, ("VGG11", "ResNet-18"))
        every = vgg + resnet
        return checks.resnet(pairs, guard(every, p), learned_shape(every, p, scale), bar("resnet", dataset))

    conclude(judged(vgg, res), profile_controls(judged, p, vgg=trained["vgg"], resnet=trained["resnet"]))
