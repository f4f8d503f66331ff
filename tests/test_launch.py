"""``--launcher submitit`` (harness.training.launch) through submitit's local executor: real job
processes and the same pickling path as SLURM. Each run is trained once, by its own job, to the
same numbers as a local session; a job's error reaches the claims that read its run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.data.copies import default_root

pytest.importorskip("submitit")
pytestmark = pytest.mark.skipif(
    not any((default_root() / d).exists() for d in ("cifar-10-batches-py", "cifar10-jpeg", "cifar10-exact")),
    reason="no CIFAR-10 copy under FIRSTLAYER_DATA",
)
ROOT = Path(__file__).resolve().parents[1]
SELECTION = "seed and cifar10 and not cifar100 and not copy"  # Table 1 SEED: 3 runs at the smoke scale


def session(out: Path, *args, data=None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FIRSTLAYER_DATA": str(data or default_root())}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "claims/", "-q", "-p", "no:cacheprovider", "--scale", "smoke",
         "-k", SELECTION, "--run-cache", str(out / "cache"), "--report-dir", str(out / "r"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"results": json.loads((out / "r" / "results.json").read_text()), "log": proc.stdout + proc.stderr}


def weights(cache: Path) -> dict:
    return {p.name: torch.load(p / "trajectory.pt", weights_only=False)["weights"] for p in (cache / "runs").iterdir()
            if p.is_dir()}  # fmt: skip


def test_jobs_train_each_run_once_to_the_numbers_of_a_local_session(tmp_path):
    jobs = session(tmp_path / "jobs", "--launcher", "submitit", "--cluster", "local")
    local = session(tmp_path / "local")
    assert jobs["log"].count("submitit: job ") == 3 and "3 of 3 jobs done" in jobs["log"]
    a, b = weights(tmp_path / "jobs" / "cache"), weights(tmp_path / "local" / "cache")
    assert set(a) == set(b) and len(a) == 3
    assert all(set(a[k]) == set(b[k]) and all(torch.equal(a[k][s], b[k][s]) for s in a[k]) for k in a)
    for key in a:  # trained once: one stretch from step 0, by one job
        segments = json.loads((tmp_path / "jobs" / "cache" / "runs" / key / "metrics.json").read_text())["segments"]
        assert [(sg["from"], sg["to"]) for sg in segments] == [(0, 4)]
    (row_a,), (row_b,) = jobs["results"]["claims"], local["results"]["claims"]
    assert row_a["measured"] == row_b["measured"] and row_a["details"] == row_b["details"]
    assert jobs["results"]["meta"]["runs"]["trained"] == 3


def test_absent_data_skips_the_claim_before_any_job_is_submitted(tmp_path):
    """The session decodes a job's data before submitting it: absent data skips the claim, as
    it does locally, and no job starts (a job's own error: tests/test_runs.py, FakeLauncher)."""
    (tmp_path / "empty").mkdir()
    got = session(tmp_path, "--launcher", "submitit", "--cluster", "local", "--no-download", data=tmp_path / "empty")
    (row,) = got["results"]["claims"]
    assert "submitit: job" not in got["log"]
    assert row["verdict"] == "SKIP" and "not found" in row["reason"]
