"""The README's result table is made from the committed reports (harness.report.readme) and stays so."""

from __future__ import annotations

import pytest

from harness.report import readme


def claim(id_, verdict, measured=None, interval=None, **kw):
    family = id_.split("[")[0]
    return {
        "id": id_,
        "claim": family,
        "title": kw.pop("title", family),
        "part": "Table 1",
        "paper": kw.pop("paper", "0.99"),
        "verdict": verdict,
        "measured": measured,
        "interval": interval,
        **kw,
    }


def test_the_committed_readme_table_is_the_reports_own():
    assert readme.main(["--check"]) == 0, "run: python -m harness.report.readme"


def test_each_row_comes_from_the_first_report_that_measured_it_with_its_scale_named():
    found = {
        "cpu": {
            "claims": [
                claim("seed[cifar10]", "PASS", 0.983, [0.968, 0.991]),
                claim("seed[cifar100]", "SKIP", reason="Skipped: dataset 'cifar100' (train) not found"),
                claim("seed[celeba]", "SKIP", reason="Skipped: dataset 'celeba' (train) not found"),
            ],
            "meta": {"date": "2026-12-05T00:00:00", "machine": "AMD EPYC, 2 cores", "wall_s": 60, "runs": {}},
        },
        "cpu-datasets": {
            "claims": [
                claim("seed[cifar10]", "FAIL", 0.5, [0.4, 0.6]),  # the same runs: the cpu report's row is shown
                claim("seed[cifar100]", "INCONCLUSIVE", 0.97, [0.95, 0.98], paper="0.97"),
                claim("seed[celeba]", "SKIP", reason="Skipped: dataset 'celeba' (train) not found"),
            ]
        },
        "converged": {"claims": [claim("seed[cifar10]", "PASS", 0.994)]},
    }
    block = readme.table(found)
    (row,) = [line for line in block.splitlines() if line.startswith("| seed |")]
    assert (
        "cifar10: 0.983 [0.968, 0.991] **PASS**<br>cifar100: 0.970 [0.950, 0.980] **INCONCLUSIVE** (cpu-datasets;"
        in row
    )
    assert "paper 0.97)" in row and row.endswith("| 0.994 |") and "0.500" not in row
    assert "Not measured, no local copy: celeba (seed[celeba])." in block
    assert "- [cpu](cpu/report.md): 2026-12-05, AMD EPYC, 2 cores, cold in 0:01:00" in readme.scales_page(found)


def test_a_readme_without_the_markers_is_one_clear_error(tmp_path):
    (tmp_path / "README.md").write_text("# x\n")
    with pytest.raises(ValueError, match="no result-table markers"):
        readme.rewrite(tmp_path / "README.md", "block")


def test_the_scales_page_sets_each_scale_beside_the_others():
    found = {
        "cpu": {"claims": [claim("seed[cifar10]", "INCONCLUSIVE", 0.98, [0.94, 0.99])]},
        "cpu-datasets": {
            "claims": [
                claim("seed[cifar10]", "INCONCLUSIVE", 0.98, [0.94, 0.99]),
                claim("seed[cifar100]", "FAIL", 0.5, [0.4, 0.6]),
            ]
        },
        "converged": {"claims": [claim("seed[cifar10]", "PASS", 0.994)]},
    }
    page = readme.scales_page(found)
    assert (
        "| [cpu](cpu/report.md) | [cpu-datasets](cpu-datasets/report.md) | [converged](converged/report.md) |" in page
    )
    (c10,) = [line for line in page.splitlines() if "| cifar10 |" in line]
    assert c10.count("0.980 [0.940, 0.990] **INCONCLUSIVE**") == 2 and c10.endswith("| 0.994 **PASS** |")
    (c100,) = [line for line in page.splitlines() if "| cifar100 |" in line]
    assert c100.startswith("|  | cifar100 |  | 0.500 [0.400, 0.600] **FAIL** |")  # the finding named once
