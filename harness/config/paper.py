"""``fixtures/paper.toml``: the paper's numbers for every claim family, and the bar each is judged
against by the one rule at the top of that file (``bar_reading``)."""

from __future__ import annotations

import math
import re
import tomllib
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# The readings a report was judged under, written into its meta (a report judged earlier names its own)
READINGS = (
    "the readings of 2026-12-07: an unprinted sd is its caption's bound (Table 1: 0.04); premises (ours) make a row "
    "INCONCLUSIVE, never FAIL; the headline is the paper's quantity; a PASS needs a structured control that FAILs; "
    "each agreement and fit row gives its null pass rate (docs/method.md)"
)


@cache
def fixture_table(name: str) -> dict:
    return tomllib.loads((FIXTURES / name).read_text())


def paper(claim: str) -> dict:
    """The paper's value, source and bars for a claim family (fixtures/paper.toml)."""
    table = fixture_table("paper.toml")
    if claim not in table:
        raise KeyError(f"fixtures/paper.toml has no [{claim}] section")
    return table[claim]


def families() -> list[str]:
    """The claim families fixtures/paper.toml describes."""
    return list(fixture_table("paper.toml"))


def paper_value(claim: str, key: str = "") -> str:
    """The paper's printed value for a claim (per dataset or variant ``key`` where the paper
    gives one per row); "not in the paper" for a row the paper does not report."""
    value = paper(claim).get("paper", "")
    if isinstance(value, dict):
        return value.get(key, "not in the paper")
    return value


def changes(scale_name: str) -> list[str]:
    """Verdicts that changed with a change of method, per scale (fixtures/changes.toml): each a
    finding with its old and new value and interval, for the report's notes."""
    found = fixture_table("changes.toml").get(scale_name, {})
    return [f"{when}: {line}" for when, lines in found.items() for line in lines]


def paper_number(text) -> tuple[float, float] | None:
    """The first number of the paper's value and its ± (0 when none): '0.90 ± 0.02' -> (0.9, 0.02)."""
    m = re.match(r"\s*(-?\d*\.?\d+)(?:\s*±\s*(\d*\.?\d+))?", str(text or ""))
    return (float(m.group(1)), float(m.group(2) or 0.0)) if m else None


def printed_bound(text) -> float | None:
    """The bound of a printed "above x" ('above 0.94 (App. C, Fig. 15)' -> 0.94), else None."""
    m = re.match(r"\s*above\s+(\d*\.?\d+)", str(text or ""))
    return float(m.group(1)) if m else None


K = 2.0  # the rule's multiple of the paper's spread (fixtures/paper.toml, top)


def per_seed_bar(claim: str, row: str) -> tuple[float, str] | None:
    """The bar each run must clear where the paper states a bound of the seeds it shows
    (``per_seed``: "Correlations are above 0.94", App. C): the bound less K x the sd the paper
    prints for the same quantity's row (Table 3: 0.94 ± 0.01 -> 0.92), as printed where it prints
    none. None where it states no such bound."""
    said = paper(claim).get("per_seed", {}).get(row)
    bound = printed_bound(said)
    if bound is None:
        return None
    number = paper_number(_row_value(claim, row))
    if number and number[1] > 0:
        value = round(bound - K * number[1], 6)
        return value, f"{bound:g} - {K:g} x {number[1]:g} (the sd the paper prints for the row) = {value:g}"
    return bound, f"the bound as printed, {bound:g}"


def spread(text, caption_sd: float | None = None) -> float:
    """The paper's spread of a printed value: its ± where printed; else the bound its caption
    gives for an unprinted sd (``caption_sd``: Table 1, "Standard deviation provided in cases it
    exceeds 0.04"); only where no caption speaks, half a unit of the value's last printed digit
    (its rounding): '0.94 ± 0.01' -> 0.01, ('0.99', 0.04) -> 0.04, '0.99' -> 0.005."""
    number = paper_number(text)
    if number is None:
        raise ValueError(f"no number in the paper's value {text!r}")
    if number[1] > 0:
        return number[1]
    if caption_sd:
        return float(caption_sd)
    digits = re.match(r"\s*-?\d*\.?(\d*)", str(text)).group(1)
    return 0.5 * 10.0 ** -len(digits)


