"""A guard for bit-equality across refactors: two short runs trained from the pixel-exact
CIFAR-10 copy (ImageFolder decoding, the subset, App. D.1's energy labels through the patch
PCA, VGG11 and ResNet-18 with momentum SGD) hash to the value recorded on this CPU kind.

Trained values differ between CPU kinds from the third decimal (docs/reproducibility.md), so
``tests/trained_bits.json`` holds one hash per kind; on a kind not recorded yet the test skips
with the line that records it (``python -m tests.test_trained_bits``)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest
import torch

from harness.data.copies import default_root
from harness.data.door import Datasets
from harness.training.provenance import machine
from harness.training.spec import RunSpec
from harness.training.train import train

RECORDED = Path(__file__).with_name("trained_bits.json")
SPECS = (
    RunSpec("cifar10-exact", images=512, model="vgg11", width=0.25, steps=6, momentum=0.9, batch=64, eval_images=256),
    RunSpec(
        "cifar10-exact", images=512, labels="energy:4", model="resnet18", width=0.25, steps=4, batch=64, eval_images=256
    ),
)


def cpu_kind() -> str:
    """The CPU kind a run's values depend on: brand, family, model and AVX-512, not the cores."""
    return re.sub(r", \d+ cores$", "", machine())


def trained_hash(root: Path) -> str:
    """sha256 over every run's final weights, optimizer state, first-layer snapshots, history
    and evaluations, trained in one thread."""
    data, h = Datasets(root), hashlib.sha256()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for spec in SPECS:
            traj = train(spec, data.train_data(spec))
            for _name, t in sorted(traj.state["model"].items()):
                h.update(t.contiguous().numpy().tobytes())
            for buf in traj.state["optimizer"]["state"].values():
                h.update(buf["momentum_buffer"].numpy().tobytes() if buf.get("momentum_buffer") is not None else b"")
            for step in sorted(traj.weights):
                h.update(traj.weights[step].numpy().tobytes())
            h.update(json.dumps([traj.history, traj.evals], sort_keys=True).encode())
    finally:
        torch.set_num_threads(threads)
    return h.hexdigest()[:16]


@pytest.mark.skipif(not (default_root() / "cifar10-exact").is_dir(), reason="no cifar10-exact under FIRSTLAYER_DATA")
def test_short_runs_train_to_the_bits_recorded_on_this_cpu_kind():
    recorded = json.loads(RECORDED.read_text())
    kind = cpu_kind()
    if kind not in recorded:
        pytest.skip(f"no hash recorded for {kind}: record it with `python -m tests.test_trained_bits`")
    assert trained_hash(default_root()) == recorded[kind]


if __name__ == "__main__":  # record this CPU kind's hash
    found = json.loads(RECORDED.read_text()) if RECORDED.exists() else {}
    found[cpu_kind()] = trained_hash(default_root())
    RECORDED.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    print(f"{cpu_kind()}: {found[cpu_kind()]}", file=sys.stderr)
