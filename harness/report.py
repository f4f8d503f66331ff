"""Render a ``results.json`` (written by the claims' pytest plugin) as a report, and diff two.

``build`` writes ``results.json``, ``report.md``, a self-contained ``report.html`` and
``figures/*.png`` into a folder; ``compare`` lists the claims whose verdict or measured
value changed between two runs. The report knows no claim: figures come in two generic
kinds, ``lines`` and ``heatmap``.

CLI::

    python -m harness.report [--results reports/results.json] [--out reports]
    python -m harness.report --compare OLD.json NEW.json   # exit 1 if a verdict flipped
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import re
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

TITLE = "firstlayer: the paper's findings, re-measured"
VERDICTS = ("PASS", "FAIL", "DEVIATES", "SKIP")
META = ("commit", "date", "torch", "python", "scale", "device", "wall_s", "command")
STYLE = {  # small, clean, paper-like
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.3,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
}
CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1200px;margin:auto;padding:1em 2em;background:#fff}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left;
overflow-wrap:anywhere}
th{background:#eee}
code{font-size:12px;color:#555}
.v{font-weight:bold;padding:1px 6px;border-radius:3px;color:#fff;white-space:nowrap}
table.claims td:nth-child(5),table.claims td:nth-child(7){white-space:nowrap}
table.claims td:nth-child(3){max-width:16em}
.v-PASS{background:#2e7d32}.v-FAIL{background:#c62828}
.v-DEVIATES{background:#ef8f00}.v-SKIP{background:#888}
.claim{border-top:1px solid #ddd;margin-top:1.5em}
img{max-width:100%;margin:4px 8px 4px 0}
"""


class InputError(Exception):
    """A results file that is missing or unreadable."""


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "x"


def num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.3f}" if 1e-3 <= abs(v) < 1e3 else f"{v:.3g}"
    return str(v)


def fmt_measured(c: dict) -> str:
    m, sd, n = c.get("measured"), c.get("sd"), c.get("n")
    if m is None or sd is None:
        return num(m)
    return f"{num(m)} ± {num(sd)}" + (f" (n={n})" if n is not None else "")


# ---------------------------------------------------------------- figures


def _lines(ax, f: dict) -> None:
    for s in f["series"]:
        x, y = np.asarray(s["x"], float), np.asarray(s["y"], float)
        (line,) = ax.plot(x, y, linestyle=s.get("style") or "solid", label=s.get("label"))
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
    if f.get("cols"):
        ax.set_xticks(range(len(f["cols"])), f["cols"], rotation=45, ha="right")
    ax.grid(False)


def plot(f: dict, path: Path) -> Path:
    """Draw one figure dict (kind ``lines`` or ``heatmap``) to a PNG."""
    draw = {"lines": _lines, "heatmap": _heatmap}[f["kind"]]
    rows = len(f.get("rows") or [])
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(4.2, 3.0 if f["kind"] == "lines" else max(2.0, 0.8 + 0.22 * rows)))
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


# ---------------------------------------------------------------- table


def table(claims: list[dict]) -> pd.DataFrame:
    """One row per claim, display strings, input order."""

    def dataset(c):
        src = c.get("data_source")
        return f"{c.get('dataset', '')} ({src})" if src else c.get("dataset", "")

    return pd.DataFrame(
        {
            "id": [c["id"] for c in claims],
            "Claim": [c.get("title", "") for c in claims],
            "Source": [c.get("source", "") for c in claims],
            "Dataset": [dataset(c) for c in claims],
            "Paper": [str(c.get("paper", "")) for c in claims],
            "Measured": [fmt_measured(c) for c in claims],
            "Threshold": [c.get("threshold", "") for c in claims],
            "Verdict": [c.get("verdict", "") for c in claims],
            "Reason": [c.get("reason", "") or "" for c in claims],
        },
        dtype=str,
    )


def summary(claims: list[dict]) -> str:
    counts = Counter(c.get("verdict") for c in claims)
    keys = list(VERDICTS) + sorted(k for k in counts if k not in VERDICTS and k)
    return f"{len(claims)} claims: " + ", ".join(f"{counts[k]} {k}" for k in keys)


def header(meta: dict) -> list[tuple[str, str]]:
    def val(k):
        v = meta.get(k)
        if k == "wall_s" and isinstance(v, (int, float)):
            return str(timedelta(seconds=round(v)))
        return "?" if v is None else str(v)

    return [("wall time" if k == "wall_s" else k, val(k)) for k in META]


def details(c: dict) -> list[tuple[str, str]]:
    return [(str(k), num(v)) for k, v in (c.get("details") or {}).items()]


# ---------------------------------------------------------------- markdown


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", "<br>")


