"""Render a ``results.json`` (written by the claims' pytest plugin) as a report, and diff runs.

``build`` writes ``results.json``, ``report.md``, a self-contained ``report.html`` and
``figures/*.png`` into a folder: the findings first (``harness.scorecard``: one row per
finding of the paper with the paper's value, the measured value with its 95% interval and the
verdict; what could not be measured in one line; every claim against its bar in one figure),
then the run's metadata, the table of every claim, and a section per table and figure of the
paper with its figures and, where ``history.csv`` holds
past runs, each claim's trend. ``compare`` lists the claims whose verdict or value changed
between two runs. The report knows no claim: its order and sections come from
fixtures/paper.toml (through the results' meta), figures in two kinds, ``lines`` and ``heatmap``.

CLI::

    python -m harness.report                      # re-render reports/latest from its results.json
    python -m harness.report --results R.json --out DIR
    python -m harness.report --compare OLD NEW     # exit 1 if a verdict flipped; OLD or NEW may be
                                                   # history:<index | date | commit> (reports/history.csv)
    python -m harness.report --check R.json        # exit 1 on ERROR rows or no claims (CI)
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
from fractions import Fraction
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import glossary, history, scorecard
from .findings import findings
from .scales import ScaleError, bar_reading, paper, scale
from .sources import DIFFERS

TITLE = "firstlayer: the paper's findings, re-measured"
HISTORY = "(history)"  # the key of the history figure among a report's figures
VERDICTS = ("PASS", "FAIL", "DEVIATES", "INCONCLUSIVE", "SKIP", "ERROR")
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
CSS = (
    "body{font:15px/1.5 system-ui,sans-serif;color:#222;margin:0;background:#fafafa}"
    "main{max-width:1320px;margin:auto;padding:.5em 1.5em;background:#fff}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left;"
    "overflow-wrap:normal;word-break:normal;hyphens:manual}"
    "th{background:#eee}code{font-size:12px;color:#555}"
    "td.v,.val{white-space:nowrap}td.claim{min-width:14em}td.reason{min-width:18em}"
    ".v{font-weight:bold;padding:1px 6px;border-radius:3px;color:#fff;white-space:nowrap}"
    + "".join(f".v-{k}{{background:{c}}}" for k, c in COLOURS.items())
    + ".claim{border-top:1px solid #ddd;margin-top:1.5em}"
    "img{max-width:100%;margin:4px 8px 4px 0}.statement{color:#444;font-style:italic}"
    "h1{font-size:1.5em;margin:.3em 0}h2{margin:.6em 0 .3em}table.findings{table-layout:fixed}"
    "table.findings td{line-height:1.25;padding:2px 6px}table.findings small{color:#555}"
    ".missing{color:#555;font-size:13px}ul.meta{font-size:13px;color:#444}"
)


class InputError(Exception):
    """A results file that is missing or unreadable."""


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "x"


def num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.3f}" if 1e-3 <= abs(v) < 1e3 else f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(num(x) for x in v)
    return str(v)


def fmt_measured(c: dict) -> str:
    """Value [95% interval] (the runs it rests on), or why there is no value."""
    m = c.get("measured")
    if m is None:
        return {"SKIP": "not measured (skipped)", "ERROR": "not measured (crashed)"}.get(c.get("verdict"), "—")
    text = num(m)
    if c.get("interval"):
        lo, hi = c["interval"]
        text += f" [{num(lo)}, {num(hi)}]"
    if c.get("units"):
        text += f" ({c['units']}" + ("" if c.get("interval") else ": too few for an interval") + ")"
    elif (c.get("n") or 0) > 1:  # a row written before intervals counted runs
        text += f" (n={c['n']})"
    return text


def failed_on(c: dict) -> str:
    """For a FAIL whose shown value is not what failed: the failing conditions' names ('max corr
    with lambda (guard)'), else ''."""
    if c.get("verdict") != "FAIL" or c.get("measured") is None:
        return ""
    shown = num(c["measured"])
    failed = [
        t.removeprefix("FAIL: ")
        for t in c.get("conditions") or []
        if t.startswith("FAIL: ") and not t.endswith("(premise)")  # an unmet premise alone is INCONCLUSIVE
    ]
    if not failed or any(shown in t for t in failed):
        return ""
    return "; ".join(re.split(r" -?\d", t, maxsplit=1)[0] for t in failed)


