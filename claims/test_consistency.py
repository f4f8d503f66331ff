"""Table 1: the energy profile of VGG11's first layer is consistent across seeds, first-layer
widths and architectures (ResNet-18), and far from its random initialisation."""
from __future__ import annotations

import pytest

from harness.scales import bar, paper, spec
from harness.spectra import correlation, energy_profile, pairwise_correlations

from common import band, get_or_skip, guard, lines, mean_sd, profile

pytestmark = [pytest.mark.slow]


def true_runs(runs, scale, dataset):
    return [get_or_skip(runs, spec(scale, dataset=dataset, seed=s)) for s in range(scale.seeds_true)]


@pytest.mark.claim("seed")
def test_seed(runs, pca, scale, dataset, record):
    """Table 1 SEED: mean pairwise correlation of profiles over seeds (paper 0.99 on CIFAR-10)."""
    trained = true_runs(runs, scale, dataset)
    p = pca(trained[0].spec)
    profiles = [profile(r, p) for r in trained]
    corr = pairwise_correlations(profiles)
    m, sd = mean_sd(corr)
    threshold = bar("seed", scale.name)
    record(measured=m, sd=sd, n=len(corr), threshold=f">= {threshold}", data_source=trained[0].metrics["data_source"],
           device=trained[0].metrics["device"],
           figures=[lines("profiles", "Seeds: energy of W - W_init (mean ± sd)",
                          [band(f"VGG11, {len(profiles)} seeds", profiles)])])
    worst = guard(profiles, p)
    record(details={"max corr with lambda (guard <= 0.7)": worst, "pairs": len(corr)})
    assert m >= threshold, f"seed consistency {m:.3f} < {threshold} (paper {paper('seed')['paper'][dataset]})"


@pytest.mark.claim("width")
def test_width(runs, pca, scale, record):
    """Table 1 WIDTH: profiles of first layers of 32 and 128 filters vs 64 (paper 0.98)."""
    base = runs.get(spec(scale, seed=0))
    p = pca(base.spec)
    ref = profile(base, p)
    others = {w: profile(runs.get(spec(scale, seed=0, first=w)), p) for w in scale.widths}
    corr = {w: correlation(ref, e) for w, e in others.items()}
    m, sd = mean_sd(list(corr.values()))
    threshold = bar("width", scale.name)
    record(measured=m, sd=sd, n=len(corr), threshold=f">= {threshold} (each width)", dataset=scale.dataset,
           data_source=base.metrics["data_source"], device=base.metrics["device"],
           details={f"{w} vs 64 filters": c for w, c in corr.items()},
           figures=[lines("profiles", "First-layer widths", [band("64 filters", [ref])] +
                          [band(f"{w} filters", [e]) for w, e in others.items()])])
    guard([ref, *others.values()], p)
    assert min(corr.values()) >= threshold, f"width consistency {corr} below {threshold} (paper 0.98)"


@pytest.mark.claim("init")
def test_init(runs, pca, scale, dataset, record):
    """Table 1 TRAINED VS INIT: trained profile vs the random init's (paper -0.13 ± 0.18)."""
    trained = true_runs(runs, scale, dataset)
    p = pca(trained[0].spec)
    corr = [correlation(profile(r, p), energy_profile(r.init, p)) for r in trained]
    m, sd = mean_sd(corr)
    limit = bar("init", scale.name)
    record(measured=m, sd=sd, n=len(corr), threshold=f"|mean| <= {limit}",
           data_source=trained[0].metrics["data_source"], device=trained[0].metrics["device"],
           figures=[lines("profiles", "Trained (W - W_init) vs random init",
                          [band("trained", [profile(r, p) for r in trained]),
                           band("init", [energy_profile(r.init, p) for r in trained], "dashed")])])
    guard([profile(r, p) for r in trained], p)
    assert abs(m) <= limit, f"trained vs init {m:.3f}: |.| > {limit} (paper {paper('init')['paper'][dataset]})"


@pytest.mark.claim("resnet")
def test_resnet(runs, pca, scale, record):
    """Table 1 VGG VS RESNET: VGG11 vs ResNet-18 (3x3 stem of 64 filters), paper 0.87."""
    vgg = runs.get(spec(scale, seed=0))
    res = runs.get(spec(scale, seed=0, model=scale.resnet, width=scale.resnet_width, steps=scale.resnet_steps))
    p = pca(vgg.spec)
    a, b = profile(vgg, p), profile(res, p)
    corr = correlation(a, b)
    threshold = bar("resnet", scale.name)
    record(measured=corr, threshold=f">= {threshold}", dataset=scale.dataset, data_source=vgg.metrics["data_source"],
           device=vgg.metrics["device"],
           figures=[lines("profiles", "VGG11 vs ResNet-18", [band("VGG11", [a]), band("ResNet-18", [b])])])
    worst = guard([a, b], p)
    record(details={"max corr with lambda (guard)": worst})
    assert corr >= threshold, f"VGG vs ResNet {corr:.3f} < {threshold} (paper 0.87)"
