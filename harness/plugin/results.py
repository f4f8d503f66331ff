"""The report plugin: collects every claim row (workers' rows arrive through xdist) and the
runs each process trained or read, writes the report with its metadata (and, for a full run,
appends it to the history), and ends the run with a one-glance summary."""

from __future__ import annotations

import datetime
import json
import platform
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from harness.config.paper import READINGS, changes, families
from harness.data.copies import DIFFERS
from harness.measures.theory import PAPER_NOTES
from harness.plugin.declared import empty_variant
from harness.plugin.state import DATA_ROOT, DEVICE, ROOT, RUN_CACHE, RUNS, SCALE
from harness.report import build, history, reference
from harness.report.words import VERDICTS
from harness.training.provenance import machine
from harness.training.store import StoreCache
from harness.verdicts.stats import NOTE


def _made(made: dict, keys, origin: dict | None = None) -> dict:
    """How the runs read from the cache were trained: their training seconds, the range of their
    rates (images/s a worker), the machines, and (``origin``: each run's provenance) the dates
    they were begun and the training code that trained them, from each run's own record."""
    segments = [sg for k in keys for sg in made.get(k, [])]
    if not segments:
        return {}
    rates = [sg["images_per_s"] for sg in segments if sg.get("images_per_s")]
    begun = sorted({(origin or {}).get(k, {}).get("date", "")[:10] for k in keys} - {""})
    codes: dict = {}
    for k in keys:
        fp = (origin or {}).get(k, {}).get("fingerprint")
        if fp:
            codes[fp] = codes.get(fp, 0) + 1
    return {
        "train_s": round(sum(sg.get("seconds") or 0 for sg in segments), 1),
        "rates": [min(rates), max(rates)] if rates else [],
        "machines": sorted({sg["machine"] for sg in segments if sg.get("machine")}),
        **({"dates": [begun[0], begun[-1]]} if begun else {}),
        **({"training_code": codes} if codes else {}),
    }


