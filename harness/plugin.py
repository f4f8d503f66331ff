"""The pytest plugin of firstlayer (registered by the root ``conftest.py`` through
``pytest_plugins``): options, the scale and device in the config stash, the report header,
the check of claim families against ``fixtures/paper.toml``, the fixtures every claim shares
(scale, datasets, runs, pca, the claim's declared runs, record), and the report rows.

A claim is one declaration: ``@pytest.mark.claim(family, runs=fn, converge=False)``, where
``fn(scale, **params)`` returns the runs the claim reads ({name: spec or [specs]}) for the
test's parameters. Before a process runs its first claim, whether or not that claim reads
runs, every run the session's claims declare is trained (``RunCache.prefill``: with ``-n N``
the workers take different runs);
the ``trained`` fixture then hands the test its own runs, from the same declaration. A claim
declared with ``converge=True`` is judged by the stop rule (``judged_step``): all its runs
at the first stop at which every random-label net among them has memorised.
"""

from __future__ import annotations

import datetime
import inspect
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from .runs import Run, RunCache, RunSpec
from .scales import Scale, ScaleError, families, paper, paper_value
from .scales import scale as load_scale
from .sources import DatasetNotFound, Datasets, default_root

ROOT = Path(__file__).resolve().parent.parent
SCALE = pytest.StashKey[Scale]()
DEVICE = pytest.StashKey[str]()
DATA_ROOT = pytest.StashKey[Path]()
RUN_CACHE = pytest.StashKey[Path]()
PROFILE = pytest.StashKey[str]()
ROW = pytest.StashKey[dict]()
RUNS = pytest.StashKey["RunCache"]()
VERDICT = pytest.StashKey["object"]()
JUDGED = pytest.StashKey[dict]()

settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile(
    "ci", max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("nightly", max_examples=200, deadline=None)


def pytest_addoption(parser):
    g = parser.getgroup("firstlayer")
    g.addoption("--gpu", action="store_true", help="train on CUDA (default scale becomes 'paper')")
    g.addoption("--scale", default=None, help="scale from fixtures/scales.toml (default: cpu; paper with --gpu)")
    g.addoption(
        "--data-root", default=None, help="dataset folder (default: $FIRSTLAYER_DATA, else ~/.cache/firstlayer/data)"
    )
    g.addoption(
        "--run-cache",
        "--cache-dir",
        dest="run_cache",
        default=None,
        help="trained-run cache (default: $FIRSTLAYER_CACHE, else ./.firstlayer-cache)",
    )
    g.addoption("--report-dir", default=None, help="where the report is written (default: reports/latest)")
    g.addoption(
        "--no-download",
        action="store_true",
        help="never fetch missing datasets or weights (default: torchvision fetches them); "
        "also FIRSTLAYER_NO_DOWNLOAD=1",
    )
    g.addoption("--download", action="store_true", help="(the default; kept for old commands)")


MARKERS = (
    "claim(family, runs=None, converge=False): a quantitative claim of the paper (a row of reports/); runs: its "
    "declared runs; converge: judged by the stop rule (the first stop at which its random-label nets memorised)",
    "slow: trains networks; minutes at cpu scale",
    "gpu: needs --gpu (CUDA)",
)


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev")
    settings.load_profile(profile)
    config.stash[PROFILE] = profile
    gpu = config.getoption("gpu")
    if gpu:
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                f"--gpu: no CUDA device is visible to torch (torch {torch.__version__}); drop --gpu to run on the CPU"
            )
    try:
        config.stash[SCALE] = load_scale(config.getoption("scale") or ("paper" if gpu else "cpu"))
    except ScaleError as exc:
        raise pytest.UsageError(f"--scale: {exc}") from None
    config.stash[DEVICE] = "cuda" if gpu else "cpu"
    given = config.getoption("data_root") or os.environ.get("FIRSTLAYER_DATA")
    if given and not Path(given).is_dir():
        what = "--data-root" if config.getoption("data_root") else "FIRSTLAYER_DATA"
        raise pytest.UsageError(f"{what} {given}: no such folder")
    config.stash[DATA_ROOT] = Path(given) if given else default_root()
    config.stash[RUN_CACHE] = Path(
        config.getoption("run_cache") or os.environ.get("FIRSTLAYER_CACHE") or ROOT / ".firstlayer-cache"
    )
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and not gpu:  # -n N on the CPU: share the cores, do not oversubscribe
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    config.pluginmanager.register(ReportPlugin(config), "firstlayer-report")


