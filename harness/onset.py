"""When does a claim start to hold: a claim's measures along its runs' trajectories (the
first layer is saved every few steps), so a reader sees that the verdict was taken after the
runs converged and left the trivial regime, not before (issue: no paper shows this curve)."""

from __future__ import annotations

import itertools

import numpy as np

from .figures import lines, series
from .spectra import correlation, energy_profile
from .theory import fit_formula, trivial_bar


def along(true, rand, pca, points: int = 24) -> dict:
    """At steps common to every run (up to ``points`` of them, log-spaced): the largest corr
    with lambda (the guard), the mean true ~ random correlation, the mean formula fit of the
    true runs, and the random runs' running train accuracy."""
    common = sorted(set.intersection(*(set(r.weights) for r in true + rand)) - {0})
    idx = np.unique(np.geomspace(1, len(common), min(points, len(common))).astype(int) - 1)
    steps = [common[i] for i in idx]
    out = {"step": steps, "guard": [], "true ~ random": [], "formula fit (true)": [], "train accuracy (random)": []}
    accuracy = {h["step"]: h["train_acc"] for h in rand[0].history}
    for step in steps:
        pt = [energy_profile(r.weights[step], pca, init=r.init) for r in true]
        pr = [energy_profile(r.weights[step], pca, init=r.init) for r in rand]
        out["guard"].append(max(correlation(e, pca.lambdas) for e in pt + pr))
        out["true ~ random"].append(float(np.mean([correlation(a, b) for a, b in itertools.product(pt, pr)])))
        out["formula fit (true)"].append(float(np.mean([fit_formula(e, pca.lambdas).correlation for e in pt])))
        near = [s for s in accuracy if s <= step]
        out["train accuracy (random)"].append(accuracy[max(near)] if near else float("nan"))
    return out


def onset_figure(curves: dict, pca, judged: int) -> dict:
    """The curves of ``along`` against step (log x), with the guard's bar and the judged step."""
    x = curves["step"]
    out = [series(k, v, x=x) for k, v in curves.items() if k != "step"]
    out.append(series("guard bar (eq. 3)", [trivial_bar(pca.lambdas)] * len(x), x=x, style="dotted"))
    out.append(series(f"judged at step {judged}", [0, 1], x=[judged, judged], style="dashed"))
    return lines("onset", "When does the claim start to hold", out, xlabel="training step", ylabel="value", logx=True)
