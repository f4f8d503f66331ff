"""harness.plugin as a user meets it: usage errors of one line, the report header, claim
families checked at collection, missing data as a skip."""

import json
from types import SimpleNamespace

import pytest

pytest_plugins = ["pytester"]

CLAIM_OF = """
import pytest

@pytest.mark.claim("{family}")
def test_x(record):
    record(measured=1.0)
"""
CLAIM = CLAIM_OF.format(family="seed")


@pytest.fixture
def run(pytester, tmp_path):
    def go(*args, src=CLAIM):
        pytester.makepyfile(test_claim=src)
        return pytester.runpytest_subprocess(
            "-p",
            "harness.plugin.hooks",
            "-ra",
            "--data-root",
            str(tmp_path),
            "--report-dir",
            str(tmp_path / "r"),
            *args,
        )

    return go


def test_report_header_names_scale_data_and_cache(run, tmp_path):
    out = run().stdout.str()
    assert "firstlayer: scale cpu (judged), device cpu, hypothesis profile" in out
    assert f"firstlayer: data root {tmp_path} (pretrained layers: {tmp_path.parent / 'pretrained'}), run cache" in out


def test_a_misspelt_claim_family_is_one_usage_line(run):
    result = run(src=CLAIM_OF.format(family="seeed"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (err,) = [line for line in result.stderr.lines if "seeed" in line]
    assert err.startswith("ERROR: ") and err.endswith(
        "test_claim.py::test_x: claim family 'seeed' has no section in fixtures/paper.toml"
    )


def test_a_missing_data_root_is_a_usage_error(pytester, tmp_path):
    pytester.makepyfile(test_claim=CLAIM)
    result = pytester.runpytest_subprocess("-p", "harness.plugin.hooks", "--data-root", str(tmp_path / "nowhere"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any("--data-root" in line and "no such folder" in line for line in result.stderr.lines)


THREADS = """
import torch

def test_threads():
    assert torch.get_num_threads() == {n}
"""


def test_one_thread_a_process_whatever_n_so_a_run_has_one_set_of_numbers(run, monkeypatch):
    assert "1 CPU thread(s) a process" in run(src=THREADS.format(n=1)).stdout.str()
    assert run(src=THREADS.format(n=1)).ret == 0
    assert run("--threads", "2", src=THREADS.format(n=2)).ret == 0
    monkeypatch.setenv("FIRSTLAYER_THREADS", "2")
    assert run(src=THREADS.format(n=2)).ret == 0


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_a_bad_thread_count_is_a_usage_error(run, bad):
    result = run("--threads", bad)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(f"--threads {bad}: expected a positive number of threads" in line for line in result.stderr.lines)


def test_an_unknown_scale_is_a_usage_error(run):
    result = run("--scale", "huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any("unknown scale 'huge'" in line for line in result.stderr.lines)


def test_missing_data_skips_the_claim_with_its_line(run):
    src = """
import pytest
from harness.data.copies import DatasetNotFound

@pytest.mark.claim("seed")
def test_x(datasets):
    datasets.split("cifar100")
"""
    result = run(src=src)
    result.assert_outcomes(skipped=1)
    assert any("dataset 'cifar100' (train) not found" in line for line in result.stdout.lines)
    assert "Traceback" not in result.stdout.str()


VERDICTS = """
import pytest
from harness.verdicts import judge
from harness.verdicts.stats import over_runs

def verdict(values, **dev):
    return judge.judge(judge.check("x", over_runs(values), ">=", 0.9), **dev)

FAILS = {"a control": verdict([0.1, 0.11, 0.12])}

@pytest.mark.claim("seed")
def test_pass(conclude):
    conclude(verdict([0.95, 0.96, 0.97]), FAILS)

@pytest.mark.claim("seed")
def test_fail(conclude):
    conclude(verdict([0.5, 0.51, 0.52]), FAILS)

@pytest.mark.claim("seed")
def test_unsure(conclude):
    conclude(verdict([0.85, 0.9, 0.95]), FAILS)

@pytest.mark.claim("seed")
def test_deviates(conclude):
    dev = dict(deviation=judge.Deviation("known", "z > 1"))
    control = verdict([0.1, 0.11, 0.12], **dev, measured={"z": 0})
    conclude(verdict([0.5, 0.51, 0.52], **dev, measured={"z": 2}), {"a control": control})

@pytest.mark.claim("seed")
def test_crash(conclude):
    {}["missing"]

@pytest.mark.claim("seed")
def test_assertion():
    assert 1 == 2, "the frozen first layer moved"

@pytest.mark.claim("seed")
def test_too_few(conclude):
    conclude(verdict([0.99, 0.995]), FAILS)
"""

CANNOT_FAIL = """
import pytest
from harness.verdicts import judge
from harness.verdicts.stats import over_runs

def verdict(values, **dev):
    return judge.judge(judge.check("x", over_runs(values), ">=", 0.9), **dev)

@pytest.mark.claim("seed")
def test_control_passes_too(conclude):
    conclude(verdict([0.95, 0.96, 0.97]), {"a control that holds": verdict([0.95, 0.96, 0.97])})

@pytest.mark.claim("seed")
def test_no_control(conclude):
    conclude(verdict([0.95, 0.96, 0.97]), {})

@pytest.mark.claim("seed")
def test_cause_holds_on_the_control(conclude):
    dev = dict(deviation=judge.Deviation("known", "z > 1"), measured={"z": 2})
    conclude(verdict([0.5, 0.51, 0.52], **dev), {"a control": verdict([0.1, 0.11, 0.12], **dev)})

@pytest.mark.claim("seed")
def test_a_property_without_control():
    assert True
"""


def test_a_pass_stands_only_where_its_control_fails(run, tmp_path):
    """A PASS whose check holds on its control too, or that has none, and a DEVIATES whose cause
    holds on its control, are ERROR rows: the check cannot fail there."""
    run(src=CANNOT_FAIL)
    got = rows(tmp_path)
    assert {k: v["verdict"] for k, v in got.items()} == {
        "control_passes_too": "ERROR",
        "no_control": "ERROR",
        "cause_holds_on_the_control": "ERROR",
        "a_property_without_control": "ERROR",
    }
    assert "cannot fail here" in got["control_passes_too"]["reason"]
    assert "holds on a control" in got["cause_holds_on_the_control"]["reason"]
    assert got["control_passes_too"]["controls"] == {
        "a control that holds": got["control_passes_too"]["controls"]["a control that holds"]
    }


def rows(tmp_path) -> dict:
    import json

    return {c["id"]: c for c in json.loads((tmp_path / "r" / "results.json").read_text())["claims"]}


def test_verdicts_map_to_rows_and_a_crash_is_an_error(run, tmp_path):
    result = run(src=VERDICTS)
    got = {k: v["verdict"] for k, v in rows(tmp_path).items()}
    assert got == {
        "pass": "PASS",
        "fail": "FAIL",
        "unsure": "INCONCLUSIVE",
        "deviates": "DEVIATES",
        "crash": "ERROR",
        "assertion": "FAIL",
        "too_few": "INCONCLUSIVE",
    }
    assert "KeyError" in rows(tmp_path)["crash"]["reason"]
    assert "too few runs" in rows(tmp_path)["too_few"]["reason"]
    assert rows(tmp_path)["pass"]["units"] == "3 runs" and rows(tmp_path)["pass"]["controls"]["a control"].startswith(
        "FAIL"
    )
    assert rows(tmp_path)["fail"]["interval"][1] < 0.9
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_unjudged_scale_records_verdicts_but_fails_only_on_a_crash(run, tmp_path):
    result = run("--scale", "smoke", src=VERDICTS)
    got = {k: v["verdict"] for k, v in rows(tmp_path).items()}
    assert got["fail"] == "FAIL" and got["pass"] == "PASS" and got["crash"] == "ERROR"
    result.assert_outcomes(failed=1, xfailed=6)


def test_an_empty_parameter_set_declares_no_runs(run):
    """A scale whose list of variants is empty (the converged scale's App. D) deselects that
    claim (no row "got empty parameter set") and the session's other claims still get their runs."""
    src = """
import pytest

def declare(s, n):
    raise AssertionError("runs declared for an empty parameter set")

@pytest.mark.claim("appendix_d1", runs=declare)
@pytest.mark.parametrize("n", [])
def test_empty(trained, n):
    pass

@pytest.mark.claim("seed", runs=lambda s: {})
def test_x(trained, record):
    record(measured=1.0)
"""
    run(src=src).assert_outcomes(passed=1, deselected=1)


class CannedRuns:
    """A run cache whose runs have a canned train accuracy per (labels, step): what the stop
    rule reads, without training."""

    def __init__(self, accuracy):
        from harness.training.cache import RunCache

        self.accuracy, self.stops = accuracy, []
        self.converge = RunCache.converge.__get__(self)

    def prefill(self, specs, skip=()):
        self.stops.append(sorted({r.steps for r in specs}))

    def get(self, spec):
        return SimpleNamespace(spec=spec, evaluation={"train_acc": self.accuracy(spec.labels, spec.seed, spec.steps)})


class ConvergingClaim:
    """The pytest item of a claim declared with ``converge=True`` (what ``judged_step`` reads)."""

    nodeid = "claims/test_x.py::test_x"

    def __init__(self, runs):
        self.marker = SimpleNamespace(args=("random_labels",), kwargs={"runs": runs, "converge": True})
        self.config = SimpleNamespace(stash=pytest.Stash())

    def get_closest_marker(self, name):
        return self.marker if name == "claim" else None


def twins(s):
    n = s.converged_steps
    return {"true": s.seeds(2, steps=n), "random": s.seeds(2, labels="random", steps=n)}


@pytest.mark.parametrize(
    ("memorised_at", "judged"),
    [((32_000, 36_000), 36_000), ((36_000, 32_000), 36_000), ((20_000, 20_000), 20_000), ((None, 24_000), 40_000)],
)
def test_the_stop_rule_waits_for_every_random_label_net_and_no_longer(memorised_at, judged):
    """The converged scale's rule: the first of 20,000 ... 40,000 at which both random-label
    nets have train accuracy >= 0.99 (the seed that lags decides, not the first or the mean);
    true-label nets do not count; nothing is trained past the judged stop; a net that never
    memorises: the cap (and the claim's premise then makes it INCONCLUSIVE)."""
    from harness.config.scales import scale
    from harness.plugin.stoprule import judged_step

    def accuracy(labels, seed, step):
        if labels == "true":
            return 0.5  # the rule reads the random-label nets only
        at = memorised_at[seed]
        return 0.997 if at is not None and step >= at else 0.98

    cache = CannedRuns(accuracy)
    s = scale("converged")
    assert judged_step(ConvergingClaim(twins), s, cache) == judged
    assert cache.stops == [[n] for n in range(20_000, judged + 1, 4_000)]


def test_an_error_of_the_stop_rule_is_raised_again_not_met_again():
    """``prefilled`` runs the rule first and leaves an error to the claim: ``trained`` gets the
    same error without training or downloading again (one prefill, not two)."""
    from harness.config.scales import scale
    from harness.data.copies import DatasetNotFound
    from harness.plugin.stoprule import judged_step

    class Absent(CannedRuns):
        def get(self, spec):
            raise DatasetNotFound(f"{spec.dataset}: absent")

    cache, claim, s = Absent(None), ConvergingClaim(twins), scale("converged")
    for _ in range(2):
        with pytest.raises(DatasetNotFound, match="absent"):
            judged_step(claim, s, cache)
    assert cache.stops == [[20_000]]


def test_no_machine_path_in_the_results(run, tmp_path):
    run()
    text = (tmp_path / "r" / "results.json").read_text()
    assert str(tmp_path) not in text
    assert "--report-dir <report dir>" in json.loads(text)["meta"]["command"]


def test_a_claim_that_reads_no_run_trains_its_share_first(run, tmp_path):
    """With ``-n N`` a worker may be handed only claims that read no run (``-k whitening``:
    one of its three claims does). It trains its share of the session's runs before them,
    instead of idling while another worker trains them all: here the claim without runs comes
    first and the session's runs were already prefilled. A training error stays with the
    claims that read the runs."""
    src = """
import pytest
from harness.training.cache import RunCache

ASKED = []

def prefill(self, specs, skip=()):
    ASKED.append(sorted(r.seed for r in specs))
    raise RuntimeError("training crashed")

RunCache.prefill = prefill

@pytest.mark.claim("seed")
def test_a_no_runs(record):
    assert ASKED == [[0, 1]]
    record(measured=1.0)

@pytest.mark.claim("seed", runs=lambda s: {"true": s.seeds(2, steps=10)})
def test_b_runs(trained, record):
    record(measured=1.0)

@pytest.mark.claim("seed")
def test_c_no_runs(record):
    assert ASKED == [[0, 1]]  # the failed prefill is not tried again
    record(measured=1.0)
"""
    result = run(src=src)
    result.assert_outcomes(passed=2, errors=1)
    assert rows(tmp_path)["b_runs"]["verdict"] == "ERROR" and "training crashed" in rows(tmp_path)["b_runs"]["reason"]


def test_the_results_name_the_threads_that_trained_the_runs(run, tmp_path):
    """On the CPU a run's values depend on the thread count that trained it, so each row and
    the run's meta name it, from the runs' provenance (not the process's count: a cached run
    may have been trained by another); a session without runs has the process's."""
    src = """
import pytest
from types import SimpleNamespace
from harness.training.cache import RunCache

RunCache.prefill = lambda self, specs, skip=(): None
RunCache.get = lambda self, spec, **kw: SimpleNamespace(spec=spec, provenance={"threads": 1 + spec.seed})

@pytest.mark.claim("seed", runs=lambda s: {"true": s.seeds(1, steps=10)})
def test_one(trained, record):
    record(measured=1.0)

@pytest.mark.claim("seed", runs=lambda s: {"true": s.seeds(2, steps=10)})
def test_two(trained, record):
    record(measured=1.0)
"""
    run(src=src).assert_outcomes(passed=2)
    assert rows(tmp_path)["one"]["threads"] == [1] and rows(tmp_path)["two"]["threads"] == [1, 2]
    assert json.loads((tmp_path / "r" / "results.json").read_text())["meta"]["threads"] == [1, 2]
    run(src=CLAIM).assert_outcomes(passed=1)
    (own,) = json.loads((tmp_path / "r" / "results.json").read_text())["meta"]["threads"]
    assert own >= 1


def test_xdist_worker_i_trains_on_gpu_i():
    """-n <gpus> --gpu: worker gw<i> on GPU i, wrapping past the GPUs there are (a fake count)."""
    from harness.plugin.claim_fixtures import gpu_of

    assert [gpu_of(f"gw{i}", 4) for i in range(6)] == ["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0", "cuda:1"]
    assert gpu_of(None, 2) == "cuda:0" and gpu_of("gw1", 1) == "cuda:0"


def test_the_terminal_says_verdict_words_and_junit_carries_each_verdict(run, tmp_path):
    """A DEVIATES or INCONCLUSIVE row is not an xfail on the terminal, and each testcase of the
    JUnit file has its verdict as a property (CI dashboards count by these)."""
    result = run("-v", "--junitxml", str(tmp_path / "j.xml"), src=VERDICTS)
    out = result.stdout.str()
    assert "test_claim.py::test_unsure INCONCLUSIVE" in out and "test_claim.py::test_deviates DEVIATES" in out
    assert "test_claim.py::test_pass PASS" in out and "xfail" not in out.lower().split("short test summary")[0]
    assert "2 inconclusive" in out and "1 deviates" in out
    import xml.etree.ElementTree as ET

    cases = {c.get("name"): c for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")}
    said = {n: {p.get("name"): p.get("value") for p in c.iter("property")} for n, c in cases.items()}
    assert said["test_unsure"]["verdict"] == "INCONCLUSIVE" and said["test_pass"]["verdict"] == "PASS"


def test_a_full_run_in_one_process_writes_reports_latest(pytester, tmp_path):
    """The plugin's own deselection of a variant list a scale leaves empty is not a user's
    narrowing: a plain one-process run is a full run (reports/latest, the history)."""
    from harness.plugin import results

    option = SimpleNamespace(keyword="", markexpr="")
    config = SimpleNamespace(option=option, invocation_params=SimpleNamespace(args=()))
    plugin = results.ReportPlugin.__new__(results.ReportPlugin)
    plugin.config, plugin.deselected = config, 0
    empty = SimpleNamespace(iter_markers=lambda name: [pytest.mark.skip(reason="got empty parameter set []").mark])
    chosen = SimpleNamespace(iter_markers=lambda name: [])
    plugin.pytest_deselected([empty, empty])
    assert plugin.full_run()
    plugin.pytest_deselected([chosen])
    assert not plugin.full_run()


def test_plan_ends_with_its_own_summary_and_exit_0(run):
    result = run("--plan", src=CLAIM)
    out = result.stdout.str()
    assert result.ret == 0 and "firstlayer --plan" in out and "nothing was trained" in out
    assert "Exit" not in out and "deselected" not in out


def test_firstlayer_has_a_version():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "harness.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("firstlayer ")
