"""The report's first screen: does the paper hold? One row per finding of the paper (claims that
share a title are one finding, their datasets and conditions under it), each with the paper's
value, the measured value with its 95% interval and the verdict; the claims that could not be
measured in one line, by what was missing; and the scorecard figure, every claim drawn as its
distance from its bar, signed so that right always means the claim holds."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

MISSING = (  # what a SKIP row's reason says was missing, and how the first screen names it
    (re.compile(r"dataset '([^']+)'"), "{0}"),
    (re.compile(r"(\w+) ImageNet weights"), "torchvision's ImageNet weights"),
)


def variant(c: dict, shared: bool) -> str:
    """The condition a claim row measures within its finding: its parameter ('cifar10', 'random',
    'vgg11'), else, where the finding has several rows, the claim's own name in words (less its
    family's: 'references', 'learned')."""
    m = re.search(r"\[(.+)\]$", c["id"])
    if m:
        return m.group(1)
    name = c["id"].removeprefix(c.get("claim", "") + "_") if c["id"] != c.get("claim") else c["id"]
    return name.replace("_", " ") if shared else ""


FIRST = ("cifar10", "cifar100", "celeba", "random", "references", "learned")  # a finding's conditions, in this order


def within(c: dict) -> tuple:
    """A condition's place within its finding: the paper's datasets and the main rows first, the
    rest by name (vgg11 before vgg13, ...), whatever order the runs finished in."""
    v = variant(c, True)
    return (FIRST.index(v), "") if v in FIRST else (len(FIRST), v)


def finding_rows(claims: list[dict]) -> list[dict]:
    """[{title, part, rows: [claim rows measured]}] in the given (the paper's) order; a finding
    whose every row was skipped is left out (``missing`` names it)."""
    out: dict[str, dict] = {}
    for c in claims:
        f = out.setdefault(c.get("title", c["id"]), {"title": c.get("title", c["id"]), "part": "", "all": []})
        f["all"].append(c)
        f["part"] = f["part"] or c.get("part") or c.get("source", "")
    for f in out.values():
        measured = sorted((c for c in f["all"] if c.get("verdict") != "SKIP"), key=within)
        f["rows"] = [{**c, "variant": variant(c, len(measured) > 1)} for c in measured]
    return [f for f in out.values() if f["rows"]]


def missing_of(reason: str) -> str:
    for pattern, name in MISSING:
        m = pattern.search(reason or "")
        if m:
            return name.format(*m.groups())
    return "data"


def missing(claims: list[dict]) -> dict[str, list[str]]:
    """{what was missing: [the claims it kept from being measured]} over the SKIP rows."""
    out: dict[str, list[str]] = {}
    for c in claims:
        if c.get("verdict") == "SKIP":
            out.setdefault(missing_of(c.get("reason", "")), []).append(c["id"])
    return out


def skip_short(c: dict) -> str:
    """A SKIP row's reason in a few words (the full text stays in results.json and a fold)."""
    return f"no local copy of {missing_of(c.get('reason', ''))} (README, Data)"


def bar_of(c: dict) -> tuple[str, float] | None:
    """(op, bar) of a row: its own, else the one its threshold text states ('>= 0.99 (every
    example)')."""
    if c.get("bar") is not None and c.get("op") in (">=", "<=", ">", "<"):
        return c["op"], float(c["bar"])
    m = re.search(r"(>=|<=|>|<)\s*(-?[\d.]+)", c.get("threshold") or "")
    return (m.group(1), float(m.group(2))) if m else None


def margin(c: dict) -> tuple[float, float, float] | None:
    """The row's distance from its bar with its interval, (value, lo, hi), signed so that a
    positive value is on the claim's side; None without a value or a bar."""
    found, m = bar_of(c), c.get("measured")
    if found is None or m is None:
        return None
    op, b = found
    lo, hi = c.get("interval") or (m, m)
    if op.startswith(">"):
        return m - b, lo - b, hi - b
    return b - m, b - hi, b - lo


def figure(claims: list[dict], path: Path, colours: dict, style: dict) -> Path | None:
    """Every measured claim as its distance from its bar (o, with its 95% interval), right = holds."""
    shown = [(f, c) for f in finding_rows(claims) for c in f["rows"] if margin(c) is not None]
    if not shown:
        return None
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(9.0, 1.1 + 0.3 * len(shown)))
        ax = fig.add_subplot()
        labels = []
        for i, (f, c) in enumerate(shown):
            y = len(shown) - 1 - i
            x, lo, hi = margin(c)
            colour = colours.get(c.get("verdict"), "#444")
            ax.plot([lo, hi], [y, y], color=colour, lw=3, alpha=0.6)
            ax.plot(x, y, "o", color=colour)
            ax.text(1.01, y, c.get("verdict", ""), transform=ax.get_yaxis_transform(), va="center", color=colour)
            title = f["title"] if len(f["title"]) <= 58 else f["title"][:56] + "…"
            labels.append(title + (f" [{c['variant']}]" if c["variant"] else ""))
        ax.axvline(0, color="k", lw=1.5)
        ax.set_yticks(range(len(shown)), list(reversed(labels)))
        ax.set_ylim(-0.7, len(shown) - 0.3)
        ax.set_xlabel("distance from the bar, in the measure's own units (right of 0: the claim holds)")
        ax.set_title("Each claim against its bar (o: measured, line: 95% interval)")
        fig.savefig(path)
    return path
