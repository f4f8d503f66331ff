"""The ``firstlayer`` command: ``firstlayer inspect`` (the paper's analysis of any model's first
layer, ``harness.cli.inspect``), and the run store's and report's own commands under one name:

    firstlayer inspect SOURCE [SOURCE ...] --data DATASET [--json] [--out DIR]
    firstlayer fill --scale S --budget 2h --run-cache DIR [-n 2]   (harness.training.fill)
    firstlayer store {export,verify} ...                           (harness.training.store)
    firstlayer rejudge reports/ci                                  (harness.report.rejudge)
    firstlayer report ...                                          (harness.report)

Exit status: 0 on success, 2 on bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from harness.cli.banks import SourceError, load_bank
from harness.cli.inspect import NORMALISATIONS, InspectError, inspect, write
from harness.data.copies import DatasetNotFound, default_root, torchvision_mismatch
from harness.data.door import Datasets
from harness.data.images import Images, subset
from harness.report.__main__ import main as report
from harness.report.rejudge import main as rejudge
from harness.training.fill import main as fill
from harness.training.store import main as store

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
EPILOG = """sources:
  PATH.pt, PATH.pth       a state dict (or one nested under state_dict/model), or a whole nn.Module
                          with --trust-pickle: its first convolution that reads the image's channels
  PATH.npy, PATH.npz      an array (out, in, k, k); .npz: its one 4-D array, or 'weight' (+ 'init')
  torchvision:NAME[:W]    torchvision's model NAME with weights W (default DEFAULT; 'none': random init)
  timm:NAME               a timm model with pretrained weights (needs timm installed)
  pretrained:NAME         pretrained/NAME_conv1.npy beside the data root
  run:KEY[@STEP]          a run of the suite's cache (W_init comes with it); also run:labels=random,seed=1

example:
  firstlayer inspect torchvision:resnet18 --data tiny-imagenet-10 --normalise imagenet
"""


FORWARDED = {  # firstlayer NAME ARGS: the module's own command line
    "fill": (fill, "train a scale's missing runs into the run store within a time budget (harness.training.fill)"),
    "store": (store, "store the runs a report read, or retrain stored runs and compare (harness.training.store)"),
    "rejudge": (rejudge, "judge every stored report again from the store and compare (harness.report.rejudge)"),
    "report": (report, "render or compare reports (harness.report)"),
}


def count(text: str) -> int:
    """A positive number of images, banks or pixels."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {n}")
    return n


def count0(text: str) -> int:
    """As ``count``, 0 allowed (0: skip)."""
    return 0 if text.strip() == "0" else count(text)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="firstlayer", description="Chowers & Weiss (ICML 2023), re-measured.")
    ap.add_argument("--version", action="version", version=f"firstlayer {version('firstlayer')}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "inspect",
        help="the paper's analysis of any first layer",
        description="Measure first layers as the paper does: the energy profile over the patch PCA of its kernel "
        "size (Def. 2.2), its correlation with lambda, the fit of eq. 3 over t (Table 3), C(delta) of its "
        "responses against RGB and random filters (Fig. 6) and, for several layers, their profile correlations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="first layers to inspect (see 'sources' below)")
    p.add_argument(
        "--data",
        default="cifar10",
        help="images: a dataset the suite knows (cifar10, cifar100, celeba, tiny-imagenet-10, ...), an "
        "ImageFolder tree (DIR/train/<class>/...) or a folder of images (default: cifar10)",
    )
    p.add_argument("--split", default="train", choices=["train", "test"], help="the dataset's split (default: train)")
    p.add_argument("--images", type=count, default=None, help="a seeded subset of this many images (default: all)")
    p.add_argument(
        "--normalise",
        default="dataset",
        help="the pixel scale the layer saw: 'dataset' (per-channel mean/std of these images, as the suite trains; "
        f"default), {', '.join(repr(k) for k in NORMALISATIONS)}, or 'm,m,m/s,s,s' (of pixels in [0, 1]). The "
        "profile's shape and the authors' t range depend on it",
    )
    p.add_argument(
        "--pca-images",
        type=count,
        default=None,
        help="images of the patch PCA (default: all for 3x3, 1,000 for larger)",
    )
    p.add_argument(
        "--pca-stride", type=int, default=None, help="patch stride of the PCA (default: 1 for 3x3, 2 for larger)"
    )
    p.add_argument("--init", default=None, help="a source of W_init: profiles W - W_init, as the authors' code does")
    p.add_argument(
        "--whitening-images", type=count0, default=500, help="images of C(delta) (default: 500; 0: skip C(delta))"
    )
    p.add_argument(
        "--random-banks", type=int, default=100, help="random banks of each shape for C(delta) (default: 100)"
    )
    p.add_argument(
        "--data-root", default=None, help="dataset folder (default: $FIRSTLAYER_DATA, else ~/.cache/firstlayer/data)"
    )
    p.add_argument(
        "--run-cache", default=None, help="the suite's run cache, for run: sources (default: ./.firstlayer-cache)"
    )
    p.add_argument("--no-download", action="store_true", help="never download weights or data")
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="unpickle checkpoints that hold objects (a whole nn.Module): runs the file's code; only for "
        "files you trust",
    )
    p.add_argument(
        "--out",
        default="firstlayer-inspect",
        help="folder for inspect.json and figures (default: ./firstlayer-inspect)",
    )
    p.add_argument("--no-figures", action="store_true", help="write no figures")
    p.add_argument("--json", action="store_true", help="print the JSON result to stdout instead of the summary")
    for name, (_, say) in FORWARDED.items():  # every option is the command's own
        sub.add_parser(name, help=say, add_help=False).add_argument("args", nargs=argparse.REMAINDER)
    return ap


