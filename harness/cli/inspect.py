"""The paper's analysis of any first layer (``firstlayer inspect``): the patch PCA of its kernel
size on given images (Def. 2.1/4.1), the energy profile of W and of W - W_init (Def. 2.2, eq. 1),
its correlation with lambda (the trivial profile), the fit of eq. 3 over t (Table 3, Sec. 5:
over the authors' t range, as Table 3 was measured, and over every t), C(delta) of the layer's
responses against RGB and random filters of its shape (Fig. 6), and, for several banks, their
pairwise profile correlations (Table 1).

One door: ``analyse`` (``harness.measures.layers``) is what Table 3 IMAGENET / App. C
(claims/test_imagenet.py) measures a bank with, and ``decorrelation`` what Fig. 6's ImageNet
panel measures; both compose the
measures every profile claim uses (``energy_profile``, ``fit_formula_authors``,
``fit_formula``, ``ShiftMoments.autocorrelation``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from harness.cli.banks import Bank
from harness.data.images import Images, normalise, subset
from harness.measures.figures import lines, profile_figure, series
from harness.measures.layers import SHIFT, Analysis, Decorrelation, analyse, decorrelation, pca_for, pca_sampling
from harness.measures.spectra import correlation
from harness.measures.theory import PAPER_NOTES, Fit
from harness.report.plots import plot

# Per-channel (mean, std) of pixels in [0, 1]: the normalisations a first layer may have seen.
NORMALISATIONS = {  # name: (mean, std, how the report says it)
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "torchvision's ImageNet mean and std"),
    "unit": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "pixels in [0, 1]"),
    "tf": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "pixels in [-1, 1]"),  # TF/Keras MobileNets
}


class InspectError(ValueError):
    """Bad input to the inspection (one line)."""


def normalisation(how: str, pixels: torch.Tensor) -> tuple[str, tuple]:
    """(description, (mean, std)) of the normalisation ``how``: ``dataset`` (per-channel mean and
    std of ``pixels``, as the suite trains), a name of NORMALISATIONS, or 'm,m,m/s,s,s'."""
    if how == "dataset":
        _, stats = normalise(pixels)
        text = "per channel by these images' mean and std (as the suite trains)"
    elif how in NORMALISATIONS:
        mean, std, text = NORMALISATIONS[how]
        stats = (torch.tensor(mean), torch.tensor(std))
    else:
        try:
            mean, std = (torch.tensor([float(v) for v in part.split(",")]) for part in how.split("/"))
        except ValueError:
            raise InspectError(
                f"--normalise {how!r}: expected dataset, {', '.join(NORMALISATIONS)} or 'm,m,m/s,s,s'"
            ) from None
        if (
            mean.shape != (pixels.shape[1],)
            or std.shape != mean.shape
            or not bool(torch.isfinite(mean).all() and torch.isfinite(std).all())
            or bool((std <= 0).any())
        ):
            raise InspectError(f"--normalise {how!r}: give {pixels.shape[1]} means and {pixels.shape[1]} positive stds")
        stats, text = (mean, std), "mean and std as given"
    mean, std = stats
    return f"{text}: mean {fmt(mean)}, std {fmt(std)} (of pixels in [0, 1])", (mean.float(), std.float())


def fmt(v) -> str:
    return "(" + ", ".join(f"{float(x):.4g}" for x in v) + ")"


@dataclass
class Inspection:
    """What ``inspect`` found: per bank its ``Analysis`` and C(delta), the PCA of each kernel
    size, the pairwise profile correlations, and how the images were read."""

    banks: list[Bank]
    analyses: list[Analysis]
    pcas: dict
    decor: Decorrelation | None
    data: dict
    pairwise: list = field(default_factory=list)

    def to_json(self) -> dict:
        def fit(f: Fit) -> dict:
            return {"correlation": f.correlation, "t": f.t, "eta": f.eta, "at_grid_edge": bool(f.at_grid_edge)}

        rows = []
        for b, a in zip(self.banks, self.analyses, strict=True):
            row = {
                "name": b.name,
                "origin": b.origin,
                "shape": list(b.shape),
                "profile_of": a.judged_of,
                "energy_profile": a.profile.tolist(),
                "energy_profile_moved": None if a.moved is None else a.moved.tolist(),
                "lambda_correlation": a.lambda_corr,
                "formula_fit_authors_t_range": fit(a.fit),
                "formula_fit_every_t": fit(a.fit_full),
            }
            if self.decor is not None:
                row["autocorrelation"] = self.decor.banks[b.name].tolist()
                row["autocorrelation_random_mean"] = self.decor.random[b.name].tolist()
                row["C10"] = float(self.decor.banks[b.name][SHIFT])
                row["C10_random_mean"] = float(self.decor.random[b.name][SHIFT])
            rows.append(row)
        return {
            "data": self.data,
            "pca": {
                str(k): {"count": p.count, "lambdas": p.lambdas.tolist(), "images": self.data["pca"][str(k)]}
                for k, p in self.pcas.items()
            },
            "banks": rows,
            "autocorrelation_rgb": None if self.decor is None else self.decor.rgb.tolist(),
            "pairwise_profile_correlations": self.pairwise,
            "notes": PAPER_NOTES,
        }

    def text(self) -> str:
        """The summary ``firstlayer inspect`` prints."""
        d = self.data
        lines = [
            f"{len(self.banks)} first layer(s) on {d['dataset']} ({d['split']}, {d['images']:,} images "
            f"{d['height']}x{d['width']}), normalised {d['normalisation']}",
        ]
        for k, p in self.pcas.items():
            lines.append(f"{k}x{k} patch PCA: {d['pca'][str(k)]}, {p.count:,} patches, {p.dim} components")
        if self.decor is not None:
            lines.append(f"C(delta) on {d['whitening_images']:,} images: RGB C(10) = {self.decor.rgb[SHIFT]:.3f}")
        for b, a in zip(self.banks, self.analyses, strict=True):
            lines += [
                "",
                f"{b.name}  {tuple(b.shape)}  {b.origin}",
                f"  energy profile of {a.judged_of} (first 8 of {len(a.judged)}): "
                + " ".join(f"{v:.2f}" for v in a.judged[:8]),
                f"  corr with lambda (the trivial profile): {a.lambda_corr:.3f}",
                f"  eq. 3 fit: {a.fit.correlation:.3f} at t = {a.fit.t:.3g} over the authors' t range"
                f"{' (at its edge)' if a.fit.at_grid_edge else ''}; {a.fit_full.correlation:.3f} at t = "
                f"{a.fit_full.t:.3g} over every t",
            ]
            if a.moved is not None:
                lines.append(f"  corr(profile of W, of W - W_init): {correlation(a.profile, a.moved):.3f}")
            if self.decor is not None:
                c10, r10 = self.decor.banks[b.name][SHIFT], self.decor.random[b.name][SHIFT]
                lines.append(
                    f"  C(10) of its responses: {c10:.3f} (RGB {self.decor.rgb[SHIFT]:.3f}; "
                    f"random banks of its shape {r10:.3f})"
                )
        if self.pairwise:
            lines += ["", "pairwise profile correlations (Table 1):"]
            lines += [f"  {p['a']} ~ {p['b']}: {p['correlation']:.3f}" for p in self.pairwise]
        return "\n".join(lines)

    def figures(self) -> list[dict]:
        """The paper's figures for these banks: each profile against lambda and its fitted eq. 3
        (Fig. 1, 7), and C(delta) against distance (Fig. 6)."""
        out = []
        for i, (b, a) in enumerate(zip(self.banks, self.analyses, strict=True)):
            p = self.pcas[b.kernel]
            out.append(
                profile_figure(
                    f"profile-{i}-{slug(b.name)}",
                    f"{b.name}: energy profile and eq. 3",
                    [
                        series(f"energy profile of {a.judged_of}", a.judged),
                        series(
                            f"eq. 3, authors' t range (t={a.fit.t:.3g}, {a.fit.correlation:.2f})",
                            a.fit.curve,
                            style="dashed",
                        ),
                        series(
                            f"eq. 3, every t (t={a.fit_full.t:.3g}, {a.fit_full.correlation:.2f})",
                            a.fit_full.curve,
                            style="dotted",
                        ),
                    ],
                    p.lambdas,
                    b.kernel,
                )
            )
        if self.decor is not None:
            d = self.decor
            curves = [series("RGB", d.rgb, style="dashed", colour="black")]
            for name, c in d.banks.items():
                curves.append(series(name, c))
            shapes = {tuple(b.shape): d.random[b.name] for b in self.banks}  # one curve a shape
            for shape, c in shapes.items():
                what = f"{d.random_curves[self.banks[0].name].shape[0]} random banks {shape}, mean"
                curves.append(series(what, c, style="dotted"))
            out.append(
                lines("autocorrelation", "C(delta) of the responses (Fig. 6)", curves, "distance (pixels)", "C(delta)")
            )
        return out


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")[:60]


def inspect(
    banks: list[Bank],
    images: Images,
    normalise_as: str = "dataset",
    pca_images: int | None = None,
    pca_stride: int | None = None,
    whitening_images: int = 500,
    random_seeds: int = 100,
    dataset: str = "",
    split: str = "train",
    progress=None,
) -> Inspection:
    """Measure every bank on ``images`` (uint8 (N, C, H, W)): see the module docstring.
    ``progress(msg)`` hears of the long steps (a PCA, C(delta))."""
    say = progress or (lambda msg: None)
    if not banks:
        raise InspectError("no first layer to inspect")
    if random_seeds < 1 and whitening_images > 0:
        raise InspectError("--random-banks must be at least 1 (C(delta) compares with random banks)")
    pixels = images.pixels
    if pixels.dtype != torch.uint8 or pixels.ndim != 4:
        raise InspectError("images: expected uint8 pixels (N, C, H, W)")
    text, stats = normalisation(normalise_as, pixels)
    if whitening_images > 0 and min(pixels.shape[2:]) - max(b.kernel for b in banks) < SHIFT:
        raise InspectError(
            f"C(delta) to {SHIFT} pixels needs images at least {SHIFT} pixels wider than the filters "
            f"(these are {tuple(pixels.shape[2:])}); pass --whitening-images 0 to skip it"
        )
    pcas, described = {}, {}
    for b in banks:
        if b.weights.shape[1] != pixels.shape[1]:
            raise InspectError(f"{b.name}: reads {b.weights.shape[1]} channels, the images have {pixels.shape[1]}")
        if b.kernel not in pcas:
            if b.kernel >= min(pixels.shape[2:]):
                raise InspectError(
                    f"{b.name}: {b.kernel}x{b.kernel} filters need images larger than {tuple(pixels.shape[2:])}"
                )
            n, stride = pca_sampling(b.kernel, pca_images, pca_stride)
            described[str(b.kernel)] = f"{min(n or len(pixels), len(pixels)):,} images at stride {stride}"
            say(f"{b.kernel}x{b.kernel} patch PCA of {described[str(b.kernel)]}")
            pcas[b.kernel] = pca_for(pixels, b.kernel, stats, pca_images, pca_stride)
    analyses = []
    for b in banks:
        if b.init is not None and torch.equal(b.weights, b.init):
            raise InspectError(f"{b.name}: W equals its W_init (the layer did not move); inspect it without an init")
        try:
            analyses.append(analyse(b.weights, pcas[b.kernel], b.init))
        except ValueError as exc:  # a bank with no energy, or a flat profile
            raise InspectError(f"{b.name}: {exc}") from None
    decor = None
    if whitening_images > 0:
        few = subset(images, whitening_images, seed=1).pixels
        x, _ = normalise(few, stats)
        say(f"C(delta) of {len(x):,} images: the layers, RGB and {random_seeds} random banks of each shape")
        decor = decorrelation(x, {b.name: b.weights for b in banks}, random_seeds)
    pairwise = [
        {"a": a.name, "b": b.name, "correlation": correlation(x.judged, y.judged)}
        for (a, x), (b, y) in itertools.combinations(zip(banks, analyses, strict=True), 2)
        if a.kernel == b.kernel
    ]
    data = {
        "dataset": dataset or images.source,
        "source": images.source,
        "split": split,
        "images": len(pixels),
        "height": int(pixels.shape[2]),
        "width": int(pixels.shape[3]),
        "normalisation": text,
        "pca": described,
        "whitening_images": min(whitening_images, len(pixels)),
        "random_banks": random_seeds,
    }
    return Inspection(banks, analyses, pcas, decor, data, pairwise)


def write(result: Inspection, out: Path, figures: bool = True) -> list[Path]:
    """``inspect.json`` and, when ``figures``, one PNG per figure, into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "inspect.json"]
    paths[0].write_text(json.dumps(result.to_json(), indent=1))
    if figures:
        paths += [plot(f, out / f"{f['name']}.png") for f in result.figures()]
    return paths
