"""harness.data.door (ImageFolder decode + cache, missing data), harness.data.images (labels, variants and
App. D's input/label transforms) and harness.models, on tiny synthetic data."""

from collections.abc import Callable

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from harness import models
from harness.data import copies, door, images
from harness.data.images import energy_decile_labels, scale_component
from harness.data.patches import extract_patches


def noise(height: int, width: int) -> Callable:
    """``image(rng)`` for ``image_folder``: uniform uint8 RGB noise of ``height`` x ``width``."""
    return lambda rng: rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def write_tree(image_folder):
    """``write_tree(root, splits, seed)``: root/<split>/<class a, b>/<i>.png, 3 images a class of
    8x8 noise; returns {split: [arrays in ImageFolder order]}."""
    return lambda root, splits=("train", "test"), seed=0: image_folder(
        root, dict.fromkeys(splits, 3), noise(8, 8), seed=seed
    )


# ---------------------------------------------------------------- load_split


def test_load_split_image_folder_and_decode_cache(tmp_path, write_tree):
    written = write_tree(tmp_path / "toy")
    cache = tmp_path / "c"
    im = door.load_split("toy", "train", root=tmp_path, cache_dir=cache)
    assert im.pixels.dtype == torch.uint8 and im.pixels.shape == (6, 3, 8, 8)
    assert im.classes == ("a", "b") and len(im) == 6
    assert im.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert_array_equal(im.pixels.permute(0, 2, 3, 1).numpy(), np.stack(written["train"]))  # PNG is lossless
    assert im.source.startswith("toy (train, sha256 ") and str(tmp_path) not in im.source  # no machine path
    files = list((cache / "data").glob("*.pt"))
    assert len(files) == 1
    # the second call reads the cache: it works even with the images gone
    for png in (tmp_path / "toy" / "train").rglob("*.png"):
        png.unlink()
    again = door.load_split("toy", "train", root=tmp_path, cache_dir=cache)
    assert torch.equal(again.pixels, im.pixels) and torch.equal(again.labels, im.labels)
    assert again.classes == ("a", "b")
    # the test split is cached separately
    test = door.load_split("toy", "test", root=tmp_path, cache_dir=cache)
    assert_array_equal(test.pixels.permute(0, 2, 3, 1).numpy(), np.stack(written["test"]))
    assert len(list((cache / "data").glob("*.pt"))) == 2


def test_load_split_corrupt_cache_is_redecoded(tmp_path, write_tree):
    write_tree(tmp_path / "toy", splits=("train",))
    cache = tmp_path / "c"
    first = door.load_split("toy", "train", root=tmp_path, cache_dir=cache)
    (file,) = (cache / "data").glob("*.pt")
    file.write_bytes(b"not a torch file")
    again = door.load_split("toy", "train", root=tmp_path, cache_dir=cache)
    assert torch.equal(again.pixels, first.pixels)


def test_a_decode_killed_while_writing_leaves_nothing_behind(tmp_path, write_tree):
    """A job killed while it writes the decode cache (fill stops its jobs at the budget) leaves
    a temporary file; the next decoder of that split removes it under the lock."""
    write_tree(tmp_path / "toy", splits=("train",))
    cache = tmp_path / "c"
    door.load_split("toy", "train", root=tmp_path, cache_dir=cache)
    (file,) = (cache / "data").glob("*.pt")
    left = file.with_suffix(".tmp12345")
    left.write_bytes(b"half a split")
    door.load_split("toy", "train", root=tmp_path, cache_dir=cache)
    assert not left.exists() and file.exists()


def test_load_split_test_falls_back_to_val(tmp_path, write_tree):
    written = write_tree(tmp_path / "toy", splits=("train", "val"), seed=1)
    im = door.load_split("toy", "test", root=tmp_path)
    assert_array_equal(im.pixels.permute(0, 2, 3, 1).numpy(), np.stack(written["val"]))
    assert im.classes == ("a", "b")


def test_load_split_absolute_path(tmp_path, write_tree):
    write_tree(tmp_path / "elsewhere", splits=("train",))
    im = door.load_split(str(tmp_path / "elsewhere"), "train", root=tmp_path / "unused")
    assert im.pixels.shape == (6, 3, 8, 8)


def test_missing_dataset_message(tmp_path):
    with pytest.raises(copies.DatasetNotFound) as info:
        door.load_split("cifar100", root=tmp_path)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "cifar-100-python") in msg
    assert "--data-root" in msg and "FIRSTLAYER_DATA" in msg and "--no-download" in msg
    assert "\n" not in msg


def test_missing_folder_dataset_message_has_no_download_hint(tmp_path):
    with pytest.raises(copies.DatasetNotFound) as info:
        door.load_split("toy", root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "toy") in msg and "download" not in msg and "\n" not in msg


