"""The README's result table, made from the committed reports, so that the README never states
a value or a verdict that no report holds.

One row per finding of the paper, in the paper's order (fixtures/paper.toml): the paper's
value, then each measured condition's value with its 95% interval and verdict at the scale
that judged it (the cpu scale first, then the weekly scales), then the converged reference's
value. reports/scales.md says how each report was made: its scale, date, CPU and how long its
runs trained.

``reports/scales.md`` sets every scale's verdicts side by side, one row per claim row under
its finding (the cpu scale against the weekly ones and the converged reference).

``python -m harness.report.readme`` rewrites the table between its two markers in README.md, the
scales page and docs/method.md's table of bars (``harness.report.bars``, from fixtures/paper.toml);
``python -m harness.report.readme --check`` exits 1 when any differs (tests/test_readme.py runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

from harness.config.paper import families
from harness.report import bars, scorecard
from harness.report.words import failed_on, fmt_measured, num

ROOT = Path(__file__).resolve().parents[2]
JUDGED = ("cpu", "cpu-datasets", "cpu-binary", "cpu-depth", "cpu-appendix", "cpu-copy")  # reports/<scale>/, cpu first
REFERENCE = "converged"  # judged under earlier rules (reports/README.md): its values only
START = "<!-- result-table: made by `python -m harness.report.readme` from reports/*/results.json -->"
END = "<!-- /result-table -->"


def load(reports: Path) -> dict[str, dict]:
    """{scale: results} of each report that exists."""
    out = {}
    for name in (*JUDGED, REFERENCE):
        path = reports / name / "results.json"
        if path.is_file():
            out[name] = json.loads(path.read_text())
    return out


def measured(c: dict) -> str:
    """'0.943 [0.930, 0.953]', or the value alone where there is no interval (the report's
    ``fmt_measured`` less the runs it rests on)."""
    return fmt_measured(c).partition(" (")[0]


def rows(found: dict[str, dict]) -> list[dict]:
    """Every claim row measured by a judged report, each from the first report (in ``JUDGED``
    order) that measured it, with its scale; in the paper's order."""
    first: dict[str, dict] = {}
    skipped: dict[str, dict] = {}
    for name in JUDGED:
        for c in found.get(name, {}).get("claims", []):
            if c.get("verdict") == "SKIP":
                skipped.setdefault(c["id"], {**c, "scale": name})
            elif c["id"] not in first:
                first[c["id"]] = {**c, "scale": name}
    only_reference = [  # judged at no cpu scale: the row says so, the reference column has its value
        {**c, "scale": REFERENCE}
        for c in found.get(REFERENCE, {}).get("claims", [])
        if c.get("measured") is not None and c["id"] not in first and c["id"] not in skipped
    ]
    return in_paper_order([*first.values(), *(c for k, c in skipped.items() if k not in first), *only_reference])


def in_paper_order(claims) -> list[dict]:
    """Claim rows by their family's place in the paper (fixtures/paper.toml), then by condition
    within it (``scorecard.within``)."""
    order = {f: i for i, f in enumerate(families())}
    return sorted(claims, key=lambda c: (order.get(c.get("claim"), len(order)), *scorecard.within(c)))


def cell(f: dict) -> str:
    """A finding's measured conditions: 'cifar10: 0.983 [0.968, 0.991] **INCONCLUSIVE**; ...'."""
    lead = f["rows"][0].get("paper")
    out = []
    for c in f["rows"]:
        if c["scale"] == REFERENCE:
            out.append((f"{c['variant']}: " if c["variant"] else "") + f"not judged at a cpu scale ({REFERENCE} only)")
            continue
        text = (f"{c['variant']}: " if c["variant"] else "") + f"{measured(c)} **{c['verdict']}**"
        extra = [c["scale"]] if c["scale"] != "cpu" else []
        if failed_on(c):
            extra.append(f"fails on {failed_on(c)}")
        if c.get("paper") != lead:
            extra.append(f"paper {c.get('paper')}")
        out.append(text + (f" ({'; '.join(extra)})" if extra else ""))
    return "<br>".join(out)


