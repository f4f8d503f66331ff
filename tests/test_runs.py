"""The run cache (harness.training.cache) and trainer: determinism, cache hits, one training across
processes, kill -9 safety, corrupt entries, divergence and missing-data messages."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.data.copies import DatasetNotFound
from harness.data.door import Datasets
from harness.training.cache import RunCache
from harness.training.fingerprint import fingerprint
from harness.training.spec import RunSpec
from harness.training.train import TrainingDiverged

ROOT = Path(__file__).resolve().parent.parent
# One torch thread per subprocess, as conftest.py gives each xdist worker: two processes of
# two spinning OpenMP threads each on 2 cores ran this file's prefill test 8x slower
# (15 s -> 117 s) with the cores otherwise busy, and past a 300 s timeout in CI.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, image_folder):
    """A tiny ImageFolder dataset 'toy': 2 classes of 16x16 images, train and test."""
    root = tmp_path_factory.mktemp("data")
    image_folder(root / "toy", {"train": 24, "test": 8}, lambda rng: rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    return root


def run_cache(root, data_root, checkpoint_every=500) -> RunCache:
    """A run cache at ``root`` reading ``data_root`` (decoded splits cached beside the runs)."""
    return RunCache(root, Datasets(data_root, root), progress=False, checkpoint_every=checkpoint_every)


def toy(**over) -> RunSpec:
    base = RunSpec(dataset="toy", images=None, width=1 / 16, first=8, steps=50, batch=16, eval_images=16)
    return RunSpec(**{**base.to_json(), **over})


def same(a, b) -> bool:
    """Two runs with bit-identical first layers at every saved step and identical histories."""
    return (
        set(a.weights) == set(b.weights)
        and all(torch.equal(a.weights[s], b.weights[s]) for s in a.weights)
        and (a.history == b.history)
    )


def test_same_seed_same_weights(data_root, tmp_path):
    a = run_cache(tmp_path / "a", data_root).get(toy())
    b = run_cache(tmp_path / "b", data_root).get(toy())
    assert set(a.weights) == {0, 25, 50} and same(a, b) and a.evaluation == b.evaluation
    c = run_cache(tmp_path / "c", data_root).get(toy(seed=1))
    assert not torch.equal(a.final, c.final)


def _forbid_training(monkeypatch):
    monkeypatch.setattr("harness.training.cache.train", lambda *a, **k: pytest.fail("a cached run was retrained"))


def test_second_call_is_a_cache_hit(data_root, tmp_path, monkeypatch):
    run_cache(tmp_path, data_root).get(toy())
    fresh = run_cache(tmp_path, data_root)
    _forbid_training(monkeypatch)
    run = fresh.get(toy())
    assert fresh.trained == []
    assert set(run.weights) == {0, 25, 50} and run.metrics["history"] and fresh.loaded == {toy().key}


def test_forbid_training_catches_a_retrain(data_root, tmp_path, monkeypatch):
    """Negative control of the cache-hit test: an empty cache must train, and that fails."""
    _forbid_training(monkeypatch)
    with pytest.raises(pytest.fail.Exception, match="retrained"):
        run_cache(tmp_path, data_root).get(toy())


def _spawn(cache, data_root, call, checkpoint_every=500):
    """A Python process with one torch thread that runs ``c.<call>`` on a RunCache at ``cache``
    and prints how many runs it trained."""
    code = (
        "import sys; sys.path.insert(0, 'tests');"
        "from test_runs import run_cache, toy;"
        f"c = run_cache({str(cache)!r}, {str(data_root)!r}, {checkpoint_every}); c.{call};"
        "print('trained', len(c.trained))"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=ONE_THREAD, stdout=subprocess.PIPE, text=True)


def _worker(cache, data_root, steps):
    return _spawn(cache, data_root, f"get(toy(steps={steps}))")


def test_concurrent_processes_train_once(data_root, tmp_path):
    procs = [_worker(tmp_path, data_root, 30) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(int(o.split()[-1]) for o in outs) == [0, 1]


def _prefiller(cache, data_root, seeds, steps):
    return _spawn(
        cache,
        data_root,
        f"prefill([toy(steps={steps}, seed=s) for s in range({seeds})] + [toy(dataset='absent')], skip=(Exception,))",
    )


def test_prefill_shares_the_runs_between_processes(data_root, tmp_path, one_thread):
    """Two processes prefilling one list train each run once, both taking some (xdist -n 2);
    a run whose dataset is missing is left to its claim. Every run equals, bit for bit, the
    same run trained in this one process at the same thread count: which process trains a
    run does not change its numbers, so -n 2 and one process judge the same runs."""
    procs = [_prefiller(tmp_path / "n2", data_root, 6, 200) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    counts = sorted(int(o.split()[-1]) for o in outs)
    assert sum(counts) == 6 and counts[0] >= 1, counts
    shared, alone = run_cache(tmp_path / "n2", data_root), run_cache(tmp_path / "one", data_root)
    for s in range(6):
        run = shared.get(toy(steps=200, seed=s))
        assert (
            same(run, alone.get(toy(steps=200, seed=s)))
            and run.evaluation == alone.get(toy(steps=200, seed=s)).evaluation
        )
    assert len(shared.trained) == 0 and len(alone.trained) == 6


def test_continuing_equals_training_in_one_go(data_root, tmp_path):
    """A trajectory is continued, not retrained: 50 then 150 steps equals 150 in one go, bit
    for bit on the CPU (first layer at every saved step, history, evaluation)."""
    cache = run_cache(tmp_path / "a", data_root)
    short = cache.get(toy(steps=50))
    longer = cache.get(toy(steps=150))
    assert [(t["from"], t["to"]) for t in cache.trained] == [(0, 50), (50, 150)]
    once = run_cache(tmp_path / "b", data_root).get(toy(steps=150))
    assert same(longer, once) and longer.evaluation == once.evaluation
    assert torch.equal(short.final, once.weights[50])


def test_the_stop_rule_stops_at_the_first_ready_stop_and_trains_no_further(data_root, tmp_path):
    """``RunCache.converge``: each stop continues the trajectories from the last one (never
    from 0), ``ready`` sees the runs at each stop in turn, nothing is trained past the first
    stop at which it holds; where it never holds, the last stop."""
    cache = run_cache(tmp_path, data_root)
    specs = [toy(steps=10), toy(seed=1, steps=10)]
    seen = []

    def ready(runs):
        seen.append([r.spec.steps for r in runs])
        return runs[0].spec.steps >= 30

    assert cache.converge(specs, [10, 20, 30, 40], ready) == 30
    assert seen == [[10, 10], [20, 20], [30, 30]]
    assert sorted((t["from"], t["to"]) for t in cache.trained) == sorted([(0, 10), (10, 20), (20, 30)] * 2)
    assert all(max(cache.trajectory(s)[0].weights) == 30 for s in specs)
    assert cache.converge(specs, [30, 40], lambda runs: False) == 40
    assert sorted((t["from"], t["to"]) for t in cache.trained)[-2:] == [(30, 40)] * 2  # continued, not from 0


def test_a_shorter_run_is_read_from_a_longer_trajectory(data_root, tmp_path, monkeypatch):
    cache = run_cache(tmp_path, data_root)
    cache.prefill([toy(steps=150), toy(steps=50)])  # one trajectory, evaluated at both stops
    assert len(cache.trained) == 1
    _forbid_training(monkeypatch)
    fresh = run_cache(tmp_path, data_root)
    short = fresh.get(toy(steps=50))
    assert max(short.weights) == 50 and short.history[-1]["step"] == 50 and fresh.trained == []


def test_independent_inits_across_conditions(data_root, tmp_path):
    """The same seed in different conditions starts from independent first layers; the same
    condition from the same one, whatever its length."""
    cache = run_cache(tmp_path, data_root)
    base = cache.get(toy())
    for other in (toy(labels="random"), toy(frozen=True), toy(lr=0.02), toy(seed=1)):
        assert not torch.equal(cache.get(other).init, base.init), other
    assert torch.equal(cache.get(toy(steps=75)).init, base.init)


@pytest.fixture
def one_thread():
    """CPU results depend on the thread count: match the one-thread subprocesses."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_kill_mid_training_continues_from_the_last_checkpoint(data_root, tmp_path, one_thread):
    steps = 3000
    proc = _spawn(tmp_path / "k", data_root, f"get(toy(steps={steps}))", checkpoint_every=100)
    published = tmp_path / "k" / "runs" / toy().key / "trajectory.pt"
    deadline = time.time() + 120
    while not published.exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache = run_cache(tmp_path / "k", data_root)
    (found, _) = cache.trajectory(toy())
    assert 0 < found.step < steps and found.step % 100 == 0  # the last checkpoint survived
    run = cache.get(toy(steps=steps))
    assert [t["from"] for t in cache.trained] == [found.step]  # continued, not restarted
    assert same(run, run_cache(tmp_path / "once", data_root).get(toy(steps=steps)))