def to_markdown(results: dict, figs: dict, out_dir: Path) -> str:
    claims, df = results["claims"], table(results["claims"])
    df["Claim"] = df["Claim"] + " (`" + df.pop("id") + "`)"
    df["Verdict"] = "**" + df["Verdict"] + "**"
    lines = [f"# {TITLE}", ""]
    lines += [f"- **{k}**: {_md_cell(v)}" for k, v in header(results.get("meta") or {})]
    lines += ["", f"**{summary(claims)}**", "", "## Claims", ""]
    lines += ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in df.itertuples(index=False)]
    lines += ["", "## Details"]
    for c in claims:
        lines += [
            "",
            f"### {c.get('title', '')} — `{c['id']}`",
            "",
            f"{c.get('source', '')} · **{c.get('verdict', '')}** · "
            f"{c.get('seconds', 0) or 0:.0f} s on {c.get('device', '?')} ({c.get('scale', '?')})",
            "",
        ]
        lines += [f"- {k}: {v}" for k, v in details(c)] + [""]
        lines += [f"![{t}]({p.relative_to(out_dir).as_posix()})" for t, p in figs.get(c["id"], [])]
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in results["notes"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- html


def _img(title: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


def to_html(results: dict, figs: dict) -> str:
    e = html.escape
    claims, df = results["claims"], table(results["claims"])
    df = df.apply(lambda col: col.map(e))
    df["Claim"] = '<a href="#' + df["id"].map(slug) + '">' + df["Claim"] + "</a><br><code>" + df.pop("id") + "</code>"
    df["Verdict"] = '<span class="v v-' + df["Verdict"] + '">' + df["Verdict"] + "</span>"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(TITLE)}</title>",
        f"<style>{CSS}</style></head><body><main><h1>{e(TITLE)}</h1><ul>",
    ]
    parts += [f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in header(results.get("meta") or {})]
    parts += [
        f"</ul><p><b>{e(summary(claims))}</b></p><h2>Claims</h2>",
        df.to_html(index=False, escape=False, border=0, classes="claims"),
        "<h2>Details</h2>",
    ]
    for c in claims:
        parts += [
            f'<section class="claim" id="{slug(c["id"])}"><h3>{e(c.get("title", ""))} <code>{e(c["id"])}</code></h3>',
            f"<p>{e(c.get('source', ''))} · <span class='v v-{e(c.get('verdict', ''))}'>"
            f"{e(c.get('verdict', ''))}</span></p><ul>",
        ]
        parts += [f"<li>{e(k)}: {e(v)}</li>" for k, v in details(c)]
        parts += ["</ul>"] + [_img(t, p) for t, p in figs.get(c["id"], [])] + ["</section>"]
    if results.get("notes"):
        parts += ["<h2>Notes</h2><ul>"] + [f"<li>{e(n)}</li>" for n in results["notes"]] + ["</ul>"]
    return "\n".join([*parts, "</main></body></html>"])


# ---------------------------------------------------------------- api


def build(results: dict, out_dir) -> dict:
    """Write results.json, report.md, report.html and figures/ into out_dir; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = render_figures(results["claims"], out / "figures")
    paths = {"results": out / "results.json", "markdown": out / "report.md", "html": out / "report.html"}
    paths["results"].write_text(json.dumps(results, indent=2) + "\n")
    paths["markdown"].write_text(to_markdown(results, figs, out), encoding="utf-8")
    paths["html"].write_text(to_html(results, figs), encoding="utf-8")
    paths["figures"] = [p for fl in figs.values() for _, p in fl]
    return paths


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def compare(old: dict, new: dict) -> list[dict]:
    """Claims whose verdict or measured value changed between two results dicts.

    ``flipped``: the verdict differs; a claim present on one side only counts as flipped
    when that side is PASS.
    """
    o = {c["id"]: c for c in old.get("claims", [])}
    n = {c["id"]: c for c in new.get("claims", [])}
    rows = []
    for cid in list(o) + [k for k in n if k not in o]:
        a, b = o.get(cid, {}), n.get(cid, {})
        va, vb = a.get("verdict"), b.get("verdict")
        ma, mb = a.get("measured"), b.get("measured")
        if va == vb and _same(ma, mb):
            continue
        flipped = va != vb if (a and b) else "PASS" in (va, vb)
        rows.append({"id": cid, "old": va, "new": vb, "old_measured": ma, "new_measured": mb, "flipped": flipped})
    return rows


def load(path) -> dict:
    """Read a results.json; InputError on a missing, unreadable or malformed file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read results file {path}: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise InputError(f"{path}: not a results file (no 'claims' list)")
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.split("\n")[0])
    ap.add_argument("--results", default="reports/results.json", help="results.json to render")
    ap.add_argument("--out", default="reports", help="folder to write the report into")
    ap.add_argument(
        "--compare", nargs=2, metavar=("OLD", "NEW"), help="diff two results.json; exit 1 if a verdict flipped"
    )
    args = ap.parse_args(argv)
    try:
        if args.compare:
            rows = compare(load(args.compare[0]), load(args.compare[1]))
            print(pd.DataFrame(rows).to_string(index=False) if rows else "no changes")
            flips = sum(r["flipped"] for r in rows)
            print(f"flipped: {flips}")
            return 1 if flips else 0
        paths = build(load(args.results), args.out)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in [paths["results"], paths["markdown"], paths["html"], *paths["figures"]]:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
