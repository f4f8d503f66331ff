"""The words of a row: numbers, bars and their derivation, models, datasets, the header."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import timedelta
from fractions import Fraction

import pandas as pd

from harness.report import scorecard
from harness.verdicts.stats import MAX_RUNS

TITLE = "firstlayer: the paper's findings, re-measured"
VERDICTS = ("PASS", "FAIL", "DEVIATES", "INCONCLUSIVE", "SKIP", "ERROR")


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
        if t.startswith("FAIL: ") and not t.endswith(("(premise)", "(premise, ours)"))  # a premise never FAILs a row
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


MODEL_NAMES = {"vgg11": "VGG11", "vgg13": "VGG13", "vgg16": "VGG16", "vgg19": "VGG19", "resnet18": "ResNet-18"}


def models_named(labels, width: float, resnet_width: float) -> list[str]:
    """The models of run labels, named as trained: 'VGG11 (width 1/4)' (the body's width: ``width``
    for VGGs, ``resnet_width`` for ResNets)."""
    out = []
    for label in labels or []:
        model = label.split(" ")[0]
        w = resnet_width if model.startswith("resnet") else width
        name = MODEL_NAMES.get(model, model)
        name += "" if w == 1 else f" (width {Fraction(w).limit_denominator(64)})"
        if name not in out:
            out.append(name)
    return out


def models_of(c: dict) -> list[str]:
    """The models a row's runs trained, as the row names them."""
    return list(c.get("models") or [])


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
    if meta.get("rules"):
        out.append(("judged under", str(meta["rules"])))
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
        if "store" in r:
            flagged = r.get("flagged") or {}
            how = f"judged from the run store {r['store']}, nothing trained" + (
                f"; {len(flagged)} of its runs trained by other training code ({', '.join(sorted(flagged))})"
                if flagged
                else "; every run trained by today's training code"
            )
        made = r.get("read_made") or {}
        if made and r.get("read"):
            rates = made.get("rates") or []
            how += (
                f"; the runs read had trained {timedelta(seconds=round(made.get('train_s', 0)))}"
                + (f" at {rates[0]:,}-{rates[1]:,} images/s a worker" if rates else "")
                + (f" on {', '.join(made['machines'])}" if made.get("machines") else "")
                + (
                    f", begun {made['dates'][0]}"
                    + (f" to {made['dates'][1]}" if made["dates"][1] != made["dates"][0] else "")
                    if made.get("dates")
                    else ""
                )
                + (
                    ", by training code "
                    + ", ".join(f"{fp} ({n} runs)" for fp, n in sorted(made["training_code"].items()))
                    if made.get("training_code")
                    else ""
                )
            )
        out.append(
            (
                "runs",
                f"{r.get('trained', 0)} trained by this run ({timedelta(seconds=round(r.get('train_s', 0)))}), "
                f"{r.get('read', 0)} read from the run {'store' if 'store' in r else 'cache'}: {how}",
            )
        )
    if meta.get("data"):
        differs = meta.get("data_notes") or {}
        named = [d + (f" [{differs[d.split(' ')[0]]}]" if d.split(" ")[0] in differs else "") for d in meta["data"]]
        out.append(("data (under the data root)", "; ".join(named)))
    if isinstance(meta.get("wall_s"), (int, float)):
        out.append(("wall time", str(timedelta(seconds=round(meta["wall_s"])))))
    out.append(("command", str(meta.get("command", "?"))))
    return out


def bar_derivation(c: dict) -> str:
    """How the row's bar follows from the paper's number (fixtures/paper.toml's rule when the row
    was judged), or the reading of a statement the paper gives no number for."""
    return str(c.get("bar_derivation") or "")


def details(c: dict, machines: dict | None = None) -> list[tuple[str, str]]:
    """The claim's details; ``machines``: {id: where its verdict differs in the history, by
    machine or thread count within one commit or with the method across commits}
    (``history.across_machines``)."""
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
        over = (needed.get("at the paper's value") or 0) > MAX_RUNS
        cap = f" (over the {MAX_RUNS} a group the scales give by the power rule: docs/method.md)" if over else ""
        rows.append(("runs per group needed to decide", ("; ".join(said) or "more than 100, or at the bar") + cap))
    if (machines or {}).get(c["id"]):
        label = (
            "verdict in the history's clean runs (by machine or thread count only between runs of one"
            " commit, which share code and rules; across commits, with the method)"
        )
        rows.append((label, machines[c["id"]]))
    return rows


def statement(c: dict) -> str:
    return f"{c.get('source', '')}: {c.get('title', '')} (paper: {c.get('paper', '')})"


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
