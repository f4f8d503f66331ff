"""Shared steps of the claim modules: the energy profile of a run, the trivial-profile guard,
known deviations per scale, and the report's figure specs."""
from __future__ import annotations

import numpy as np
import pytest

from harness.data import DatasetNotFound
from harness.scales import paper
from harness.spectra import correlation, energy_profile


def profile(run, pca, step: int | None = None) -> np.ndarray:
    """Energy profile (Def. 2.2) of W(step) - W_init, as the authors' code measures it."""
    return energy_profile(run.weights[step if step is not None else run.spec.steps], pca, init=run.init)


def vs_lambda(profiles, pca) -> float:
    """The largest correlation of any profile with the patch profile lambda (Def. 4.1)."""
    return max(correlation(p, pca.lambdas) for p in profiles)


def guard(profiles, pca) -> float:
    """The largest correlation of any profile with the patch profile lambda: early in training
    every W - W_init profile is ~lambda (eq. 3 at small t), so agreement is free there. A claim
    resting on profile correlations must first show this is <= the guard bar."""
    bar = paper("guard")["max_vs_lambda"]
    worst = vs_lambda(profiles, pca)
    assert worst <= bar, (f"profiles still match lambda (corr {worst:.3f} > {bar}): the runs are too "
                          f"short for the correlation to mean anything; train longer (scale table)")
    return worst


def mean_sd(values) -> tuple[float, float | None]:
    v = np.asarray(values, float)
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None)


def known_deviation(request, claim: str, scale_name: str, key: str = "", measured: str = "") -> None:
    """Mark the test xfail(strict) where fixtures/paper.toml documents that the paper's
    statement does not hold at this scale (``[<claim>.deviates.<scale>]``, optionally per
    ``key``): the report shows DEVIATES with the measured numbers, and a pass (the deviation
    gone) fails loudly."""
    reason = paper(claim).get("deviates", {}).get(scale_name)
    if isinstance(reason, dict):
        reason = reason.get(key)
    if reason:
        text = f"{reason} Measured: {measured}" if measured else reason
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=text))


def get_or_skip(runs, spec):
    """The cached run; skip with the loader's line when the dataset is not present."""
    try:
        return runs.get(spec)
    except DatasetNotFound as exc:
        pytest.skip(str(exc))


def lines(name, title, series, xlabel="PCA component", ylabel="normalised energy", logy=False, logx=False):
    """A generic line figure for the report (harness.report draws it)."""
    return {"kind": "lines", "name": name, "title": title, "xlabel": xlabel, "ylabel": ylabel,
            "logy": logy, "logx": logx, "series": series}


def band(label, profiles, style=None):
    """Mean +- sd of profiles over seeds, as a report series (Fig. 1/3 style)."""
    p = np.asarray(profiles, float)
    return {"label": label, "x": list(range(p.shape[1])), "y": p.mean(0).tolist(),
            "sd": p.std(0).tolist() if len(p) > 1 else None, "style": style}
