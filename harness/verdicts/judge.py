"""How a verdict is reached (docs/method.md). A quantity is a ``harness.verdicts.stats.Estimate``:
its value, a 95% interval whose unit is a run (or another independent unit: a random bank, a
model) and the runs per group it rests on. A ``Condition`` compares it with a bar: PASS when the
whole interval clears the bar, FAIL when none of it does, INCONCLUSIVE when it straddles the bar
or a group has too few runs for an interval (``stats.MIN_RUNS``); an exact quantity (the worst
run under a rule every run must meet, a statistic of data alone) is compared as it is.

``judge`` combines a claim's conditions: too few runs anywhere makes the claim INCONCLUSIVE (no
PASS or FAIL rests on fewer than three runs of a group); any FAIL fails the claim, unless
fixtures/paper.toml documents a deviation for this scale whose cause, a condition on numbers
measured in the same run, holds (then DEVIATES); a premise that is not met (a layer that has not
learned, nets that have not memorised, a data copy that differs) makes the claim INCONCLUSIVE,
and wins over a failing condition: only a condition the paper states can FAIL a row. No verdict is decided before the
numbers are measured. ``stands`` says whether a PASS stands beside its controls (one must FAIL)."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field

from harness.config.paper import paper
from harness.config.scales import Scale, base_of
from harness.verdicts.stats import Estimate

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Condition:
    """``what`` (an Estimate) ``op`` ``bar``. A ``premise`` is a condition of ours under which the
    claim can be judged at all (unless met, the claim is INCONCLUSIVE, never FAIL)."""

    what: str
    estimate: Estimate
    op: str
    bar: float
    premise: bool = False

    @property
    def verdict(self) -> str:
        ok, e = OPS[self.op], self.estimate
        if e.exact:
            return "PASS" if ok(e.value, self.bar) else "FAIL"
        if e.interval is None:
            return "INCONCLUSIVE"
        lo, hi = e.interval
        good, bad = (lo, hi) if self.op in (">=", ">") else (hi, lo)
        if ok(good, self.bar):
            return "PASS"
        if not ok(bad, self.bar):
            return "FAIL"
        return "INCONCLUSIVE"

    def text(self) -> str:
        return f"{self.what} {self.estimate.text()} {self.op} {self.bar:g}" + (
            " (premise, ours)" if self.premise else ""
        )


def check(what: str, estimate: Estimate, op: str, bar: float, premise: bool = False) -> Condition:
    if not isinstance(estimate, Estimate):
        raise TypeError(f"check '{what}': expected a harness.verdicts.stats.Estimate, got {type(estimate).__name__}")
    return Condition(what, estimate, op, float(bar), premise)


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str
    conditions: tuple = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"


@dataclass(frozen=True)
class Deviation:
    """A documented deviation (fixtures/paper.toml ``[<claim>.deviates.<scale>]``): ``because``
    explains it and ``when`` states its cause as conditions on measured quantities
    (``name op number``, joined by ``and``)."""

    because: str
    when: str

    def holds(self, measured: dict) -> tuple[bool, str]:
        """Whether the cause holds on ``measured``; an unmeasured quantity does not hold."""
        parts = []
        for clause in self.when.split(" and "):
            m = re.fullmatch(r"\s*([A-Za-z_][\w]*)\s*(>=|<=|>|<)\s*(-?[\d.eE+-]+)\s*", clause)
            if m is None:
                raise ValueError(f"deviation cause '{clause}': expected 'name op number'")
            name, op, number = m.group(1), m.group(2), float(m.group(3))
            if name not in measured:
                return False, f"{name} not measured"
            value = float(measured[name])
            if not OPS[op](value, number):
                return False, f"{name} = {value:.3f}, not {op} {number:g}"
            parts.append(f"{name} = {value:.3f} {op} {number:g}")
        return True, "; ".join(parts)


def deviation(claim: str, s: Scale, key: str = "") -> Deviation | None:
    """The deviation fixtures/paper.toml documents for ``claim`` at scale ``s`` (per ``key``), or
    at the scale ``s`` is ``based_on``: a variant of the cpu scale (cpu-datasets, cpu-sgd, ...)
    keeps its sizes, so the cause documented there is tested there too (and must hold, measured
    in the same run, for a DEVIATES)."""
    documented = paper(claim).get("deviates", {})
    entry = documented.get(s.name, documented.get(base_of(s.name) or ""))
    if isinstance(entry, dict) and key in entry and isinstance(entry[key], dict):
        entry = entry[key]
    if not isinstance(entry, dict) or "when" not in entry:
        return None
    return Deviation(entry["because"], entry["when"])


def judge(*conditions: Condition, deviation: Deviation | None = None, measured: dict | None = None) -> Verdict:
    """The claim's verdict from its conditions (see the module docstring). A premise (ours: the
    layer learned, the nets memorised, the copy keeps the spectrum) that is not met, FAILed or
    not established (its interval straddles its bar), makes the claim INCONCLUSIVE and is named:
    it wins over a failing condition, for only a condition the paper states can FAIL a row."""
    premises = [c for c in conditions if c.premise]
    stated = [c for c in conditions if not c.premise]
    few = [c for c in conditions if c.estimate.too_few]
    if few:
        reason = "too few runs for an interval (at least 3 a group): " + "; ".join(c.text() for c in few)
        return Verdict("INCONCLUSIVE", reason, conditions)
    unmet = [c for c in premises if c.verdict != "PASS"]
    if unmet:
        said = "; ".join(f"{c.text()} ({'not met' if c.verdict == 'FAIL' else 'not established'})" for c in unmet)
        failing = [c for c in stated if c.verdict == "FAIL"]
        also = f". Would FAIL on: {'; '.join(c.text() for c in failing)}" if failing else ""
        return Verdict("INCONCLUSIVE", f"premise not met: {said}{also}", conditions)
    failed = [c for c in stated if c.verdict == "FAIL"]
    unsure = [c for c in stated if c.verdict == "INCONCLUSIVE"]
    if failed:
        reason = "; ".join(c.text() for c in failed)
        if deviation is not None:
            holds, why = deviation.holds(measured or {})
            if holds:
                return Verdict("DEVIATES", f"{reason}. {deviation.because} Cause measured: {why}", conditions)
            reason += f" (documented deviation not in effect: {why})"
        return Verdict("FAIL", reason, conditions)
    if unsure:
        return Verdict("INCONCLUSIVE", "interval straddles the bar: " + "; ".join(c.text() for c in unsure), conditions)
    return Verdict("PASS", "; ".join(c.text() for c in conditions), conditions)


class CannotFail(Exception):
    """A PASS or DEVIATES whose check did not FAIL on any of its controls: the row is ERROR."""


STRUCTURED = " (structured)"  # harness.verdicts.controls names its structured controls so


def _fails(control: Verdict, v: Verdict) -> bool:
    """Whether ``control`` fails ``v``'s check: it FAILs; or, for a row that checks a premise
    alone (the training copy), the premise is not met on it (a premise never FAILs a row)."""
    if control.verdict == "FAIL":
        return True
    premise_row = bool(v.conditions) and all(c.premise for c in v.conditions)
    return premise_row and control.verdict == "INCONCLUSIVE" and control.reason.startswith("premise not met")


def stands(v, controls: dict) -> str | None:
    """None where verdict ``v`` stands beside its ``controls`` ({name: Verdict}); else why not.
    A PASS or DEVIATES needs a control on which the same check FAILs; where the claim has
    structured controls (a profile that meets the premises and differs as the paper says
    matters, named ``... (structured)``), one of those must FAIL: init + noise or an early
    snapshot fail on premises alone. A DEVIATES also needs that its cause holds on no control
    (an untrained layer must never show DEVIATES)."""
    if v.verdict not in ("PASS", "DEVIATES"):
        return None
    if not controls:
        return f"this check cannot fail here: a {v.verdict} without a control"
    if v.verdict == "DEVIATES" and any(c.verdict == "DEVIATES" for c in controls.values()):
        held = [n for n, c in controls.items() if c.verdict == "DEVIATES"]
        return f"the deviation's cause holds on a control too ({', '.join(held)}): it explains nothing"
    structured = {n: c for n, c in controls.items() if n.endswith(STRUCTURED)}
    if structured and not any(_fails(c, v) for c in structured.values()):
        said = "; ".join(f"{n}: {c.verdict}" for n, c in structured.items())
        return f"this check cannot tell structure apart here: no structured control FAILs ({said})"
    if not any(_fails(c, v) for c in controls.values()):
        said = "; ".join(f"{n}: {c.verdict}" for n, c in controls.items())
        return f"this check cannot fail here: it did not FAIL on any control ({said})"
    return None


def control_rows(controls: dict) -> dict:
    """The controls' verdicts for the report row: {name: "FAIL: reason"}."""
    return {name: f"{c.verdict}: {c.reason}" for name, c in controls.items()}


def property_control(record, name: str, control) -> None:
    """For a claim judged as a property over many examples (Thm 4.2, Thm 4.3): the control of
    one example, its check's Verdict, must FAIL; else CannotFail (the row is ERROR). The row
    keeps the last example's control."""
    record(controls=control_rows({name: control}))
    if control.verdict != "FAIL":
        raise CannotFail(f"this check cannot fail here: its control ({name}) is {control.verdict}: {control.reason}")