def folded(mean: float, sd: float) -> tuple[float, float]:
    """Mean and sd of |X| for X ~ N(mean, sd): the paper's per-run |r| implied by its printed
    signed mean ± sd, so that a mean of per-run |r| is compared with the same quantity."""
    if sd <= 0:
        return abs(mean), 0.0
    m = sd * math.sqrt(2 / math.pi) * math.exp(-(mean**2) / (2 * sd**2)) + mean * math.erf(mean / (sd * math.sqrt(2)))
    return m, math.sqrt(max(mean**2 + sd**2 - m**2, 0.0))


def paper_level(claim: str, row: str = "") -> float | None:
    """The paper's value of the quantity a row judges (for runs needed at the paper's value):
    its printed number; for an "at most |x|" row, the mean |r| of ``folded``; for a statement,
    the ``level`` its words imply where fixtures/paper.toml gives one ("indistinguishable": 0)."""
    try:
        entry, text = paper(claim), str(_row_value(claim, row))
    except KeyError:
        return None
    if "level" in entry:
        return float(entry["level"])
    number = paper_number(text)
    if number is None or printed_bound(text) is not None:
        return None
    if entry.get("judge") == "at most |x|":
        return round(folded(number[0], spread(text, entry.get("caption_sd")))[0], 6)
    return number[0]


def _row_value(claim: str, row: str) -> str:
    value = paper(claim).get("paper", "")
    if isinstance(value, dict):
        if row not in value:
            raise KeyError(f"fixtures/paper.toml [{claim}] has no paper value for '{row}'")
        return value[row]
    return value


def bar_reading(claim: str, row: str = "") -> tuple[float, str]:
    """The bar of ``claim`` (per paper ``row`` where the paper gives one per dataset or subset)
    by the rule at the top of fixtures/paper.toml, and how it was derived ('0.94 - 2 x 0.01').
    The same at every scale: no scale has a bar of its own."""
    entry = paper(claim)
    if "bar_from" in entry:  # a statement with no number: the paper's own measurement of the same quantity
        source, source_row = entry["bar_from"]
        value, how = bar_reading(source, source_row)
        return value, f"{how}, from [{source}] {source_row}"
    judge = entry.get("judge")
    text = str(_row_value(claim, row))
    bound = printed_bound(text)
    if bound is not None and judge == "at least":  # the paper prints a bound ("above 0.93"): the bound as printed
        return bound, f"the paper's bound, {bound:g}"
    (v, printed_sd), s = paper_number(text), spread(text, entry.get("caption_sd"))
    printed = re.match(r"\s*(-?\d*\.?\d+)", text).group(1)
    said = f" (s: {entry['caption']})" if printed_sd == 0 and entry.get("caption_sd") else ""
    if judge == "at least":
        return round(v - K * s, 6), f"{printed} - {K:g} x {s:g}{said}"
    if judge == "at most":
        return round(v + K * s, 6), f"{printed} + {K:g} x {s:g}{said}"
    if judge == "at most |x|":
        m, sd = folded(v, s)
        how = (
            f"|{printed} ± {s:g}| as per-run |r| (folded normal: mean {m:.4f}, sd {sd:.4f}): "
            f"{m:.4f} + {K:g} x {sd:.4f} = {m + K * sd:.4f}, to 3 decimals toward the strict side"
        )
        return math.floor((m + K * sd) * 1000) / 1000, how + said  # 3 decimals, rounded toward the strict side
    raise KeyError(
        f"fixtures/paper.toml [{claim}]: judge = {judge!r} has no numeric bar (a statement's bars are named keys)"
    )


def bar(claim: str, row: str = "") -> float:
    """The bar of ``claim`` for paper ``row`` (``bar_reading``)."""
    return bar_reading(claim, row)[0]


def bar_text(claim: str, dataset: str = "") -> str:
    """How the bar of a claim's row follows from the paper's number by the rule at the top of
    fixtures/paper.toml ('0.94 - 2 x 0.01 = 0.92'), or the reading of a statement the paper
    gives no number for; '' where the claim has neither. Written into the row when judged."""
    try:
        entry = paper(claim)
    except KeyError:
        return ""
    if entry.get("judge") == "statement":
        return str(entry.get("reading", ""))
    for key in (dataset, "cifar10", ""):
        try:
            value, how = bar_reading(claim, key)
            return f"{how} = {value:g}"
        except (KeyError, TypeError, ValueError):
            continue
    return ""