def test_an_unreadable_entry_is_kept_aside_and_the_run_rebuilt(data_root, tmp_path):
    cache = run_cache(tmp_path, data_root)
    run = cache.get(toy())
    (run.path / "trajectory.pt").write_bytes(b"not a tensor file")
    again = run_cache(tmp_path, data_root)
    rebuilt = again.get(toy())
    assert len(again.trained) == 1 and same(rebuilt, run)
    (aside,) = run.path.parent.glob(f"{run.path.name}.unreadable-*")
    assert (aside / "trajectory.pt").read_bytes() == b"not a tensor file"  # nothing deleted
    assert "UnpicklingError" in again.unreadable[toy().key] or again.unreadable[toy().key]


def test_a_trajectory_is_saved_device_free_and_loads_on_the_cpu(data_root, tmp_path, monkeypatch):
    """Every tensor of the saved state is on the CPU, the optimizer's momentum included, and the
    cache loads with map_location='cpu' (a GPU-made file would load here)."""
    run = run_cache(tmp_path, data_root).get(toy(momentum=0.9))
    blob = torch.load(run.path / "trajectory.pt", map_location="cpu", weights_only=False)
    tensors = []

    def walk(v):
        if isinstance(v, torch.Tensor):
            tensors.append(v)
        elif isinstance(v, dict):
            [walk(x) for x in v.values()]
        elif isinstance(v, list | tuple):
            [walk(x) for x in v]

    walk(blob["state"])
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    assert any("momentum_buffer" in s for s in blob["state"]["optimizer"]["state"].values())
    seen = {}
    real = torch.load

    def load(*a, **k):
        seen.update(k)
        return real(*a, **k)

    monkeypatch.setattr(torch, "load", load)
    assert run_cache(tmp_path, data_root).trajectory(toy(momentum=0.9)) is not None
    assert seen.get("map_location") == "cpu"


