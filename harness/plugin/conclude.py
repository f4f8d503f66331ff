"""How a claim is judged. A claim ends with ``conclude(verdict, controls=...)``: its check's
``Verdict`` (``harness.verdicts.checks``) on its runs and on controls built from them
(``harness.verdicts.controls``). ``stands`` is the rule that links them: a PASS or a DEVIATES stands
only where the same check FAILs on at least one control in the same run of the suite (a
structured one, where the claim has them), and a DEVIATES also only where its documented cause
does not hold on any control; otherwise the row is ERROR, "this check cannot fail here". Then
every report row gets its verdict (``verdict_of``): SKIP for absent data, ERROR for a crash, else the concluded verdict.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.config.paper import bar_text, paper, paper_level, paper_value
from harness.data.copies import DatasetNotFound
from harness.plugin.state import ROW, SCALE, VERDICT
from harness.report.row import Row, RowError
from harness.report.words import models_named
from harness.verdicts.judge import CannotFail, control_rows, stands
from harness.verdicts.stats import seeds_needed


def main_numbers(c, family: str, dataset: str) -> dict:
    """The report row's numbers from the main condition ``c``: value, interval, the runs it
    rests on, and the runs per group that would decide it (at the measured value, and at the
    paper's where the paper gives a number)."""
    e = c.estimate
    row = {
        "measured": e.value,
        "interval": list(e.interval) if e.interval else None,
        "n": None if e.exact else e.n,
        "units": e.units(),
        "method": e.method,
        "threshold": f"{c.what} {c.op} {c.bar:g}",
        "bar": c.bar,
        "op": c.op,
    }
    if not e.exact:
        at = paper_level(family, dataset)  # the paper's value of the quantity judged (|r|: folded)
        row["seeds_needed"] = {
            "to decide at the measured value": seeds_needed(e, c.bar),
            "at the paper's value": seeds_needed(e, c.bar, at=at) if at is not None else None,
        }
    return row


@pytest.fixture
def conclude(request, record, scale):
    """``conclude(verdict, controls, main=None)``: the claim's verdict (``harness.verdicts.judge.judge``)
    and its controls' ({name: Verdict}, the same check on controls built from the claim's own
    runs or inputs) end the test. A PASS or DEVIATES that does not stand beside its controls
    (``stands``) is ERROR; else PASS returns, FAIL fails it, DEVIATES and INCONCLUSIVE end it
    as xfailed with the reason. The report row takes the verdict, the conditions, the controls
    and the ``main`` condition's numbers (default: the last condition). At a scale that is not
    judged every verdict ends as xfailed: the row still shows what the check said."""

    def done(v, controls: dict, main=None):
        c = main or (v.conditions[-1] if v.conditions else None)
        row = record(controls=control_rows(controls))
        if c is not None:
            family = request.node.get_closest_marker("claim").args[0]
            params = request.node.callspec.params if hasattr(request.node, "callspec") else {}
            record(**main_numbers(c, family, row.get("dataset") or params.get("dataset", "")))
        record(conditions=[f"{x.verdict}: {x.text()}" for x in v.conditions])
        request.node.stash[VERDICT] = v
        why = stands(v, controls)
        if not scale.judged:
            pytest.xfail(f"scale {scale.name} is not judged ({v.verdict}): {v.reason}" + (f"; {why}" if why else ""))
        if why:
            raise CannotFail(f"{v.verdict} does not stand: {why}")
        if v.verdict == "FAIL":
            pytest.fail(v.reason, pytrace=False)
        if v.verdict in ("DEVIATES", "INCONCLUSIVE"):
            pytest.xfail(f"{v.verdict}: {v.reason}")

    return done


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
    family, s = marker.args[0], item.config.stash[SCALE]
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
        "n": None,
        "units": "",
        "controls": {},
        "threshold": "",
        "reason": "",
        "scale": s.name,
        "device": "",
        "seconds": report.duration,
        "details": {},
        "figures": [],
    }
    row.update(item.stash.get(ROW, {}))
    row.setdefault("paper", paper_value(family, row["dataset"]))
    row["verdict"], row["reason"] = verdict_of(item, call, report)
    row.setdefault("bar_derivation", bar_text(family, row["dataset"]) or None)
    row.setdefault("models", models_named(row.get("runs"), s.width, s.resnet_width) or None)
    try:  # one typed record: an unknown field is this row's ERROR, not a crash of the session
        row = Row.from_json(row).to_json()
    except RowError as exc:
        known = {f.name for f in dataclasses.fields(Row)}
        row = {k: v for k, v in row.items() if k in known} | {"verdict": "ERROR", "reason": str(exc)}
    report.user_properties.append(("firstlayer", json.dumps(row, default=float)))
    item.user_properties.append(("verdict", row["verdict"]))  # a JUnit property of the testcase
    if s.judged:
        report.firstlayer_verdict = row["verdict"]  # the terminal's word (travels with xdist's reports)
    return report


# The terminal's word for a verdict: (category counted in the summary line, letter, word). PASS,
# FAIL and SKIP keep pytest's own; a DEVIATES or INCONCLUSIVE row would otherwise show as xfail.
WORDS = {
    "PASS": ("passed", ".", ("PASS", {"green": True})),
    "FAIL": ("failed", "F", ("FAIL", {"red": True})),
    "DEVIATES": ("deviates", "D", ("DEVIATES", {"yellow": True})),
    "INCONCLUSIVE": ("inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})),
}


def pytest_report_teststatus(report, config):
    """Verdict words on the terminal, so a dashboard or a reader never counts an INCONCLUSIVE
    row as a skipped test."""
    verdict = getattr(report, "firstlayer_verdict", None)
    if verdict in WORDS and report.when in ("setup", "call"):
        return WORDS[verdict]
    return None


def verdict_of(item, call, report) -> tuple[str, str]:
    """The row's verdict: SKIP for absent data; the verdict ``conclude`` reached; FAIL for an
    assertion of the claim (or of a property test); ERROR for any other exception, a crash
    that must never show as anything else, and for a property that held without a control
    (``property_control``)."""
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
    if not item.stash.get(ROW, {}).get("controls"):  # a property that held, with no control recorded
        return "ERROR", "this check cannot fail here: a PASS without a control"
    return "PASS", ""