def pytest_report_header(config):
    s, root = config.stash[SCALE], config.stash[DATA_ROOT]
    return [
        f"firstlayer: scale {s.name} ({'judged' if s.judged else 'not judged'}), device {config.stash[DEVICE]}, "
        f"hypothesis profile {config.stash[PROFILE]}",
        f"firstlayer: data root {root} (pretrained layers: {root.parent / 'pretrained'}), "
        f"run cache {config.stash[RUN_CACHE]}, downloads {'on' if downloading(config) else 'off'}",
    ]


def pytest_collection_modifyitems(config, items):
    """Every claim family must have its section in fixtures/paper.toml (one clear line). At a
    scale that is not judged (smoke), a claim whose check fails is expected: only a crash
    (any exception but AssertionError) fails the run."""
    known = set(families())
    s = config.stash[SCALE]
    for item in items:
        marker = item.get_closest_marker("claim")
        if marker is None:
            continue
        if not marker.args or marker.args[0] not in known:
            family = marker.args[0] if marker.args else "(none)"
            raise pytest.UsageError(f"{item.nodeid}: claim family '{family}' has no section in fixtures/paper.toml")
        if not s.judged:
            reason = f"scale {s.name} is not judged: it runs the code paths, its verdicts mean nothing"
            item.add_marker(pytest.mark.xfail(raises=AssertionError, strict=False, reason=reason), append=False)


def pytest_generate_tests(metafunc):
    """``dataset``: the scale's main dataset plus the extra ones (skipped when absent)."""
    if "dataset" in metafunc.fixturenames:
        metafunc.parametrize("dataset", metafunc.config.stash[SCALE].datasets)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def scale(pytestconfig) -> Scale:
    return pytestconfig.stash[SCALE]


@pytest.fixture(scope="session")
def device(pytestconfig) -> str:
    if pytestconfig.stash[DEVICE] == "cpu":
        return "cpu"
    import torch

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # pin xdist worker i to GPU i
    return f"cuda:{int(worker[2:]) % torch.cuda.device_count()}"


@pytest.fixture(scope="session")
def progress(pytestconfig):
    """``progress(msg)``: a line on the real terminal, past pytest's capture (training,
    downloads and first decodes are long)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(msg):
        with capture.global_and_fixture_disabled():
            print(f"firstlayer: {msg}", file=sys.stderr, flush=True)

    return say


def downloading(config) -> bool:
    return not (config.getoption("no_download") or os.environ.get("FIRSTLAYER_NO_DOWNLOAD", "") not in ("", "0"))


@pytest.fixture(scope="session")
def datasets(pytestconfig, progress) -> Datasets:
    """The one door to data: splits, a run's training set, patch PCAs, pretrained layers."""
    cfg = pytestconfig
    return Datasets(cfg.stash[DATA_ROOT], cfg.stash[RUN_CACHE], download=downloading(cfg), progress=progress)


@pytest.fixture(scope="session")
def runs(pytestconfig, datasets, device, progress) -> RunCache:
    """The shared run cache: ``runs.get(spec)`` returns a trained run (training it once)."""
    cache = RunCache(pytestconfig.stash[RUN_CACHE], datasets, device, progress=progress)
    pytestconfig.stash[RUNS] = cache  # for the report: the runs this process trained and read
    return cache


@pytest.fixture(scope="session")
def pca(datasets):
    """``pca(spec, size=3)``: exact patch PCA of the images the spec trains on (Def. 2.1)."""
    return datasets.pca


def declared_runs(item, s: Scale) -> dict:
    """The runs ``item``'s claim marker declares, for its parameters: {name: spec or [specs]}."""
    marker = item.get_closest_marker("claim")
    declare = marker.kwargs.get("runs") if marker else None
    if declare is None or item.get_closest_marker("skip"):  # e.g. an empty parameter set: a scale
        return {}  # with no App. D variants parametrizes nothing, and nothing is declared
    params = item.callspec.params if hasattr(item, "callspec") else {}
    wanted = list(inspect.signature(declare).parameters)[1:]
    return declare(s, **{k: params[k] for k in wanted})


def _specs(declared: dict) -> list[RunSpec]:
    return [s for v in declared.values() for s in ([v] if isinstance(v, RunSpec) else v)]


