"""Give a ``results.json`` written before rows carried their bar's derivation, their models
and the data copies' notes those fields, once, from the rules of ``fixtures/`` and
``harness.data.copies`` (the rules the committed reports were judged under). A row that has a
field keeps it; afterwards the file renders on its own, whatever ``fixtures/`` say.

    python -m harness.report.migrate reports/*/results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.config.paper import bar_text
from harness.config.scales import ScaleError, scale
from harness.data.copies import DIFFERS
from harness.report.row import Row
from harness.report.words import models_named


def migrated(results: dict) -> dict:
    """``results`` with every row's missing ``bar_derivation`` and ``models`` and the meta's
    ``data_notes`` written in."""
    rows = []
    for c in results.get("claims", []):
        c = dict(c)
        if "bar_derivation" not in c and c.get("verdict") != "SKIP":
            c["bar_derivation"] = bar_text(str(c.get("claim", "")), str(c.get("dataset", ""))) or None
        if "models" not in c:
            try:
                s = scale(str(c.get("scale", "")))
                c["models"] = models_named(c.get("runs"), s.width, s.resnet_width) or None
            except (ScaleError, KeyError):
                c["models"] = None
        rows.append(Row.from_json(c).to_json())
    meta = dict(results.get("meta") or {})
    if "data_notes" not in meta:
        data = meta.get("data") or []
        meta["data_notes"] = {k: v for k, v in DIFFERS.items() if any(d.split(" ")[0] == k for d in data)}
    return {**results, "meta": meta, "claims": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.report.migrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="results.json files, rewritten in place")
    args = ap.parse_args(argv)
    for file in args.files:
        file.write_text(json.dumps(migrated(json.loads(file.read_text())), indent=2) + "\n")
        print(f"migrated {file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
