"""Render a ``results.json`` (written by the claims' pytest plugin) as a report, and diff runs.

``build`` writes ``results.json``, ``report.md``, a self-contained ``report.html`` and
``figures/*.png`` into a folder: the findings first (``harness.report.scorecard``: one row per
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

import json
import math
from pathlib import Path

from harness.report import history, scorecard
from harness.report.findings import findings
from harness.report.pages import to_html, to_markdown
from harness.report.plots import COLOURS, HISTORY, STYLE, render_figures
from harness.report.row import Row, RowError
from harness.report.words import ordered


class InputError(Exception):
    """A results file that is missing or unreadable."""


def build(results: dict, out_dir, history_file=None) -> dict:
    """Write results.json, report.md, report.html and figures/ into out_dir; the trend of each
    claim comes from ``history_file`` (runs of the same scale) when given, and so does its
    verdict on each machine where those differ. Returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    claims = [Row.from_json(c).to_json() for c in results.get("claims", [])]  # one typed record a row
    results = {**results, "claims": claims, "findings": findings(claims)}
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


def _same(a, b, tol: float = 0.0) -> bool:
    """Equal values; numbers within ``tol`` of each other (relative) where ``tol`` is given."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if tol and isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
    return a == b


def compare(old: dict, new: dict, tol: float = 0.0) -> list[dict]:
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
        if va == vb and _same(ma, mb, tol):
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
    try:
        data["claims"] = [Row.from_json(c).to_json() for c in data["claims"]]
    except RowError as e:
        raise InputError(f"{path}: {e}") from None
    return data


def resolve(ref: str, history_file: Path) -> dict:
    """A results dict from a path, or from the history: ``history:<index | date | commit>``."""
    if ref.startswith("history:"):
        try:
            return history.results_of(history.load(history_file), ref.split(":", 1)[1])
        except KeyError as e:
            raise InputError(f"{history_file}: {e.args[0]}") from None
    return load(ref)
