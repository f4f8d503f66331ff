"""Figure specs (``harness.measures.figures``) drawn as PNGs; the colours and style every
report figure shares."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from harness.report.words import slug

HISTORY = "(history)"  # the key of the history figure among a report's figures
COLOURS = {
    "PASS": "#2e7d32",
    "FAIL": "#c62828",
    "DEVIATES": "#ef8f00",
    "INCONCLUSIVE": "#6a5acd",
    "SKIP": "#888888",
    "ERROR": "#000000",
}


STYLE = {  # clean, paper-like, readable at page width
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.5,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
}


def _lines(ax, f: dict) -> None:
    for s in f["series"]:
        x, y = np.asarray(s["x"], float), np.asarray(s["y"], float)
        style = s.get("style") or "solid"
        (line,) = ax.plot(x, y, linestyle=style, label=s.get("label") or None, color=s.get("colour"))
        if s.get("sd") is not None:
            sd = np.asarray(s["sd"], float)
            ax.fill_between(x, y - sd, y + sd, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xscale("log" if f.get("logx") else "linear")
    ax.set_yscale("log" if f.get("logy") else "linear")
    if any(s.get("label") for s in f["series"]):
        ax.legend(frameon=False)


def _heatmap(ax, f: dict) -> None:
    a = np.asarray(f["matrix"], float)
    m = float(np.nanmax(np.abs(a))) if a.size else 0.0
    lo = -(m or 1.0) if f.get("vmin") is None else f["vmin"]
    hi = (m or 1.0) if f.get("vmax") is None else f["vmax"]
    im = ax.imshow(
        a, cmap="RdBu_r" if lo < 0 < hi else "viridis", vmin=lo, vmax=hi, aspect="auto", interpolation="nearest"
    )
    ax.figure.colorbar(im, ax=ax)
    ax.set_yticks(range(len(f.get("rows") or [])), f.get("rows") or [])
    cols = f.get("cols") or []
    if cols:
        every = max(1, math.ceil(len(cols) / 28))  # at most ~28 labels: 147 columns do not smear
        ticks = list(range(0, len(cols), every))
        ax.set_xticks(ticks, [cols[i] for i in ticks], rotation=90 if every > 1 else 0)
    ax.grid(False)


def plot(f: dict, path: Path) -> Path:
    """Draw one figure dict (kind ``lines`` or ``heatmap``) to a PNG."""
    draw = {"lines": _lines, "heatmap": _heatmap}[f["kind"]]
    rows = len(f.get("rows") or [])
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(6.4, 4.2 if f["kind"] == "lines" else max(3.0, 1.2 + 0.32 * rows)))
        ax = fig.add_subplot()
        draw(ax, f)
        ax.set(title=f.get("title", ""), xlabel=f.get("xlabel", ""), ylabel=f.get("ylabel", ""))
        fig.savefig(path)
    return path


def render_figures(claims: list[dict], fig_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    """{claim id: [(title, png path), ...]}; a malformed figure becomes a warning, not a crash."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[tuple[str, Path]]] = {}
    for c in claims:
        for f in c.get("figures") or []:
            path = fig_dir / f"{slug(c['id'])}-{slug(f.get('name', 'figure'))}.png"
            try:
                out.setdefault(c["id"], []).append((f.get("title", ""), plot(f, path)))
            except (KeyError, TypeError, ValueError) as e:
                print(f"report: figure {path.name} skipped: {e!r}", file=sys.stderr)
    return out
