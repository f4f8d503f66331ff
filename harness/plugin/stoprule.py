"""A claim's runs: declared once on its marker, trained before the claims run (``prefilled``:
every run the selected claims declare, the longest first, so that with ``-n N`` the workers
share them), judged at the stop rule's step where the claim is declared ``converge=True``
(``judged_step``), and handed to the claim by the ``trained`` fixture."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.config.scales import Scale
from harness.data.copies import DatasetNotFound
from harness.plugin.declared import converging, declared_runs, each_spec, specs_of
from harness.plugin.state import JUDGED, ROW
from harness.training.cache import Run, RunCache
from harness.verdicts.checks import memorised


def judged_step(item, s: Scale, runs: RunCache, skip=()) -> int | None:
    """The stop rule (issue 12) of a claim declared with ``converge=True``: the first of
    ``s.stops(length)`` (length: the one length its runs are declared at; then every
    ``converged_every`` steps up to ``converged_cap``) at which every random-label run it
    declares has memorised (``checks.memorised``: train accuracy >= fixtures/paper.toml
    [converged] min_train_acc); the cap if none has. Its runs are trained on to it, each stop
    evaluated. The rule reads the premise only, never the claim's measure, so it cannot choose
    a length by the verdict. Claims with the same runs share the step (``JUDGED``), and an
    error of the rule too: it is raised again, not met again (a second failing download)."""
    specs = specs_of(declared_runs(item, s))
    if not specs:
        return None
    lengths = {r.steps for r in specs}
    if len(lengths) != 1:
        raise ValueError(f"{item.nodeid}: converge=True needs one length for every declared run, got {sorted(lengths)}")
    start = lengths.pop()
    known = item.config.stash.setdefault(JUDGED, {})
    key = (start, tuple(sorted({r.key for r in specs})))
    if key not in known:

        def ready(rs) -> bool:
            rand = [r for r in rs if r.spec.labels == "random"]
            return not rand or memorised(rand).verdict == "PASS"

        try:
            known[key] = runs.converge(specs, s.stops(start), ready, skip)
        except Exception as exc:
            known[key] = exc
    if isinstance(known[key], Exception):
        raise known[key]
    return known[key]


@pytest.fixture(scope="session")
def prefilled(request, runs, scale) -> None:
    """Train every run the session's claims declare, the longest first (then the slowest
    models), so that with ``-n N`` no long run is left to one worker at the end; then the stop
    rule's claims on to their judged stops (in the items' order, so workers share them)."""
    specs = [s for item in request.session.items for s in specs_of(declared_runs(item, scale))]
    specs.sort(key=lambda r: (-r.steps, r.model == scale.model and r.first <= 64, r.subset != "", r.inputs != "plain"))
    runs.prefill(specs, skip=(DatasetNotFound,))
    for item in request.session.items:
        if converging(item):
            try:
                judged_step(item, scale, runs, skip=(DatasetNotFound,))
            except Exception:  # left to the claim: `trained` raises it again (absent data: a
                continue  # skip with its line; anything else: its own ERROR row)


@pytest.fixture(autouse=True)
def takes_its_share(request) -> None:
    """Every claim, also one that reads no run, trains its process's share of the session's
    runs (``prefilled``) before it runs. Otherwise an ``-n N`` worker that is handed only claims
    without runs idles while another trains every run: with ``-k whitening`` one of three
    claims reads runs, and one worker trained them all. A training error is swallowed here and
    left to the claims that read the runs: pytest caches a session fixture's setup error, so
    prefill is not tried again, and each claim that reads runs errors at ``prefilled``'s setup
    (it requests it, and it is set up before the claim's function-scoped fixtures)."""
    if request.node.get_closest_marker("claim"):
        try:
            request.getfixturevalue("prefilled")
        except Exception:
            pass


@pytest.fixture
def trained(request, runs, scale, prefilled) -> dict:
    """This claim's declared runs, trained: {name: Run or [Runs]}; for a ``converge=True``
    claim, at its judged step (``judged_step``)."""
    declared = declared_runs(request.node, scale)
    row = request.node.stash.setdefault(ROW, {})
    n = judged_step(request.node, scale, runs) if converging(request.node) else None
    if n is not None:
        specs = specs_of(declared)
        stops = scale.stops(specs[0].steps)
        if not any(r.labels == "random" for r in specs):
            row["judged"] = f"step {n}: the declared length (no random-label net for the stop rule to wait for)"
        elif len(stops) == 1:
            row["judged"] = f"step {n}: the stop rule's only stop (the declared length is at its cap)"
        else:
            row["judged"] = (
                f"step {n}: the stop rule's first of {', '.join(map(str, stops))} at which every random-label "
                "net has memorised" + ("" if n < stops[-1] else " (or its cap)")
            )
        declared = each_spec(declared, lambda r: replace(r, steps=n))
    out = each_spec(declared, runs.get)
    every = [r for v in out.values() for r in ([v] if isinstance(v, Run) else v)]
    if every:
        row.setdefault("data_source", every[0].provenance.get("data_source", ""))
        row.setdefault("device", every[0].provenance.get("device", ""))
        row["threads"] = sorted({r.provenance.get("threads") for r in every} - {None})  # CPU sums depend on it
        row["runs"] = sorted({f"{r.spec.label()} [{r.spec.key}]" for r in every})
    return out
