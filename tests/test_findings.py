"""harness.report.findings: the report's first notes, built from the rows' own numbers."""

from __future__ import annotations

from harness.report.findings import findings


def test_findings_quote_the_rows_numbers_and_skip_absent_rows():
    rows = [
        {
            "id": "resnet[cifar10]",
            "verdict": "PASS",
            "measured": 0.93,
            "details": {"agreement beyond lambda (partial corr | lambda, log lambda)": 0.61},
        },
        {
            "id": "init[cifar10]",
            "verdict": "PASS",
            "measured": 0.2,
            "details": {
                "trained ~ init (signed), mean": 0.17,
                "init's share of |W|^2, each run": [0.7, 0.72],
                "profile of W ~ W_init's, each run": [0.8, 0.9],
            },
        },
        {"id": "label_patch[cifar10-exact-3x3]", "verdict": "SKIP", "measured": None},
    ]
    text = "\n".join(findings(rows))
    assert "0.93 raw but 0.61" in text and "+0.17" in text and "71%" in text and "+0.85" in text
    assert "label_patch" not in text  # a skipped row gives no line
    assert "sqrt(pi/2 - 1) = 0.76" in text and "alpha lambda_i" in text  # the paper's own, always
