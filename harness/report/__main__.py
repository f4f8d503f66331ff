"""``firstlayer report`` / ``python -m harness.report``: build a report folder from a
``results.json``, compare two results, or check one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from harness.report.build import InputError, build, compare, load, problems, resolve


def main(argv=None, prog: str = "python -m harness.report") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    ap.add_argument("--results", default="reports/latest/results.json", help="results.json to render")
    ap.add_argument("--out", default=None, help="folder to write the report into (default: the results' folder)")
    ap.add_argument("--history", default="reports/history.csv", help="the history of full runs")
    ap.add_argument(
        "--compare",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="diff two runs (results.json, or history:<index|date|commit>); exit 1 if a verdict flipped",
    )
    ap.add_argument(
        "--strict",
        action="store_true",
        help="--compare: exit 1 on any change too (a value changed beyond 1e-6 of it, a row new or not run), "
        "not only a flip; values within 1e-6 count as equal (float64 sums of another CPU kind)",
    )
    ap.add_argument("--check", metavar="RESULTS", help="exit 1 if the run has no claims or an ERROR (for CI)")
    args = ap.parse_args(argv)
    try:
        if args.check:
            found = problems(load(args.check))
            print("\n".join(found) or f"{args.check}: no ERROR, {len(load(args.check)['claims'])} claims")
            return 1 if found else 0
        if args.compare:
            rows = compare(*(resolve(r, Path(args.history)) for r in args.compare), tol=1e-6 if args.strict else 0.0)
            print(pd.DataFrame(rows).to_string(index=False) if rows else "no changes")
            flips = sum(r["flipped"] for r in rows)
            print(f"flipped: {flips}")
            return 1 if flips or (args.strict and rows) else 0
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
