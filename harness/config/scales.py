"""The scale table (``fixtures/scales.toml``) as typed, validated ``Scale`` records.

A scale is read once and checked against the fields of ``Scale``: an unknown, missing or
mistyped key is one ``ScaleError`` naming the file, the scale and the key. Every size a
claim uses comes from here; no claim hard-codes one.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, replace
from functools import cache

from harness.config.paper import fixture_table
from harness.training.spec import RunSpec


class ScaleError(ValueError):
    """A scale table entry that does not fit ``Scale``: one line naming the file and key."""


@dataclass(frozen=True)
class Scale:
    """The sizes of one scale. ``images = 0`` in the table means all training images."""

    name: str
    device: str  # the device the scale is meant for ("cpu" or "cuda")
    judged: bool  # false: verdicts are not meaningful (the smoke scale only exercises code paths)
    dataset: str
    images: int | None  # training images (None: all)
    model: str
    width: float  # VGG body width; the first layer keeps `first` filters
    first: int  # first-layer filters
    steps: int  # the standard length (Table 1, Fig. 2)
    converged_steps: int  # the first stop of the stop rule (Table 2, 3, App. D); Fig. 6's length
    converged_every: int  # the stop rule's spacing: judged at converged_steps, + every, ... (``stops``)
    converged_cap: int  # and its last stop (the length at which a claim is judged if nothing memorised)
    lr: float
    momentum: float
    batch: int
    eval_images: int  # train/test images evaluated at the end of a run
    seeds_true: int
    table1_seeds: int  # seeds of Table 1 SEED and TRAINED VS INIT (at ``steps``)
    seeds_random: int
    table2_seeds: int  # seeds of each of Table 2's true- and random-label groups (by the stop rule)
    seeds_extra: int  # seeds of binary subsets and App. D variants
    widths: tuple[int, ...]  # first-layer widths compared with `first` (Table 1 WIDTH)
    resnet: str
    resnet_width: float
    resnet_steps: int
    resnet_seeds: int
    frozen_models: tuple[str, ...]
    frozen_seeds: int  # seeds of each of Fig. 2's learned and frozen nets
    binary: tuple[str, ...]  # Table 3 binary subsets
    d1_components: tuple[int, ...]  # App. D.1 label components
    d2: tuple[tuple[int, float], ...]  # App. D.2 (component, alpha)
    d2_steps: int  # App. D.2's length (scaled inputs, stride-3 first layer: they memorise later)
    random_init_seeds: int  # random filter banks (Fig. 6, Table 3 RANDOM INIT.)
    copy_seeds: int  # seeds a copy of the training-copy check (exact vs JPEG pixels); 0: not at this scale
    label_patch: tuple[tuple[str, int], ...]  # Fig. 5 (dataset copy, patch size)
    label_patch_images: int | None  # images per Fig. 5 dataset (None: all)
    whitening_images: int  # images whose C(delta) is measured (Fig. 6)
    size_curve: tuple[tuple[int, int], ...]  # (training images, steps) of true-label runs: C(10) vs data size
    large_patch_images: int  # images for the PCA of patches larger than 3x3 (App. C 7x7)
    large_patch_stride: int  # and the stride of those patches
    extra_datasets: tuple[str, ...]  # datasets beside `dataset` for Table 1 / 2

    @property
    def datasets(self) -> tuple[str, ...]:
        return (self.dataset, *self.extra_datasets)

    def stops(self, start: int) -> list[int]:
        """The stop rule's candidate steps from ``start`` (a claim's declared length): start,
        start + converged_every, ... and converged_cap (just ``start`` when it is past the
        cap). A claim declared with ``converge=True`` is judged at the first of them at which
        every random-label net it reads has memorised (``harness.plugin.stoprule.judged_step``)."""
        out = list(range(start, max(start, self.converged_cap) + 1, self.converged_every))
        return out if out[-1] >= self.converged_cap else [*out, self.converged_cap]

    def spec(self, **over) -> RunSpec:
        """The scale's standard run, with ``over`` changed (labels, seed, model, ...)."""
        base = RunSpec(
            dataset=self.dataset,
            images=self.images,
            model=self.model,
            width=self.width,
            first=self.first,
            steps=self.steps,
            lr=self.lr,
            momentum=self.momentum,
            batch=self.batch,
            eval_images=self.eval_images,
        )
        return replace(base, **over)

    def seeds(self, n: int, **over) -> list[RunSpec]:
        """``spec(seed=k, **over)`` for k = 0..n-1."""
        return [self.spec(seed=k, **over) for k in range(n)]


def _convert(where: str, value, kind):
    """``value`` as the annotated type ``kind`` (lists become tuples), or ScaleError."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is tuple:
        if not isinstance(value, list):
            raise ScaleError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(where, v, args[0]) for v in value)
        if len(value) != len(args):
            raise ScaleError(f"{where}: expected {len(args)} items, got {value!r}")
        return tuple(_convert(where, v, a) for v, a in zip(value, args, strict=True))
    if origin in (typing.Union, types.UnionType):  # int | None: 0 in the table means None
        return None if value == 0 else _convert(where, value, args[0])
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ScaleError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def names() -> list[str]:
    """The scales defined in fixtures/scales.toml."""
    return list(fixture_table("scales.toml"))


@cache
def scale(name: str) -> Scale:
    """Scale ``name`` from fixtures/scales.toml, validated (ScaleError names file and key)."""
    table = fixture_table("scales.toml")
    if name not in table:
        raise ScaleError(f"fixtures/scales.toml: unknown scale '{name}'; choose one of {', '.join(table)}")
    entry = dict(table[name])
    base = entry.pop("based_on", None)
    if base is not None:  # a variant: its base's settings with these changed (the sensitivity check)
        if base not in table or "based_on" in table[base]:
            raise ScaleError(f"fixtures/scales.toml [{name}] based_on: '{base}' is not a scale of its own")
        entry = {**table[base], **entry}
    return parse_scale(name, entry)


def base_of(name: str) -> str | None:
    """The scale a variant is ``based_on`` (fixtures/scales.toml), None for a scale of its own."""
    return fixture_table("scales.toml").get(name, {}).get("based_on")


def parse_scale(name: str, entry: dict, file: str = "fixtures/scales.toml") -> Scale:
    """A ``Scale`` from one table of ``file``: every field of ``Scale`` present, no other key,
    each of its annotated type; else one ScaleError naming the file, scale and key."""
    hints = typing.get_type_hints(Scale)
    fields = [f.name for f in dataclasses.fields(Scale) if f.name != "name"]
    unknown = sorted(set(entry) - set(fields))
    missing = [f for f in fields if f not in entry]
    if unknown:
        raise ScaleError(f"{file} [{name}]: unknown key '{unknown[0]}'")
    if missing:
        raise ScaleError(f"{file} [{name}]: missing key '{missing[0]}'")
    values = {f: _convert(f"{file} [{name}] {f}", entry[f], hints[f]) for f in fields}
    if values["converged_every"] <= 0:
        raise ScaleError(
            f"{file} [{name}] converged_every: expected a positive step count, got {values['converged_every']}"
        )
    return Scale(name=name, **values)
