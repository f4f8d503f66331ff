"""Fig. 6 / Theorem 4.3: learned first layers spatially decorrelate their input; random
filters do not (C(delta) ~ RGB's); perfect whitening brings C(10) to ~0; and eq. 3's filters
decorrelate real images more as t grows (Thm 4.3 on real patches)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.config.paper import bar, paper
from harness.data.images import normalise, subset
from harness.data.patches import patch_pca
from harness.measures.decorrelation import autocorrelation, shift_moments, spectral_whitening
from harness.measures.figures import lines, series
from harness.measures.layers import decorrelation
from harness.measures.profiles import moved_profile
from harness.measures.theory import fit_formula_authors, formula_profile, t_grid, zca_filters
from harness.models import random_banks
from harness.verdicts import checks, judge
from harness.verdicts.controls import NOISE, noise_layer
from harness.verdicts.judge import STRUCTURED, property_control

pytestmark = [pytest.mark.slow]
SHIFT = 10  # the paper's reference distance (pixels)


def learned_runs(s):
    """The converged true-label seeds, and the scale's training-set-size curve (seed 0)."""
    sizes = [s.spec(images=n or None, steps=k) for n, k in s.size_curve]
    return {"true": s.seeds(s.seeds_true, steps=s.converged_steps), "sizes": sizes}


@pytest.fixture(scope="module")
def images(datasets, scale):
    """Training images of the scale's dataset, normalised as the network saw them."""
    train = datasets.split(scale.dataset)
    _, stats = normalise(subset(train, scale.images).pixels)
    x, _ = normalise(subset(train, scale.whitening_images, seed=1).pixels, stats)
    return x


@pytest.fixture(scope="module")
def moments(images):
    """M(delta) of the images' 3x3 patches: every 3x3 bank's C(delta) from one pass."""
    return shift_moments(images, 3, SHIFT)


@pytest.fixture(scope="module")
def curves(images, moments, scale):
    rgb = autocorrelation(images, max_shift=SHIFT)
    rand = np.array([moments.autocorrelation(w) for w in random_banks(scale.random_init_seeds, scale.first)])
    return {"RGB": rgb, "random": rand, "whitened": autocorrelation(spectral_whitening(images), max_shift=SHIFT)}


def figure(curves, extra):
    x = list(range(SHIFT + 1))
    out = [
        series("RGB", curves["RGB"], x=x),
        series(
            f"random filters ({len(curves['random'])} seeds)",
            curves["random"].mean(0),
            x=x,
            sd=curves["random"].std(0),
            style="dashed",
        ),
        series("perfect whitening", curves["whitened"], x=x, style="dotted"),
    ]
    out += [series(k, v, x=x) for k, v in extra.items()]
    return lines(
        "autocorrelation",
        "Spatial autocorrelation of first-layer responses (Fig. 6)",
        out,
        xlabel="distance (pixels)",
        ylabel="C(delta)",
    )


def smoothing_bank(channels: int = 3, size: int = 3) -> torch.Tensor:
    """A smoothing bank: one size x size box filter per input channel (a blur, which keeps the
    images' spatial correlation): the control that Thm 4.3's and Fig. 6's checks must FAIL."""
    bank = torch.zeros(channels, channels, size, size)
    for c in range(channels):
        bank[c, c] = 1.0 / size**2
    return bank