def test_folder_without_the_split_is_not_found(tmp_path):
    (tmp_path / "toy" / "other").mkdir(parents=True)
    with pytest.raises(copies.DatasetNotFound):
        door.load_split("toy", "train", root=tmp_path, cache_dir=tmp_path / "c")


def test_cifar100_falls_back_to_the_resplit_arrays(tmp_path):
    """No cifar-100-python/: cifar100 reads cifar100-resplit/{train,test}.npz (x HWC uint8, y
    int16) with classes.txt, and the report can say how the copy differs."""
    rng = np.random.default_rng(0)
    (tmp_path / "cifar100-resplit").mkdir()
    x = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    y = np.array([0, 1, 2, 0, 1, 2], dtype=np.int16)
    for split in ("train", "test"):
        np.savez(tmp_path / "cifar100-resplit" / f"{split}.npz", x=x, y=y)
    (tmp_path / "cifar100-resplit" / "classes.txt").write_text("apple\naquarium_fish\nbaby\n")
    got = door.load_split("cifar100", "train", root=tmp_path)
    assert_array_equal(got.pixels.permute(0, 2, 3, 1).numpy(), x)
    assert got.labels.dtype == torch.int64 and got.labels.tolist() == y.tolist()
    assert got.classes == ("apple", "aquarium_fish", "baby") and got.source.startswith("cifar100-resplit (train,")
    assert "not the official train/test split" in copies.DIFFERS["cifar100-resplit"]


def test_celeba_falls_back_to_the_smiling_folder_resized_to_32(tmp_path, image_folder):
    faces = {"train": 3, "test": 2}
    image_folder(tmp_path / "celeba-smiling-10k", faces, noise(109, 89), ("not_smiling", "smiling"), "{i:06d}.jpg", 1)
    got = door.load_split("celeba", "test", root=tmp_path)
    assert tuple(got.pixels.shape) == (4, 3, 32, 32) and got.classes == ("not smiling", "smiling")
    assert got.labels.tolist() == [0, 0, 1, 1]
    first = sorted((tmp_path / "celeba-smiling-10k" / "test" / "not_smiling").iterdir())[0]
    expected = np.asarray(Image.open(first).convert("RGB").resize((32, 32)))  # as torchvision's CelebA path
    assert_array_equal(got.pixels[0].permute(1, 2, 0).numpy(), expected)


@pytest.mark.skipif(not (copies.default_root() / "cifar100-resplit").exists(), reason="no cifar100-resplit copy")
def test_the_cifar100_copy_has_100_classes_of_300_and_its_measured_mean():
    got = door.load_split("cifar100", "train")
    assert tuple(got.pixels.shape) == (30000, 3, 32, 32) and torch.bincount(got.labels).tolist() == [300] * 100
    assert_allclose((got.pixels.double() / 255).mean((0, 2, 3)).numpy(), [0.5066, 0.4863, 0.4405], atol=1e-4)


@pytest.mark.skipif(not (copies.default_root() / "celeba-smiling-10k").exists(), reason="no celeba-smiling-10k copy")
def test_the_celeba_copy_is_labelled_by_smiling():
    train, test = door.load_split("celeba", "train"), door.load_split("celeba", "test")
    assert (len(train), len(test)) == (9000, 1000) and train.classes == ("not smiling", "smiling")
    assert (int(train.labels.sum()), int(test.labels.sum())) == (4322, 500)  # the copy's README counts


def test_a_pretrained_first_layer_is_read_beside_the_data_root_and_a_missing_one_is_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "pretrained").mkdir()
    bank = np.random.default_rng(2).standard_normal((64, 3, 3, 3)).astype(np.float32)
    np.save(tmp_path / "pretrained" / "vgg11_bn_imagenet_conv1.npy", bank)
    found = door.Datasets(tmp_path / "data", download=False)
    assert_array_equal(found.pretrained("vgg11_bn_imagenet").numpy(), bank)
    with pytest.raises(copies.DatasetNotFound) as err:
        found.pretrained("alexnet")
    assert "\n" not in str(err.value) and "alexnet_conv1.npy not found" in str(err.value)


@pytest.mark.skipif(
    not (copies.default_root().parent / "pretrained" / "vgg11_bn_imagenet_conv1.npy").exists(),
    reason="no VGG11-BN layer",
)
def test_the_vgg11_bn_layer_is_float_64_filters_of_3x3_rgb():
    bank = door.Datasets(copies.default_root(), download=False).pretrained("vgg11_bn_imagenet")
    assert tuple(bank.shape) == (64, 3, 3, 3) and bank.dtype == torch.float32
    assert len(torch.unique(bank)) > 1000  # float, not 8-bit quantised like the MobileNet stand-ins