def test_divergence_is_one_clear_error(data_root, tmp_path):
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        run_cache(tmp_path, data_root).get(toy(lr=1e12, steps=50))


def test_missing_dataset_is_one_line(tmp_path):
    with pytest.raises(DatasetNotFound) as err:
        run_cache(tmp_path, tmp_path / "nowhere").get(toy(dataset="cifar100"))
    msg = str(err.value)
    assert "\n" not in msg and "cifar-100-python" in msg and "FIRSTLAYER_DATA" in msg and "--no-download" in msg


# ---------------------------------------------------------------- keys and provenance


def test_fields_at_their_default_leave_the_key_unchanged():
    """Adding a field with a default keeps every cached run's key."""
    extended = dataclasses.make_dataclass(
        "Extended", [("augment", str, dataclasses.field(default="none"))], bases=(RunSpec,), frozen=True
    )
    spec = toy()
    assert extended(**spec.to_json(), augment="none").key == spec.key
    assert extended(**spec.to_json(), augment="flip").key != spec.key
    assert RunSpec().key == RunSpec(seed=0, steps=1000).key != RunSpec(seed=1).key


def test_a_run_records_its_provenance(data_root, tmp_path):
    run = run_cache(tmp_path, data_root).get(toy())
    saved = json.loads((run.path / "provenance.json").read_text())
    assert saved == run.provenance and saved["fingerprint"] == fingerprint()
    assert saved["torch"] == torch.__version__ and saved["device"] == "cpu" and "cores" in saved["machine"]


