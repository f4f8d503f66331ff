"""harness.report.reference and harness.report.rejudge: a user's values beside the run store's,
and the committed reports that are judged again from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report import reference, rejudge

KIND = "AMD EPYC (family 26, model 2, AVX-512), 2 cores"


def _results(rows, machine=KIND, store=True):
    runs = {"read_made": {"machines": [machine]}, **({"store": "reports/runs"} if store else {})}
    return {"meta": {"scale": "cpu", "machine": machine, "runs": runs, "command": "pytest claims/ -k seed -n 2"},
            "claims": [{"id": i, "verdict": v, "measured": m} for i, v, m in rows]}  # fmt: skip


def test_equal_values_on_the_stores_cpu_kind_are_said_equal():
    ref = _results([("seed[cifar10]", "PASS", 0.984), ("width[cifar10]", "PASS", 0.967)])
    here = _results([("seed[cifar10]", "PASS", 0.984 + 1e-9)], store=False)
    found = reference.against(ref, here, "reports/cpu/results.json")
    assert found["rows"] == 1 and found["equal"] == 1 and found["differ"] == [] and found["flipped"] == []
    assert "every value should be equal" in reference.note(found)


def test_a_value_and_a_flip_on_another_cpu_kind_stand_beside_the_stores():
    ref = _results([("seed[cifar10]", "PASS", 0.984), ("init[cifar10]", "INCONCLUSIVE", 0.216)])
    here = _results(
        [("seed[cifar10]", "PASS", 0.981), ("init[cifar10]", "PASS", 0.2)], machine="Intel Xeon", store=False
    )
    found = reference.against(ref, here, "reports/cpu/results.json")
    assert found["equal"] == 0 and found["flipped"] == ["init[cifar10]"]
    said = reference.note(found)
    assert "another CPU kind" in said and "seed[cifar10]: store 0.984 PASS, here 0.981 PASS" in said
    assert "Flipped: init[cifar10]" in said


def test_only_reports_judged_from_the_store_are_rejudged_with_their_own_selection(tmp_path):
    for name, store in (("cpu", True), ("converged", False)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_results([], store=store)))
    found = rejudge.stored_reports(tmp_path)
    assert [n for n, _ in found] == ["cpu"]
    cmd = rejudge.command(found[0][1], Path("/out/cpu"), 2)
    assert cmd[cmd.index("-k") + 1] == "seed" and cmd[cmd.index("--scale") + 1] == "cpu"
    assert "--reference" in cmd and cmd[cmd.index("--report-dir") + 1] == "/out/cpu"


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("pytest claims/ -k=appendix_d --scale=cpu-appendix -n 2", ["-k", "appendix_d", "--scale", "cpu-appendix"]),
        (
            "pytest claims/ -kfrozen -m 'not slow' --scale cpu-depth",
            ["-k", "frozen", "-m", "not slow", "--scale", "cpu-depth"],
        ),
    ],
)
def test_a_selection_is_kept_in_every_form_pytest_reads(said, kept):
    cmd = rejudge.command({"command": said, "scale": "cpu"}, Path("/out"), 2)
    assert cmd[-len(kept) :] == kept and cmd[3] == "claims/"
    assert rejudge.command({"command": "pytest claims/test_frozen.py -q"}, Path("/o"), 2)[3] == "claims/test_frozen.py"