def fmt_threshold(c: dict) -> str:
    return c.get("threshold") or {"SKIP": "—", "ERROR": "—"}.get(c.get("verdict"), "(no bar: reported only)")


def ordered(results: dict) -> list[dict]:
    """The claims in the paper's order (fixtures/paper.toml), ties in run order."""
    order = {f: i for i, f in enumerate((results.get("meta") or {}).get("order") or [])}
    return sorted(results["claims"], key=lambda c: order.get(c.get("claim"), len(order)))


def parts(claims: list[dict]) -> list[tuple[str, list[dict]]]:
    """The claims grouped by the part of the paper they come from, in order."""
    out: dict[str, list] = {}
    for c in claims:
        out.setdefault(c.get("part") or c.get("source") or "other", []).append(c)
    return list(out.items())


# ---------------------------------------------------------------- figures


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


# ---------------------------------------------------------------- table and header


MODEL_NAMES = {"vgg11": "VGG11", "vgg13": "VGG13", "vgg16": "VGG16", "vgg19": "VGG19", "resnet18": "ResNet-18"}


def models_of(c: dict) -> list[str]:
    """The models a row's runs trained, named as trained: 'VGG11 (width 1/4)' (the body's width
    from the row's scale: ``width`` for VGGs, ``resnet_width`` for ResNets)."""
    try:
        s = scale(str(c.get("scale", "")))
    except (ScaleError, KeyError):
        return []
    out = []
    for label in c.get("runs") or []:
        model = label.split(" ")[0]
        width = s.resnet_width if model.startswith("resnet") else s.width
        name = MODEL_NAMES.get(model, model)
        name += "" if width == 1 else f" (width {Fraction(width).limit_denominator(64)})"
        if name not in out:
            out.append(name)
    return out


def dataset_cell(c: dict) -> str:
    """The row's data and models as trained: 'cifar10 · VGG11 (width 1/4) · copy cifar10-jpeg'."""
    bits = [str(c.get("dataset", ""))]
    models = models_of(c)
    if models:
        bits.append(" vs ".join(models))
    copy = str(c.get("data_source", "")).split(" (")[0]
    if copy and copy not in bits[0] and not copy.endswith("/"):
        bits.append(f"copy {copy}")
    return " · ".join(b for b in bits if b)


def table(claims: list[dict]) -> pd.DataFrame:
    """One row per claim, display strings, in the given order."""
    return pd.DataFrame(
        {
            "id": [c["id"] for c in claims],
            "Claim": [c.get("title", "") for c in claims],
            "Part": [c.get("part") or c.get("source", "") for c in claims],
            "Dataset": [dataset_cell(c) for c in claims],
            "Paper": [str(c.get("paper", "")) for c in claims],
            "Measured": [fmt_measured(c) for c in claims],
            "Bar": [fmt_threshold(c) for c in claims],
            "Verdict": [c.get("verdict", "") for c in claims],
            "Reason": [
                scorecard.skip_short(c) if c.get("verdict") == "SKIP" else c.get("reason", "") or "" for c in claims
            ],
        },
        dtype=str,
    )


def summary(claims: list[dict]) -> str:
    counts = Counter(c.get("verdict") for c in claims)
    keys = list(VERDICTS) + sorted(k for k in counts if k not in VERDICTS and k)
    found = len({c.get("title", c["id"]) for c in claims})
    return f"{found} findings of the paper in {len(claims)} claims: " + ", ".join(f"{counts[k]} {k}" for k in keys)


