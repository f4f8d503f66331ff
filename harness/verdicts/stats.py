"""Intervals whose unit is a run. Every quantity a claim judges is an ``Estimate``: its value,
a 95% interval, and the runs (or other independent units) per group it rests on.

Three designs, one rule each:

- ``over_runs(values)``: one value per independent unit (a run's fit, a seed's frozen-minus-
  learned gap, a random bank's fit): the mean with Student's t interval, n - 1 degrees of
  freedom.
- ``within(items, f)``: a measure of every pair within one group (seed ~ seed). Pairs share
  runs, so they are not independent draws: the pair mean is a one-sample U-statistic of degree
  2 (Hoeffding 1948), and its standard error is the delete-one-run jackknife (Efron & Stein
  1981; Arvesen 1969 for U-statistics), with n - 1 degrees of freedom. With three runs no
  unbiased variance estimate of a U-statistic exists (it needs four distinct runs); the
  jackknife is the conservative one (Efron & Stein's inequality).
- ``between(a, b, f)``: a measure of every pair across two groups (true ~ random, VGG ~ ResNet,
  width ~ base): a two-sample U-statistic; the jackknife deletes one run of either group,
  which is the variance of the row means over n_a plus that of the column means over n_b
  (Arvesen 1969; the same estimator as DeLong et al. 1988), with Welch-Satterthwaite degrees of
  freedom.

Correlations are summarised on Fisher's z scale (z = atanh r) and mapped back with tanh, so
no interval leaves [-1, 1] and the value is tanh(mean z). A group of fewer than ``MIN_RUNS``
units gives no interval: the estimate says so (``too_few``) and a condition on it is
INCONCLUSIVE, never PASS or FAIL (one run is never exact). ``exact`` is for what is not a
mean over runs: the worst run's value under a rule every run must meet, or a number computed
from data alone. The coverage of these intervals is measured by simulating the claims' own
designs (tests/test_stats.py, docs/method.md).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

NOTE = (
    "Intervals: 95%, their unit a run (or a random bank, a model): Student's t over one value per run; "
    "for a mean over pairs of runs, the delete-one-run jackknife (pairs share runs); correlations on "
    "Fisher's z. A group of fewer than 3 runs gives no interval (INCONCLUSIVE). A PASS stands only where "
    "the same check FAILs on a control built from the claim's own runs, a structured one where the claim "
    "has them; an unmet premise (ours) makes a row INCONCLUSIVE, never FAIL (docs/method.md)."
)


CONFIDENCE = 0.95
MIN_RUNS = 3  # units per group for an interval: a jackknife of pairs needs three runs
MAX_RUNS = 10  # the most runs a group is given by the power rule (fixtures/scales.toml; docs/method.md)
CLIP = 1 - 1e-12  # |r| of a correlation on the z scale (r = 1 would be infinite)


@dataclass(frozen=True)
class Estimate:
    """``value`` with its 95% ``interval`` (None: exact, or too few units), ``groups``
    ((name, units) of each group), the ``values`` it was computed from (per unit or per pair,
    for the report), the ``method`` and, for ``seeds_needed``, its standard error ``se`` and
    degrees of freedom ``df`` on the analysis scale (z for correlations)."""

    value: float
    interval: tuple[float, float] | None
    groups: tuple[tuple[str, int], ...]
    values: tuple[float, ...]
    method: str
    correlation: bool = False
    se: float | None = None
    df: float | None = None
    noun: str = "runs"
    join: str = " x "  # between the groups' counts: " x " where it rests on pairs across them, " and " where not

    @property
    def exact(self) -> bool:
        return self.method == "exact"

    @property
    def too_few(self) -> bool:
        """Not exact, and some group has fewer than ``MIN_RUNS`` units."""
        return not self.exact and min(n for _, n in self.groups) < MIN_RUNS

    @property
    def n(self) -> int:
        """The units of the smallest group."""
        return min(n for _, n in self.groups)

    def units(self) -> str:
        """The units it rests on, in words: "3 true x 3 random runs" (pairs across the groups),
        "10 exact-trained and 10 copy-trained runs" (two groups' means), "10 banks"."""
        if self.exact:
            return ""
        noun = self.noun.removesuffix("s") if [n for _, n in self.groups] == [1] else self.noun
        return self.join.join(f"{n} {name}".strip() for name, n in self.groups) + f" {noun}"

    def text(self) -> str:
        v = f"{self.value:.3f}"
        if self.exact:
            return v
        if self.interval is None:
            return f"{v} ({self.units()}: too few for an interval)"
        lo, hi = self.interval
        return f"{v} [{lo:.3f}, {hi:.3f}] ({self.units()})"


def _finite(values) -> np.ndarray:
    v = np.asarray(values, np.float64)
    if v.size == 0 or not np.isfinite(v).all():
        raise AssertionError(f"the measurement is empty or not finite: {v.ravel().tolist()}")
    return v


def _z(v, correlation: bool):
    return np.arctanh(np.clip(v, -CLIP, CLIP)) if correlation else v


def _back(x, correlation: bool) -> float:
    return float(np.tanh(x)) if correlation else float(x)


def _make(centre, se, df, groups, values, method, correlation, noun="runs", join=" x ") -> Estimate:
    """The estimate with centre ± t(df) se on the analysis scale, mapped back; no interval
    with too few units."""
    few = min(n for _, n in groups) < MIN_RUNS
    interval = None
    if not few and se is not None and df is not None and df > 0:
        half = float(st.t.ppf(0.5 + CONFIDENCE / 2, df)) * se
        interval = (_back(centre - half, correlation), _back(centre + half, correlation))
    return Estimate(
        _back(centre, correlation),
        interval,
        tuple(groups),
        tuple(float(x) for x in np.ravel(values)),
        method,
        correlation,
        None if few else se,
        None if few else df,
        noun,
        join,
    )


def exact(value, what: str = "") -> Estimate:
    """A number that is no mean over runs (the worst run under a rule each run must meet, or a
    statistic of data alone): compared with its bar as it is."""
    v = float(_finite([value])[0])
    return Estimate(v, None, (("exact", 1),), (v,), "exact")


def over_runs(values, correlation: bool = False, name: str = "", noun: str = "runs") -> Estimate:
    """One value per independent unit (``noun``: runs, seeds, banks, models): the mean (of z
    for correlations) with a t interval."""
    v = _finite(values).ravel()
    x = _z(v, correlation)
    n = len(x)
    se = float(np.std(x, ddof=1) / math.sqrt(n)) if n > 1 else None
    return _make(float(x.mean()), se, n - 1, [(name, n)], v, f"t over {noun}", correlation, noun)


def within(items, f, unit: str = "", correlation: bool = True, noun: str = "runs") -> Estimate:
    """``f`` of every pair within one group of runs (``noun``: runs, models): their mean (of z)
    with the delete-one-run jackknife's standard error (the module docstring)."""
    items = list(items)
    n = len(items)
    pairs = list(itertools.combinations(range(n), 2))
    h = _finite([f(items[i], items[j]) for i, j in pairs]) if pairs else _finite([np.nan])
    return within_values(h, n, unit, correlation, noun)


def within_values(h, n: int, unit: str = "", correlation: bool = True, noun: str = "runs") -> Estimate:
    """As ``within``, from the pair values in ``itertools.combinations(range(n), 2)`` order."""
    x = _z(_finite(h), correlation)
    pairs = list(itertools.combinations(range(n), 2))
    centre = float(x.mean())
    se = None
    if n >= 3:
        loo = np.array([x[[k not in p for p in pairs]].mean() for k in range(n)])
        se = math.sqrt((n - 1) / n * float(((loo - loo.mean()) ** 2).sum()))
    method = "jackknife over runs (pairs within a group)"
    return _make(centre, se, n - 1, [(unit, n)], _finite(h), method, correlation, noun)


def _welch(parts: list[tuple[float, int]]) -> tuple[float, float]:
    """(se, df) of a sum of independent variance terms ``[(variance of a group's mean, its
    runs), ...]``: the square root of the sum, and Welch-Satterthwaite's degrees of freedom
    (the fewest runs less one where every term is 0)."""
    v = sum(p for p, _ in parts)
    df = v**2 / sum(p**2 / (n - 1) for p, n in parts) if v > 0 else float(min(n for _, n in parts) - 1)
    return math.sqrt(v), df


def between(a, b, f, units: tuple[str, str] = ("a", "b"), correlation: bool = True) -> Estimate:
    """``f`` of every (a, b) pair: their mean (of z) with the two-sample jackknife (the module
    docstring)."""
    a, b = list(a), list(b)
    h = np.array([[f(x, y) for y in b] for x in a], np.float64)
    return between_values(h, units, correlation)


def between_values(h, units: tuple[str, str] = ("a", "b"), correlation: bool = True) -> Estimate:
    """As ``between``, from the matrix of pair values (rows: group a's runs)."""
    h = _finite(h)
    x = _z(h, correlation)
    na, nb = x.shape
    centre = float(x.mean())
    se = df = None
    if na >= 2 and nb >= 2:
        se, df = _welch([(float(np.var(x.mean(1), ddof=1)) / na, na), (float(np.var(x.mean(0), ddof=1)) / nb, nb)])
    groups = [(units[0], na), (units[1], nb)]
    return _make(centre, se, df, groups, h, "jackknife over runs (pairs across two groups)", correlation)


def difference(a, b, units: tuple[str, str] = ("a", "b")) -> Estimate:
    """mean(b) - mean(a) of one value per run in each of two independent groups (raw values),
    with Welch's t interval (Welch-Satterthwaite degrees of freedom)."""
    x, y = _finite(a).ravel(), _finite(b).ravel()
    se = df = None
    if len(x) >= 2 and len(y) >= 2:
        se, df = _welch([(float(np.var(x, ddof=1)) / len(x), len(x)), (float(np.var(y, ddof=1)) / len(y), len(y))])
    groups = [(units[0], len(x)), (units[1], len(y))]
    values = np.concatenate([y, -x])
    method = "Welch t over runs (two groups' means)"
    return _make(float(y.mean() - x.mean()), se, df, groups, values, method, False, join=" and ")


def difference_sharing_columns(ha, hb, units: tuple[str, str, str] = ("a", "b", "shared")) -> Estimate:
    """mean(ha) - mean(hb) of two matrices of pair values whose columns are the same runs (two
    conditions each paired with one shared group, e.g. App. D.1's energy-label runs of two
    components against the same random-label runs): the two-sample jackknife of ``between``
    with a third term, the shared runs' variance of their column differences, so the shared
    runs are counted once and their pairing cancels what they have in common. Raw values (a
    difference of correlations lies in [-2, 2]); Welch-Satterthwaite degrees of freedom over
    the three groups."""
    a, b = _finite(ha), _finite(hb)
    (na, nc), (nb, nc2) = a.shape, b.shape
    if nc != nc2:
        raise ValueError(f"difference_sharing_columns: {nc} and {nc2} shared runs")
    centre = float(a.mean() - b.mean())
    se = df = None
    if min(na, nb, nc) >= 2:
        se, df = _welch(
            [
                (float(np.var(a.mean(1), ddof=1)) / na, na),
                (float(np.var(b.mean(1), ddof=1)) / nb, nb),
                (float(np.var(a.mean(0) - b.mean(0), ddof=1)) / nc, nc),
            ]
        )
    groups = [(units[0], na), (units[1], nb), (units[2], nc)]
    values = np.concatenate([a.ravel(), -b.ravel()])
    return _make(centre, se, df, groups, values, "jackknife over runs (two groups against one shared)", False)


def pairs_as_units(values, correlation: bool = False) -> Estimate:
    """The interval that takes every pair as an independent draw (a t interval over pairs).
    Wrong where pairs share runs; kept only so that the coverage test can show it under-covers."""
    v = _finite(values).ravel()
    x = _z(v, correlation)
    n = len(x)
    se = float(np.std(x, ddof=1) / math.sqrt(n))
    return _make(float(x.mean()), se, n - 1, [("", n)], v, "t over pairs", correlation, "pairs")


def seeds_needed(e: Estimate, bar: float, at: float | None = None, most: int = 100) -> int | None:
    """Runs per group for the interval to clear ``bar`` when the value is ``at`` (default: the
    measured value), if the spread per run stays as measured: the least n with
    t(0.975, df_n) se sqrt(n0 / n) < |at - bar| on the analysis scale (df_n scaled with n as
    the estimate's own df). None where it cannot be said (exact, no spread, ``at`` on the
    bar) or more than ``most``."""
    if e.exact or e.se is None or e.df is None:
        return None
    value = e.value if at is None else at
    gap = abs(_z(np.float64(value), e.correlation) - _z(np.float64(bar), e.correlation))
    if gap == 0:
        return None
    n0 = e.n
    for n in range(MIN_RUNS, most + 1):
        df = max(1.0, e.df * (n - 1) / max(n0 - 1, 1))
        if float(st.t.ppf(0.5 + CONFIDENCE / 2, df)) * e.se * math.sqrt(n0 / n) < gap:
            return n
    return None
