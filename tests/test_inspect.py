"""``firstlayer inspect`` (harness.cli, harness.cli.inspect, harness.cli.banks) on real inputs made
here: a small CNN trained a few steps and saved as a checkpoint, .npy/.npz banks, torchvision's
ResNet-18 with random weights (a 7x7 stem), a run of the suite's cache, the ImageNet layers
beside the data root where present, and a bank whose profile is eq. 3 at a known t."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from harness.cli.banks import load_bank
from harness.cli.main import main
from harness.data.copies import default_root
from harness.data.door import Datasets
from harness.data.images import normalise
from harness.measures.layers import pca_for
from harness.measures.spectra import energy_profile
from harness.measures.theory import authors_grid, formula_profile
from harness.models import build, first_layer, random_bank
from harness.training.cache import RunCache
from harness.training.spec import RunSpec

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, image_folder):
    """'smooth': an ImageFolder tree of 2 classes of 32x32 images of smoothed, channel-correlated
    noise (a patch spectrum that falls over decades, as natural images' does)."""

    def smooth(rng):
        grey = gaussian_filter(rng.standard_normal((32, 32)), 1.5)
        rgb = np.stack([grey + 0.3 * gaussian_filter(rng.standard_normal((32, 32)), 1.0) for _ in range(3)], -1)
        return np.clip(128 + 300 * rgb, 0, 255).astype(np.uint8)

    root = tmp_path_factory.mktemp("data")
    image_folder(root / "smooth", {"train": 40, "test": 8}, smooth)
    return root


def inspect(tmp_path, data_root, *sources, extra=()):
    """Run the CLI in-process; returns its JSON."""
    out = tmp_path / "out"
    args = ["inspect", *map(str, sources), "--data", "smooth", "--data-root", str(data_root), "--out", str(out)]
    assert main([*args, "--random-banks", "5", *extra]) == 0
    return json.loads((out / "inspect.json").read_text())


def pixels(data_root):
    return Datasets(data_root).split("smooth").pixels


@pytest.fixture(scope="module")
def pca3(data_root):
    """The 3x3 patch PCA inspect builds on 'smooth' by default (every image, stride 1, the
    images' own mean and std)."""
    x = pixels(data_root)
    return pca_for(x, 3, normalise(x)[1])


def test_a_trained_cnn_checkpoint_with_its_init(tmp_path, data_root, pca3):
    """A VGG trained five steps, saved as a state dict, its W_init as .npy: the profile is of
    W - W_init over 3x3 patches, with figures."""
    torch.manual_seed(0)
    model = build("vgg11", num_classes=2, width=1 / 16, first=8)
    init = first_layer(model).weight.detach().clone()
    x, _ = normalise(pixels(data_root)[:16])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), torch.arange(16) % 2).backward()
        opt.step()
    torch.save({"epoch": 1, "state_dict": model.state_dict()}, tmp_path / "net.pth")
    np.save(tmp_path / "init.npy", init.numpy())
    got = inspect(tmp_path, data_root, tmp_path / "net.pth", extra=["--init", str(tmp_path / "init.npy")])
    bank = got["banks"][0]
    assert bank["shape"] == [8, 3, 3, 3] and bank["profile_of"] == "W - W_init"
    assert len(bank["energy_profile_moved"]) == 27 and max(bank["energy_profile_moved"]) == pytest.approx(1.0)
    assert -1 <= bank["lambda_correlation"] <= 1 and -1 <= bank["formula_fit_every_t"]["correlation"] <= 1
    w = first_layer(model).weight.detach()
    expect = energy_profile(w, pca3, init=init)
    np.testing.assert_allclose(bank["energy_profile_moved"], expect, rtol=1e-6)
    assert len(got["autocorrelation_rgb"]) == 11 and got["autocorrelation_rgb"][0] == pytest.approx(1.0)
    assert {p.name for p in (tmp_path / "out").glob("*.png")} == {"profile-0-net-pth.png", "autocorrelation.png"}