def header(meta: dict) -> list[tuple[str, str]]:
    """The run's metadata, in words."""
    out = []
    commit = meta.get("commit", "?") + (" (uncommitted changes)" if meta.get("dirty") else "")
    out.append(("commit", commit))
    out.append(("date", str(meta.get("date", "?"))))
    scale = str(meta.get("scale", "?"))
    if meta.get("judged") is False:
        scale += " (not judged: this scale exercises the code paths, its verdicts are not meaningful)"
    out.append(("scale", scale))
    out.append(("device", str(meta.get("device", "?"))))
    out.append(
        (
            "versions",
            f"torch {meta.get('torch', '?')}, torchvision {meta.get('torchvision', '?')}, "
            f"python {meta.get('python', '?')}",
        )
    )
    r = meta.get("runs") or {}
    if r:
        how = "cold (trained here)" if r.get("trained") else "warm (every run read from the cache)"
        made = r.get("read_made") or {}
        if made and r.get("read"):
            rates = made.get("rates") or []
            how += (
                f"; the runs read had trained {timedelta(seconds=round(made.get('train_s', 0)))}"
                + (f" at {rates[0]:,}-{rates[1]:,} images/s a worker" if rates else "")
                + (f" on {', '.join(made['machines'])}" if made.get("machines") else "")
            )
        out.append(
            (
                "runs",
                f"{r.get('trained', 0)} trained by this run ({timedelta(seconds=round(r.get('train_s', 0)))}), "
                f"{r.get('read', 0)} read from the run cache: {how}",
            )
        )
    if meta.get("data"):
        named = [d + (f" [{DIFFERS[d.split(' ')[0]]}]" if d.split(" ")[0] in DIFFERS else "") for d in meta["data"]]
        out.append(("data (under the data root)", "; ".join(named)))
    if isinstance(meta.get("wall_s"), (int, float)):
        out.append(("wall time", str(timedelta(seconds=round(meta["wall_s"])))))
    out.append(("command", str(meta.get("command", "?"))))
    return out


def bar_derivation(c: dict) -> str:
    """How the row's bar follows from the paper's number (fixtures/paper.toml's rule), or the
    reading of a statement the paper gives no number for."""
    try:
        entry = paper(str(c.get("claim", "")))
    except KeyError:
        return ""
    if entry.get("judge") == "statement":
        return str(entry.get("reading", ""))
    for key in (str(c.get("dataset", "")), "cifar10", ""):
        try:
            value, how = bar_reading(c["claim"], key)
            return f"{how} = {value:g}"
        except (KeyError, TypeError, ValueError):
            continue
    return ""


def details(c: dict, machines: dict | None = None) -> list[tuple[str, str]]:
    """The claim's details; ``machines``: {id: its verdict on each machine and thread count of
    the history, where they differ} (``history.across_machines``)."""
    rows = [("judged at", c["judged"])] if c.get("judged") else []
    if c.get("verdict") not in ("SKIP", None) and bar_derivation(c):
        rows.append(("bar, by the rule of fixtures/paper.toml", bar_derivation(c)))
    rows += [(str(k), num(v)) for k, v in (c.get("details") or {}).items()]
    rows += [("condition", x) for x in c.get("conditions") or []]
    rows += [(f"control: {name}", v) for name, v in (c.get("controls") or {}).items()]
    if c.get("method"):
        rows.append(("interval", c["method"]))
    needed = c.get("seeds_needed") or {}
    if c.get("verdict") == "INCONCLUSIVE" and needed:
        said = [f"{n} {where}" for where, n in needed.items() if n]
        rows.append(("runs per group needed to decide", "; ".join(said) or "more than 100, or at the bar"))
    if (machines or {}).get(c["id"]):
        label = (
            "verdict differs by machine or thread count (the newest clean run in the history of each"
            " machine and count of threads that trained the runs, with its commit)"
        )
        rows.append((label, machines[c["id"]]))
    return rows


def statement(c: dict) -> str:
    return f"{c.get('source', '')}: {c.get('title', '')} (paper: {c.get('paper', '')})"


# ---------------------------------------------------------------- markdown


def missing_lines(claims: list[dict]) -> list[str]:
    """The SKIP rows in one line each per thing missing, in words."""
    gone = scorecard.missing(claims)
    if not gone:
        return []
    bits = [f"{what} ({', '.join(ids)})" for what, ids in gone.items()]
    return [
        f"Not measured, no local copy: {'; '.join(bits)}. Point FIRSTLAYER_DATA at a folder of copies "
        "(README, Data); each row's message is under *Every claim*."
    ]


def inline_html(text: str) -> str:
    """A line written for both reports (markdown's `code` and *emphasis*) as HTML."""
    out = html.escape(str(text))
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", out)