def smoothed(run) -> torch.Tensor:
    """The run's init plus a smoothing change of the learned change's norm: one 3x3 box filter per
    input channel, repeated over the layer's filters."""
    w, init = run.final, run.init
    box = smoothing_bank(init.shape[1], init.shape[-1]).repeat(init.shape[0] // init.shape[1] + 1, 1, 1, 1)
    box = box[: init.shape[0]]
    return init + box * ((w - init).norm() / box.norm())


def formula_bank(pca, profile) -> torch.Tensor:
    """Filters u_i scaled by e_i: a bank whose energy profile is ``profile`` and whose Gram
    W^T W = U diag(e^2) U^T is diagonal in the PCA basis, as the linear CNN's is."""
    return torch.from_numpy(profile[:, None] * pca.eigvecs.T).reshape(pca.dim, pca.channels, pca.size, pca.size)


@pytest.mark.claim("whitening")
def test_whitening_references(curves, images, moments, scale, record, conclude):
    """Fig. 6 references: random filters ~ RGB at 10 px; perfect whitening ~ 0."""
    cfg = paper("whitening")
    rgb, rand, white = curves["RGB"][SHIFT], curves["random"][:, SHIFT], curves["whitened"][SHIFT]
    zca = moments.autocorrelation(zca_filters(patch_pca(images, 3)))[SHIFT]
    record(
        dataset=scale.dataset,
        paper="random ~ RGB (> 0.5); perfect whitening ~ 0",
        details={
            "C10 RGB": rgb,
            "C10 random (mean)": float(rand.mean()),
            "C10 perfect whitening": white,
            "C10 3x3 ZCA bank": zca,
        },
        figures=[figure(curves, {})],
    )
    verdict = checks.whitening_references(rand, rgb, white, cfg["max_random_gap"], cfg["max_whitened"])
    control = checks.whitening_references(rand, rgb, rgb, cfg["max_random_gap"], cfg["max_whitened"])
    conclude(
        verdict, {"the images themselves in place of their whitening" + STRUCTURED: control}, main=verdict.conditions[0]
    )


@pytest.mark.claim("whitening")
@pytest.mark.parametrize("models", ["vgg11-bn-probable", "mobilenet-stand-ins"])  # PRETRAINED_GROUPS
def test_whitening_imagenet(datasets, scale, models, record, conclude):
    """Fig. 6, ImageNet panel: first layers trained on ImageNet decorrelate ImageNet images
    (tiny-imagenet-10, 64x64, standardised per channel) below RGB and below random banks of
    their own shapes, at 10 pixels (at 64 px rather than the paper's 224: a longer distance in
    the scene). The float VGG11-BN layer (probably torchvision's) is one model: its value is
    shown, too few for an interval; the 8-bit MobileNet stand-ins are three."""
    train = datasets.split("tiny-imagenet-10")
    x, _ = normalise(subset(train, scale.whitening_images, seed=1).pixels, normalise(train.pixels)[1])
    banks = datasets.pretrained_group(models)  # Table 3 IMAGENET's layers
    found = decorrelation(x, banks, scale.random_init_seeds)  # as firstlayer inspect measures
    rgb, learned = found.rgb, found.banks
    rand_c10 = [float(found.random[name][SHIFT]) for name in banks]
    ratio = paper("whitening")["max_learned_ratio"]
    widest = max(banks, key=lambda name: banks[name].shape[0])
    curves = {
        "RGB": rgb,
        "random": found.random_curves[widest],
        "whitened": autocorrelation(spectral_whitening(x), max_shift=SHIFT),
    }
    record(
        dataset="ImageNet (tiny-imagenet-10)",
        data_source=f"{train.source}; pretrained/ ({models})",
        device="cpu",
        paper="~0.2 (RGB > 0.5), as the CIFAR-10 panel",
        details={
            "C10 RGB": float(rgb[SHIFT]),
            **{f"C10 {name}": float(c[SHIFT]) for name, c in learned.items()},
            "C10 random banks of the same shapes (mean)": rand_c10,
        },
        figures=[
            figure(curves, {name: c.tolist() for name, c in learned.items()}) | {"name": f"autocorrelation-{models}"}
        ],
    )
    c10 = [float(c[SHIFT]) for c in learned.values()]
    verdict = checks.whitening_pretrained(c10, rand_c10, float(rgb[SHIFT]), ratio)
    control = checks.whitening_pretrained(
        [float(found.random_c10[name][i]) for i, name in enumerate(banks)], rand_c10, float(rgb[SHIFT]), ratio
    )
    conclude(
        verdict, {"a random bank of each shape in place of the learned layer": control}, main=verdict.conditions[1]
    )


@pytest.mark.claim("whitening", runs=learned_runs)
def test_whitening_learned(curves, moments, trained, pca, datasets, scale, record, conclude):
    """Fig. 6: learned filters reduce C(10) well below RGB (paper ~0.2 vs > 0.5), lower than
    their init's, seed by seed. Also measured, for a documented deviation to name: the eq. 3
    fit of the learned profiles, C10 of eq. 3's bank at each fitted t, C10 of what training
    added (W - W_init) and the init's share of the layer's energy."""
    true = trained["true"]
    rgb = curves["RGB"][SHIFT]
    p = pca(true[0].spec)
    init = np.array([moments.autocorrelation(r.init)[SHIFT] for r in true])
    share = np.array([float(r.init.pow(2).sum() / r.final.pow(2).sum()) for r in true])

    def measure(layers):
        """C(delta) of each run's first layer ``layers`` (its W_init is the run's), and the
        numbers a documented deviation names."""
        learned = np.array([moments.autocorrelation(w) for w in layers])
        added = np.array([moments.autocorrelation(w - r.init)[SHIFT] for w, r in zip(layers, true, strict=True)])
        fits = [fit_formula_authors(moved_profile(w, r.init, p), p.lambdas) for w, r in zip(layers, true, strict=True)]
        predicted = [
            moments.autocorrelation(formula_bank(p, formula_profile(p.lambdas, f.t, f.eta)))[SHIFT] for f in fits
        ]
        measured = {
            "fit": float(np.mean([f.correlation for f in fits])),
            "predicted_ratio": float(np.mean(predicted) / rgb),
            "lowered": float(np.mean(init - learned[:, SHIFT])),
            "added_ratio": float(added.mean() / rgb),
        }
        return learned, measured

    moved = checks.moved(true, p, bar("init", scale.dataset))  # C(10) reads W itself: its premise

    def judged(layers):
        learned, measured = measure(layers)
        dev = judge.deviation("whitening", scale)
        ratio = paper("whitening")["max_learned_ratio"]
        return checks.whitening_learned(learned[:, SHIFT], init, rgb, ratio, moved, deviation=dev, measured=measured)

    learned, measured = measure([r.final for r in true])
    measured["init_share"] = float(share.mean())
    record(
        dataset=scale.dataset,
        paper="~0.2 (RGB > 0.5)",
        details={
            "C10 RGB": rgb,
            "C10 init, each seed": init.round(3).tolist(),
            "C10 learned, each seed": learned[:, SHIFT].round(3).tolist(),
            **measured,
        },
        figures=[figure(curves, {f"learned ({len(true)} seeds)": learned.mean(0).tolist()})],
    )
    if trained["sizes"]:
        images = [r.spec.images or len(datasets.split(scale.dataset)) for r in trained["sizes"]]
        c10 = [moments.autocorrelation(r.final)[SHIFT] for r in trained["sizes"]]
        row = record()
        row["details"]["C10 vs training images"] = {str(n): round(c, 3) for n, c in zip(images, c10, strict=True)}
        size = [series("learned (seed 0)", c10, x=images), series("RGB", [rgb] * len(images), x=images, style="dashed")]
        row["figures"].append(
            lines("size", "C(10) vs training-set size", size, xlabel="training images", ylabel="C(10)", logx=True)
        )
    controls = {
        NOISE: judged([noise_layer(r) for r in true]),
        "the init plus a smoothing change (3x3 box filters) of the learned change's norm" + STRUCTURED: judged(
            [smoothed(r) for r in true]
        ),
    }
    conclude(judged([r.final for r in true]), controls)


@pytest.mark.claim("theorem_4_3")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(50, 400))
def test_theorem_4_3_decorrelates_real_images(datasets, scale, seed, n, record):
    """Thm 4.3 as a property on real image patches (any subset of the scale's images): the bank
    with eq. 3's profile (Gram diagonal in the PCA basis, as the linear CNN's) decorrelates the
    images as t -> inf (profile 1/lambda): at every distance delta = 1..10 its C(delta) is below
    the t = 1 bank's, and C(10) falls to at most 0.4 x RGB's. Could fail: 3x3 filters whiten
    only 3x3 neighbourhoods. Control: a smoothing bank (3x3 box filters) in place of the limit.
    The largest rise of C(10) along t is reported: it need not fall monotonically."""
    train = subset(datasets.split(scale.dataset), n, seed=seed)
    x, stats = normalise(train.pixels)
    pca = patch_pca(train.pixels, 3, stats=stats)
    m = shift_moments(x, 3, SHIFT)
    ts = t_grid(pca.lambdas, points=40)
    c10 = [m.autocorrelation(formula_bank(pca, formula_profile(pca.lambdas, t)))[SHIFT] for t in ts]
    start = m.autocorrelation(formula_bank(pca, formula_profile(pca.lambdas, ts[0])))
    limit = m.autocorrelation(formula_bank(pca, 1 / pca.lambdas))
    rgb = autocorrelation(x, max_shift=SHIFT)
    ratio = paper("theorem_4_3")["max_ratio"]
    verdict = checks.theorem_4_3(limit, start, rgb, ratio, SHIFT)
    control = checks.theorem_4_3(m.autocorrelation(smoothing_bank()), start, rgb, ratio, SHIFT)
    worst = max(limit[SHIFT] / rgb[SHIFT], record().get("measured") or 0.0)  # the row reports the worst example
    gap = float(np.max(limit[1:] - start[1:]))
    rise = max(float(np.max(np.diff(c10))), record().get("details", {}).get("largest rise of C10 along t", 0.0))
    record(
        dataset=scale.dataset,
        measured=worst,
        threshold=f"C(delta) at t -> inf < at t = 1, delta 1..{SHIFT}; C10 / RGB's <= {ratio} (every example)",
        details={
            "C(delta) RGB, delta = 0..10 (last example)": [round(float(v), 3) for v in rgb],
            "C(delta) at t = 1, delta = 0..10 (last example)": [round(float(v), 3) for v in start],
            "C(delta) at t -> inf, delta = 0..10 (last example)": [round(float(v), 3) for v in limit],
            "largest C(delta)(t -> inf) - C(delta)(t = 1) over delta = 1..10 (worst example)": max(
                gap,
                record()
                .get("details", {})
                .get("largest C(delta)(t -> inf) - C(delta)(t = 1) over delta = 1..10 (worst example)", -1.0),
            ),
            "largest rise of C10 along t": rise,
        },
    )
    assert verdict.passed, verdict.reason
    property_control(
        record, "a smoothing bank (3x3 box filters) in place of eq. 3's t -> inf limit" + STRUCTURED, control
    )