class ReportPlugin:
    """Collects every claim row (workers' rows arrive through xdist) and the runs each process
    trained or read, writes the report (and, for a full run, appends it to the history), and
    ends the session with a one-glance summary."""

    def __init__(self, config):
        self.config, self.rows, self.t0 = config, {}, time.time()
        self.deselected, self.runs = 0, {"trained": [], "read": set()}
        self.out: Path | None = None

    def pytest_deselected(self, items):
        """A user's narrowing (-k, -m, --deselect); not the plugin's own deselection of a variant
        list the scale leaves empty, which a full run has too."""
        self.deselected += sum(not empty_variant(i) for i in items)

    def pytest_runtest_logreport(self, report):
        for name, value in report.user_properties:
            if name == "firstlayer":
                row = json.loads(value)
                self.rows[row["id"]] = row  # one row per claim

    def _merge(self, summary: dict) -> None:
        self.runs["trained"] += summary.get("trained", [])
        self.runs["read"] |= set(summary.get("read", []))
        self.runs.setdefault("made", {}).update(summary.get("made", {}))
        self.runs.setdefault("origin", {}).update(summary.get("origin", {}))
        if "store" in summary:
            self.runs["store"] = summary["store"]
            self.runs.setdefault("flagged", {}).update(summary.get("flagged", {}))

    def _own(self) -> dict:
        cache = self.config.stash.get(RUNS, None)
        if not cache:
            return {}
        made, origin = {}, {}  # how each run read from the cache was trained: segments; date and code
        for key in cache.loaded:
            try:
                segments = json.loads((cache.root / "runs" / key / "metrics.json").read_text())["segments"]
                prov = json.loads((cache.root / "runs" / key / "provenance.json").read_text())
            except (OSError, ValueError, KeyError):
                continue
            made[key] = [{k: sg.get(k) for k in ("seconds", "images_per_s", "machine")} for sg in segments]
            origin[key] = {"date": prov.get("date", ""), "fingerprint": prov.get("fingerprint")}
        # the run store: the runs it read that other training code trained
        store = {"store": str(cache.root / "runs"), "flagged": cache.flagged} if isinstance(cache, StoreCache) else {}
        return {"trained": cache.trained, "read": sorted(cache.loaded), "made": made, "origin": origin, **store}

    def pytest_testnodedown(self, node, error):  # xdist: a worker's runs reach the controller
        self._merge(json.loads(getattr(node, "workeroutput", {}).get("firstlayer_runs", "{}")))

    def full_run(self) -> bool:
        """No -k, -m, deselection or single tests: the run that the history and reports/latest keep."""
        opt, args = self.config.option, self.config.invocation_params.args
        narrowed = any("::" in str(a) or str(a).endswith(".py") for a in args)
        return not (self.deselected or opt.keyword or opt.markexpr or narrowed)

    def report_dir(self) -> Path:
        """--report-dir; else reports/latest for a full run, reports/selections/<selection> for a
        -k/-m/single-test run, so a selection never replaces the last full report."""
        given = self.config.getoption("report_dir")
        if given:
            return Path(given)
        if self.full_run():
            return ROOT / "reports" / "latest"
        opt = self.config.option
        words = [f"k-{opt.keyword}" if opt.keyword else "", f"m-{opt.markexpr}" if opt.markexpr else ""]
        words += [str(a) for a in self.config.invocation_params.args if "::" in str(a) or str(a).endswith(".py")]
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(w for w in words if w)).strip("-")
        return ROOT / "reports" / "selections" / (name or "selection")

    def pytest_sessionfinish(self, session):
        if hasattr(self.config, "workerinput"):
            self.config.workeroutput["firstlayer_runs"] = json.dumps(self._own())
            return
        self._merge(self._own())
        if not self.rows:
            return

        self.out = self.report_dir()
        claims = [self.clean(r) for r in self.rows.values()]
        notes = [NOTE, *changes(self.config.stash[SCALE].name), *PAPER_NOTES]
        results = {"meta": self.clean(self.meta(claims)), "claims": claims, "notes": notes}
        found = None if "store" in self.runs else reference.reference_of(results["meta"]["scale"], ROOT / "reports")
        if found and found[0].parent.resolve() != self.out.resolve():  # a user's runs beside the store's
            results["meta"]["reference"] = reference.against(found[1], results, str(found[0].relative_to(ROOT)))
            notes.insert(1, reference.note(results["meta"]["reference"]))
        history_file = self.out.parent / "history.csv"
        if self.full_run() and self.config.stash[SCALE].judged:
            history.append(results, history_file)
        build.build(results, self.out, history_file)

    def meta(self, claims: list[dict]) -> dict:
        import torch
        import torchvision

        def git(*args):
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

        s = self.config.stash[SCALE]
        trained = {t["key"] for t in self.runs["trained"]}
        data = sorted({r.get("data_source") for r in claims if r.get("data_source")})
        return {
            "commit": git("rev-parse", "--short", "HEAD") or "uncommitted",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports")),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "python": platform.python_version(),
            "scale": s.name,
            "judged": s.judged,
            "rules": READINGS,
            "device": torch.cuda.get_device_name() if self.config.stash[DEVICE] == "cuda" else "cpu",
            "machine": machine(),
            # the thread counts that trained the runs read (a -n 2 worker trains on one): CPU values
            # depend on them (docs/reproducibility.md); this process's where no claim read a run
            "threads": sorted({t for c in claims for t in c.get("threads") or []}) or [torch.get_num_threads()],
            "runs": {
                "trained": len(trained),
                "read": len(self.runs["read"] - trained),
                "train_s": round(sum(t["seconds"] for t in self.runs["trained"]), 1),
                "read_made": _made(self.runs.get("made", {}), self.runs["read"] - trained, self.runs.get("origin")),
                **({"store": "reports/runs", "flagged": self.runs.get("flagged", {})} if "store" in self.runs else {}),
            },
            "data": data,
            # how each copy read differs from the original, as said when judged
            "data_notes": {k: v for k, v in DIFFERS.items() if any(d.split(" ")[0] == k for d in data)},
            "order": families(),
            "wall_s": round(time.time() - self.t0, 1),
            "command": "pytest " + shlex.join(str(a) for a in self.config.invocation_params.args),
        }

    def clean(self, row: dict) -> dict:
        """No path of this machine in a report: the report dir (outside the checkout), data
        root, run cache, checkout and home directory are named, not spelled out."""
        out = self.out.resolve() if self.out else None
        inside = out is not None and out.is_relative_to(ROOT)
        names = [
            *([(str(out), "<report dir>")] if out is not None and not inside else []),
            (str(self.config.stash[DATA_ROOT]), "<data root>"),
            (str(self.config.stash[RUN_CACHE]), "<run cache>"),
            (str(ROOT), "."),
            (str(Path.home()), "~"),
        ]

        def scrub(v):
            if isinstance(v, str):
                for path, name in names:
                    v = v.replace(path, name)
                return v
            if isinstance(v, list):
                return [scrub(x) for x in v]
            if isinstance(v, dict):
                return {k: scrub(x) for k, x in v.items()}
            return v

        return {k: (v if k == "figures" else scrub(v)) for k, v in row.items()}

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter):
        """One glance at the end: verdicts, the runs trained and read, the slowest, the report."""
        if hasattr(self.config, "workerinput") or not self.rows:
            return
        from collections import Counter

        tr = terminalreporter
        counts = Counter(r["verdict"] for r in self.rows.values())
        tr.write_sep("=", "firstlayer")
        tr.write_line("verdicts: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS))
        trained, held = self.runs["trained"], "the run store" if "store" in self.runs else "the run cache"
        tr.write_line(
            f"runs: {len({t['key'] for t in trained})} trained ({sum(t['seconds'] for t in trained) / 60:.1f} min), "
            f"{len(self.runs['read'] - {t['key'] for t in trained})} read from {held}"
        )
        for t in sorted(trained, key=lambda t: -t["seconds"])[:5]:
            tr.write_line(f"  {t['seconds']:7.1f} s  {t['label']} (steps {t['from']}-{t['to']})")
        tr.write_line(f"report: {self.out}/report.html (and report.md)")
