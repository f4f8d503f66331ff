""".github/workflows/nightly.yml: the structure the nightly run relies on."""

from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "nightly.yml"


@pytest.fixture(scope="module")
def wf():
    return yaml.safe_load(WORKFLOW.read_text())


def steps(wf, job):
    return wf["jobs"][job]["steps"]


def run_lines(wf, job):
    return [s["run"] for s in steps(wf, job) if "run" in s]


def uses(wf, job, action):
    return [s for s in steps(wf, job) if s.get("uses", "").startswith(action)]


def test_triggers(wf):
    on = wf.get("on", wf.get(True))  # PyYAML reads the bare key `on` as True
    assert "schedule" in on and on["schedule"][0]["cron"]
    assert "workflow_dispatch" in on


def test_jobs_and_runners(wf):
    assert {"cpu", "gpu"} <= set(wf["jobs"])
    assert wf["jobs"]["cpu"]["runs-on"] == "ubuntu-latest"
    assert {"self-hosted", "gpu"} <= set(wf["jobs"]["gpu"]["runs-on"])
    assert wf["jobs"]["gpu"]["timeout-minutes"] == 240


@pytest.mark.parametrize("job", ["cpu", "gpu"])
def test_runs_claims_with_cache_and_download(wf, job):
    (cmd,) = [r for r in run_lines(wf, job) if r.startswith("pytest claims/")]
    assert "--run-cache .firstlayer-cache" in cmd and "--download" in cmd
    assert "--report-dir reports/nightly" in cmd
    assert wf["jobs"][job]["env"]["FIRSTLAYER_DATA"] == "${{ github.workspace }}/data"
    assert any("pip install -e ." in r for r in run_lines(wf, job))


def test_cpu_and_gpu_flags(wf):
    cpu = next(r for r in run_lines(wf, "cpu") if r.startswith("pytest claims/"))
    gpu = next(r for r in run_lines(wf, "gpu") if r.startswith("pytest claims/"))
    assert "-n auto" in cpu and "--gpu" not in cpu
    assert "--gpu" in gpu and "--scale paper" in gpu


@pytest.mark.parametrize("job", ["cpu", "gpu"])
def test_caches(wf, job):
    cached = uses(wf, job, "actions/cache")
    paths = " ".join(s["with"]["path"] for s in cached)
    assert ".hypothesis" in paths and ".firstlayer-cache" in paths
    restore = next(s for s in cached if ".hypothesis" in s["with"]["path"] and "restore" in s["uses"])
    assert "hashFiles('harness/**/*.py', 'fixtures/**')" in restore["with"]["key"]
    saves = [s for s in cached if s["uses"].startswith("actions/cache/save")]
    assert saves and all("always()" in s["if"] for s in saves)


@pytest.mark.parametrize(("job", "artifact"), [("cpu", "report-cpu"), ("gpu", "report-gpu")])
def test_artifacts_and_compare(wf, job, artifact):
    (up,) = uses(wf, job, "actions/upload-artifact")
    assert up["if"] == "always()" and up["with"]["name"] == artifact
    (prev,) = uses(wf, job, "dawidd6/action-download-artifact")
    assert prev["with"]["name"] == artifact and prev["with"]["if_no_artifact_found"] == "warn"
    assert prev["with"]["path"].rstrip("/") == "prev"
    (cmp,) = [s for s in steps(wf, job) if "harness.report --compare" in s.get("run", "")]
    assert cmp["run"].split()[-2] == "prev/results.json"
    assert "prev/results.json" in cmp["if"]
    names = [s.get("uses", s.get("run", "")) for s in steps(wf, job)]
    claims = next(i for i, n in enumerate(names) if n.startswith("pytest claims/"))
    assert names.index(prev["uses"]) < claims < names.index(cmp["run"])