def reason_html(c: dict) -> str:
    """A row's reason; a SKIP's exception text folded under its few words."""
    e = html.escape
    if c.get("verdict") != "SKIP":
        return glossary.link_terms(e(c.get("reason", "") or ""))
    return f"<details><summary>{e(scorecard.skip_short(c))}</summary>{e(c.get('reason', '') or '')}</details>"


def measured_html(c: dict) -> str:
    """Value [interval], the runs it rests on in small type."""
    text = fmt_measured(c)
    value, _, rest = text.partition(" (")
    return f"<span class='val'>{html.escape(value)}</span>" + (f" <small>({html.escape(rest)}</small>" if rest else "")


def findings_html(claims: list[dict]) -> str:
    """The first screen's table: one row per finding, its conditions under it."""
    e = html.escape
    rows = []
    for f in scorecard.findings(claims):
        for i, c in enumerate(f["rows"]):
            v = e(c.get("verdict", ""))
            head = ""
            if i == 0:
                span = len(f["rows"])
                head = (
                    f"<td rowspan='{span}' class='claim'><a href='#{slug(f['rows'][0]['id'])}'>{e(f['title'])}</a></td>"
                    f"<td rowspan='{span}'>{e(f['part'])}</td>"
                )
            why = failed_on(c)
            why = f" <small>(fails on {e(why)})</small>" if why else ""
            rows.append(
                f"<tr>{head}<td>{e(c['variant'])}</td><td class='paper'>{e(str(c.get('paper', '')))}</td>"
                f"<td>{measured_html(c)}{why}</td><td class='v'><span class='v v-{v}'>{v}</span></td></tr>"
            )
    skipped = "".join(f"<p class='missing'>{inline_html(line)}</p>" for line in missing_lines(claims))
    return (
        "<h2>Does the paper hold?</h2><table class='findings' id='findings'>"
        + "".join(f"<col style='width:{w}%'>" for w in (29, 8, 12, 22, 19, 10))
        + "<thead><tr><th>Finding</th><th>Part</th>"
        "<th>Condition</th><th>Paper</th><th>Measured (95% interval)</th><th>Verdict</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + skipped
    )


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", "<br>")


