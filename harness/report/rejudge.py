"""Re-judge every committed report that was judged from the run store, and compare:

    python -m harness.report.rejudge reports/ci

For each ``reports/<name>/results.json`` whose header says it was judged from the store
(``meta.runs.store``), its own command is run again with ``--reference`` (its scale and its
``-k`` selection, nothing trained) into ``<out>/<name>``, and ``--compare --strict`` with the
committed one: a flipped verdict or a value changed beyond 1e-6 fails. So a committed report is
what today's code says of its runs, for every stored scale, in one command (``.ci/run``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stored_reports(reports: Path) -> list[tuple[str, dict]]:
    """(name, meta) of every report under ``reports`` judged from the run store."""
    out = []
    for path in sorted(reports.glob("*/results.json")):
        meta = json.loads(path.read_text()).get("meta", {})
        if "store" in (meta.get("runs") or {}):
            out.append((path.parent.name, meta))
    return out


KEPT = ("--scale", "-k", "-m")  # a report's selection; its other options are this run's own
DROPPED = ("--report-dir", "-n", "--run-cache", "--data-root", "--threads", "-p")  # with their values


def command(meta: dict, out: Path, workers: int) -> list[str]:
    """The report's own pytest command, judged from the store into ``out``: its scale, its ``-k``
    and ``-m`` selections and its test paths kept (``-k expr``, ``-k=expr`` or ``-kexpr``), its
    report folder, workers and caches replaced."""
    args = shlex.split(str(meta.get("command", "")))[1:]  # after "pytest"
    keep, paths, i = [], [], 0
    while i < len(args):
        a = args[i]
        name = next(
            (o for o in KEPT + DROPPED if a == o or a.startswith(o + "=") or (len(o) == 2 and a.startswith(o))), None
        )
        joined = name is not None and a != name
        value = (
            (a[len(name) :].removeprefix("=") if joined else (args[i + 1] if i + 1 < len(args) else "")) if name else ""
        )
        if name in KEPT:
            keep += [name, value]
        elif name is None and not a.startswith("-") and a != "claims/":
            paths.append(a)  # a test path or node id of the selection
        i += 1 if (name is None or joined) else 2
    if "--scale" not in keep:
        keep += ["--scale", str(meta.get("scale", "cpu"))]
    return [sys.executable, "-m", "pytest", *(paths or ["claims/"]), "-q", "-p", "no:cacheprovider", "--reference",
            "-n", str(workers), "--report-dir", str(out), *keep]  # fmt: skip


def main(argv=None, prog: str = "python -m harness.report.rejudge") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="folder for the re-judged reports (one sub-folder a report)")
    ap.add_argument("--reports", default=str(ROOT / "reports"), help="where the committed reports are")
    ap.add_argument("-n", dest="workers", type=int, default=2, help="pytest-xdist workers")
    args = ap.parse_args(argv)
    args.out, args.reports = Path(args.out).resolve(), Path(args.reports).resolve()
    found = stored_reports(args.reports)
    if not found:
        print(f"error: no report under {args.reports} was judged from the run store", file=sys.stderr)
        return 1
    failed = []
    for name, meta in found:
        out = Path(args.out) / name
        cmd = command(meta, out, args.workers)
        print(f"== {name}: {shlex.join(cmd[2:])}", flush=True)
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        if rc > 1:  # 1: a claim FAILed (a finding); more: a crash, a usage error, nothing collected
            failed.append(f"{name}: pytest exited {rc}")
            continue
        committed, new = str(Path(args.reports) / name / "results.json"), str(out / "results.json")
        for check in (["--check", new], ["--compare", committed, new, "--strict"]):
            if subprocess.run([sys.executable, "-m", "harness.report", *check], cwd=ROOT).returncode:
                failed.append(f"{name}: {check[0]} failed")
    print("\n".join(failed) or f"re-judged from the store: {', '.join(n for n, _ in found)}: no changes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
