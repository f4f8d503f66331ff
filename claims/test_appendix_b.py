"""Appendix B (Fig. 9-13): first layers learn one energy profile across datasets and models.

- Fig. 9: ResNets trained on different datasets "all learn highly consistent energy profiles":
  ResNet-18 on each dataset of the scale, each profile over its own dataset's patch PCA (as
  Fig. 1 draws them), every pair of datasets judged;
- Fig. 10 / 11: models trained on ImageNet, 7x7 and 3x3 first layers, "highly consistent yet
  differ from initialization": torchvision's 7x7 models when all their weights are cached, and the
  3x3 layers beside the data root (8-bit MobileNet stand-ins and the probable VGG11-BN), over
  tiny-imagenet-10's patch PCA, measured by ``firstlayer inspect``'s ``analyse``;
- Fig. 12 / 13 (different models on CIFAR-100 / CIFAR-10) are Table 1's VGG VS RESNET rows.

"Highly consistent" prints no number: the bar is the lowest agreement of different models the
paper prints and calls consistent, Table 1 VGG VS RESNET on CIFAR-100 (0.80), by the rule.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from harness.config.paper import bar
from harness.measures.figures import band, profile_figure, series
from harness.measures.layers import analyse
from harness.measures.nulls import agreement_null
from harness.measures.profiles import beyond_lambda, profile, random_profiles
from harness.measures.spectra import correlation
from harness.plugin.state import SCALE, parametrize_across
from harness.verdicts import checks, stats
from harness.verdicts.checks import guard, learned_shape, shaped
from harness.verdicts.controls import bank_controls, profile_controls

pytestmark = [pytest.mark.slow]

IMAGENET_7X7 = ("resnet18", "resnet50", "googlenet", "densenet121")  # Fig. 10: torchvision's 7x7 stems


def pytest_generate_tests(metafunc):
    parametrize_across(metafunc, "across", metafunc.config.stash[SCALE].datasets)  # Fig. 9: two datasets at least


def across_runs(s, across):
    """ResNet-18 on each dataset, as Table 1's VGG VS RESNET trains it."""
    return {
        d: s.seeds(s.resnet_seeds, model=s.resnet, width=s.resnet_width, steps=s.resnet_steps, dataset=d)
        for d in across
    }


@pytest.mark.claim("consistency_datasets", runs=across_runs)
def test_resnet_across_datasets(trained, pca, scale, across, record, conclude):
    """Fig. 9: ResNet-18's profiles agree between datasets (each dataset pair over runs)."""
    pcas = {d: pca(trained[d][0].spec) for d in across}
    profiles = {d: [profile(r, pcas[d]) for r in trained[d]] for d in across}
    record(
        dataset=", ".join(across),
        details={
            **agreement_null(profiles[across[0]], pcas[across[0]], bar("consistency_datasets")),
            "agreement beyond lambda (partial corr | lambda, log lambda), in the first dataset's PCA": float(
                np.mean(
                    [
                        beyond_lambda(x, y, pcas[across[0]])
                        for a, b in itertools.combinations(across, 2)
                        for x in profiles[a]
                        for y in profiles[b]
                    ]
                )
            ),
        },
        figures=[
            profile_figure(
                "profiles",
                "ResNet-18 on each dataset (Fig. 9), each over its own patch PCA",
                [band(d, profiles[d]) for d in across],
                pcas[across[0]].lambdas,
            )
        ],
    )

    def judged(**by_dataset):
        pairs = {
            f"{a} ~ {b}": stats.between(by_dataset[a], by_dataset[b], correlation, (a, b))
            for a, b in itertools.combinations(across, 2)
        }
        shape = [
            replace(c, what=f"{d}: {c.what}")
            for d in across
            for c in (guard(by_dataset[d], pcas[d]), learned_shape(by_dataset[d], pcas[d], scale))
        ]
        return checks.consistency(pairs, shape, bar("consistency_datasets"))

    verdict = judged(**profiles)
    controls = profile_controls(judged, pcas, **{d: trained[d] for d in across})
    conclude(verdict, controls, main=min(verdict.conditions[2 * len(across) :], key=lambda c: c.estimate.value))


@pytest.mark.claim("consistency_imagenet")
@pytest.mark.parametrize("models", ["torchvision-7x7", "pretrained-3x3"])
def test_imagenet_models_agree(imagenet_pca, datasets, scale, models, record, conclude):
    """Fig. 10 / 11: ImageNet-trained first layers of different models agree with each other
    (pairs within the models, over models) and their profiles are shaped, unlike random banks."""
    pcas, source = imagenet_pca
    if models == "torchvision-7x7":
        banks = {name: datasets.torchvision_first_layer(name) for name in IMAGENET_7X7}
        where = "torchvision ImageNet weights"
    else:
        banks = {**datasets.pretrained_group("mobilenet-stand-ins"), **datasets.pretrained_group("vgg11-bn-probable")}
        where = "pretrained/ (8-bit MobileNet stand-ins and the float VGG11-BN layer, origin not proven)"
    p = pcas(next(iter(banks.values())).shape[-1])
    fewest = min(w.shape[0] for w in banks.values())  # filters of the smallest layer
    found = {name: analyse(w, p) for name, w in banks.items()}
    pair_values = {
        f"{a} ~ {b}": correlation(found[a].profile, found[b].profile) for a, b in itertools.combinations(banks, 2)
    }
    record(
        dataset=f"ImageNet ({models})",
        data_source=f"{where}; patch PCA of {source}",
        device="cpu",
        details={k: round(v, 3) for k, v in pair_values.items()}
        | agreement_null([a.profile for a in found.values()], p, bar("consistency_imagenet"))
        | {
            "agreement beyond lambda (partial corr | lambda, log lambda)": float(
                np.mean(
                    [beyond_lambda(found[a].profile, found[b].profile, p) for a, b in itertools.combinations(banks, 2)]
                )
            )
        },
        figures=[
            profile_figure(
                "profiles",
                f"ImageNet first layers ({models}, Fig. 10 / 11)",
                [series(name, a.profile) for name, a in found.items()],
                p.lambdas,
                p.size,
            )
        ],
    )

    def judged(banks):
        profiles = [analyse(w, p).profile for w in banks.values()]
        agree = stats.within(profiles, correlation, noun="models")
        null = random_profiles(p, scale.random_init_seeds, fewest)  # the noisiest random banks: the strictest null
        return checks.consistency({"model ~ model": agree}, [shaped(profiles, null)], bar("consistency_imagenet"))

    made = bank_controls(banks, lambda w: p, lambda w: analyse(w, p).profile, every_layer=False)
    conclude(judged(banks), {name: judged(b) for name, b in made.items()})