def test_npy_and_npz_banks_and_their_pairwise_correlation(tmp_path, data_root):
    np.save(tmp_path / "a.npy", random_bank(16, 3, seed=1).numpy())
    np.savez(tmp_path / "b.npz", weight=random_bank(16, 3, seed=2).numpy(), init=random_bank(16, 3, seed=3).numpy())
    got = inspect(tmp_path, data_root, tmp_path / "a.npy", tmp_path / "b.npz", extra=["--no-figures"])
    assert [b["profile_of"] for b in got["banks"]] == ["W", "W - W_init"]
    (pair,) = got["pairwise_profile_correlations"]
    assert (pair["a"], pair["b"]) == ("a.npy", "b.npz") and -1 <= pair["correlation"] <= 1


def test_a_resnet18_checkpoint_gets_a_7x7_pca(tmp_path, data_root):
    """torchvision's ResNet-18 (random weights, no download) as a whole pickled module, as a
    state dict and by name: its 7x7 stem is measured on 7x7 patches (147 components)."""
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    torch.save(model, tmp_path / "whole.pth")
    torch.save(model.state_dict(), tmp_path / "state.pt")
    got = inspect(
        tmp_path,
        data_root,
        tmp_path / "whole.pth",
        tmp_path / "state.pt",
        "torchvision:resnet18:none",
        extra=["--no-figures", "--whitening-images", "0", "--trust-pickle"],
    )
    assert [b["shape"] for b in got["banks"]] == [[64, 3, 7, 7]] * 3
    assert len(got["pca"]["7"]["lambdas"]) == 147 and "stride 2" in got["pca"]["7"]["images"]
    a, b, _ = got["banks"]
    assert a["energy_profile"] == b["energy_profile"]  # one model, two file formats


def test_a_bank_with_eq3s_profile_is_fitted_back_at_its_t(tmp_path, data_root, pca3):
    """A bank whose energy profile is eq. 3 at a known t (filter i = e_i u_i, scaled): the fit
    over every t finds that t to the grid's spacing, and the fit over the authors' range its t
    there, both with correlation 1."""
    p = pca3
    eta, ts = authors_grid()
    for name, t0, kw in (("every", 40.0, {}), ("authors", float(ts[400]), {"eta": eta})):
        e = formula_profile(p.lambdas, t0, **kw)
        np.save(tmp_path / f"{name}.npy", (np.sqrt(27) * e[:, None] * p.eigvecs.T).reshape(27, 3, 3, 3))
    got = inspect(tmp_path, data_root, tmp_path / "every.npy", tmp_path / "authors.npy", extra=["--no-figures"])
    every, authors = (b for b in got["banks"])
    assert every["formula_fit_every_t"]["t"] == pytest.approx(40.0, rel=0.02)
    assert every["formula_fit_every_t"]["correlation"] > 0.9999
    assert authors["formula_fit_authors_t_range"]["t"] == pytest.approx(float(ts[400]), abs=250)
    assert authors["formula_fit_authors_t_range"]["correlation"] > 0.9999


def test_a_run_of_the_suites_cache(tmp_path, data_root, pca3):
    """run:KEY and run:FIELD=VALUE read a trajectory with its W_init, at its last or a given step."""
    cache = RunCache(tmp_path / "cache", Datasets(data_root, tmp_path / "cache"), progress=False)
    spec = RunSpec(dataset="smooth", images=None, width=1 / 16, first=8, steps=20, batch=16, eval_images=16)
    run = cache.get(spec)
    common = ["--no-figures", "--run-cache", str(tmp_path / "cache")]
    got = inspect(tmp_path, data_root, f"run:{spec.key}", "run:dataset=smooth,seed=0@0", extra=common)
    last = got["banks"][0]
    assert last["profile_of"] == "W - W_init" and last["name"] == f"run:{spec.key}@20"
    expect = energy_profile(run.final, pca3, init=run.init)
    np.testing.assert_allclose(last["energy_profile_moved"], expect, rtol=1e-6)
    assert got["banks"][1]["energy_profile"] == pytest.approx(energy_profile(run.init, pca3))


