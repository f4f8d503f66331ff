"""docs/method.md's table of bars, made from fixtures/paper.toml: every claim row's bar by the one
rule at the top of that file, how it follows from the paper's number, and the paper's words it
reads (its printed value and where, the caption that bounds an unprinted sd, a per-seed bound, or
a statement's reading). ``python -m harness.report.readme`` writes it between its markers and
``--check`` fails when it is stale."""

from __future__ import annotations

from harness.config.paper import bar_reading, families, paper, per_seed_bar, printed_bound

START = "<!-- bar-table: made by `python -m harness.report.readme` from fixtures/paper.toml -->"
END = "<!-- /bar-table -->"


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def bar_rows() -> list[tuple[str, str, str, str]]:
    """(claim row, the paper's words and where, bar, how it follows) for every claim row."""
    out = []
    for family in families():
        entry = paper(family)
        judge, printed = entry.get("judge"), entry.get("paper", "")
        if judge is None:
            continue
        keys = list(printed) if isinstance(printed, dict) else [""]
        for key in keys:
            words = printed[key] if isinstance(printed, dict) else printed
            name = f"{family}[{key}]" if key else family
            said = f'{entry.get("source", "")}: "{words}"'
            if judge == "statement":
                out.append((name, said, "a statement", str(entry.get("reading", ""))))
                continue
            seed = entry.get("per_seed", {}).get(key)
            each = per_seed_bar(family, key) if seed else None
            if each and printed_bound(words) is not None:  # the paper states only a bound of the seeds it shows
                out.append((name, f'"{seed}"', f"every run at least {each[0]:g}", each[1]))
                continue
            try:
                value, how = bar_reading(family, key)
            except (KeyError, TypeError, ValueError):
                continue
            out.append((name, said, f"{entry.get('judge')} {value:g}", how))
            if each:
                out.append((f"{name}, every seed", f'"{seed}"', f"every run at least {each[0]:g}", each[1]))
    return out


def bar_table() -> str:
    lines = [
        START,
        "",
        "| claim row | the paper's words | bar | how it follows (fixtures/paper.toml) |",
        "| --- | --- | --- | --- |",
        *(f"| `{a}` | {_md(b)} | {_md(c)} | {_md(d)} |" for a, b, c, d in bar_rows()),
        "",
        END,
    ]
    return "\n".join(lines)
