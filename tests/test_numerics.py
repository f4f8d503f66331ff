"""The numerics setter (harness.training.numerics): each torch's own TF32 switch and no other,
deterministic cuDNN and the cuBLAS workspace on CUDA, nothing on the CPU; and a worker pinned
to its GPU (set_device) under -n."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.plugin.claim_fixtures import gpu_of, pin_device
from harness.training.numerics import CUBLAS_WORKSPACE, new_precision_api, set_numerics


class Strict(SimpleNamespace):
    """A backend namespace that refuses an attribute it was not made with (torch >= 2.9 raises
    when the old TF32 switch is touched after the new one)."""

    def __setattr__(self, name, value):
        if name not in self.__dict__:
            raise AttributeError(f"no {name}")
        super().__setattr__(name, value)


def backends(new: bool):
    precision = dict(fp32_precision="none") if new else {}
    old = {} if new else dict(allow_tf32=True)
    return SimpleNamespace(
        cudnn=Strict(conv=Strict(**precision), deterministic=False, benchmark=True, **old),
        cuda=SimpleNamespace(matmul=Strict(**precision, **old)),
    )


VERSIONS = [("2.14.1+cu130", True), ("2.9.0", True), ("2.8.0+cpu", False), ("2.4.1", False)]


@pytest.mark.parametrize(("version", "new"), VERSIONS)
def test_each_torch_turns_tf32_off_with_its_own_switch(version, new, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # recorded, so the test leaves it as it was
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    b = backends(new)
    made = set_numerics("cuda:0", backends=b, version=version)
    assert new_precision_api(version) is new
    if new:
        assert b.cudnn.conv.fp32_precision == "ieee" and b.cuda.matmul.fp32_precision == "ieee"
    else:
        assert b.cudnn.allow_tf32 is False and b.cuda.matmul.allow_tf32 is False
    assert b.cudnn.deterministic is True and b.cudnn.benchmark is False
    assert made["tf32_off_by"] == ("fp32_precision" if new else "allow_tf32")
    assert made["cublas_workspace"] == CUBLAS_WORKSPACE


def test_the_cpu_sets_nothing():
    assert set_numerics("cpu", backends=object(), version="2.4.0") == {"device": "cpu", "float32": "ieee"}


def test_each_worker_is_pinned_to_its_gpu():
    pinned = []
    assert pin_device("gw2", 4, pinned.append) == "cuda:2" and pinned == ["cuda:2"]
    assert pin_device("gw5", 4, pinned.append) == "cuda:1" and pinned[-1] == "cuda:1"
    assert pin_device(None, 2, pinned.append) == "cuda:0" and pinned[-1] == "cuda:0"
    assert gpu_of("gw3", 0) == "cuda:0"
