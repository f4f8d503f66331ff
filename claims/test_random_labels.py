"""Table 2 / Fig. 3: VGG11 trained with random labels learns the same first-layer profile as
with true labels, and it is far from the initialisation. Judged by the stop rule (from
``converged_steps``): at the first stop at which the random-label nets have memorised their
training set (a premise the check verifies)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.config.paper import bar
from harness.measures.figures import band, profile_figure
from harness.measures.nulls import agreement_null
from harness.measures.onset import along, onset_figure
from harness.measures.profiles import beyond_lambda, profile, representation, vs_lambda
from harness.measures.spectra import correlation, energy_profile
from harness.verdicts import checks, stats
from harness.verdicts.checks import guard, learned_shape, memorised
from harness.verdicts.controls import WITH_INIT, profile_controls, with_init

pytestmark = [pytest.mark.slow]


def random_label_runs(s, dataset):
    return {
        "true": s.seeds(s.table2_seeds, dataset=dataset, steps=s.converged_steps),
        "random": s.seeds(s.table2_seeds, dataset=dataset, labels="random", steps=s.converged_steps),
    }


@pytest.mark.claim("random_labels", runs=random_label_runs, converge=True)
def test_random_labels(trained, pca, scale, dataset, record, conclude):
    """Table 2 TRUE VS RANDOM: true ~ random (paper 0.90 ± 0.02 on CIFAR-10)."""
    true, rand = trained["true"], trained["random"]
    p = pca(true[0].spec)
    pt, pr = [profile(r, p) for r in true], [profile(r, p) for r in rand]
    pairs = list(itertools.product(pt, pr))
    record(
        details={
            "corr with lambda, true runs": [round(v, 3) for v in vs_lambda(pt, p)],
            "corr with lambda, random runs": [round(v, 3) for v in vs_lambda(pr, p)],
            "random-label train accuracy at the judged step": [r.evaluation["train_acc"] for r in rand],
            "agreement beyond lambda (partial corr | lambda, log lambda)": float(
                np.mean([beyond_lambda(a, b, p) for a, b in pairs])
            ),
            **agreement_null(pt, p, bar("random_labels", dataset)),
        },
        figures=[
            profile_figure(
                "profiles",
                "True vs random labels vs init (Fig. 3)",
                [
                    band("true labels", pt),
                    band("random labels", pr),
                    band("init", [energy_profile(r.init, p) for r in rand], "dashed"),
                ],
                p.lambdas,
            ),
            onset_figure(along({"true": true, "random": rand}, p), p, rand[0].spec.steps),
        ],
    )

    def judged(true, random):
        pairs = stats.between(true, random, correlation, ("true", "random"))
        every = true + random
        return checks.random_labels(
            pairs, guard(every, p), learned_shape(every, p, scale), memorised(rand), bar("random_labels", dataset)
        )

    conclude(judged(pt, pr), profile_controls(judged, p, true=true, random=rand))


@pytest.mark.claim("random_labels_init", runs=random_label_runs, converge=True)
def test_random_labels_init(trained, pca, scale, dataset, record, conclude):
    """Table 2 RANDOM V INIT: the random-label profile vs its init's (paper 0.03 ± 0.22), past
    the trivial point and shaped (as Table 1's TRAINED VS INIT)."""
    rand = trained["random"]
    p = pca(rand[0].spec)
    pr = [profile(r, p) for r in rand]
    inits = [energy_profile(r.init, p) for r in rand]
    signed = [correlation(e, i) for e, i in zip(pr, inits, strict=True)]
    record(
        details={
            "random ~ init (signed), each seed": [round(c, 3) for c in signed],
            "random ~ init (signed), mean": round(float(np.mean(signed)), 3),
            **representation(rand, p),
        }
    )
    limit = bar("random_labels_init", dataset)
    moved = checks.moved(rand, p, limit)

    def judged(random):
        corr = stats.over_runs([abs(correlation(e, i)) for e, i in zip(random, inits, strict=True)], correlation=True)
        return checks.random_labels_init(
            corr, guard(random, p), learned_shape(random, p, scale), memorised(rand), limit, moved
        )

    verdict = judged(pr)
    controls = profile_controls(judged, p, random=rand)
    controls[WITH_INIT] = judged(with_init(rand, inits, p))
    conclude(verdict, controls, main=verdict.conditions[3])