def _each(declared: dict, fn) -> dict:
    """``fn`` applied to every spec of a declaration, keeping its shape ({name: spec or [specs]})."""
    return {name: fn(v) if isinstance(v, RunSpec) else [fn(s) for s in v] for name, v in declared.items()}


def converging(item) -> bool:
    marker = item.get_closest_marker("claim")
    return bool(marker and marker.kwargs.get("converge"))


def judged_step(item, s: Scale, runs: RunCache, skip=()) -> int | None:
    """The stop rule (issue 12) of a claim declared with ``converge=True``: the first of
    ``s.stops(length)`` (length: the one length its runs are declared at; then every
    ``converged_every`` steps up to ``converged_cap``) at which every random-label run it
    declares has memorised (``checks.memorised``: train accuracy >= fixtures/paper.toml
    [converged] min_train_acc); the cap if none has. Its runs are trained on to it, each stop
    evaluated. The rule reads the premise only, never the claim's measure, so it cannot choose
    a length by the verdict. Claims with the same runs share the step (``JUDGED``), and an
    error of the rule too: it is raised again, not met again (a second failing download)."""
    from .checks import memorised

    specs = _specs(declared_runs(item, s))
    if not specs:
        return None
    lengths = {r.steps for r in specs}
    if len(lengths) != 1:
        raise ValueError(f"{item.nodeid}: converge=True needs one length for every declared run, got {sorted(lengths)}")
    start = lengths.pop()
    known = item.config.stash.setdefault(JUDGED, {})
    key = (start, tuple(sorted({r.key for r in specs})))
    if key not in known:

        def ready(rs) -> bool:
            rand = [r for r in rs if r.spec.labels == "random"]
            return not rand or memorised(rand).verdict == "PASS"

        try:
            known[key] = runs.converge(specs, s.stops(start), ready, skip)
        except Exception as exc:
            known[key] = exc
    if isinstance(known[key], Exception):
        raise known[key]
    return known[key]


@pytest.fixture(scope="session")
def prefilled(request, runs, scale) -> None:
    """Train every run the session's claims declare, the longest first (then the slowest
    models), so that with ``-n N`` no long run is left to one worker at the end; then the stop
    rule's claims on to their judged stops (in the items' order, so workers share them)."""
    specs = [s for item in request.session.items for s in _specs(declared_runs(item, scale))]
    specs.sort(key=lambda r: (-r.steps, r.model == scale.model and r.first <= 64, r.subset != "", r.inputs != "plain"))
    runs.prefill(specs, skip=(DatasetNotFound,))
    for item in request.session.items:
        if converging(item):
            try:
                judged_step(item, scale, runs, skip=(DatasetNotFound,))
            except Exception:  # left to the claim: `trained` raises it again (absent data: a
                continue  # skip with its line; anything else: its own ERROR row)


@pytest.fixture(autouse=True)
def takes_its_share(request) -> None:
    """Every claim, also one that reads no run, trains its process's share of the session's
    runs (``prefilled``) before it runs. Otherwise an ``-n N`` worker that is handed only claims
    without runs idles while another trains every run: with ``-k whitening`` one of three
    claims reads runs, and one worker trained them all. A training error is swallowed here and
    left to the claims that read the runs: pytest caches a session fixture's setup error, so
    prefill is not tried again, and each claim that reads runs errors at ``prefilled``'s setup
    (it requests it, and it is set up before the claim's function-scoped fixtures)."""
    if request.node.get_closest_marker("claim"):
        try:
            request.getfixturevalue("prefilled")
        except Exception:
            pass


@pytest.fixture
def trained(request, runs, scale, prefilled) -> dict:
    """This claim's declared runs, trained: {name: Run or [Runs]}; for a ``converge=True``
    claim, at its judged step (``judged_step``)."""
    declared = declared_runs(request.node, scale)
    row = request.node.stash.setdefault(ROW, {})
    n = judged_step(request.node, scale, runs) if converging(request.node) else None
    if n is not None:
        specs = _specs(declared)
        stops = scale.stops(specs[0].steps)
        if not any(r.labels == "random" for r in specs):
            row["judged"] = f"step {n}: the declared length (no random-label net for the stop rule to wait for)"
        elif len(stops) == 1:
            row["judged"] = f"step {n}: the stop rule's only stop (the declared length is at its cap)"
        else:
            row["judged"] = (
                f"step {n}: the stop rule's first of {', '.join(map(str, stops))} at which every random-label "
                "net has memorised" + ("" if n < stops[-1] else " (or its cap)")
            )
        declared = _each(declared, lambda r: replace(r, steps=n))
    out = _each(declared, runs.get)
    every = [r for v in out.values() for r in ([v] if isinstance(v, Run) else v)]
    if every:
        row.setdefault("data_source", every[0].provenance.get("data_source", ""))
        row.setdefault("device", every[0].provenance.get("device", ""))
        row["threads"] = sorted({r.provenance.get("threads") for r in every} - {None})  # CPU sums depend on it
        row["runs"] = sorted({f"{r.spec.label()} [{r.spec.key}]" for r in every})
    return out


