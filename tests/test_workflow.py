""".github/workflows/nightly.yml: the structure the nightly and weekly runs rely on."""

from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "nightly.yml"
WEEKLY = "17 4 * * 0"


@pytest.fixture(scope="module")
def wf():
    return yaml.safe_load(WORKFLOW.read_text())


def steps(wf, job):
    return wf["jobs"][job]["steps"]


def run_lines(wf, job):
    return [s["run"] for s in steps(wf, job) if "run" in s]


def uses(wf, job, action):
    return [s for s in steps(wf, job) if s.get("uses", "").startswith(action)]


def claims_line(wf, job):
    (cmd,) = [r for r in run_lines(wf, job) if r.startswith("pytest claims/") and "--scale cpu-" not in r]
    return cmd


def test_triggers_nightly_and_weekly(wf):
    on = wf.get("on", wf.get(True))  # PyYAML reads the bare key `on` as True
    assert [c["cron"] for c in on["schedule"]] == ["17 2 * * *", WEEKLY]
    assert "workflow_dispatch" in on
    assert WEEKLY in wf["env"]["WEEKLY"]


def test_jobs_and_runners(wf):
    assert {"cpu", "gpu", "converged"} <= set(wf["jobs"])
    assert wf["jobs"]["cpu"]["runs-on"] == "ubuntu-latest"
    assert {"self-hosted", "gpu"} <= set(wf["jobs"]["gpu"]["runs-on"])
    assert WEEKLY in wf["jobs"]["converged"]["if"]


@pytest.mark.parametrize("job", ["cpu", "gpu", "converged"])
def test_claims_run_with_a_report_and_a_finding_is_not_a_crash(wf, job):
    cmd = claims_line(wf, job)
    assert "--run-cache .firstlayer-cache" in cmd and "--report-dir reports/nightly" in cmd
    assert cmd.endswith("|| [ $? -eq 1 ]")  # FAIL verdicts are findings
    assert any("harness.report --check" in r for r in run_lines(wf, job))
    assert wf["jobs"][job]["env"]["FIRSTLAYER_DATA"] == "${{ github.workspace }}/data"
    assert any("pip install -e ." in r for r in run_lines(wf, job))


def test_app_d_is_judged_weekly_at_three_runs_a_group(wf):
    (step,) = [s for s in wf["jobs"]["cpu"]["steps"] if "cpu-appendix" in s.get("run", "")]
    assert step["if"] == "env.WEEKLY == 'true'" and "-k appendix_d" in step["run"] and "--check" in step["run"]


def test_cifar100_celeba_and_the_deep_vggs_are_judged_weekly(wf):
    (step,) = [s for s in wf["jobs"]["cpu"]["steps"] if "cpu-datasets" in s.get("run", "")]
    assert step["if"] == "env.WEEKLY == 'true'" and "-k frozen --scale cpu-depth" in step["run"]
    assert step["run"].count("--check") == 2


def test_scales_and_flags(wf):
    assert "-n auto" in claims_line(wf, "cpu") and "--gpu" not in claims_line(wf, "cpu")
    assert "--gpu" in claims_line(wf, "gpu") and "--scale paper" in claims_line(wf, "gpu")
    assert "--scale converged" in claims_line(wf, "converged")


@pytest.mark.parametrize("job", ["cpu", "gpu"])
def test_run_cache_is_keyed_on_versions_and_skipped_weekly(wf, job):
    cached = uses(wf, job, "actions/cache")
    restore = next(s for s in cached if ".firstlayer-cache" in s["with"]["path"] and "restore" in s["uses"])
    assert "steps.versions.outputs.key" in restore["with"]["key"]
    assert "hashFiles('harness/**/*.py', 'fixtures/**')" in restore["with"]["key"]
    assert restore["if"] == "env.WEEKLY != 'true'"  # the weekly run starts from an empty cache
    (versions,) = [s for s in steps(wf, job) if s.get("id") == "versions"]
    assert "torchvision" in versions["run"]
    saves = [s for s in cached if s["uses"].startswith("actions/cache/save")]
    assert saves and all("always()" in s["if"] for s in saves)


@pytest.mark.parametrize(
    ("job", "artifact"), [("cpu", "report-cpu"), ("gpu", "report-gpu"), ("converged", "report-converged")]
)
def test_history_is_carried_and_compared(wf, job, artifact):
    (up,) = uses(wf, job, "actions/upload-artifact")
    assert up["if"] == "always()" and up["with"]["name"] == artifact and "reports/history.csv" in up["with"]["path"]
    (prev,) = uses(wf, job, "dawidd6/action-download-artifact")
    assert prev["with"]["name"] == artifact and prev["with"]["if_no_artifact_found"] == "warn"
    assert any("prev/history.csv reports/history.csv" in r for r in run_lines(wf, job))
    (cmp,) = [s for s in steps(wf, job) if "harness.report --compare prev/" in s.get("run", "")]
    assert cmp["run"].split()[-2].startswith("prev/") and "prev/" in cmp["if"]
    names = [s.get("uses", s.get("run", "")) for s in steps(wf, job)]
    claims = next(i for i, n in enumerate(names) if n.startswith("pytest claims/"))
    assert names.index(prev["uses"]) < claims < names.index(cmp["run"])


def test_the_nightly_run_is_set_against_the_run_store_and_the_stored_scales_rejudged_weekly(wf):
    """The cpu job compares its fresh report with the committed one judged from the run store
    (a flip against it fails the job), and weekly re-judges every stored scale from the store."""
    names = [s.get("run", "") for s in steps(wf, "cpu")]
    claims = next(i for i, n in enumerate(names) if n.startswith("pytest claims/") and "reports/nightly " in n + " ")
    (against,) = [
        i for i, n in enumerate(names) if "--compare reports/cpu/results.json reports/nightly/results.json" in n
    ]
    assert claims < against and "--strict" not in names[against]  # another CPU kind moves values, not verdicts
    (weekly,) = [s for s in steps(wf, "cpu") if "harness.report.rejudge" in s.get("run", "")]
    assert weekly["if"] == "env.WEEKLY == 'true'"
