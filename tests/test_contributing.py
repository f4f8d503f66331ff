"""CONTRIBUTING.md's claim example runs as it stands: extracted from the file, run through the
plugin at the smoke scale on a real CIFAR-10 copy, it trains its runs and records a verdict
with its controls."""

import json
import re
from pathlib import Path

import pytest

from harness.data.copies import default_root

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]


def example() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return "\n".join(line[3:] if line.startswith("   ") else line for line in code.splitlines())


def test_the_example_is_one_claim_with_its_controls():
    code = example()
    assert "@pytest.mark.claim(" in code and "conclude(" in code and "profile_controls(" in code
    compile(code, "CONTRIBUTING.md", "exec")


@pytest.mark.skipif(
    not any((default_root() / d).exists() for d in ("cifar-10-batches-py", "cifar10-jpeg", "cifar10-exact")),
    reason="no CIFAR-10 copy under FIRSTLAYER_DATA",
)
def test_the_example_runs_and_records_a_verdict(pytester, tmp_path):
    pytester.makepyfile(test_my_claim=example())
    result = pytester.runpytest_subprocess(
        "-p", "harness.plugin.hooks", "--scale", "smoke", "--data-root", str(default_root()),
        "--run-cache", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "r"),
    )  # fmt: skip
    assert result.ret in (0, 1), result.stdout.str()[-2000:]  # smoke is not judged: only a crash fails
    (row,) = json.loads((tmp_path / "r" / "results.json").read_text())["claims"]
    assert row["claim"] == "seed" and row["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")
    assert row["n"] == 3 and len(row["controls"]) == 4  # noise, earliest, and two structured
