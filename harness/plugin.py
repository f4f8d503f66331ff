"""The pytest plugin of firstlayer (registered by the root ``conftest.py`` through
``pytest_plugins``): options, the scale and device in the config stash, the report header,
the check of claim families against ``fixtures/paper.toml``, the fixtures every claim shares
(scale, datasets, runs, pca, the claim's declared runs, record), and the report rows.

A claim is one declaration: ``@pytest.mark.claim(family, runs=fn)``, where ``fn(scale,
**params)`` returns the runs the claim reads ({name: spec or [specs]}) for the test's
parameters. Before the first claim needs a trained run, every run the session's claims
declare is trained (``RunCache.prefill``: with ``-n N`` the workers take different runs);
the ``trained`` fixture then hands the test its own runs, from the same declaration.
"""

from __future__ import annotations

import datetime
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from .runs import RunCache, RunSpec
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
    g.addoption("--download", action="store_true", help="let torchvision download missing datasets")


MARKERS = (
    "claim(family, runs=None): a quantitative claim of the paper (a row of reports/); runs: its declared runs",
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
    s = config.stash[SCALE]
    return [
        f"firstlayer: scale {s.name} ({'judged' if s.judged else 'not judged'}), device {config.stash[DEVICE]}, "
        f"hypothesis profile {config.stash[PROFILE]}",
        f"firstlayer: data root {config.stash[DATA_ROOT]}, run cache {config.stash[RUN_CACHE]}",
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
def datasets(pytestconfig) -> Datasets:
    """The one door to data: splits, a run's training set, patch PCAs, pretrained layers."""
    cfg = pytestconfig
    return Datasets(cfg.stash[DATA_ROOT], cfg.stash[RUN_CACHE], download=cfg.getoption("download"))


@pytest.fixture(scope="session")
def runs(pytestconfig, datasets, device) -> RunCache:
    """The shared run cache: ``runs.get(spec)`` returns a trained run (training it once)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def progress(msg):  # training progress on the real terminal, past pytest's capture
        with capture.global_and_fixture_disabled():
            print(f"firstlayer: {msg}", file=sys.stderr, flush=True)

    return RunCache(pytestconfig.stash[RUN_CACHE], datasets, device, progress=progress)


@pytest.fixture(scope="session")
def pca(datasets):
    """``pca(spec, size=3)``: exact patch PCA of the images the spec trains on (Def. 2.1)."""
    return datasets.pca


def declared_runs(item, s: Scale) -> dict:
    """The runs ``item``'s claim marker declares, for its parameters: {name: spec or [specs]}."""
    marker = item.get_closest_marker("claim")
    declare = marker.kwargs.get("runs") if marker else None
    if declare is None:
        return {}
    params = item.callspec.params if hasattr(item, "callspec") else {}
    wanted = list(inspect.signature(declare).parameters)[1:]
    return declare(s, **{k: params[k] for k in wanted})


def _specs(declared: dict) -> list[RunSpec]:
    return [s for v in declared.values() for s in ([v] if isinstance(v, RunSpec) else v)]


@pytest.fixture(scope="session")
def prefilled(request, runs, scale) -> None:
    """Train every run the session's claims declare, slowest models first."""
    specs = [s for item in request.session.items for s in _specs(declared_runs(item, scale))]
    specs.sort(key=lambda r: (r.model == scale.model and r.first <= 64, r.subset != "", r.inputs != "plain"))
    runs.prefill(specs, skip=(DatasetNotFound,))


@pytest.fixture
def trained(request, runs, scale, prefilled) -> dict:
    """This claim's declared runs, trained: {name: Run or [Runs]}."""
    return {
        name: runs.get(v) if isinstance(v, RunSpec) else [runs.get(s) for s in v]
        for name, v in declared_runs(request.node, scale).items()
    }


@pytest.fixture
def record(request):
    """``record(measured=..., sd=..., n=..., details=..., figures=..., paper=..., threshold=...)``:
    the numbers of this claim for the report (call it before asserting)."""
    row = request.node.stash.setdefault(ROW, {})

    def put(**values) -> dict:
        row.update(values)
        return row

    return put


def known_deviation(request, claim: str, scale_name: str, key: str = "", measured: str = "") -> None:
    """Mark the test xfail(strict) where fixtures/paper.toml documents that the paper's
    statement does not hold at this scale (``[<claim>.deviates.<scale>]``, optionally per
    ``key``): the report shows DEVIATES with the measured numbers, and a pass (the deviation
    gone) fails loudly."""
    reason = paper(claim).get("deviates", {}).get(scale_name)
    if isinstance(reason, dict):
        reason = reason.get(key)
    if reason:
        text = f"{reason} Measured: {measured}" if measured else reason
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=text))


# ---------------------------------------------------------------- report rows


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(DatasetNotFound):
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
        "source": entry.get("source", ""),
        "dataset": dataset,
        "data_source": "",
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
    if hasattr(report, "wasxfail"):
        row["verdict"] = "DEVIATES"
        row["reason"] = report.wasxfail
    elif report.skipped:
        row["verdict"] = "SKIP"
        row["reason"] = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    elif report.failed:
        row["verdict"] = "FAIL"
        msg = getattr(report.longrepr, "reprcrash", None)
        row["reason"] = (msg.message if msg else str(report.longrepr)).splitlines()[0][:400]
    else:
        row["verdict"] = "PASS"
    report.user_properties.append(("firstlayer", json.dumps(row, default=float)))
    return report


class ReportPlugin:
    """Collects every claim row (workers' rows arrive through xdist) and writes the report."""

    def __init__(self, config):
        self.config, self.rows, self.t0 = config, {}, time.time()

    def pytest_runtest_logreport(self, report):
        for name, value in report.user_properties:
            if name == "firstlayer":
                row = json.loads(value)
                self.rows[row["id"]] = row  # one row per claim

    def pytest_sessionfinish(self, session):
        if hasattr(self.config, "workerinput") or not self.rows:
            return
        import torch

        from . import report
        from .theory import PAPER_NOTES

        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        gpu = self.config.getoption("gpu")
        device = (
            f"cuda: {torch.cuda.get_device_name()}" if gpu else f"cpu ({os.cpu_count()} cores, {platform.machine()})"
        )
        results = {
            "meta": {
                "commit": commit or "uncommitted",
                "date": datetime.datetime.now().isoformat(timespec="seconds"),
                "torch": torch.__version__,
                "python": platform.python_version(),
                "scale": self.config.stash[SCALE].name,
                "judged": self.config.stash[SCALE].judged,
                "device": device,
                "wall_s": round(time.time() - self.t0, 1),
                "command": "pytest " + " ".join(self.config.invocation_params.args),
            },
            "claims": list(self.rows.values()),
            "notes": PAPER_NOTES,
        }
        out = Path(self.config.getoption("report_dir") or ROOT / "reports" / "latest")
        report.build(results, out)
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr:
            tr.write_line(f"firstlayer: report of {len(self.rows)} claims written to {out}/report.md")
