"""The training fingerprint (harness.training.fingerprint) follows trained bits, not file layout: a
definition moved to another module, an import renamed, a docstring or comment edited keep
it; an edit to the patch PCA or to the pixel decoding changes it."""

from __future__ import annotations

from harness.training import fingerprint

HERE = """
from . import models
from .data import TrainData

def build_model(spec, n):
    \"\"\"A docstring.\"\"\"
    model = models.build(spec.model, n)  # a comment
    return TrainData(model)
"""

MOVED = """
import numpy as np
from harness.models import build
from ..images import TrainData as Data

X = 1

def build_model(spec, n):
    model = build(spec.model, n)
    return Data(model)
"""


def test_a_definition_moved_with_its_imports_renamed_keeps_its_reading():
    assert fingerprint.normalised(HERE, "build_model") == fingerprint.normalised(MOVED, "build_model")


def test_docstrings_and_comments_are_not_read():
    plain = "def f(x):\n    return x + 1\n"
    assert fingerprint.normalised(plain, "f") == fingerprint.normalised(
        'def f(x):\n    """Adds one."""\n    # a comment\n    return x + 1\n', "f"
    )
    assert fingerprint.normalised(plain, "f") != fingerprint.normalised("def f(x):\n    return x + 2\n", "f")
    assert len(fingerprint.fingerprint()) == 16


def test_the_fingerprint_of_a_moved_definition_is_unchanged():
    before = fingerprint.of([("a", ("build_model",))], source={"a": HERE}.get)
    after = fingerprint.of([("b", ("X",)), ("c", ("build_model",))], source={"b": MOVED, "c": MOVED}.get)
    alone = fingerprint.of([("c", ("build_model",))], source={"c": MOVED}.get)
    assert before == alone != after  # the entries, not the modules, make the hash


def test_an_external_alias_reads_as_the_module_it_names():
    a = "import torch.nn.functional as F\ndef f(x):\n    return F.relu(x)\n"
    b = "import torch.nn.functional as G\ndef f(x):\n    return G.relu(x)\n"
    c = "import torch.nn.functional as F\ndef f(x):\n    return F.gelu(x)\n"
    assert fingerprint.normalised(a, "f") == fingerprint.normalised(b, "f") != fingerprint.normalised(c, "f")


def _edited(module: str, old: str, new: str):
    def source(name: str) -> str:
        text = fingerprint.source(name)
        if name == module:
            assert old in text, f"{old!r} not in {module}"
            return text.replace(old, new, 1)
        return text

    return source


def test_the_current_training_code_reads_and_every_entry_is_found():
    assert fingerprint.of(fingerprint.TRAINED) == fingerprint.fingerprint()


def test_editing_the_patch_pca_or_the_pixel_decoding_changes_it():
    now = fingerprint.fingerprint()
    patch_pca = _edited("harness.data.patches", "return pca_from_covariance(cov, mean, count, size, images.shape[1])",
                        "return pca_from_covariance(cov * 1.0, mean, count, size, images.shape[1])")  # fmt: skip
    decoding = _edited("harness.data.copies", ".resize((size, size))", ".resize((size, 32))")
    uint8 = _edited("harness.data.patches", "EXACT_TERMS = 1024", "EXACT_TERMS = 512")
    for source in (patch_pca, decoding, uint8):
        assert fingerprint.of(fingerprint.TRAINED, source) != now


def test_docstrings_comments_saving_and_provenance_keep_it():
    now = fingerprint.fingerprint()
    docstring = _edited("harness.data.patches", "Exact patch PCA (Def. 2.1 / 4.1)", "The exact patch PCA")
    saving = _edited("harness.training.train", '"since": since,', '"since": int(since),')
    provenance = _edited("harness.training.train", '"threads": torch.get_num_threads(),', '"threads": 1,')
    for source in (docstring, saving, provenance):
        assert fingerprint.of(fingerprint.TRAINED, source) == now
