"""Claims are parametrised from the scale table: ``dataset`` runs over the scale's datasets.

``RUNS`` lists the trained runs each claim family reads. Before the selected claims start,
every process trains the missing ones (``RunCache.prefill``): with ``-n N`` the workers take
different runs instead of queueing on one lock. A run missing here is still trained by the
claim that needs it, only later, and the session ends with a warning that names it."""
import warnings

import pytest

from harness.data import DatasetNotFound
from harness.scales import scale as load_scale, spec


def pytest_generate_tests(metafunc):
    """``dataset``: the scale's main dataset plus those skipped with a reason when absent."""
    if "dataset" in metafunc.fixturenames:
        s = load_scale(metafunc.config.firstlayer_scale)
        metafunc.parametrize("dataset", [s.dataset, *s.extra_datasets])


def _seeds(s, n, **over):
    return [spec(s, seed=k, **over) for k in range(n)]


def _each_dataset(s, fn):  # claims parametrised by ``dataset`` read the runs of each
    return [r for d in (s.dataset, *s.extra_datasets) for r in fn(d)]


def _true_random(s, n, **over):  # App. D: a variant's true-label runs and its random-label twins
    rand = {k: v for k, v in over.items() if k != "labels"}
    return _seeds(s, n, **over) + _seeds(s, n, labels="random", **rand)


RUNS = {
    "resnet": lambda s: [spec(s, seed=0, model=s.resnet, width=s.resnet_width, steps=s.resnet_steps), spec(s, seed=0)],
    "width": lambda s: [spec(s, seed=0, first=w) for w in s.widths] + [spec(s, seed=0)],
    "seed": lambda s: _each_dataset(s, lambda d: _seeds(s, s.seeds_true, dataset=d)),
    "init": lambda s: _each_dataset(s, lambda d: _seeds(s, s.seeds_true, dataset=d)),
    "whitening": lambda s: _seeds(s, s.seeds_true),
    "random_labels": lambda s: _each_dataset(s, lambda d: _seeds(s, s.seeds_true, dataset=d)
                                             + _seeds(s, s.seeds_random, dataset=d, labels="random")),
    "formula": lambda s: (_seeds(s, s.seeds_true) + _seeds(s, s.seeds_random, labels="random")
                          + [r for b in s.binary for r in _seeds(s, s.seeds_extra, subset=b)]),
    "frozen": lambda s: [spec(s, model=m, seed=0, frozen=f) for m in s.frozen_models for f in (False, True)],
    "appendix_d1": lambda s: (_true_random(s, s.seeds_random)
                              + [r for c in s.d1_components for r in _true_random(s, s.seeds_extra, labels=f"energy:{c}")]),
    "appendix_d2": lambda s: [r for c, a in s.d2 for r in _true_random(s, s.seeds_extra, inputs=f"scale:{c}:{a}")],
}


@pytest.fixture(scope="session", autouse=True)
def prefill(request, runs, scale):
    """Train the runs of every selected claim family up front, slowest models first."""
    families = {m.args[0] for item in request.session.items for m in item.iter_markers("claim")}
    specs = [r for f in sorted(families) if f in RUNS for r in RUNS[f](scale)]
    specs.sort(key=lambda r: (r.model == scale.model and r.first <= 64, r.subset != "", r.inputs != "plain"))
    runs.prefill(specs, skip=(DatasetNotFound,))
    yield
    unlisted = set(runs.requested) - set(specs)
    if unlisted:  # RUNS has drifted from what the claims read: they trained these late
        names = sorted(s.label() for s in unlisted)
        warnings.warn(pytest.PytestWarning(f"claims read runs missing from claims/conftest.py RUNS: {names}"))
