"""Appendix D: change the joint statistics of patches and labels and the profiles follow the
theory. D.1 (Fig. 8a, 17): labels = decile of patch energy along PCA component u break the
agreement of true and random labels. D.2 (Fig. 8b, 18): scaling component u_t of every patch
by alpha changes lambda_t to alpha^2 lambda_t in the formula, and it still fits."""
from __future__ import annotations

import itertools

import pytest

from harness.scales import paper, scale as load_scale, spec
from harness.spectra import correlation
from harness.theory import fit_formula

from common import band, guard, known_deviation, lines, mean_sd, profile, vs_lambda

pytestmark = [pytest.mark.slow]


def pytest_generate_tests(metafunc):
    s = load_scale(metafunc.config.firstlayer_scale)
    if "component" in metafunc.fixturenames:
        metafunc.parametrize("component", s.d1_components)
    if "scaled" in metafunc.fixturenames:
        metafunc.parametrize("scaled", [tuple(c) for c in s.d2], ids=[f"u{c}-alpha{a:g}" for c, a in s.d2])


def true_random(runs, p, scale, **over):
    """Profiles of the variant's true-label and random-label runs, and their correlations."""
    seeds = range(scale.seeds_extra if over else scale.seeds_random)
    true = [profile(runs.get(spec(scale, seed=s, **over)), p) for s in seeds]
    rand_over = {k: v for k, v in over.items() if k != "labels"}
    rand = [profile(runs.get(spec(scale, seed=s, labels="random", **rand_over)), p) for s in seeds]
    return true, rand, [correlation(a, b) for a, b in itertools.product(true, rand)]


@pytest.mark.claim("appendix_d1")
def test_appendix_d1_energy_labels(runs, pca, scale, component, record, request):
    """D.1: with labels = energy decile along u, true ~ random falls (paper: to ~0)."""
    p = pca(spec(scale))
    base_true, base_rand, base = true_random(runs, p, scale)
    true, rand, corr = true_random(runs, p, scale, labels=f"energy:{component}")
    m, sd = mean_sd(corr)
    b, _ = mean_sd(base)
    cfg = paper("appendix_d1")
    fit = mean_sd([fit_formula(e, p.lambdas).correlation for e in true])[0]
    limit = f"drop >= {cfg['cpu_min_drop']} vs baseline" if scale.name == "cpu" else f"<= {cfg['paper_max']}"
    record(measured=m, sd=sd, n=len(corr), dataset=f"{scale.dataset}, labels = energy decile of u{component}",
           threshold=f"true~random {limit}",
           details={"baseline true~random (true labels)": b, "drop": b - m, "formula fit (energy labels)": fit},
           figures=[lines("profiles", f"Labels from the energy of component {component} (Fig. 8a)",
                          [band("energy labels", true), band("random labels", rand, "dashed"),
                           band("true labels (baseline)", base_true, "dotted")])])
    known_deviation(request, "appendix_d1", scale.name, measured=(
        f"true~random {b:.3f} -> {m:.3f} with energy labels; random runs' corr with lambda "
        f"{vs_lambda(base_rand, p):.2f}"))
    guard(base_true + base_rand, p)
    if scale.name == "cpu":
        assert b - m >= cfg["cpu_min_drop"], f"true~random fell only {b - m:.3f} ({b:.3f} -> {m:.3f})"
    else:
        assert m <= cfg["paper_max"], f"true~random {m:.3f} > {cfg['paper_max']} with energy labels"


@pytest.mark.claim("appendix_d2")
def test_appendix_d2_scaled_component(runs, pca, scale, scaled, record, request):
    """D.2: inputs with u_t scaled by alpha; eq. 3 with lambda_t^2 -> alpha^2 lambda_t^2 fits
    (>= 0.9) and beats the unmodified formula; true ~ random stays high."""
    component, alpha = scaled
    p = pca(spec(scale))
    true, rand, corr = true_random(runs, p, scale, inputs=f"scale:{component}:{alpha}")
    lam = p.lambdas.copy()
    lam[component] *= alpha
    fits = [fit_formula(e, lam) for e in true]
    plain = [fit_formula(e, p.lambdas) for e in true]
    m, sd = mean_sd([f.correlation for f in fits])
    plain_fit = mean_sd([f.correlation for f in plain])[0]
    cfg = paper("appendix_d2")
    tr, _ = mean_sd(corr)
    record(measured=m, sd=sd, n=len(fits), dataset=f"{scale.dataset}, u{component} x {alpha:g}",
           threshold=f"modified fit >= {cfg['min_fit']} and > unmodified; true~random >= {paper('random_labels')['cpu']}",
           details={"unmodified formula fit": plain_fit, "true ~ random": tr},
           figures=[lines("fit", f"u{component} scaled by {alpha:g} (Fig. 8b)",
                          [band("true labels", true), band("random labels", rand, "dashed"),
                           {"label": f"formula, lambda_{component} x {alpha:g}", "x": list(range(len(lam))),
                            "y": list(fits[0].curve), "sd": None, "style": "dotted"}])])
    known_deviation(request, "appendix_d2", scale.name, measured=(
        f"modified fit {m:.3f} vs unmodified {plain_fit:.3f}; true~random {tr:.3f}"))
    guard(true + rand, type(p)(lam ** 2, p.eigvecs, p.mean, p.count, p.size, p.channels))
    assert m >= cfg["min_fit"], f"modified formula fit {m:.3f} < {cfg['min_fit']}"
    assert m > plain_fit, "the modified formula does not beat the unmodified one"
    assert tr >= paper("random_labels")["cpu"], f"true ~ random {tr:.3f} with scaled inputs"
