"""``report.md`` and ``report.html`` of a results file: the words and numbers of each part are
made here, the pages' shape is in ``templates/`` (Jinja2)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import jinja2

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
    "table.findings td{line-height:1.15;padding:1px 5px}table.findings small{color:#555}"
    "table.findings{font-size:12px}table.findings td.metric,table.findings td.paper{color:#444}"
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


def _img(path: Path, title: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


PAGES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=False,  # each value is escaped where the template says (|h: html.escape)
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
PAGES.filters.update(
    h=html.escape,
    md=lambda s: str(s).replace("|", "\\|").replace("\n", "<br>"),
    inline=inline_html,
    terms=glossary.link_terms,
    anchor=glossary.anchor,
    img=lambda path, title="Each claim against its bar": _img(path, title),
)


def _finding_rows(claims: list[dict]) -> list[dict]:
    """The first screen's rows: one per condition of a finding, the finding's title and part on its first."""
    out = []
    for f in scorecard.finding_rows(claims):
        for i, c in enumerate(f["rows"]):
            out.append(
                {
                    "span": len(f["rows"]) if i == 0 else 0,
                    "anchor": slug(f["rows"][0]["id"]),
                    "title": f["title"],
                    "part": f["part"],
                    "variant": c["variant"],
                    "paper": str(c.get("paper", "")),
                    "judged_on": c.get("threshold") or "",
                    "measured": measured_html(c),
                    "measured_text": fmt_measured(c),
                    "why": failed_on(c),
                    "verdict": c.get("verdict", ""),
                }
            )
    return out


def to_markdown(results: dict, figs: dict, out_dir: Path, card: Path | None, machines: dict | None = None) -> str:
    claims = ordered(results)
    df = table(claims)
    df["Claim"] = df["Claim"] + " (`" + df.pop("id") + "`)"
    df["Verdict"] = "**" + df["Verdict"] + "**"
    rel = lambda p: p.relative_to(out_dir).as_posix()  # noqa: E731
    first = lambda r: (r["title"], r["part"]) if r["span"] else ("", "")  # noqa: E731
    cells = [
        [*first(r), r["variant"], r["paper"], r["judged_on"], r["measured_text"], f"**{r['verdict']}**"]
        for r in _finding_rows(claims)
    ]
    return PAGES.get_template("report.md.j2").render(
        title=TITLE,
        summary=summary(claims),
        finding_cells=cells,
        missing=missing_lines(claims),
        header=header(results.get("meta") or {}),
        findings=results.get("findings") or [],
        card=rel(card) if card is not None else None,
        columns=list(df.columns),
        table=list(df.itertuples(index=False)),
        parts=[(part, [_claim(c, machines, figs, rel) for c in group]) for part, group in parts(claims)],
        history=[(t, rel(p)) for t, p in figs.get(HISTORY, [])],
        notes=results.get("notes") or [],
        glossary=glossary.entries(),
    )


def _claim(c: dict, machines: dict | None, figs: dict, where=lambda p: p) -> dict:
    """What a claim's section shows."""
    return {
        "id": c["id"],
        "anchor": slug(c["id"]),
        "verdict": c.get("verdict", ""),
        "title": c.get("title", ""),
        "part": c.get("part") or c.get("source", ""),
        "dataset": dataset_cell(c),
        "paper": str(c.get("paper", "")),
        "statement": statement(c),
        "measured": fmt_measured(c),
        "measured_html": measured_html(c),
        "bar": fmt_threshold(c),
        "reason_html": reason_html(c),
        "details": details(c, machines),
        "figures": [(t, where(p)) for t, p in figs.get(c["id"], [])],
    }


def to_html(results: dict, figs: dict, card: Path | None, machines: dict | None = None) -> str:
    claims = ordered(results)
    return PAGES.get_template("report.html.j2").render(
        title=TITLE,
        css=CSS,
        summary=summary(claims),
        finding_rows=_finding_rows(claims),
        missing=missing_lines(claims),
        header=header(results.get("meta") or {}),
        findings=results.get("findings") or [],
        card=card,
        claims=[_claim(c, machines, figs) for c in claims],
        parts=[(part, [_claim(c, machines, figs) for c in group]) for part, group in parts(claims)],
        history=figs.get(HISTORY, []),
        notes=results.get("notes") or [],
        glossary=glossary.entries(),
    )