def test_a_run_of_other_training_code_is_retrained(data_root, tmp_path):
    run = run_cache(tmp_path, data_root).get(toy())
    made = json.loads((run.path / "provenance.json").read_text())
    (run.path / "provenance.json").write_text(json.dumps({**made, "fingerprint": "0" * 16}))
    said = []
    again = RunCache(tmp_path, Datasets(data_root, tmp_path), progress=said.append)
    rebuilt = again.get(toy())
    assert len(again.trained) == 1 and same(rebuilt, run)
    assert any("other training code" in s for s in said)


def test_a_killed_retrain_keeps_the_cached_trajectory(data_root, tmp_path, monkeypatch):
    """A stop behind a cached trajectory's end, never evaluated, retrains it from step 0; the
    cached trajectory stays readable until the retrain is complete (a kill loses nothing)."""
    cache = run_cache(tmp_path, data_root)
    cache.get(toy(steps=100))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("harness.training.cache.train", killed)
    with pytest.raises(KeyboardInterrupt):
        run_cache(tmp_path, data_root).get(toy(steps=50))
    kept = run_cache(tmp_path, data_root).trajectory(toy(steps=100))
    assert kept is not None and kept[0].step == 100
    monkeypatch.undo()
    fresh = run_cache(tmp_path, data_root)
    short, longer = fresh.get(toy(steps=50)), fresh.get(toy(steps=100))
    assert [(t["from"], t["to"]) for t in fresh.trained] == [(0, 100)]  # both stops in one pass
    assert short.evaluation and longer.evaluation
    assert sorted(p.suffix for p in (tmp_path / "runs").iterdir() if p.is_dir()) == [""]  # no .retrain, .old


class FakeLauncher:
    """A launcher (harness.training.launch's interface) that trains in this process, and fails the job of
    seed ``fail`` with an error of its own (a node that died)."""

    def __init__(self, fail: int):
        self.fail, self.asked = fail, []

    def train(self, cache, work):
        out = {}
        for spec, stops in work:
            self.asked.append(spec.seed)
            if spec.seed == self.fail:
                out[spec.key] = {"error": RuntimeError(f"job of seed {spec.seed}: node died")}
            else:
                cache._train(spec, set(stops))
                out[spec.key] = {"trained": []}
        return out


def test_a_failed_job_errors_only_where_its_run_is_read(data_root, tmp_path, monkeypatch):
    """Prefill through a launcher goes on past a failed job; the claims that read the other runs
    get them, the ones that read the failed run meet its error, and it is not submitted again."""
    launcher = FakeLauncher(fail=1)
    cache = RunCache(tmp_path, Datasets(data_root, tmp_path), progress=False, launcher=launcher)
    specs = [toy(seed=s) for s in range(3)]
    cache.prefill(specs)
    _forbid_training(monkeypatch)
    assert cache.get(specs[0]).spec == specs[0] and cache.get(specs[2]).spec == specs[2]
    with pytest.raises(RuntimeError, match="seed 1: node died"):
        cache.get(specs[1])
    cache.prefill(specs)
    assert launcher.asked == [0, 1, 2]
