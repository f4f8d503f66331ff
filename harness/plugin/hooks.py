"""The pytest plugin of firstlayer (registered by the root ``conftest.py`` through
``pytest_plugins``): options, the scale and device in the config stash, the report header,
and the check of claim families against ``fixtures/paper.toml``. The rest lives in rooms of
its own, registered from here (``pytest_plugins``):

- ``harness.plugin.claim_fixtures``: the fixtures every claim shares (scale, device, datasets,
  runs, pca, record);
- ``harness.plugin.stoprule``: the training of a claim's declared runs (``harness.plugin.declared``)
  before the claims run (prefill), the stop rule (``judged_step``), and the ``trained`` fixture;
- ``harness.plugin.conclude``: how a claim is judged: ``conclude`` applies the rule that a PASS
  stands only where a control FAILs (``harness.verdicts.judge.stands``), and makes each report row;
- ``harness.plugin.results`` (registered as an object in ``pytest_configure``): the rows of every
  process collected, the metadata, the report written.

A claim is one declaration: ``@pytest.mark.claim(family, runs=fn, converge=False)``, where
``fn(scale, **params)`` returns the runs the claim reads ({name: spec or [specs]}) for the
test's parameters.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from harness.config.paper import families
from harness.config.scales import ScaleError
from harness.config.scales import scale as load_scale
from harness.data.copies import default_root, torchvision_mismatch
from harness.data.door import Datasets
from harness.plugin import plan
from harness.plugin.declared import empty_variant
from harness.plugin.results import ReportPlugin
from harness.plugin.state import (
    DATA_ROOT,
    DEVICE,
    PLAN,
    PLANNED,
    PROFILE,
    ROOT,
    RUN_CACHE,
    SCALE,
    THREADS,
    downloading,
    threads,
)
from harness.training.cache import RunCache
from harness.training.cost import FP32_PEAK

pytest_plugins = [
    "harness.plugin.claim_fixtures",
    "harness.plugin.stoprule",
    "harness.plugin.conclude",
]  # harness.plugin.results is registered as an object (ReportPlugin) in pytest_configure


# dev and ci draw the same examples every run (derandomize), so a report's property claims (Thm 4.2,
# Thm 4.3) give the same values twice; nightly draws new ones to explore
settings.register_profile("dev", max_examples=10, deadline=None, derandomize=True)


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
        "--reference",
        action="store_true",
        help="judge from the run store (reports/runs, the runs behind the committed reports) and train nothing: "
        "a run the store lacks is a SKIP naming it; one trained by other training code is read and flagged",
    )
    g.addoption(
        "--no-download",
        action="store_true",
        help="never fetch missing datasets or weights (default: torchvision fetches them); "
        "also FIRSTLAYER_NO_DOWNLOAD=1",
    )
    g.addoption("--download", action="store_true", help="(the default; kept for old commands)")
    g.addoption(
        "--launcher",
        choices=("local", "submitit"),
        default="local",
        help="who trains the missing runs: this process (default) or cluster jobs through submitit, one a run, "
        "on a run cache every node mounts (--cluster, --slurm-*)",
    )
    g.addoption(
        "--cluster",
        choices=("auto", "slurm", "local"),
        default="auto",
        help="submitit's executor (auto: SLURM where there is one)",
    )
    g.addoption("--slurm-partition", default=None, help="SLURM partition of the jobs")
    g.addoption("--slurm-account", default=None, help="SLURM account of the jobs")
    g.addoption(
        "--slurm-time",
        type=int,
        default=240,
        help="a job's time limit in minutes (a job past it is requeued and continues)",
    )
    g.addoption("--gpus-per-job", type=int, default=None, help="GPUs a job asks for (default: 1 with --gpu, else 0)")
    g.addoption("--jobs-folder", default=None, help="submitit's logs and pickles (default: <run cache>/jobs)")
    g.addoption(
        "--plan",
        action="store_true",
        help="train nothing: print every run the selected claims need, what the run cache holds of it, its PFLOP "
        "and its training time on this device (timed here, or modelled: --plan-device), per claim, in total and "
        "with -n N; written to plan.json in the report dir",
    )
    g.addoption(
        "--plan-device",
        choices=sorted(FP32_PEAK),
        default=None,
        help="--plan: model each run's time from its FLOPs at this device's FP32 peak (harness.training.cost; "
        "the default with --gpu where no CUDA device is visible: h100) instead of timing steps here",
    )
    g.addoption(
        "--threads",
        type=int,
        default=None,
        help="CPU threads a process trains and measures with (default: $FIRSTLAYER_THREADS, else 1, so that a "
        "run's numbers depend on its spec and the CPU kind, not on -n; use -n <cores> to use every core)",
    )


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
    mismatch = None if hasattr(config, "workerinput") else torchvision_mismatch()  # once: workers share the env
    if mismatch:
        raise pytest.UsageError(mismatch)
    gpu = config.getoption("gpu")
    planning = config.getoption("plan") or config.getoption("launcher") == "submitit"
    if gpu and not planning:  # a plan models the GPU's rate, and a launcher's jobs run where GPUs are
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
    config.stash[THREADS] = threads(config)
    if config.getoption("launcher") == "submitit":
        if getattr(config.option, "numprocesses", None) and not config.getoption("plan"):
            raise pytest.UsageError("--launcher submitit: drop -n (the jobs are the workers)")
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise pytest.UsageError(
                "--launcher submitit: submitit is not installed (pip install -e '.[cluster]')"
            ) from None
    if config.getoption("plan"):  # one process plans for -n N: no workers are started
        config.stash[PLAN] = int(getattr(config.option, "numprocesses", None) or 1)
        config.option.dist, config.option.tx, config.option.numprocesses = "no", [], 0
    # a CPU sum's order depends on the thread count: one count, whatever -n and on a GPU too, where the
    # measures and the data's preparation still sum on the CPU (docs/reproducibility.md)
    torch.set_num_threads(config.stash[THREADS])

    config.pluginmanager.register(ReportPlugin(config), "firstlayer-report")


def pytest_report_header(config):
    s, root = config.stash[SCALE], config.stash[DATA_ROOT]
    return [
        f"firstlayer: scale {s.name} ({'judged' if s.judged else 'not judged'}), device {config.stash[DEVICE]}, "
        f"hypothesis profile {config.stash[PROFILE]}, {config.stash[THREADS]} CPU thread(s) a process",
        f"firstlayer: data root {root} (pretrained layers: {root.parent / 'pretrained'}), "
        f"run cache {config.stash[RUN_CACHE]}, downloads {'on' if downloading(config) else 'off'}",
    ]


def pytest_collection_modifyitems(config, items):
    """Every claim family must have its section in fixtures/paper.toml (one clear line). At a
    scale that is not judged (smoke), a claim whose check fails is expected: only a crash
    (any exception but AssertionError) fails the run."""
    known = set(families())
    s = config.stash[SCALE]
    empty = [i for i in items if empty_variant(i)]
    if empty:  # a variant list the scale leaves empty (App. D at converged, the copy check at cpu): not a claim here
        if PLAN not in config.stash:  # a plan selects nothing, and says so once
            config.hook.pytest_deselected(items=empty)
        items[:] = [i for i in items if i not in empty]
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


def pytest_collection_finish(session):
    """--plan: print and write the plan of the selected claims' runs, then stop (harness.plugin.plan)."""
    config = session.config
    if PLAN not in config.stash:
        return

    data = Datasets(config.stash[DATA_ROOT], config.stash[RUN_CACHE], download=False)
    runs = RunCache(config.stash[RUN_CACHE], data, config.stash[DEVICE], progress=False)
    modelled = config.getoption("plan_device")
    if modelled is None and config.stash[DEVICE] == "cuda" and not torch.cuda.is_available():
        modelled = "h100"
    found = plan.plan(session.items, config.stash[SCALE], runs, config.stash[DEVICE], config.stash[PLAN], modelled)
    out = plan.write(found, config.pluginmanager.get_plugin("firstlayer-report").report_dir())
    config.stash[PLANNED] = [*plan.lines(found), f"plan written to {out}; nothing was trained"]
    session.items.clear()  # nothing runs; the plan is the session's summary


def pytest_terminal_summary(terminalreporter, config):
    if PLANNED in config.stash:
        terminalreporter.section("firstlayer --plan")
        for line in config.stash[PLANNED]:
            terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    if PLANNED in session.config.stash:  # a plan ran no test by design: not pytest's "no tests" (5)
        session.exitstatus = 0


def pytest_generate_tests(metafunc):
    """``dataset``: the scale's main dataset plus the extra ones (skipped when absent)."""
    if "dataset" in metafunc.fixturenames:
        metafunc.parametrize("dataset", metafunc.config.stash[SCALE].datasets)
