"""The runs a claim's marker declares, for its parameters (read by ``--plan`` and by the stop rule)."""

from __future__ import annotations

import inspect

from harness.config.scales import Scale
from harness.training.spec import RunSpec


def declared_runs(item, s: Scale) -> dict:
    """The runs ``item``'s claim marker declares, for its parameters: {name: spec or [specs]}."""
    marker = item.get_closest_marker("claim")
    declare = marker.kwargs.get("runs") if marker else None
    if declare is None or item.get_closest_marker("skip"):  # a skipped claim declares nothing
        return {}
    params = item.callspec.params if hasattr(item, "callspec") else {}
    wanted = list(inspect.signature(declare).parameters)[1:]
    return declare(s, **{k: params[k] for k in wanted})


def specs_of(declared: dict) -> list[RunSpec]:
    return [s for v in declared.values() for s in ([v] if isinstance(v, RunSpec) else v)]


def each_spec(declared: dict, fn) -> dict:
    """``fn`` applied to every spec of a declaration, keeping its shape ({name: spec or [specs]})."""
    return {name: fn(v) if isinstance(v, RunSpec) else [fn(s) for s in v] for name, v in declared.items()}


def empty_variant(item) -> bool:
    """A test of a variant list the scale leaves empty (App. D at converged, the copy check at cpu):
    pytest's own skip of an empty parameter set; not a claim at this scale."""
    return any("empty parameter set" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skip"))


def converging(item) -> bool:
    marker = item.get_closest_marker("claim")
    return bool(marker and marker.kwargs.get("converge"))
