"""harness.training.fill: which runs a budget starts, in which order, and how a budget is read."""

from __future__ import annotations

import pytest

from harness.training.fill import budget_seconds, schedule


def _run(name, seconds, steps=3000, cached_to=0, status=None):
    status = status or ("partly cached" if cached_to else "not cached")
    spec = {"seed": 0}
    return {
        "run": name,
        "key": name,
        "seconds": seconds,
        "steps": steps,
        "cached_to": cached_to,
        "status": status,
        "spec": spec,
    }


def test_unfinished_runs_continue_first_then_the_longest():
    runs = [_run("short", 100), _run("long", 900), _run("half", 300, cached_to=1500), _run("done", 0, cached_to=3000)]
    start, left = schedule(runs, budget_s=10_000, workers=1)
    assert [r["run"] for r in start] == ["half", "long", "short"] and left == []


def test_a_run_that_cannot_reach_its_next_checkpoint_is_not_started():
    """600 s to go at 3,000 steps: its first 500 steps take 100 s; the budget's 50 s cannot."""
    start, left = schedule([_run("a", 600)], budget_s=50)
    assert start == [] and [r["run"] for r in left] == ["a"]
    start, _ = schedule([_run("a", 600)], budget_s=150)  # reaches its checkpoint: started, stopped at the budget
    assert [r["run"] for r in start] == ["a"]


def test_workers_share_the_budget():
    runs = [_run(str(i), 500, steps=500) for i in range(4)]
    assert len(schedule(runs, budget_s=1000, workers=1)[0]) == 2
    assert len(schedule(runs, budget_s=1000, workers=2)[0]) == 4


def test_runs_without_data_are_left_to_the_claims():
    start, left = schedule([_run("x", 10, status="no local data")], budget_s=100)
    assert start == [] and left == []


def test_a_budget_is_read_in_hours_minutes_seconds_and_a_bad_one_is_one_line():
    assert budget_seconds("2h") == 7200 and budget_seconds("1h30m") == 5400 and budget_seconds("45s") == 45
    with pytest.raises(ValueError, match="write it as 2h"):
        budget_seconds("two hours")


def _metrics(root, key, step, accs):
    import json

    (root / "runs" / key).mkdir(parents=True, exist_ok=True)
    from harness.training.fingerprint import fingerprint

    evals = {str(n): {"train_acc": a} for n, a in accs.items()}
    (root / "runs" / key / "metrics.json").write_text(json.dumps({"step": step, "evals": evals}))
    (root / "runs" / key / "provenance.json").write_text(json.dumps({"fingerprint": fingerprint()}))


def test_a_stop_rule_group_is_decided_where_every_random_net_has_memorised(tmp_path):
    """As a pytest run's stop rule: the first stop at which every run is evaluated and every
    random-label run has train accuracy >= the premise; the cap if none; open while a stop is
    not yet evaluated on some run. The run cache and the store are read together."""
    from harness.training.fill import judged_at

    cache, store = tmp_path / "cache", tmp_path / "store"
    group = {"runs": ["t", "r1", "r2"], "random": ["r1", "r2"], "stops": [20, 24, 28], "min_train_acc": 0.99}
    _metrics(cache, "t", 20, {20: 1.0})
    _metrics(cache, "r1", 20, {20: 0.995})
    _metrics(store, "r2", 20, {20: 0.97})
    assert judged_at(group, cache, store) is None  # r2 has not memorised at 20, and 24 is not trained
    _metrics(cache, "t", 24, {20: 1.0, 24: 1.0})
    _metrics(cache, "r1", 24, {20: 0.995, 24: 0.992})
    _metrics(cache, "r2", 24, {20: 0.97, 24: 0.993})
    assert judged_at(group, cache, store) == 24
    _metrics(cache, "r2", 28, {20: 0.97, 24: 0.98, 28: 0.98})
    _metrics(cache, "r1", 28, {20: 0.995, 24: 0.992, 28: 0.97})
    _metrics(cache, "t", 28, {20: 1.0, 24: 1.0, 28: 1.0})
    assert judged_at(group, cache, store) == 28  # the cap: judged there though nothing memorised


def test_one_stop_rule_for_pytest_and_fill():
    """``stop_rule``: the first ready stop, else the last (where ready is not asked); None
    while a stop before the deciding one is not reached; nothing beyond the deciding stop is
    asked."""
    from harness.training.stoprule import stop_rule

    asked = []

    def reached(*stops):
        return lambda n: asked.append(n) or n in stops

    def ready(*stops):
        return lambda n: asked.append(-n) or n in stops

    assert stop_rule((20, 24, 28), reached(20, 24, 28), ready(24)) == 24 and asked == [20, -20, 24, -24]
    asked.clear()
    assert stop_rule((20, 24, 28), reached(20, 24, 28), ready()) == 28 and -28 not in asked  # the cap
    assert stop_rule((20, 24, 28), reached(20), ready(28)) is None  # 24 not evaluated yet
    with pytest.raises(ValueError, match="no stops"):
        stop_rule((), reached(), ready())


def test_a_copy_of_other_training_code_is_not_counted_and_both_copies_evaluations_are_read(tmp_path):
    import json

    from harness.training.fill import held
    from harness.training.fingerprint import fingerprint

    cache, store = tmp_path / "cache", tmp_path / "store"
    _metrics(cache, "r", 3000, {3000: 0.99})
    _metrics(store, "r", 4000, {4000: 0.995})
    for root, fp in ((cache, fingerprint()), (store, fingerprint())):
        (root / "runs" / "r" / "provenance.json").write_text(json.dumps({"fingerprint": fp}))
    assert held("r", cache, store) == (4000, {3000: {"train_acc": 0.99}, 4000: {"train_acc": 0.995}})
    (store / "runs" / "r" / "provenance.json").write_text(json.dumps({"fingerprint": "0123456789abcdef"}))
    assert held("r", cache, store) == (3000, {3000: {"train_acc": 0.99}})


def test_no_job_starts_once_fill_is_stopped_or_its_budget_spent(tmp_path, monkeypatch):
    import time

    from harness.training import fill

    run = {"run": "a", "steps": 10, "spec": {}, "asked": []}
    assert fill.train_one(run, tmp_path, deadline=time.time() - 1).startswith("not started")
    monkeypatch.setattr(fill, "STOPPED", [15])
    assert fill.train_one(run, tmp_path, deadline=time.time() + 60).startswith("not started")


def test_fill_jobs_share_the_run_caches_decode_cache(monkeypatch, tmp_path):
    """Every fill job reads a split decoded once under the run cache (measured 2026-12-08 on a
    2-core AMD EPYC with training beside it: 18.9 s to decode the CIFAR-10 JPEG copy's train
    split, 0.4 s to read it decoded), not decoded again in each job."""
    from harness.training import fill

    got = {}
    monkeypatch.setattr(fill, "train_job", lambda *args: got.setdefault("args", args) and {})
    fill._job(str(tmp_path), {"seed": 0}, [8])
    assert got["args"][0] == got["args"][-1] == str(tmp_path)