@pytest.fixture
def record(request):
    """``record(measured=..., sd=..., n=..., details=..., figures=..., paper=..., threshold=...)``:
    the numbers of this claim for the report (call it before asserting)."""
    row = request.node.stash.setdefault(ROW, {})

    def put(**values) -> dict:
        row.update(values)
        return row

    return put


@pytest.fixture
def conclude(request, record, scale):
    """``conclude(verdict, main=None)``: the claim's verdict (``harness.checks.judge``) ends the
    test: PASS returns, FAIL fails it, DEVIATES and INCONCLUSIVE end it as xfailed with the
    reason; the report row takes the verdict, the conditions and the ``main`` condition's
    estimate (default: the last condition). At a scale that is not judged every verdict ends
    as xfailed: the row still shows what the check said."""

    def done(v, main=None):
        c = main or (v.conditions[-1] if v.conditions else None)
        if c is not None:
            lo, hi = c.estimate.interval
            record(
                measured=c.estimate.mean,
                sd=c.estimate.sd,
                n=c.estimate.n,
                interval=[lo, hi] if lo != hi else None,
                threshold=f"{c.what} {c.op} {c.bar:g}",
                bar=c.bar,
                op=c.op,
            )
        record(conditions=[f"{x.verdict}: {x.text()}" + (" (premise)" if x.premise else "") for x in v.conditions])
        request.node.stash[VERDICT] = v
        if not scale.judged:
            pytest.xfail(f"scale {scale.name} is not judged ({v.verdict}): {v.reason}")
        if v.verdict == "FAIL":
            pytest.fail(v.reason, pytrace=False)
        if v.verdict in ("DEVIATES", "INCONCLUSIVE"):
            pytest.xfail(f"{v.verdict}: {v.reason}")

    return done


# ---------------------------------------------------------------- report rows


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    claim = item.get_closest_marker("claim") is not None
    if claim and call.excinfo is not None and call.excinfo.errisinstance(DatasetNotFound):
        # missing data or weights: the claim cannot be measured here, a skip with its one line
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1], f"Skipped: {call.excinfo.value}")
    marker = item.get_closest_marker("claim")
    if marker is None:
        return report
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if not final:
        return report
    family = marker.args[0]
    entry = paper(family)
    params = item.callspec.params if hasattr(item, "callspec") else {}
    param = item.callspec.id if hasattr(item, "callspec") else ""
    dataset = params.get("dataset", "")
    name = getattr(item, "originalname", item.name).removeprefix("test_")
    row = {
        "id": f"{name}[{param}]" if param else name,
        "nodeid": item.nodeid,
        "claim": family,
        "title": entry.get("title", family),
        "part": entry.get("part", ""),
        "source": entry.get("source", ""),
        "dataset": dataset,
        "data_source": "",
        "threads": [],
        "measured": None,
        "sd": None,
        "n": None,
        "threshold": "",
        "reason": "",
        "scale": item.config.stash[SCALE].name,
        "device": "",
        "seconds": report.duration,
        "details": {},
        "figures": [],
    }
    row.update(item.stash.get(ROW, {}))
    row.setdefault("paper", paper_value(family, row["dataset"]))
    row["verdict"], row["reason"] = verdict_of(item, call, report)
    report.user_properties.append(("firstlayer", json.dumps(row, default=float)))
    return report


