"""Figure specs for the report: plain dicts of series that ``harness.report`` draws. Claims
build them here, so no claim writes a series dict by hand."""

from __future__ import annotations

import numpy as np


def lines(name, title, series, xlabel="PCA component", ylabel="normalised energy", logy=False, logx=False) -> dict:
    """A line figure: each series is a dict made by ``series`` or ``band``."""
    return {
        "kind": "lines",
        "name": name,
        "title": title,
        "xlabel": xlabel,
        "ylabel": ylabel,
        "logy": logy,
        "logx": logx,
        "series": series,
    }


def profile_figure(name, title, series_, lambdas, size: int = 3) -> dict:
    """An energy-profile figure (Fig. 1 / 3): each series over the PCA components of ``size`` x
    ``size`` patches, with lambda (the square roots of the patch eigenvalues: the trivial profile
    eq. 3 starts from) dotted for reference; every curve divided by its largest component."""
    lam = np.asarray(lambdas, float)
    trivial = series("lambda (the trivial profile)", lam / lam.max(), style="dotted", colour="grey")
    return lines(
        name,
        title,
        [*series_, trivial],
        xlabel=f"PCA component of {size}x{size} patches (largest eigenvalue first)",
        ylabel="energy / its largest component",
    )


def series(label, y, x=None, sd=None, style=None, colour=None) -> dict:
    """One line; ``x`` defaults to 0..len(y)-1; ``sd`` draws a band; ``colour`` pairs lines
    that belong together (a seed and its fit)."""
    y = [float(v) for v in y]
    return {
        "label": label,
        "x": list(range(len(y))) if x is None else [float(v) for v in x],
        "y": y,
        "sd": None if sd is None else [float(v) for v in sd],
        "style": style,
        "colour": colour,
    }


def band(label, profiles, style=None, x=None) -> dict:
    """Mean +- sd of profiles (or curves) over seeds (Fig. 1/3 style)."""
    p = np.asarray(profiles, float)
    return series(label, p.mean(0), x=x, sd=p.std(0) if len(p) > 1 else None, style=style)


def heatmap(name, title, matrix, rows, cols=None, xlabel="PCA component", ylabel="class", vmin=-0.5, vmax=0.5) -> dict:
    m = np.asarray(matrix, float)
    return {
        "kind": "heatmap",
        "name": name,
        "title": title,
        "xlabel": xlabel,
        "ylabel": ylabel,
        "rows": list(rows),
        "cols": list(cols) if cols is not None else [str(i) for i in range(m.shape[1])],
        "matrix": m.tolist(),
        "vmin": vmin,
        "vmax": vmax,
    }
