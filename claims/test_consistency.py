"""Table 1: the energy profile of VGG11's first layer is consistent across seeds, first-layer
widths and architectures (ResNet-18), and far from its random initialisation."""

from __future__ import annotations

import pytest

from harness import checks
from harness.checks import guard, mean_sd, profile
from harness.figures import band, lines
from harness.scales import bar
from harness.spectra import correlation, energy_profile, pairwise_correlations

pytestmark = [pytest.mark.slow]


def seed_runs(s, dataset):
    return {"true": s.seeds(s.seeds_true, dataset=dataset)}


def width_runs(s):
    return {"base": s.spec(seed=0), "widths": [s.spec(seed=0, first=w) for w in s.widths]}


def resnet_runs(s):
    return {"vgg": s.spec(seed=0), "resnet": s.spec(seed=0, model=s.resnet, width=s.resnet_width, steps=s.resnet_steps)}


@pytest.mark.claim("seed", runs=seed_runs)
def test_seed(trained, pca, scale, dataset, record):
    """Table 1 SEED: mean pairwise correlation of profiles over seeds (paper 0.99 on CIFAR-10)."""
    true = trained["true"]
    p = pca(true[0].spec)
    profiles = [profile(r, p) for r in true]
    corr = pairwise_correlations(profiles)
    m, sd = mean_sd(corr)
    threshold = bar("seed", scale)
    record(
        measured=m,
        sd=sd,
        n=len(corr),
        threshold=f">= {threshold}",
        data_source=true[0].metrics["data_source"],
        device=true[0].metrics["device"],
        figures=[
            lines(
                "profiles", "Seeds: energy of W - W_init (mean ± sd)", [band(f"VGG11, {len(profiles)} seeds", profiles)]
            )
        ],
    )
    worst = guard(profiles, p)
    record(details={"max corr with lambda (guard <= 0.7)": worst, "pairs": len(corr)})
    checks.seed(corr, threshold)


@pytest.mark.claim("width", runs=width_runs)
def test_width(trained, pca, scale, record):
    """Table 1 WIDTH: profiles of first layers of 32 and 128 filters vs 64 (paper 0.98)."""
    base = trained["base"]
    p = pca(base.spec)
    ref = profile(base, p)
    others = {r.spec.first: profile(r, p) for r in trained["widths"]}
    corr = {w: correlation(ref, e) for w, e in others.items()}
    m, sd = mean_sd(list(corr.values()))
    threshold = bar("width", scale)
    record(
        measured=m,
        sd=sd,
        n=len(corr),
        threshold=f">= {threshold} (each width)",
        dataset=scale.dataset,
        data_source=base.metrics["data_source"],
        device=base.metrics["device"],
        details={f"{w} vs 64 filters": c for w, c in corr.items()},
        figures=[
            lines(
                "profiles",
                "First-layer widths",
                [band("64 filters", [ref])] + [band(f"{w} filters", [e]) for w, e in others.items()],
            )
        ],
    )
    guard([ref, *others.values()], p)
    checks.width(corr, threshold)


@pytest.mark.claim("init", runs=seed_runs)
def test_init(trained, pca, scale, dataset, record):
    """Table 1 TRAINED VS INIT: trained profile vs the random init's (paper -0.13 ± 0.18)."""
    true = trained["true"]
    p = pca(true[0].spec)
    corr = [correlation(profile(r, p), energy_profile(r.init, p)) for r in true]
    m, sd = mean_sd(corr)
    limit = bar("init", scale)
    record(
        measured=m,
        sd=sd,
        n=len(corr),
        threshold=f"|mean| <= {limit}",
        data_source=true[0].metrics["data_source"],
        device=true[0].metrics["device"],
        figures=[
            lines(
                "profiles",
                "Trained (W - W_init) vs random init",
                [
                    band("trained", [profile(r, p) for r in true]),
                    band("init", [energy_profile(r.init, p) for r in true], "dashed"),
                ],
            )
        ],
    )
    guard([profile(r, p) for r in true], p)
    checks.init(corr, limit)


@pytest.mark.claim("resnet", runs=resnet_runs)
def test_resnet(trained, pca, scale, record):
    """Table 1 VGG VS RESNET: VGG11 vs ResNet-18 (3x3 stem of 64 filters), paper 0.87."""
    vgg, res = trained["vgg"], trained["resnet"]
    p = pca(vgg.spec)
    a, b = profile(vgg, p), profile(res, p)
    corr = correlation(a, b)
    threshold = bar("resnet", scale)
    record(
        measured=corr,
        threshold=f">= {threshold}",
        dataset=scale.dataset,
        data_source=vgg.metrics["data_source"],
        device=vgg.metrics["device"],
        figures=[lines("profiles", "VGG11 vs ResNet-18", [band("VGG11", [a]), band("ResNet-18", [b])])],
    )
    worst = guard([a, b], p)
    record(details={"max corr with lambda (guard)": worst})
    checks.resnet(corr, threshold)
