"""The stop rule (issue 12) as one pure function, for a pytest run (``RunCache.converge``,
through ``harness.plugin.stoprule.judged_step``) and for ``harness.training.fill``: a claim
declared ``converge=True`` is judged at the first stop at which every random-label net it reads
has memorised, else at the last stop (the cap)."""

from __future__ import annotations


def stop_rule(stops, reached, ready) -> int | None:
    """The stop rule's step (issue 12): the first n of ``stops`` (ascending) at which
    ``ready(n)``, else the last stop (where ``ready`` is not asked); None where a stop before
    the deciding one is not ``reached(n)`` (its runs not evaluated there). One rule for a pytest
    run, whose ``reached`` trains the runs to each stop (``RunCache.converge``), and for
    ``fill``, whose ``reached`` reads what the run cache and the store hold (``fill.judged_at``)."""
    if not stops:
        raise ValueError("stop_rule: no stops")
    for n in stops:
        if not reached(n):
            return None
        if n == stops[-1] or ready(n):
            return n
    return None