PRETRAINED = default_root().parent / "pretrained"


@pytest.mark.skipif(
    not (PRETRAINED / "mobilenet_v1_1.0_224_conv1.npy").exists() or not (default_root() / "tiny-imagenet-10").exists(),
    reason="the ImageNet layers and tiny-imagenet-10 are not beside the data root",
)
def test_the_mobilenet_stand_ins_reproduce_the_app_c_row(tmp_path):
    """On the 8-bit MobileNet layers and tiny-imagenet-10, inspect gives Table 3 IMAGENET /
    App. C's committed fits (reports/cpu)."""
    results = json.loads((ROOT / "reports" / "cpu" / "results.json").read_text())
    (row,) = [c for c in results["claims"] if c["id"] == "imagenet[mobilenet-stand-ins]"]
    names = ("mobilenet_v1_1.0_224", "mobilenet_v2_1.0_224", "tf2_mobilenet_v2_1.0_224")
    out = tmp_path / "out"
    args = ["inspect", *(f"pretrained:{n}" for n in names), "--data", "tiny-imagenet-10", "--out", str(out)]
    assert main([*args, "--no-figures", "--whitening-images", "0"]) == 0
    got = json.loads((out / "inspect.json").read_text())["banks"]
    for name, bank in zip(names, got, strict=True):
        assert (
            round(bank["formula_fit_authors_t_range"]["correlation"], 3)
            == row["details"][f"{name} fit (authors' t range)"]
        )
        assert round(bank["formula_fit_every_t"]["correlation"], 3) == row["details"][f"{name} fit (every t)"]


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("missing.npy", "no such file"),
        ("notes.txt", "unknown file type"),
        ("flat.npy", "expected a filter bank of shape (out, in, k, k)"),
        ("grey.npy", "reads 1 channels, the images have 3"),
        ("torchvision:nosuchnet", "torchvision has no model 'nosuchnet'"),
        ("torchvision:resnet18:V9", "resnet18 has no weights 'V9'"),
        ("run:0123456789abcdef", "no run cache at"),
        ("run:0123456789abcdef@last", "the step after @ is a number"),
        ("whole.pth", "pass --trust-pickle"),
        ("zeros.npy", "has no energy"),
    ],
)
def test_a_bad_source_is_one_line(tmp_path, data_root, capsys, monkeypatch, source, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    np.save(tmp_path / "flat.npy", np.zeros((4, 27)))
    np.save(tmp_path / "grey.npy", np.ones((4, 1, 3, 3)))
    np.save(tmp_path / "zeros.npy", np.zeros((4, 3, 3, 3)))
    torch.save(torch.nn.Conv2d(3, 4, 3), tmp_path / "whole.pth")
    rc = main(["inspect", source, "--data", "smooth", "--data-root", str(data_root)])
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert rc == 2 and len(err) == 1 and err[0].startswith("firstlayer inspect: error: ") and says in err[0]


def test_bad_data_and_normalisation_are_one_line(tmp_path, data_root, capsys):
    np.save(tmp_path / "a.npy", random_bank(8, 3).numpy())
    cases = (
        (["--data", "nosuchdata"], "dataset 'nosuchdata'"),
        (["--normalise", "nan,0,0/1,1,1"], "--normalise"),
        (["--normalise", "bright"], "--normalise"),
        (["--init", str(tmp_path / "a.npy")], "W equals its W_init"),
    )
    for extra, says in cases:
        rc = main(["inspect", str(tmp_path / "a.npy"), "--data-root", str(data_root), "--data", "smooth", *extra])
        err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert rc == 2 and len(err) == 1 and says in err[0]


def test_timm_without_timm_is_one_line(tmp_path, data_root):
    try:
        import timm  # noqa: F401

        pytest.skip("timm is installed")
    except ImportError:
        pass
    with pytest.raises(ValueError, match="timm: not installed"):
        load_bank("timm:resnet18", data_root=data_root)


def test_the_command_is_installed_and_explains_itself():
    out = subprocess.run([sys.executable, "-m", "harness.cli", "inspect", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for option in ("--data", "--normalise", "--init", "--pca-images", "--json", "--no-download", "torchvision:NAME"):
        assert option in out.stdout


def test_a_folder_of_images_and_json_on_stdout(tmp_path, data_root, capsys):
    """--data may be a plain folder of images of one size; --json prints the result itself."""
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, f in enumerate(sorted((data_root / "smooth" / "train" / "a").glob("*.png"))[:20]):
        (flat / f"{i}.png").write_bytes(f.read_bytes())
    np.save(tmp_path / "a.npy", random_bank(8, 3).numpy())
    args = ["inspect", str(tmp_path / "a.npy"), "--data", str(flat), "--json", "--no-figures", "--random-banks", "3"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["data"]["images"] == 20 and got["data"]["source"].startswith(str(flat))
    (flat / "odd.png").write_bytes((data_root / "smooth" / "train" / "a" / "0.png").read_bytes())
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(flat / "small.png")
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    assert "images of 2 sizes" in capsys.readouterr().err


def test_report_passes_its_options_through(tmp_path, capsys):
    """``firstlayer report --check R`` is ``python -m harness.report --check R``."""
    (tmp_path / "r.json").write_text(json.dumps({"meta": {}, "claims": []}))
    assert main(["report", "--check", str(tmp_path / "r.json")]) == 1
    assert "no claims" in capsys.readouterr().out


def test_the_store_commands_are_firstlayer_commands(tmp_path, capsys):
    """``firstlayer fill|store|rejudge ARGS`` is ``python -m harness.training.fill ARGS`` (and so
    on), named as ``firstlayer``'s own in its usage; bad input is one line and status 2."""
    with pytest.raises(SystemExit) as done:
        main(["fill", "--help"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("usage: firstlayer fill ")
    assert main(["fill", "--scale", "cpu", "--budget", "soon", "--run-cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("firstlayer fill: error: ") and err.count("\n") == 1
    with pytest.raises(SystemExit) as done:
        main(["store", "verify", "--help"])
    assert done.value.code == 0 and "usage: firstlayer store verify" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["report", "--help"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("usage: firstlayer report ")
    assert main(["rejudge", str(tmp_path / "out"), "--reports", str(tmp_path)]) == 1
    assert "judged from the run store" in capsys.readouterr().err


def test_a_frozen_run_and_a_given_init_keep_their_meaning(tmp_path, data_root, pca3):
    """A run whose layer never moved is profiled as W; --init never replaces a run's own W_init."""
    cache = RunCache(tmp_path / "cache", Datasets(data_root, tmp_path / "cache"), progress=False)
    spec = RunSpec(dataset="smooth", images=None, width=1 / 16, first=8, steps=20, batch=16, eval_images=16)
    frozen = cache.get(RunSpec(**{**spec.to_json(), "frozen": True}))
    run = cache.get(spec)
    np.save(tmp_path / "other.npy", random_bank(8, 3, seed=9).numpy())
    common = ["--no-figures", "--whitening-images", "0", "--run-cache", str(tmp_path / "cache")]
    assert inspect(tmp_path, data_root, "run:frozen=true", extra=common)["banks"][0]["profile_of"] == "W"
    assert torch.equal(frozen.final, frozen.init)
    got = inspect(tmp_path, data_root, f"run:{spec.key}", extra=[*common, "--init", str(tmp_path / "other.npy")])
    expect = energy_profile(run.final, pca3, init=run.init)
    np.testing.assert_allclose(got["banks"][0]["energy_profile_moved"], expect, rtol=1e-6)


def test_a_data_root_that_does_not_exist_is_one_line(capsys):
    assert main(["inspect", "pretrained:alexnet", "--data-root", "/nonexistent-root"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "firstlayer inspect: error: --data-root /nonexistent-root: no such folder"
