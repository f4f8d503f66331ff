"""A user's report beside the run store's: the values of a run that trained its own runs, set
against the committed report of the same scale that was judged from the store
(``reports/<scale>/results.json``), row by row.

On the CPU kind that trained the stored runs, with today's training code and thread counts,
every value is equal (to 1e-6, float64 sums); on another kind the trained bits differ from the
third decimal (docs/reproducibility.md), and a flipped verdict is what a reader must see first.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.report.build import compare

TOL = 1e-6


def reference_of(scale: str, reports: Path) -> tuple[Path, dict] | None:
    """The committed report of ``scale`` judged from the run store, if there is one."""
    path = Path(reports) / scale / "results.json"
    if not path.exists():
        return None
    ref = json.loads(path.read_text())
    return (path, ref) if "store" in ((ref.get("meta") or {}).get("runs") or {}) else None


def _machines(results: dict) -> list[str]:
    return ((results.get("meta") or {}).get("runs") or {}).get("read_made", {}).get("machines") or []


def against(ref: dict, here: dict, name: str) -> dict:
    """The rows both reports judged: how many are equal, which values differ, which verdicts flip."""
    ids = {c["id"] for c in here.get("claims", [])} & {c["id"] for c in ref.get("claims", [])}
    pick = lambda r: {**r, "claims": [c for c in r.get("claims", []) if c["id"] in ids]}  # noqa: E731
    rows = compare(pick(ref), pick(here), tol=TOL)
    kinds = {
        "store": _machines(ref),
        "here": sorted({*_machines(here), *([here["meta"]["machine"]] if here.get("meta", {}).get("machine") else [])}),
    }
    return {
        "report": name,
        "rows": len(ids),
        "equal": len(ids) - len(rows),
        "differ": [{k: r[k] for k in ("id", "old", "new", "old_measured", "new_measured")} for r in rows],
        "flipped": [r["id"] for r in rows if r["flipped"]],
        "cpu_kinds": kinds,
    }


def _value(x) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def note(found: dict) -> str:
    """The comparison in words, for the report's notes."""
    same = set(found["cpu_kinds"]["here"]) <= set(found["cpu_kinds"]["store"])
    kind = (
        "the CPU kind that trained the stored runs: every value should be equal"
        if same
        else f"another CPU kind than the store's ({', '.join(found['cpu_kinds']['store']) or 'unknown'}): "
        "values differ from the third decimal, a verdict should not"
    )
    head = (
        f"Against the run store ({found['report']}, judged from its stored runs): of {found['rows']} rows both "
        f"judged, {found['equal']} equal to {TOL:g}; trained here on {kind}."
    )
    if not found["differ"]:
        return head
    each = "; ".join(
        f"{d['id']}: store {_value(d['old_measured'])} {d['old']}, here {_value(d['new_measured'])} {d['new']}"
        for d in found["differ"]
    )
    flips = f" Flipped: {', '.join(found['flipped'])}." if found["flipped"] else " No verdict flipped."
    return f"{head} Differ: {each}.{flips}"