def test_default_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FIRSTLAYER_DATA", str(tmp_path))
    assert copies.default_root() == tmp_path


# ---------------------------------------------------------------- subsets and labels


def sorted_images(per_class=10, classes=images.CIFAR10_CLASSES):
    """Like an ImageFolder copy: sorted by class."""
    n = per_class * len(classes)
    labels = torch.arange(len(classes)).repeat_interleave(per_class)
    pixels = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 3, 2, 2).contiguous()
    return images.Images(pixels, labels, tuple(classes), "synthetic")


def test_subset_is_deterministic_and_class_mixed():
    im = sorted_images()
    a, b = images.subset(im, 20, seed=0), images.subset(im, 20, seed=0)
    assert len(a) == 20 and torch.equal(a.labels, b.labels) and torch.equal(a.pixels, b.pixels)
    assert len(a.labels.unique()) >= 5, "a prefix of a class-sorted set would hold 2 classes"
    assert not torch.equal(a.pixels, images.subset(im, 20, seed=1).pixels)
    idx = a.pixels[:, 0, 0, 0].long()
    assert torch.all(idx[1:] > idx[:-1]), "indices kept in order"
    assert torch.equal(im.labels[idx], a.labels)


def test_subset_all_when_n_none_or_large():
    im = sorted_images(2)
    assert images.subset(im, None) is im and images.subset(im, 20) is im and images.subset(im, 999) is im


def test_random_labels_keep_counts_and_are_seeded():
    labels = sorted_images().labels
    r = images.random_labels(labels, seed=3)
    assert_array_equal(torch.bincount(r, minlength=10), torch.bincount(labels, minlength=10))
    assert torch.equal(r, images.random_labels(labels, seed=3))
    assert not torch.equal(r, images.random_labels(labels, seed=4))
    assert not torch.equal(r, labels)


def test_binary_keeps_two_classes_with_01_labels():
    im = sorted_images(4)
    b = images.binary(im, "dog-cat")
    assert b.classes == ("dog", "cat") and len(b) == 8
    dog, cat = images.CIFAR10_CLASSES.index("dog"), images.CIFAR10_CLASSES.index("cat")
    orig = im.labels[b.pixels[:, 0, 0, 0].long()]
    assert set(orig.tolist()) == {dog, cat}
    assert torch.equal(b.labels, (orig == cat).long())
    car = images.binary(im, "car-truck")
    assert car.classes == ("automobile", "truck") and set(car.labels.tolist()) == {0, 1}


def test_binary_unknown_class_raises():
    with pytest.raises(ValueError, match="zebra"):
        images.binary(sorted_images(2), "zebra-cat")


def test_normalise_per_channel():
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (10, 3, 8, 8), generator=g, dtype=torch.uint8)
    x, (mean, std) = images.normalise(pixels)
    assert x.dtype == torch.float32 and pixels.dtype == torch.uint8
    assert_allclose(x.mean((0, 2, 3)).numpy(), 0.0, atol=1e-5)
    assert_allclose(x.std((0, 2, 3)).numpy(), 1.0, atol=1e-5)
    assert_allclose(mean.numpy(), pixels.float().div(255).mean((0, 2, 3)).numpy(), rtol=1e-6)
    y, stats = images.normalise(pixels[:3], (mean, std))
    assert stats[0] is mean
    assert_allclose(y.numpy(), x[:3].numpy(), atol=1e-6)


# ---------------------------------------------------------------- models


@pytest.fixture(scope="module")
def batch():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_vgg11_forward_and_first_layer(batch):
    m = models.build("vgg11", width=0.25).eval()
    assert m(batch).shape == (2, 10)
    conv = models.first_layer(m)
    assert conv.out_channels == 64 and conv.kernel_size == (3, 3) and conv.in_channels == 3
    assert models.first_layer(models.build("vgg11", width=0.25, first=32)).out_channels == 32


@pytest.mark.parametrize("name", ["vgg13", "vgg16", "vgg19"])
def test_deeper_vggs_build(name, batch):
    m = models.build(name, num_classes=4, width=0.125).eval()
    assert m(batch).shape == (2, 4)
    assert models.first_layer(m).out_channels == 64


@pytest.mark.parametrize("name", ["resnet18", "resnet20"])
def test_resnets_forward(name, batch):
    m = models.build(name, width=0.25).eval()
    assert m(batch).shape == (2, 10)
    assert models.first_layer(m) is m.conv1 and m.conv1.out_channels == 64


def test_linear_cnn_output(batch):
    m = models.build("linear", first=8)
    out = m(batch)
    assert out.shape == (2,)
    w = models.first_layer(m).weight
    assert_allclose(
        out.detach().numpy(), torch.nn.functional.conv2d(batch, w).mean((2, 3)).sum(1).detach().numpy(), rtol=1e-5
    )


