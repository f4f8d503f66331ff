"""What a pytest session is configured with: the stash keys, the repository root, and the
readers of options (launcher, threads, downloading). A leaf: it imports nothing of the plugin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.config.scales import Scale
from harness.training.launch import Submitit

ROOT = Path(__file__).resolve().parents[2]
SCALE = pytest.StashKey[Scale]()
DEVICE = pytest.StashKey[str]()
DATA_ROOT = pytest.StashKey[Path]()
RUN_CACHE = pytest.StashKey[Path]()
PROFILE = pytest.StashKey[str]()
ROW = pytest.StashKey[dict]()
RUNS = pytest.StashKey["RunCache"]()
VERDICT = pytest.StashKey["object"]()
JUDGED = pytest.StashKey[dict]()
THREADS = pytest.StashKey[int]()
PLAN = pytest.StashKey[int]()  # --plan: the workers (-n) the plan shares the runs between
PLANNED = pytest.StashKey[list]()  # --plan: its lines, the session's summary


def launcher(config, say):
    """The launcher of ``--launcher submitit`` (harness.training.launch), else None: runs train here."""
    if config.getoption("launcher") != "submitit":
        return None

    gpus = config.getoption("gpus_per_job")
    return Submitit(
        Path(config.getoption("jobs_folder") or config.stash[RUN_CACHE] / "jobs"),
        cluster=config.getoption("cluster"),
        threads=config.stash[THREADS],
        say=say,
        gpus_per_node=(1 if config.stash[DEVICE] == "cuda" else 0) if gpus is None else gpus,
        timeout_min=config.getoption("slurm_time"),
        slurm_partition=config.getoption("slurm_partition"),
        slurm_account=config.getoption("slurm_account"),
        name="firstlayer",
    )


def threads(config) -> int:
    """--threads, else $FIRSTLAYER_THREADS, else 1 (one clear line for anything but a positive count)."""
    given = config.getoption("threads")
    name = "--threads"
    if given is None and os.environ.get("FIRSTLAYER_THREADS"):
        given, name = os.environ["FIRSTLAYER_THREADS"], "FIRSTLAYER_THREADS"
    try:
        n = 1 if given is None else int(given)
    except ValueError:
        n = 0
    if n < 1:
        raise pytest.UsageError(f"{name} {given}: expected a positive number of threads")
    return n


def parametrize_across(metafunc, name: str, values, label=str) -> None:
    """A claim that compares every one of the scale's ``values`` at once (datasets, depths,
    components): the test's parameter ``name`` holds them all, its id their labels joined by
    '-'; no test where the scale has fewer than two."""
    if name in metafunc.fixturenames:
        across = [tuple(values)] if len(values) >= 2 else []
        metafunc.parametrize(name, across, ids=["-".join(label(v) for v in a) for a in across])


def downloading(config) -> bool:
    return not (config.getoption("no_download") or os.environ.get("FIRSTLAYER_NO_DOWNLOAD", "") not in ("", "0"))
