"""When does a claim start to hold: a claim's measures along its runs' trajectories (the
first layer is saved every few steps), so a reader sees that the verdict was taken after the
runs converged and left the trivial regime, not before (issue: no paper shows this curve)."""

from __future__ import annotations

import itertools

import numpy as np

from harness.measures.figures import lines, series
from harness.measures.spectra import correlation, energy_profile
from harness.measures.theory import fit_formula, trivial_bar


def along(runs: dict, pca, points: int = 24) -> dict:
    """At steps common to every run (up to ``points`` of them, log-spaced): the largest corr
    with lambda (the guard), the mean formula fit of each group of ``runs`` (name -> runs),
    the mean agreement of the first two groups, and the last group's running train accuracy
    (the random-label nets whose memorisation is the premise)."""
    groups = list(runs.items())
    every = [r for _, rs in groups for r in rs]
    common = sorted(set.intersection(*(set(r.weights) for r in every)) - {0})
    idx = np.unique(np.geomspace(1, len(common), min(points, len(common))).astype(int) - 1)
    steps = [common[i] for i in idx]
    names = [name for name, _ in groups]
    pair = f"{names[0]} ~ {names[1]}" if len(groups) > 1 else None
    out = {"step": steps, "guard": [], **({pair: []} if pair else {})}
    out |= {f"formula fit ({name})": [] for name in names}
    last = f"train accuracy ({names[-1]})"
    out[last] = []
    accuracy = {h["step"]: h["train_acc"] for h in groups[-1][1][0].history}
    for step in steps:
        profiles = {name: [energy_profile(r.weights[step], pca, init=r.init) for r in rs] for name, rs in groups}
        out["guard"].append(max(correlation(e, pca.lambdas) for ps in profiles.values() for e in ps))
        if pair:
            a, b = profiles[names[0]], profiles[names[1]]
            out[pair].append(float(np.mean([correlation(x, y) for x, y in itertools.product(a, b)])))
        for name, ps in profiles.items():
            out[f"formula fit ({name})"].append(float(np.mean([fit_formula(e, pca.lambdas).correlation for e in ps])))
        near = [s for s in accuracy if s <= step]
        out[last].append(accuracy[max(near)] if near else float("nan"))
    return out


def onset_figure(curves: dict, pca, judged: int) -> dict:
    """The curves of ``along`` against step (log x), with the guard's bar and the judged step."""
    x = curves["step"]
    out = [series(k, v, x=x) for k, v in curves.items() if k != "step"]
    out.append(series("guard bar (eq. 3)", [trivial_bar(pca.lambdas)] * len(x), x=x, style="dotted"))
    out.append(series(f"judged at step {judged}", [0, 1], x=[judged, judged], style="dashed"))
    return lines("onset", "When does the claim start to hold", out, xlabel="training step", ylabel="value", logx=True)
