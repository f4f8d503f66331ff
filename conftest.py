"""pytest wiring for firstlayer: options, the session fixtures every claim shares (scale,
device, run cache, patch PCA), hypothesis profiles, and the plugin that turns each claim's
outcome into a row of ``reports/`` (PASS / FAIL / DEVIATES / SKIP)."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent

settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile("ci", max_examples=20, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))


def pytest_addoption(parser):
    g = parser.getgroup("firstlayer")
    g.addoption("--gpu", action="store_true", help="train on CUDA (default scale becomes 'paper')")
    g.addoption("--scale", default=None, help="scale from fixtures/scales.toml (default: cpu; paper with --gpu)")
    g.addoption("--data-root", default=None, help="dataset folder (default: $FIRSTLAYER_DATA, else ~/.cache/firstlayer/data)")
    g.addoption("--run-cache", "--cache-dir", dest="run_cache", default=None,
                help="trained-run cache (default: $FIRSTLAYER_CACHE, else ./.firstlayer-cache)")
    g.addoption("--report-dir", default=None, help="where the report is written (default: reports/latest)")
    g.addoption("--download", action="store_true", help="let torchvision download missing datasets")


def pytest_configure(config):
    from harness.scales import scales
    if config.getoption("gpu"):
        import torch
        if not torch.cuda.is_available():
            raise pytest.UsageError("--gpu: no CUDA device is visible to torch "
                                    f"(torch {torch.__version__}); drop --gpu to run on the CPU")
    name = config.getoption("scale") or ("paper" if config.getoption("gpu") else "cpu")
    if name not in scales():
        raise pytest.UsageError(f"--scale {name}: unknown; choose one of {', '.join(scales())} (fixtures/scales.toml)")
    config.firstlayer_scale = name
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and not config.getoption("gpu"):  # -n N on the CPU: share the cores, do not oversubscribe
        import torch
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    config.pluginmanager.register(ReportPlugin(config), "firstlayer-report")


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def scale(pytestconfig):
    from harness.scales import scale as load
    return load(pytestconfig.firstlayer_scale)


@pytest.fixture(scope="session")
def device(pytestconfig):
    if not pytestconfig.getoption("gpu"):
        return "cpu"
    import torch
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # pin xdist worker i to GPU i
    return f"cuda:{int(worker[2:]) % torch.cuda.device_count()}"


@pytest.fixture(scope="session")
def data_root(pytestconfig):
    from harness.data import default_root
    return Path(pytestconfig.getoption("data_root") or default_root())


@pytest.fixture(scope="session")
def runs(pytestconfig, data_root, device):
    """The shared run cache: ``runs.get(spec)`` returns a trained run (training it once)."""
    from harness.runs import RunCache
    root = pytestconfig.getoption("run_cache") or os.environ.get("FIRSTLAYER_CACHE") or ROOT / ".firstlayer-cache"
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def progress(msg):  # training progress on the real terminal, past pytest's capture
        with capture.global_and_fixture_disabled():
            print(f"firstlayer: {msg}", file=sys.stderr, flush=True)
    return RunCache(root, data_root, device, download=pytestconfig.getoption("download"), progress=progress)


@pytest.fixture(scope="session")
def training_data(runs):
    """``training_data(spec)``: the spec's normalised training set (as the network saw it)."""
    from harness.train import prepare
    memo = {}

    def get(spec):
        key = (spec.dataset, spec.subset, spec.images, spec.labels if spec.labels.startswith("energy") else "",
               spec.inputs)
        if key not in memo:
            memo[key] = prepare(spec, runs.data_root, runs.root, runs.download)
        return memo[key]
    return get


@pytest.fixture(scope="session")
def pca(training_data):
    """``pca(spec, size=3)``: exact patch PCA of the images the spec trains on (Def. 2.1)."""
    memo = {}

    def get(spec, size: int = 3):
        key = (spec.dataset, spec.subset, spec.images, size)
        if key not in memo:
            memo[key] = training_data(spec).patch_pca(size)
        return memo[key]
    return get


@pytest.fixture
def record(request):
    """``record(measured=..., sd=..., n=..., details=..., figures=..., paper=..., threshold=...)``:
    the numbers of this claim for the report (call it before asserting)."""
    row = request.node.stash.setdefault(ROW, {})

    def put(**values) -> dict:
        row.update(values)
        return row
    return put


# ---------------------------------------------------------------- report plugin

ROW = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    marker = item.get_closest_marker("claim")
    if marker is None:
        return report
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if not final:
        return report
    from harness.scales import paper
    family = marker.args[0]
    entry = paper(family)
    param = item.callspec.id if hasattr(item, "callspec") else ""
    dataset = item.callspec.params.get("dataset", "") if hasattr(item, "callspec") else ""
    value = entry.get("paper", "")
    if isinstance(value, dict):
        value = value.get(dataset, next(iter(value.values())))
    name = getattr(item, "originalname", item.name).removeprefix("test_")
    row = {"id": f"{name}[{param}]" if param else name, "nodeid": item.nodeid, "claim": family,
           "title": entry.get("title", family), "source": entry.get("source", ""), "dataset": dataset,
           "data_source": "", "paper": value, "measured": None, "sd": None, "n": None, "threshold": "",
           "reason": "", "scale": item.config.firstlayer_scale, "device": "", "seconds": report.duration,
           "details": {}, "figures": []}
    row.update(item.stash.get(ROW, {}))
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
        from harness import report
        from harness.theory import PAPER_NOTES
        import torch
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        gpu = self.config.getoption("gpu")
        device = f"cuda: {torch.cuda.get_device_name()}" if gpu else \
            f"cpu ({os.cpu_count()} cores, {platform.machine()})"
        results = {"meta": {"commit": commit or "uncommitted",
                            "date": datetime.datetime.now().isoformat(timespec="seconds"),
                            "torch": torch.__version__, "python": platform.python_version(),
                            "scale": self.config.firstlayer_scale, "device": device,
                            "wall_s": round(time.time() - self.t0, 1),
                            "command": "pytest " + " ".join(self.config.invocation_params.args)},
                   "claims": list(self.rows.values()), "notes": PAPER_NOTES}
        out = Path(self.config.getoption("report_dir") or ROOT / "reports" / "latest")
        report.build(results, out)
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr:
            tr.write_line(f"firstlayer: report of {len(self.rows)} claims written to {out}/report.md")
