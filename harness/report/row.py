"""One report row: a claim's verdict and every number and word the report shows of it.

The claims' plugin fills a ``Row`` (``harness.plugin.conclude``) and writes it to
``results.json``; the report reads rows back through ``Row.from_json``, which refuses a field
it does not know. A row carries what its page shows, the bar with its derivation and the
models its runs trained included, so a ``results.json`` renders the same whatever today's
``fixtures/`` say (tests/test_report.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


class RowError(ValueError):
    """A results row with a field the report does not know, or without one it needs."""


@dataclass
class Row:
    id: str  # the test's name without "test_", with its parameters: "seed[cifar10]"
    nodeid: str = ""  # pytest's (a row rebuilt from the history has none)
    claim: str = ""  # the family: a section of fixtures/paper.toml
    title: str = ""
    part: str = ""  # "Table 1", "App. D", ...
    source: str = ""  # where the paper states it
    dataset: str = ""
    data_source: str = ""  # the copy that was read: '<folder> (<split>, sha256 ...)'
    threads: list = field(default_factory=list)  # the CPU threads that trained the row's runs
    paper: str = ""  # the paper's value as printed
    measured: float | None = None
    n: int | None = None  # runs a group
    units: str = ""
    controls: dict = field(default_factory=dict)  # {control: its verdict and value}
    threshold: str = ""
    verdict: str = ""
    reason: str = ""
    scale: str = ""
    device: str = ""
    seconds: float = 0.0
    details: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    # set where they apply (left out of results.json where unset)
    sd: float | None = None
    interval: list | None = None  # [low, high], 95% over runs
    method: str | None = None  # how the interval was made
    bar: float | None = None
    op: str | None = None  # ">=" or "<="
    bar_derivation: str | None = None  # how the bar follows from the paper (fixtures/paper.toml's rule)
    conditions: list | None = None  # every condition of the verdict, in words
    seeds_needed: dict | None = None  # runs a group needed to decide, per group
    judged: str | None = None  # the stop rule's step, in words
    runs: list | None = None  # the runs read: "<label> [<key>]"
    models: list | None = None  # the models those runs trained, named with their width

    @classmethod
    def from_json(cls, d: dict) -> Row:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise RowError(f"row {d.get('id', '?')}: unknown field(s) {', '.join(unknown)}")
        try:
            return cls(**d)
        except TypeError as exc:
            raise RowError(f"row {d.get('id', '?')}: {exc}") from None

    def to_json(self) -> dict:
        """Every field, but the optional ones (after ``figures``) where unset."""
        out = dataclasses.asdict(self)
        optional = [f.name for f in dataclasses.fields(self)][[f.name for f in dataclasses.fields(self)].index("sd") :]
        return {k: v for k, v in out.items() if k not in optional or v is not None}
