"""Fetching a missing dataset, offline: torchvision's own CIFAR-10 download code (urllib,
archive checksum, per-file checksums, extraction) pointed at a tiny CIFAR-10 archive served on
loopback; and a download that cannot happen is one line naming what was tried and how to
point the suite at a local copy."""

from __future__ import annotations

import functools
import hashlib
import http.server
import pickle
import tarfile
import threading

import numpy as np
import pytest
import torchvision.datasets as tvd

from harness.data.copies import DatasetNotFound
from harness.data.door import Datasets, load_split

BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path`` (stopped after the test)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def cifar_url(tmp_path, monkeypatch, served):
    """A 4-images-per-batch CIFAR-10 archive served on loopback, with torchvision's URL and
    checksums pointed at it (they are torchvision's own class attributes)."""
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in BATCHES:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        (src / name).write_bytes(pickle.dumps(batch))
    (src / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    monkeypatch.setattr(tvd.CIFAR10, "url", f"{served}/{archive.name}")
    monkeypatch.setattr(tvd.CIFAR10, "tgz_md5", md5(archive))
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[n, md5(src / n)] for n in BATCHES[:5]])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [[BATCHES[5], md5(src / BATCHES[5])]])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {**tvd.CIFAR10.meta, "md5": md5(src / "batches.meta")})
    return f"{served}/{archive.name}"


def test_a_missing_dataset_is_downloaded_by_torchvision(cifar_url, tmp_path):
    said = []
    root = tmp_path / "data"
    data = Datasets(root, tmp_path / "cache", download=True, progress=said.append)
    train = data.split("cifar10")
    assert train.pixels.shape == (20, 3, 32, 32) and train.labels.tolist()[:4] == [0, 1, 2, 3]
    assert (root / "cifar-10-batches-py" / "data_batch_1").exists()
    assert train.source.startswith("cifar-10-batches-py (train, sha256 ")
    assert any("downloading it with torchvision" in s for s in said) and any("20 images" in s for s in said)
    again = load_split("cifar10", "test", root, tmp_path / "cache", download=False)  # now on disk
    assert len(again) == 4


def test_no_download_means_no_fetch(cifar_url, tmp_path):
    with pytest.raises(DatasetNotFound, match="drop --no-download"):
        Datasets(tmp_path / "data", download=False).split("cifar10")
    assert not (tmp_path / "data" / "cifar-10-batches-py").exists()


def test_a_failed_download_is_one_line_and_is_not_retried(cifar_url, tmp_path, monkeypatch):
    monkeypatch.setattr(tvd.CIFAR10, "url", cifar_url.replace("cifar-10-python", "nowhere"))
    data = Datasets(tmp_path / "data", download=True)
    with pytest.raises(DatasetNotFound) as err:
        data.split("cifar10")
    msg = str(err.value)
    assert "\n" not in msg and "download failed" in msg and "FIRSTLAYER_DATA" in msg
    assert "holds cifar-10-batches-py/" in msg
    monkeypatch.setattr(tvd.CIFAR10, "url", cifar_url)  # even if it could now: one try per process
    with pytest.raises(DatasetNotFound, match="download failed"):
        data.split("cifar10")
