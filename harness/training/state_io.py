"""A trajectory's continuation state (``harness.training.train.continuation``: model,
optimizer, data-order generator, epoch order, running sums) as one ``.npz`` of arrays and a
JSON tree, without pickles, so that an unfinished run can be committed to the run store and
continued on any machine.

Every tensor is kept exactly (its dtype and bits: float32 weights and momentum buffers, the
generator's uint8 state, int64 orders); dicts keep their key types (the optimizer's state is
keyed by int), lists and tuples stay what they were, and Python scalars go through JSON (a
float's repr round-trips exactly). Nothing else is accepted: a value of another type is an
error, not a silent cast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

SCALARS = (bool, int, float, str, type(None))


def encode(value, arrays: dict) -> dict:
    """``value`` as a JSON tree; its tensors go into ``arrays`` (name -> numpy array)."""
    if isinstance(value, torch.Tensor):
        name = f"a{len(arrays)}"
        arrays[name] = value.detach().cpu().numpy().copy()
        return {"tensor": name}
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, int | str):
                raise TypeError(f"state: a dict key of type {type(k).__name__} cannot be stored")
        return {"dict": [[k, encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, list | tuple):  # a subclass (torch.Size, a namedtuple) is kept as its base
        return {"tuple" if isinstance(value, tuple) else "list": [encode(v, arrays) for v in value]}
    if isinstance(value, SCALARS):
        return {"value": value}
    raise TypeError(f"state: a value of type {type(value).__name__} cannot be stored")


def decode(tree: dict, arrays) -> object:
    """The inverse of ``encode``."""
    ((kind, body),) = tree.items()
    if kind == "tensor":
        return torch.from_numpy(np.array(arrays[body], copy=True))
    if kind == "dict":
        return {k: decode(v, arrays) for k, v in body}
    if kind in ("list", "tuple"):
        items = [decode(v, arrays) for v in body]
        return items if kind == "list" else tuple(items)
    if kind == "value":
        return body
    raise ValueError(f"state: unknown entry {kind!r}")


def save(state: dict, folder: Path, stem: str = "checkpoint") -> list[str]:
    """``state`` into ``folder/<stem>.npz`` and ``folder/<stem>.json``; the files' names."""
    arrays: dict = {}
    tree = encode(state, arrays)
    np.savez_compressed(folder / f"{stem}.npz", **arrays)
    (folder / f"{stem}.json").write_text(json.dumps(tree) + "\n")
    return [f"{stem}.npz", f"{stem}.json"]


def load(folder: Path, stem: str = "checkpoint") -> dict:
    """The state ``save`` wrote (``np.load`` with pickles refused)."""
    tree = json.loads((folder / f"{stem}.json").read_text())
    with np.load(folder / f"{stem}.npz", allow_pickle=False) as z:
        return decode(tree, {k: z[k] for k in z.files})