@pytest.mark.parametrize("depth", ["vgg11", "vgg13"])
def test_vgg_pooling_before_relu_trains_the_same_numbers_bit_for_bit(depth):
    """VGG pools before its ReLU (models.VGG): five SGD steps with momentum give every weight,
    BN statistic and loss of the conv, BN, ReLU, pool order exactly, on image-like inputs (256
    grey levels, so windows with ties and all-negative windows occur)."""
    torch.manual_seed(0)
    ours = models.build(depth, 10, 0.125, 16)
    ref = models.build(depth, 10, 0.125, 16)
    ref.load_state_dict(ours.state_dict())
    layers = list(ref.features)
    for i in range(len(layers) - 1):  # back to the textbook order
        if isinstance(layers[i], torch.nn.MaxPool2d) and isinstance(layers[i + 1], torch.nn.ReLU):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    ref.features = torch.nn.Sequential(*layers)
    assert [type(m) for m in ours.features] != [type(m) for m in ref.features]
    x = torch.randint(0, 256, (40, 3, 32, 32)).float() / 255 - 0.5
    y = torch.randint(0, 10, (40,))
    losses = []
    for net in (ours, ref):
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        for _ in range(5):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
        losses.append(loss.item())
    assert losses[0] == losses[1]
    a, b = ours.state_dict(), ref.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_freeze_first_layer_only():
    m = models.freeze_first_layer(models.build("vgg11", width=0.125))
    conv = models.first_layer(m)
    assert all(not p.requires_grad for p in conv.parameters())
    first = {id(p) for p in conv.parameters()}
    rest = [p for p in m.parameters() if id(p) not in first]
    assert rest and all(p.requires_grad for p in rest)


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError) as info:
        models.build("alexnet")
    msg = str(info.value)
    for name in ("alexnet", "vgg11", "vgg19", "resnet18", "resnet20", "linear"):
        assert name in msg


def test_first_layer_without_conv_raises():
    with pytest.raises(ValueError, match="no Conv2d"):
        models.first_layer(torch.nn.Linear(2, 2))


def test_vgg_stride3_stem(batch):
    m = models.build("vgg11", width=0.125, stem_stride=3, stem_padding=0).eval()
    conv = models.first_layer(m)
    assert conv.stride == (3, 3) and conv.padding == (0, 0)
    assert m(batch).shape == (2, 10)


# ---------------------------------------------------------------- train: App. D transforms


def unit(d=27, seed=0):
    u = np.random.default_rng(seed).standard_normal(d)
    return u / np.linalg.norm(u)


def test_scale_component_alpha1_is_cropped_identity():
    x = torch.randn(2, 3, 10, 11, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = scale_component(x, unit(), 1.0)
    assert out.shape == (2, 3, 9, 9)
    assert_allclose(out.numpy(), x[:, :, :9, :9].numpy(), rtol=1e-12, atol=1e-12)


def test_scale_component_alpha2_doubles_only_u():
    x = torch.randn(2, 3, 9, 12, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    u = unit(seed=3)
    before = extract_patches(x, 3, stride=3).numpy()
    after = extract_patches(scale_component(x, u, 2.0), 3, stride=3).numpy()
    assert before.shape == (2 * 3 * 4, 27)
    assert_allclose(after @ u, 2 * (before @ u), rtol=1e-10, atol=1e-12)
    ortho = np.eye(27) - np.outer(u, u)
    assert_allclose(after @ ortho, before @ ortho, atol=1e-12)


def test_energy_decile_labels_equal_classes():
    x = torch.randn(50, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    u = unit(seed=5)
    y = energy_decile_labels(x, u)
    assert y.dtype == torch.int64 and y.shape == (50,)
    assert_array_equal(torch.bincount(y, minlength=10).numpy(), [5] * 10)
    energy = torch.nn.functional.conv2d(x, torch.as_tensor(u, dtype=torch.float32).reshape(1, 3, 3, 3))
    energy = energy.pow(2).sum((1, 2, 3))
    assert y[energy.argmax()] == 0 and y[energy.argmin()] == 9  # decile 0 = most energy
    assert torch.all(torch.diff(y[energy.argsort(descending=True)]) >= 0)


def test_a_torchvision_built_for_another_torch_is_one_line_with_its_fix():
    def broken():
        raise RuntimeError("operator torchvision::nms does not exist")

    line = copies.torchvision_mismatch(broken, ("2.13.0+cpu", "0.29.1"))
    assert "\n" not in line and "torchvision 0.29.1" in line and "torch 2.13.0+cpu" in line
    assert "torchvision::nms does not exist" in line and "pip install 'torchvision==0.28.*'" in line
    assert copies.torchvision_mismatch() is None  # the installed pair loads