def reference(f: dict, ref: dict) -> str:
    """The converged report's values of the same claims."""
    by_id = {c["id"]: c for c in ref.get("claims", []) if c.get("measured") is not None}
    got = [(c["variant"], by_id[c["id"]]) for c in f["rows"] if c["id"] in by_id]
    return "; ".join((f"{v}: " if v and len(got) > 1 else "") + num(c["measured"]) for v, c in got) or "—"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def made_by(name: str, results: dict) -> str:
    """One line of reports/scales.md on how a report was made: date, CPU, runs and their rates,
    wall time."""
    meta = results.get("meta", {})
    runs = meta.get("runs") or {}
    made = runs.get("read_made") or {}
    rates = made.get("rates") or []
    trained = runs.get("train_s", 0) + made.get("train_s", 0)
    bits = [str(meta.get("date", "?"))[:10], meta.get("machine", "?")]
    if trained:
        bits.append(
            f"{timedelta(seconds=round(trained))} of training"
            + (f" at {rates[0]:,}-{rates[1]:,} images/s a worker" if rates else "")
        )
    if isinstance(meta.get("wall_s"), (int, float)):
        wall = timedelta(seconds=round(meta["wall_s"]))
        if not runs.get("read"):
            how = f"cold in {wall}"
        elif not runs.get("trained"):
            held = "stored runs (reports/runs)" if "store" in runs else "cached runs"
            how = f"judged in {wall} from {runs['read']} {held}"
        else:
            how = f"{runs['trained']} runs trained and {runs['read']} read from the cache in {wall}"
        bits.append(f"{how} (`{meta.get('command', 'pytest claims/')}`)")
    return f"- [{name}]({name}/report.md): " + ", ".join(bits)


def table(found: dict[str, dict]) -> str:
    """The block between the markers."""
    claims = rows(found)
    ref = found.get(REFERENCE, {})
    lines = [
        START,
        f"| finding | part | paper | measured: value [95% interval] verdict (scale, if not cpu) | {REFERENCE} |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in scorecard.finding_rows(claims):
        lead = f["rows"][0].get("paper", "")
        lines.append(
            f"| {_md(f['title'])} | {_md(f['part'])} | {_md(lead)} | {_md(cell(f))} | {_md(reference(f, ref))} |"
        )
    gone = scorecard.missing([c for c in claims if c.get("verdict") == "SKIP"])
    if gone:
        lines += [
            "",
            "Not measured, no local copy: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in gone.items()) + ".",
        ]
    lines += [
        "",
        "How each report was made (date, CPU, training time, command): [reports/scales.md](reports/scales.md).",
        END,
    ]
    return "\n".join(lines)


def scales_page(found: dict[str, dict]) -> str:
    """reports/scales.md: each claim row of every report, one column a scale ('value [interval]
    VERDICT', blank where the scale does not measure it), under its finding, in the paper's order."""
    names = [n for n in (*JUDGED, REFERENCE) if n in found]
    every: dict[str, dict] = {}
    by_scale: dict[str, dict] = {n: {} for n in names}
    for n in names:
        for c in found[n].get("claims", []):
            every.setdefault(c["id"], c)
            by_scale[n][c["id"]] = c
    claims = in_paper_order(every.values())
    lines = [
        "# Every scale side by side",
        "",
        "Made by `python -m harness.report.readme` from `reports/*/results.json`. Each cell: the measured value",
        "[95% interval] and the verdict at that scale; blank where the scale does not measure the row.",
        "The weekly scales reuse the cpu scale's runs where they share them, so a row they share has one",
        f"value. `{REFERENCE}` was judged under earlier rules (reports/README.md): its verdicts are a record.",
        "",
        *(made_by(n, found[n]) for n in names),
        "",
        "| finding | condition | " + " | ".join(f"[{n}]({n}/report.md)" for n in names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    grouped: dict[str, list[dict]] = {}
    for c in claims:
        grouped.setdefault(c.get("title", c["id"]), []).append(c)
    for title, rows_ in grouped.items():
        for i, c in enumerate(rows_):
            cells = []
            for n in names:
                got = by_scale[n].get(c["id"])
                if got is None:
                    cells.append("")
                elif got.get("verdict") == "SKIP":
                    cells.append("SKIP")
                else:
                    cells.append(f"{measured(got)} **{got.get('verdict', '')}**")
            condition = scorecard.variant(c, len(rows_) > 1) or "—"
            lines.append(f"| {_md(title) if i == 0 else ''} | {_md(condition)} | " + " | ".join(map(_md, cells)) + " |")
    return "\n".join(lines) + "\n"


def rewrite(readme: Path, block: str, start: str = START, end: str = END) -> str:
    text = readme.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{readme.name}: no {start.split(':')[0].removeprefix('<!-- ')} markers ({start} ... {end})")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + block + tail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.report.readme", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md's table differs from the reports'")
    args = ap.parse_args(argv)
    readme, page, method = ROOT / "README.md", ROOT / "reports" / "scales.md", ROOT / "docs" / "method.md"
    found = load(ROOT / "reports")
    new, side = rewrite(readme, table(found)), scales_page(found)
    barred = rewrite(method, bars.bar_table(), bars.START, bars.END)
    if args.check:
        made = ((readme, new), (page, side), (method, barred))
        stale = [p.name for p, text in made if not p.exists() or p.read_text() != text]
        if stale:
            print(
                f"{' and '.join(stale)} differ from reports/*/results.json: run python -m harness.report.readme",
                file=sys.stderr,
            )
            return 1
        return 0
    readme.write_text(new)
    page.write_text(side)
    method.write_text(barred)
    return 0


if __name__ == "__main__":
    sys.exit(main())
