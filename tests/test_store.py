"""harness.training.store: the runs behind the committed reports, stored without pickles, read
back as they were trained, and judged without training."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from harness.training import store
from harness.training.fingerprint import fingerprint
from harness.training.spec import RunSpec
from harness.training.train import Trajectory


def _stored(tmp_path, made=None):
    spec = RunSpec(steps=50)
    fields = spec.to_json()
    del fields["steps"]
    weights = {s: torch.randn(64, 3, 3, 3, generator=torch.Generator().manual_seed(s)) for s in (0, 25, 50)}
    evals = {50: {"train_acc": 0.5, "test_acc": 0.4}}
    traj = Trajectory(50, weights, [{"step": 50, "loss": 1.0}], evals, {"model": "never stored"}, [{"seconds": 3.0}])
    made = made or {"fingerprint": fingerprint(), "machine": "a CPU", "threads": 1}
    store.write(traj, fields, made, tmp_path / "runs" / spec.key)
    return spec, traj


def test_a_stored_run_reads_back_as_trained_and_holds_no_pickle(tmp_path):
    spec, traj = _stored(tmp_path)
    path = tmp_path / "runs" / spec.key
    assert sorted(p.name for p in path.iterdir()) == sorted(store.FILES)
    back, _ = store.read(path)
    assert back.step == 50 and back.evals == traj.evals and back.state == {}
    assert all(torch.equal(back.weights[s], w) for s, w in traj.weights.items())
    import numpy as np

    with np.load(path / "layers.npz", allow_pickle=False) as z:  # no object arrays: no code runs
        assert sorted(z.files) == ["step_0", "step_25", "step_50"]


def test_the_manifest_hashes_every_file(tmp_path):
    spec, _ = _stored(tmp_path)
    out = json.loads(store.write_manifest(tmp_path).read_text())
    assert set(out) == {spec.key} and set(out[spec.key]["files"]) == set(store.FILES)
    assert out[spec.key]["step"] == 50 and out[spec.key]["fingerprint"] == fingerprint()


def test_judging_from_the_store_trains_nothing_and_names_what_is_missing(tmp_path):
    spec, traj = _stored(tmp_path)
    cache = store.StoreCache(datasets=None, store=tmp_path)
    run = cache.get(spec)
    assert torch.equal(run.final, traj.weights[50]) and run.evaluation == traj.evals[50]
    assert torch.equal(run.weights[25], traj.weights[25])  # every saved snapshot, as the run cache gives
    with pytest.raises(store.NotInStore, match="not in the run store"):
        cache.get(replace(spec, steps=100))  # never trained on: no data, no training
    with pytest.raises(store.NotInStore):
        cache.get(replace(spec, seed=7))
    assert cache.flagged == {} and cache.trained == []


def test_a_run_of_other_training_code_is_read_and_flagged(tmp_path):
    spec, _ = _stored(tmp_path, made={"fingerprint": "0123456789abcdef", "threads": 1})
    cache = store.StoreCache(datasets=None, store=tmp_path)
    assert cache.get(spec) is not None and cache.flagged == {spec.key: "0123456789abcdef"}


def test_the_keys_a_report_read(tmp_path):
    results = tmp_path / "results.json"
    rows = [{"id": "a", "runs": ["vgg11 seed=0 [0123456789abcdef]", "x [fedcba9876543210]"]}, {"id": "b"}]
    results.write_text(json.dumps({"claims": rows}))
    assert store.keys_of(results) == ["0123456789abcdef", "fedcba9876543210"]


def test_strict_compare_fails_on_a_changed_value_but_not_on_float_noise(tmp_path):
    from harness.report.__main__ import main

    row = {"id": "seed[cifar10]", "verdict": "PASS", "measured": 0.98383}
    old, same, moved = (tmp_path / f"{n}.json" for n in ("old", "same", "moved"))
    old.write_text(json.dumps({"claims": [row]}))
    same.write_text(json.dumps({"claims": [row | {"measured": 0.98383 + 1e-12}]}))
    moved.write_text(json.dumps({"claims": [row | {"measured": 0.984}]}))
    assert main(["--compare", str(old), str(same), "--strict"]) == 0
    assert main(["--compare", str(old), str(moved), "--strict"]) == 1
    assert main(["--compare", str(old), str(moved)]) == 0  # without --strict only a flip fails


def test_an_unfinished_run_is_stored_with_its_continuation_and_continues_bit_equal(tmp_path, image_folder):
    """A run stopped at 25 of 50 steps, stored with its continuation (no pickle), restored into
    another run cache and continued there, ends bit-equal to the run trained straight through."""
    import numpy as np

    from harness.data.door import Datasets
    from harness.training.cache import RunCache

    data = tmp_path / "data"
    image_folder(data / "toy", {"train": 24, "test": 8}, lambda rng: rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    spec = RunSpec(dataset="toy", images=None, width=1 / 16, first=8, steps=50, batch=16, eval_images=16)

    def cache(name):
        return RunCache(tmp_path / name, Datasets(data, tmp_path / name), progress=False)

    straight = cache("straight").get(spec)
    cache("first").get(replace(spec, steps=25))
    store.export(tmp_path / "first", [], tmp_path / "store", unfinished=[spec.key])
    entry = store.stored(tmp_path / "store")[spec.key]
    assert entry["unfinished"] and entry["step"] == 25 and set(entry["files"]) == set(store.FILES + store.CHECKPOINT)
    with np.load(tmp_path / "store" / "runs" / spec.key / "checkpoint.npz", allow_pickle=False) as z:
        assert z.files  # plain arrays: np.load refuses pickles
    assert store.restore(tmp_path / "second", tmp_path / "store") == [spec.key]
    assert store.restore(tmp_path / "second", tmp_path / "store") == []  # the cache already holds it as far
    second = cache("second")
    continued = second.get(spec)
    assert second.trained[0]["from"] == 25
    assert all(torch.equal(continued.weights[s], w) for s, w in straight.weights.items())
    assert continued.evaluation == straight.evaluation
    store.export(tmp_path / "second", [spec.key], tmp_path / "store")  # finished: the checkpoint goes
    assert "unfinished" not in store.stored(tmp_path / "store")[spec.key]
    assert not (tmp_path / "store" / "runs" / spec.key / "checkpoint.npz").exists()


def test_the_state_codec_keeps_types_and_bits(tmp_path):
    from harness.training import state_io

    state = {
        "model": {"w": torch.randn(3, 2), "n": torch.tensor(5)},
        "optimizer": {
            "state": {0: {"momentum_buffer": torch.randn(4)}},
            "param_groups": [{"lr": 0.01, "nesterov": False}],
        },
        "generator": torch.Generator().manual_seed(3).get_state(),
        "order": torch.randperm(7),
        "since": 12,
        "pair": (1, None, "x"),
    }
    state_io.save(state, tmp_path)
    back = state_io.load(tmp_path)
    assert set(back["optimizer"]["state"]) == {0} and back["pair"] == (1, None, "x") and back["since"] == 12
    assert back["optimizer"]["param_groups"] == [{"lr": 0.01, "nesterov": False}]
    for a, b in [
        (state["model"]["w"], back["model"]["w"]),
        (state["generator"], back["generator"]),
        (state["order"], back["order"]),
    ]:
        assert a.dtype == b.dtype and torch.equal(a, b)
    with pytest.raises(TypeError, match="cannot be stored"):
        state_io.save({"bad": object()}, tmp_path)


def test_the_store_keeps_every_early_step_and_every_stop_of_a_long_run():
    steps = range(0, 40001, 25)
    keep = store.kept(steps, {20000: {}, 24000: {}, 3225: {}}, 40000)
    assert keep[:41] == list(range(0, 1001, 25)) and {3225, 20000, 24000, 40000} <= set(keep)
    assert len(keep) == 41 + 78 + 1 and 1025 not in keep
    assert store.kept(range(0, 501, 25), {500: {}}, 500) == list(range(0, 501, 25))  # a 500-step run: all


def test_a_folder_left_by_a_killed_export_is_not_a_run(tmp_path):
    spec, _ = _stored(tmp_path)
    (tmp_path / "runs" / f"{spec.key}.tmp").mkdir()
    (tmp_path / "runs" / f"{spec.key}.tmp" / "layers.npz").write_bytes(b"half")
    assert set(store.manifest(tmp_path)) == {spec.key}


def test_a_run_stored_longer_keeps_the_stored_copys_stops(tmp_path):
    """A run trained anew past its stored copy (the same training code), with other stops, is
    stored with the evaluations of both: another scale's reading at the earlier stop survives."""
    import dataclasses

    spec, traj = _stored(tmp_path / "store")
    longer = Trajectory(100, {**traj.weights, 100: torch.zeros(64, 3, 3, 3)}, [], {100: {"train_acc": 0.9}}, {}, [])
    src = tmp_path / "cache" / "runs" / spec.key
    src.mkdir(parents=True)
    torch.save(dataclasses.asdict(longer), src / "trajectory.pt")
    for name in ("spec.json", "provenance.json"):
        (src / name).write_text((tmp_path / "store" / "runs" / spec.key / name).read_text())
    assert store.export(tmp_path / "cache", [spec.key], tmp_path / "store") == []
    back, _ = store.read(tmp_path / "store" / "runs" / spec.key)
    assert back.step == 100 and sorted(back.evals) == [50, 100] and 50 in back.weights


def test_a_shorter_copy_stored_takes_no_stop_beyond_its_own_step(tmp_path):
    """Storing a copy shorter than the stored one (``store export`` of an earlier run cache) keeps
    the stored copy's stops only up to the copy's own step."""
    import dataclasses

    spec, traj = _stored(tmp_path / "store")
    shorter = Trajectory(25, {s: traj.weights[s] for s in (0, 25)}, [], {25: {"train_acc": 0.3}}, {}, [])
    src = tmp_path / "cache" / "runs" / spec.key
    src.mkdir(parents=True)
    torch.save(dataclasses.asdict(shorter), src / "trajectory.pt")
    for name in ("spec.json", "provenance.json"):
        (src / name).write_text((tmp_path / "store" / "runs" / spec.key / name).read_text())
    assert store.export(tmp_path / "cache", [spec.key], tmp_path / "store") == []
    back, _ = store.read(tmp_path / "store" / "runs" / spec.key)
    assert back.step == 25 and sorted(back.evals) == [25] and sorted(back.weights) == [0, 25]