def verdict_of(item, call, report) -> tuple[str, str]:
    """The row's verdict: SKIP for absent data; the verdict ``conclude`` reached; FAIL for an
    assertion of the claim (or of a property test); ERROR for any other exception, a crash
    that must never show as anything else."""
    exc = call.excinfo
    concluded = item.stash.get(VERDICT, None)
    crashed = exc is not None and not exc.errisinstance(
        (AssertionError, pytest.fail.Exception, pytest.xfail.Exception, pytest.skip.Exception)
    )
    if crashed and not exc.errisinstance(DatasetNotFound):
        return "ERROR", f"{exc.typename}: {exc.value}".splitlines()[0][:400]
    if report.skipped and not hasattr(report, "wasxfail"):
        return "SKIP", report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if concluded is not None:
        return concluded.verdict, concluded.reason
    if report.failed or report.skipped:  # an assertion (xfailed only at an unjudged scale)
        msg = getattr(report.longrepr, "reprcrash", None)
        text = (
            report.wasxfail
            if hasattr(report, "wasxfail") and exc is None
            else (msg.message if msg else str(exc.value if exc else report.longrepr))
        )
        return "FAIL", text.splitlines()[0][:400]
    return "PASS", ""


class ReportPlugin:
    """Collects every claim row (workers' rows arrive through xdist) and the runs each process
    trained or read, writes the report (and, for a full run, appends it to the history), and
    ends the session with a one-glance summary."""

    def __init__(self, config):
        self.config, self.rows, self.t0 = config, {}, time.time()
        self.deselected, self.runs = 0, {"trained": [], "read": set()}
        self.out: Path | None = None

    def pytest_deselected(self, items):
        self.deselected += len(items)

    def pytest_runtest_logreport(self, report):
        for name, value in report.user_properties:
            if name == "firstlayer":
                row = json.loads(value)
                self.rows[row["id"]] = row  # one row per claim

    def _merge(self, summary: dict) -> None:
        self.runs["trained"] += summary.get("trained", [])
        self.runs["read"] |= set(summary.get("read", []))

    def _own(self) -> dict:
        cache = self.config.stash.get(RUNS, None)
        return {"trained": cache.trained, "read": sorted(cache.loaded)} if cache else {}

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
        from . import history, report
        from .theory import PAPER_NOTES

        self.out = self.report_dir()
        claims = [self.clean(r) for r in self.rows.values()]
        results = {"meta": self.clean(self.meta(claims)), "claims": claims, "notes": PAPER_NOTES}
        history_file = self.out.parent / "history.csv"
        if self.full_run() and self.config.stash[SCALE].judged:
            history.append(results, history_file)
        report.build(results, self.out, history_file)

    def meta(self, claims: list[dict]) -> dict:
        import torch
        import torchvision

        from .runs import machine

        def git(*args):
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

        s = self.config.stash[SCALE]
        trained = {t["key"] for t in self.runs["trained"]}
        return {
            "commit": git("rev-parse", "--short", "HEAD") or "uncommitted",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports")),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "python": platform.python_version(),
            "scale": s.name,
            "judged": s.judged,
            "device": torch.cuda.get_device_name() if self.config.stash[DEVICE] == "cuda" else "cpu",
            "machine": machine(),
            # the thread counts that trained the runs read (a -n 2 worker trains on one): CPU values
            # depend on them (README); this process's where no claim read a run
            "threads": sorted({t for c in claims for t in c.get("threads") or []}) or [torch.get_num_threads()],
            "runs": {
                "trained": len(trained),
                "read": len(self.runs["read"] - trained),
                "train_s": round(sum(t["seconds"] for t in self.runs["trained"]), 1),
            },
            "data": sorted({r.get("data_source") for r in claims if r.get("data_source")}),
            "order": families(),
            "wall_s": round(time.time() - self.t0, 1),
            "command": "pytest " + " ".join(self.config.invocation_params.args),
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

        from .report import VERDICTS

        tr = terminalreporter
        counts = Counter(r["verdict"] for r in self.rows.values())
        tr.write_sep("=", "firstlayer")
        tr.write_line("verdicts: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS))
        trained = self.runs["trained"]
        tr.write_line(
            f"runs: {len({t['key'] for t in trained})} trained ({sum(t['seconds'] for t in trained) / 60:.1f} min), "
            f"{len(self.runs['read'] - {t['key'] for t in trained})} read from the run cache"
        )
        for t in sorted(trained, key=lambda t: -t["seconds"])[:5]:
            tr.write_line(f"  {t['seconds']:7.1f} s  {t['label']} (steps {t['from']}-{t['to']})")
        tr.write_line(f"report: {self.out}/report.html (and report.md)")
