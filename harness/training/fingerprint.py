"""The training fingerprint: a hash of the code that computes trained numbers, wherever it
lives. A cached run whose fingerprint differs from the current code's is retrained (or, from
the store, flagged); so the hash must change with every edit that can change a trained bit,
and with no other.

What is in (``TRAINED``), and why:

- **pixels**: each copy's reader, which decodes (and, for CelebA, resizes) the images, and the
  order in which a dataset's copies are tried (``DATASETS``);
- **the data door**: ``Datasets.train_data`` and ``prepare``, with the subset, binary pairs,
  random labels, normalisation and App. D's label and input variants, and the patch PCA they
  are built on (Def. 2.1: ``patch_pca`` and its exact integer moments);
- **the models**: VGG, ResNet and the linear CNN, their first layer and its freezing;
- **training**: the run's init seed (its key, so the spec's fields and defaults), the loss,
  the optimizer step, the order of random draws, the numerics, the evaluations, and the steps
  at which the first layer and the history are recorded.

What is out: what only saves, loads, logs or records provenance (the trajectory's state for
continuing, the run cache, the decode cache, progress lines, ``machine()``), and what only
changes speed (``keep_freed_memory``). An edit there marks no run stale; tests check that a
continued run equals one trained in one go, which guards the resume path instead.

Each definition is hashed as its syntax tree without docstrings (comments and formatting are
not in a tree), with references normalised: ``models.build`` and ``build`` read the same, and an
imported name reads as the name it was defined under, so moving a definition to another module
or renaming an import keeps the hash (tests/test_fingerprint.py).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import cache
from pathlib import Path

# (module, definitions): a definition is a top-level function, class or assignment, or
# "Class.member"; "Class.<fields>" is a dataclass's annotated fields with their defaults.
TRAINED = (
    ("harness.data.copies", ("_image_folder", "_torchvision", "_celeba", "_npz", "_resized_folder", "DATASETS",
                             "_CIFAR10_FOLDERS", "copies")),
    ("harness.data.door", ("Datasets.train_data",)),
    ("harness.data.images", ("Images", "subset", "BINARY_PAIRS", "binary", "random_labels", "normalise",
                             "energy_decile_labels", "scale_component", "prepare")),
    ("harness.data.patches", ("extract_patches", "PatchPCA", "patch_covariance", "_float_moments", "EXACT_TERMS",
                              "_uint8_moments", "patch_pca", "pca_from_covariance")),
    ("harness.models", ("VGG_CFG", "_bn_relu", "VGG", "BasicBlock", "ResNet", "LinearCNN", "build", "first_layer",
                        "freeze_first_layer")),
    ("harness.training.spec", ("RunSpec.<fields>", "RunSpec.key")),
    ("harness.training.numerics", ("CUBLAS_WORKSPACE", "new_precision_api", "set_numerics")),
    ("harness.training.train", ("build_model", "evaluate", "SNAPSHOT_EVERY", "LOG_EVERY", "init_seed",
                                "_loss_fn", "train", "evaluate_split")),
)  # fmt: skip


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


class _References(ast.NodeTransformer):
    """A name bound by an import reads as what it names: ``F`` as ``torch.nn.functional``; a
    name of this package as its bare name (``models.build`` and ``build`` read the same)."""

    def __init__(self, names: dict, internal: set):
        self.names, self.internal = names, internal

    def visit_Attribute(self, node):
        if isinstance(node.value, ast.Name) and node.value.id in self.internal:
            return ast.copy_location(ast.Name(id=node.attr, ctx=node.ctx), node)
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.names:
            return ast.copy_location(ast.Name(id=self.names[node.id], ctx=node.ctx), node)
        return node


def _imports(module: ast.Module) -> tuple[dict, set]:
    """{bound name: what it names} of a module's imports, and the names bound from this package."""
    names, internal = {}, set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names |= {a.asname: a.name for a in node.names if a.asname}
        elif isinstance(node, ast.ImportFrom):
            ours = node.level > 0 or (node.module or "").split(".")[0] == "harness"
            for a in node.names:
                bound = a.asname or a.name
                names[bound] = a.name if ours else f"{node.module}.{a.name}"
                if ours:
                    internal.add(bound)
    return names, internal


def _definition(module: ast.Module, name: str) -> ast.AST:
    owner, _, member = name.partition(".")
    for node in module.body:
        names = [node.name] if isinstance(node, ast.FunctionDef | ast.ClassDef) else []
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        if owner not in names:
            continue
        if not member:
            return node
        if member == "<fields>":
            return ast.Module([n for n in node.body if isinstance(n, ast.AnnAssign)], [])
        for inner in node.body:
            if isinstance(inner, ast.FunctionDef) and inner.name == member:
                return inner
    raise LookupError(f"training fingerprint: {name} is not defined where TRAINED says")


def normalised(source: str, name: str) -> str:
    """The definition ``name`` of a module's ``source``, as the fingerprint reads it."""
    module = ast.parse(source)
    node = _References(*_imports(module)).visit(_strip_docstrings(_definition(module, name)))
    return f"{name}={ast.dump(node)}"


def source(module: str) -> str:
    """The text of ``module``, read from its file without importing it."""
    return Path(importlib.util.find_spec(module).origin).read_text()


def of(entries, source=source) -> str:
    """The hash of ``entries`` [(module name, definitions)], in the order of definition names
    (not of modules: a move between modules keeps it); ``source(module)`` is its text."""
    parts = []
    for module, names in entries:
        text = source(module)
        parts += [normalised(text, name) for name in names]
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]


@cache
def fingerprint() -> str:
    """The current training code's fingerprint (``TRAINED``)."""
    return of(TRAINED)
