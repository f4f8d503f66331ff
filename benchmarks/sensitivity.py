"""The sensitivity check (weekly): the central claims re-judged with the cpu scale's optimiser
settings changed one at a time to the paper's plain SGD at batch 256 (``cpu-sgd``), batch 64
(``cpu-batch64``) and batch 256 (``cpu-batch256``), fixtures/scales.toml. Each variant is its
own pytest session (its runs have their own cache keys) writing ``reports/sensitivity/<scale>/``;
then one table, ``reports/sensitivity/summary.md`` and ``summary.json``, sets every variant's
verdict and value beside the cpu reference's (``reports/cpu/results.json``), so a reader sees
whether any verdict depends on these choices.

    python benchmarks/sensitivity.py                 # the central claims, true and random labels
    python benchmarks/sensitivity.py --true-labels   # Table 1 SEED and TRAINED VS INIT only (four
                                                     # 500-step runs a variant: minutes, not hours)
    python benchmarks/sensitivity.py --summary       # rebuild the table from the reports on disk

Runs train at the scale's sizes: per variant, the central set is 4 runs of 500 steps, 3 of
3,000 (Table 3's stop) and 3 random-label runs of 3,000-6,000, at the variant's batch: about an
hour a variant at batch 256 on 2 cores (~850 images/s a worker).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "cpu-sgd": "plain SGD (momentum 0), batch 256: the paper's optimiser",
    "cpu-batch64": "momentum 0.9, batch 64",
    "cpu-batch256": "momentum 0.9, batch 256",
}
TRUE_LABELS = "(test_seed or test_init) and cifar10 and not cifar100"
CENTRAL = "(test_seed or test_init or test_formula or test_random_labels) and cifar10 and not cifar100"


def run(variant: str, select: str, out: Path, workers: int) -> int:
    cmd = [sys.executable, "-m", "pytest", "claims/", "-q", "--scale", variant, "-k", select]
    cmd += ["--report-dir", str(out / variant)] + (["-n", str(workers)] if workers > 1 else [])
    print("sensitivity:", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def rows(results: Path) -> dict:
    if not results.exists():
        return {}
    return {c["id"]: c for c in json.loads(results.read_text())["claims"] if c.get("verdict") != "SKIP"}


def cell(c: dict | None) -> str:
    if not c:
        return "not run"
    m = c.get("measured")
    interval = c.get("interval")
    value = f"{m:.3f}" if isinstance(m, (int, float)) else "—"
    if interval:
        value += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    why = (c.get("reason") or "").split(";")[0].split(": ")[-1] if c["verdict"] in ("FAIL", "INCONCLUSIVE") else ""
    return f"{c['verdict']} {value}" + (f" ({why})" if why and not why.startswith(value.split(" ")[0]) else "")


def summary(out: Path, reference: Path) -> dict:
    ref = rows(reference)
    variants = {v: rows(out / v / "results.json") for v in VARIANTS}
    ids = sorted({i for r in variants.values() for i in r})
    table = {i: {"cpu": cell(ref.get(i)), **{v: cell(r.get(i)) for v, r in variants.items()}} for i in ids}
    flips = [
        f"{i}: cpu {ref[i]['verdict']} -> {v} {r[i]['verdict']}"
        for i in ids
        for v, r in variants.items()
        if i in r and i in ref and r[i]["verdict"] != ref[i]["verdict"]
    ]
    lines = ["# Sensitivity of the central claims to the optimiser and batch", ""]
    lines += [f"- `{v}`: {what}" for v, what in VARIANTS.items()]
    lines += ["- `cpu`: the reference (momentum 0.9, batch 128), from reports/cpu"]
    lines += ["- claims: those in each variant's results.json (`--true-labels`: Table 1 SEED and TRAINED VS INIT)", ""]
    lines += ["| claim | cpu | " + " | ".join(VARIANTS) + " |", "|---" * (2 + len(VARIANTS)) + "|"]
    lines += [
        f"| `{i}` | " + " | ".join(table[i][k].replace("|", "\\|") for k in ["cpu", *VARIANTS]) + " |" for i in ids
    ]
    lines += ["", "## Verdicts that depend on the setting", ""]
    lines += [f"- {f}" for f in flips] or ["- none: every variant's verdict is the reference's"]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    data = {"table": table, "flips": flips, "variants": VARIANTS}
    (out / "summary.json").write_text(json.dumps(data, indent=1))
    print("\n".join(lines))
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--true-labels", action="store_true", help="only the claims without random-label nets")
    ap.add_argument("--summary", action="store_true", help="only rebuild the summary from reports on disk")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("-n", type=int, default=2, help="pytest-xdist workers (default 2)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "sensitivity")
    args = ap.parse_args(argv)
    if not args.summary:
        for v in args.variants:
            rc = run(v, TRUE_LABELS if args.true_labels else CENTRAL, args.out, args.n)
            if rc > 1:
                print(f"sensitivity: pytest for {v} exited {rc}", file=sys.stderr)
                return rc
    summary(args.out, ROOT / "reports" / "cpu" / "results.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
