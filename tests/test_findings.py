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


def test_the_training_copy_finding_quotes_its_rows_spectrum_ratio():
    """The copy's lambda_i / exact lambda_i over components 10-26: its own min-max, none when absent."""
    row = {
        "id": "jpeg_copy_spectrum",
        "verdict": "FAIL",
        "measured": 0.976,
        "details": {
            "component 15 (App. D.1, D.2)": 0.35,
            "lambda_i (copy) / lambda_i (exact), components 10-26": [0.68, 0.96, 0.314, 0.5],
            "eq. 3 (exact lambda) fitted with the copy's lambda, t = 30, 90, 300": "[0.97, 0.98, 0.99]",
        },
    }
    line = next(x for x in findings([row]) if "`jpeg_copy_spectrum`" in x)
    assert "lambda_15 is 0.35 of the exact pixels' (components 10-26: 0.31-0.96); eq. 3" in line
    del row["details"]["lambda_i (copy) / lambda_i (exact), components 10-26"]
    line = next(x for x in findings([row]) if "`jpeg_copy_spectrum`" in x)
    assert "exact pixels'; eq. 3 with the exact lambda" in line and "components 10-26" not in line


def test_findings_say_what_the_measure_can_show_from_the_null_pass_rates():
    from harness.measures.nulls import NULL

    rows = [
        {"id": "seed[cifar10]", "verdict": "PASS", "measured": 0.98, "details": {NULL: 0.238}},
        {"id": "formula[cifar10]", "verdict": "INCONCLUSIVE", "measured": 0.93, "details": {NULL: 0.763}},
        {"id": "frozen[vgg11]", "verdict": "INCONCLUSIVE", "measured": 0.0, "details": {}},
    ]
    text = "\n".join(findings(rows))
    assert "`seed[cifar10]` 24%" in text and "`formula[cifar10]` 76%" in text and "frozen" not in text
    assert "structured control" in text
    label = {
        "id": "label_patch[x]",
        "claim": "label_patch",
        "verdict": "FAIL",
        "measured": 0.3,
        "bar": 0.1,
        "details": {"chance (not judged): 95% quantile of the largest |corr| under permuted labels": 0.055},
    }
    assert "against the bar 0.1 (chance at the images' N: 0.055)" in "\n".join(findings([label]))