def to_markdown(results: dict, figs: dict, out_dir: Path, card: Path | None, machines: dict | None = None) -> str:
    claims = ordered(results)
    df = table(claims)
    df["Claim"] = df["Claim"] + " (`" + df.pop("id") + "`)"
    df["Verdict"] = "**" + df["Verdict"] + "**"
    lines = [f"# {TITLE}", "", f"**{summary(claims)}**", ""]
    lines += ["## Does the paper hold?", ""]
    lines += ["| Finding | Part | Condition | Paper | Measured [95% interval] | Verdict |", "|---|---|---|---|---|---|"]
    for f in scorecard.findings(claims):
        for i, c in enumerate(f["rows"]):
            first = [f["title"], f["part"]] if i == 0 else ["", ""]
            cells = [*first, c["variant"], str(c.get("paper", "")), fmt_measured(c), f"**{c.get('verdict', '')}**"]
            lines.append("| " + " | ".join(map(_md_cell, cells)) + " |")
    lines += ["", *(f"{line}" for line in missing_lines(claims)), ""]
    lines += [f"- **{k}**: {_md_cell(v)}" for k, v in header(results.get("meta") or {})] + [""]
    if results.get("findings"):
        lines += ["## Where the paper and these measurements disagree", ""]
        lines += [f"- {_md_cell(n)}" for n in results["findings"]] + [""]
    if card is not None:
        lines += [f"![Each claim against its bar]({card.relative_to(out_dir).as_posix()})", ""]
    lines += ["## Every claim", ""]
    lines += ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in df.itertuples(index=False)]
    for part, group in parts(claims):
        lines += ["", f"## {part}"]
        for c in group:
            lines += ["", f"### `{c['id']}` — **{c.get('verdict', '')}**", "", f"_{statement(c)}_", ""]
            lines += [f"- measured: {fmt_measured(c)}; bar: {fmt_threshold(c)}"]
            lines += [f"- {k}: {v}" for k, v in details(c, machines)] + [""]
            lines += [f"![{t}]({p.relative_to(out_dir).as_posix()})" for t, p in figs.get(c["id"], [])]
    if figs.get(HISTORY):
        lines += ["", "## History", ""] + [f"![{t}]({p.relative_to(out_dir).as_posix()})" for t, p in figs[HISTORY]]
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in results["notes"]]
    if glossary.entries():
        lines += ["", "## Glossary", ""] + [f"- **{t}**: {d}" for t, d in glossary.entries()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- html


def _img(title: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


def to_html(results: dict, figs: dict, card: Path | None, machines: dict | None = None) -> str:
    e = html.escape
    claims = ordered(results)
    rows = []
    for c in claims:
        v = e(c.get("verdict", ""))
        rows.append(
            f"<tr><td class='claim'><a href='#{slug(c['id'])}'>{e(c.get('title', ''))}</a>"
            f"<br><code>{e(c['id'])}</code></td>"
            f"<td>{e(c.get('part') or c.get('source', ''))}</td><td>{e(dataset_cell(c))}</td>"
            f"<td>{e(str(c.get('paper', '')))}</td><td class='num'>{measured_html(c)}</td>"
            f"<td>{e(fmt_threshold(c))}</td><td class='v'><span class='v v-{v}'>{v}</span></td>"
            f"<td class='reason'>{reason_html(c)}</td></tr>"
        )
    parts_html = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(TITLE)}</title>",
        f"<style>{CSS}</style></head><body><main><h1>{e(TITLE)}</h1>",
    ]
    parts_html += [
        f"<p><b>{e(summary(claims))}</b> <small>(terms: <a href='#glossary'>glossary</a>)</small></p>",
        findings_html(claims),
    ]
    meta = header(results.get("meta") or {})
    parts_html += ["<ul class='meta'>", *(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in meta), "</ul>"]
    if results.get("findings"):
        parts_html += ["<h2>Where the paper and these measurements disagree</h2><ul>"]
        parts_html += [f"<li>{inline_html(n)}</li>" for n in results["findings"]] + ["</ul>"]
    parts_html += ["<h2>Every claim</h2>"]
    if card is not None:
        parts_html.append(_img("Each claim against its bar", card))
    parts_html += [
        "<table class='claims'><thead><tr><th>Claim</th><th>Part</th><th>Dataset</th><th>Paper</th>"
        "<th>Measured (95% interval)</th><th>Bar</th><th>Verdict</th><th>Reason</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]
    for part, group in parts(claims):
        parts_html.append(f"<h2>{e(part)}</h2>")
        for c in group:
            v = e(c.get("verdict", ""))
            parts_html += [
                f"<section class='claim' id='{slug(c['id'])}'>",
                f"<h3><code>{e(c['id'])}</code> <span class='v v-{v}'>{v}</span></h3>",
                f"<p class='statement'>{glossary.link_terms(e(statement(c)))}</p>",
                f"<p>measured: {e(fmt_measured(c))}; bar: {e(fmt_threshold(c))}</p><ul>",
            ]
            parts_html += [f"<li>{e(k)}: {e(v)}</li>" for k, v in details(c, machines)]
            parts_html += ["</ul>"] + [_img(t, p) for t, p in figs.get(c["id"], [])] + ["</section>"]
    if figs.get(HISTORY):
        parts_html += ["<h2>History</h2>"] + [_img(t, p) for t, p in figs[HISTORY]]
    if results.get("notes"):
        parts_html += ["<h2>Notes</h2><ul>"] + [f"<li>{inline_html(n)}</li>" for n in results["notes"]] + ["</ul>"]
    if glossary.entries():
        parts_html += ["<h2 id='glossary'>Glossary</h2><dl class='glossary'>"]
        parts_html += [
            f"<dt id='{glossary.anchor(t)}'>{e(t)}</dt><dd>{inline_html(d)}</dd>" for t, d in glossary.entries()
        ] + ["</dl>"]
    return "\n".join([*parts_html, "</main></body></html>"])


# ---------------------------------------------------------------- api


def build(results: dict, out_dir, history_file=None) -> dict:
    """Write results.json, report.md, report.html and figures/ into out_dir; the trend of each
    claim comes from ``history_file`` (runs of the same scale) when given, and so does its
    verdict on each machine where those differ. Returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {**results, "findings": findings(results.get("claims", []))}
    scale = (results.get("meta") or {}).get("scale")
    past = history.load(history_file, scale) if history_file else None
    figs = render_figures(results["claims"], out / "figures")
    # only a scale's own runs compare across machines: without a scale the history holds them all
    machines = {}
    if scale and past is not None:
        machines = {c["id"]: history.across_machines(past, c["id"]) for c in results["claims"]}
    card = scorecard.figure(ordered(results), out / "figures" / "scorecard.png", COLOURS, STYLE)
    trend = None
    if past is not None and len(history.runs(past)) > 1:
        trend = history.small_multiples(past, ordered(results), out / "figures" / "history.png", COLOURS, STYLE)
    results_figs = {**figs, HISTORY: [("Values over the full runs of this scale", trend)]} if trend else figs
    drawn = {p for fl in results_figs.values() for _, p in fl} | {card}
    for stale in (out / "figures").glob("*.png"):  # figures of an earlier build this one does not draw
        if stale not in drawn:
            stale.unlink()
    paths = {"results": out / "results.json", "markdown": out / "report.md", "html": out / "report.html"}
    paths["results"].write_text(json.dumps(results, indent=2) + "\n")
    paths["markdown"].write_text(to_markdown(results, results_figs, out, card, machines), encoding="utf-8")
    paths["html"].write_text(to_html(results, results_figs, card, machines), encoding="utf-8")
    paths["figures"] = [p for fl in results_figs.values() for _, p in fl] + ([card] if card else [])
    return paths


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def compare(old: dict, new: dict) -> list[dict]:
    """Claims whose verdict or measured value changed between two results dicts, each with a
    ``status``: ``flipped`` (run on both sides, the verdict differs), ``changed`` (same
    verdict, another value), ``not run`` (absent from the new run, e.g. a -k selection) or
    ``new`` (absent from the old). Only ``flipped`` rows are flips.
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
        status = "not run" if not b else "new" if not a else "flipped" if va != vb else "changed"
        rows.append(
            {
                "id": cid,
                "status": status,
                "old": va,
                "new": vb,
                "old_measured": ma,
                "new_measured": mb,
                "flipped": status == "flipped",
            }
        )
    return rows


def problems(results: dict) -> list[str]:
    """What makes a run unusable (for CI): no claims, or claims that crashed (ERROR)."""
    claims = results.get("claims", [])
    if not claims:
        return ["no claims in the results"]
    return [f"{c['id']}: ERROR {c.get('reason', '')}" for c in claims if c.get("verdict") == "ERROR"]


def load(path) -> dict:
    """Read a results.json; InputError on a missing, unreadable or malformed file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read results file {path}: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise InputError(f"{path}: not a results file (no 'claims' list)")
    return data


def resolve(ref: str, history_file: Path) -> dict:
    """A results dict from a path, or from the history: ``history:<index | date | commit>``."""
    if ref.startswith("history:"):
        try:
            return history.results_of(history.load(history_file), ref.split(":", 1)[1])
        except KeyError as e:
            raise InputError(f"{history_file}: {e.args[0]}") from None
    return load(ref)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.split("\n")[0])
    ap.add_argument("--results", default="reports/latest/results.json", help="results.json to render")
    ap.add_argument("--out", default=None, help="folder to write the report into (default: the results' folder)")
    ap.add_argument("--history", default="reports/history.csv", help="the history of full runs")
    ap.add_argument(
        "--compare",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="diff two runs (results.json, or history:<index|date|commit>); exit 1 if a verdict flipped",
    )
    ap.add_argument("--check", metavar="RESULTS", help="exit 1 if the run has no claims or an ERROR (for CI)")
    args = ap.parse_args(argv)
    try:
        if args.check:
            found = problems(load(args.check))
            print("\n".join(found) or f"{args.check}: no ERROR, {len(load(args.check)['claims'])} claims")
            return 1 if found else 0
        if args.compare:
            rows = compare(*(resolve(r, Path(args.history)) for r in args.compare))
            print(pd.DataFrame(rows).to_string(index=False) if rows else "no changes")
            flips = sum(r["flipped"] for r in rows)
            print(f"flipped: {flips}")
            return 1 if flips else 0
        out = args.out or Path(args.results).parent
        paths = build(load(args.results), out, args.history if Path(args.history).exists() else None)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in [paths["results"], paths["markdown"], paths["html"], *paths["figures"]]:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
