"""``report.md`` and ``report.html`` of a results file."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from harness.report import glossary, scorecard
from harness.report.plots import COLOURS, HISTORY
from harness.report.words import (
    TITLE,
    dataset_cell,
    details,
    failed_on,
    fmt_measured,
    fmt_threshold,
    header,
    missing_lines,
    ordered,
    parts,
    slug,
    statement,
    summary,
    table,
)

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
    for f in scorecard.finding_rows(claims):
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
    for f in scorecard.finding_rows(claims):
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