def read_images(data: str, split: str, root, download: bool, images: int | None, progress=None) -> Images:
    """A dataset the suite knows or an ImageFolder tree (through ``Datasets``), or a flat folder
    of images of one size; a seeded subset of ``images``."""
    path = Path(data)
    if path.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in path.iterdir()):
        got = _flat_folder(path)
    else:
        got = Datasets(root, download=download, progress=progress).split(data, split)
    return subset(got, images)


def _flat_folder(path: Path) -> Images:
    from PIL import Image

    files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    arrays = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    sizes = {a.shape for a in arrays}
    if len(sizes) != 1:
        raise InspectError(f"{path}: images of {len(sizes)} sizes ({sorted(sizes)[:3]}...); give images of one size")
    pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return Images(pixels, torch.zeros(len(files), dtype=torch.long), (), f"{path} ({len(files)} images)")


def run_inspect(args) -> int:
    root = Path(args.data_root) if args.data_root else default_root()
    if args.data_root and not root.is_dir():
        raise InspectError(f"--data-root {root}: no such folder")

    def say(msg):
        print(f"firstlayer inspect: {msg}", file=sys.stderr, flush=True)

    banks = [
        load_bank(
            s,
            data_root=root,
            run_cache=args.run_cache,
            download=not args.no_download,
            init=args.init,
            trust_pickle=args.trust_pickle,
        )
        for s in args.sources
    ]
    names = [b.name for b in banks]
    for i, b in enumerate(banks):  # the same file twice, or two files of one name
        if names.count(b.name) > 1:
            b.name = f"{b.name} ({i})"
    images = read_images(args.data, args.split, root, not args.no_download, args.images, say)
    result = inspect(
        banks,
        images,
        args.normalise,
        args.pca_images,
        args.pca_stride,
        args.whitening_images,
        args.random_banks,
        dataset=args.data,
        split=args.split,
        progress=lambda msg: say(f"{msg} ..."),
    )
    paths = write(result, Path(args.out), figures=not args.no_figures)
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
    else:
        print(result.text())
        print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in FORWARDED:
        return FORWARDED[argv[0]][0](argv[1:], prog=f"firstlayer {argv[0]}")
    args = parser().parse_args(argv)
    mismatch = torchvision_mismatch()
    if mismatch:
        print(f"firstlayer: error: {mismatch}", file=sys.stderr)
        return 2
    try:
        return run_inspect(args)
    except (SourceError, InspectError, DatasetNotFound) as exc:
        print(f"firstlayer inspect: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # an unreadable image or file: still one line
        print(f"firstlayer inspect: error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
