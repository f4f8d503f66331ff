"""harness.report: build() from a synthetic results dict, compare(), and the CLI."""

import copy
import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from harness.report import build, history, words
from harness.report.__main__ import main as report_main
from harness.report.row import Row, RowError

ROOT = Path(__file__).resolve().parents[1]


def claim(cid, verdict, measured=0.95, sd=None, n=None, figures=(), reason=""):
    return {
        "id": cid,
        "nodeid": f"claims/test_x.py::test_{cid}",
        "claim": cid.split("[")[0],
        "title": f"Title of {cid}",
        "source": "Table 1, SEED",
        "dataset": "cifar10",
        "data_source": "data/cifar-10-batches-py",
        "paper": "0.99",
        "measured": measured,
        "sd": sd,
        "n": n,
        "threshold": ">= 0.90 (cpu scale; paper scale >= 0.97)",
        "verdict": verdict,
        "reason": reason,
        "scale": "cpu",
        "device": "cpu",
        "seconds": 12.5,
        "details": {"guard": 0.123456, "note": "a <b>| pipe"},
        "figures": list(figures),
    }


LINES = {
    "kind": "lines",
    "name": "curve",
    "title": "curve",
    "xlabel": "epoch",
    "ylabel": "loss",
    "logy": True,
    "logx": False,
    "series": [
        {"label": "trained", "x": [1, 2, 3], "y": [1.0, 0.5, 0.25], "sd": [0.1, 0.05, 0.02], "style": "solid"},
        {"label": "theory", "x": [1, 2, 3], "y": [1.0, 0.6, 0.3], "sd": None, "style": "dashed"},
    ],
}
HEAT = {
    "kind": "heatmap",
    "name": "corr",
    "title": "corr",
    "xlabel": "j",
    "ylabel": "i",
    "rows": ["a", "b"],
    "cols": ["x", "y", "z"],
    "matrix": [[0.1, -0.5, 0.9], [0.0, 0.3, -1.0]],
    "vmin": None,
    "vmax": None,
}


@pytest.fixture
def results():
    return {
        "meta": {
            "commit": "abc123",
            "date": "2024-01-01T00:00:00",
            "torch": "2.4.0",
            "python": "3.11.9",
            "scale": "cpu",
            "device": "cpu",
            "threads": [1],
            "wall_s": 3723.4,
            "command": "pytest claims/",
        },
        "claims": [
            claim("seed[cifar10]", "PASS", sd=0.012, n=3, figures=[LINES]),
            claim("seed", "DEVIATES", measured=0.8, reason="below paper", figures=[HEAT]),
            claim("eig[imagenet]", "SKIP", measured=None, reason="no ImageNet copy"),
            claim("decorr", "FAIL", measured=float("nan"), reason="guard <tripped>"),
        ],
        "notes": ["Eq. 5 uses 1/lambda where Eq. 7 uses 1/lambda^2"],
    }


def test_build_writes_everything(results, tmp_path):
    results["claims"][0].update(interval=[0.93, 0.97], bar=0.9, part="Table 1")
    paths = build.build(results, tmp_path)
    for key in ("results", "markdown", "html"):
        assert paths[key].is_file()
    assert json.loads(paths["results"].read_text())["claims"][0]["id"] == "seed[cifar10]"
    pngs = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert pngs == ["scorecard.png", "seed-cifar10-curve.png", "seed-corr.png"]
    assert sorted(p.name for p in paths["figures"]) == pngs

    md = paths["markdown"].read_text()
    rows = [line for line in every(md).splitlines() if line.startswith("| ")][1:]  # minus header
    assert len(rows) == len(results["claims"])
    for c in results["claims"]:
        assert sum(f"(`{c['id']}`)" in r for r in rows) == 1
    assert "0.950 [0.930, 0.970] (n=3)" in md and "**DEVIATES**" in md
    assert "not measured (skipped)" in md  # every row says why it has no value
    assert "1 PASS, 1 FAIL, 1 DEVIATES, 0 INCONCLUSIVE, 1 SKIP, 0 ERROR" in md
    assert "![curve](figures/seed-cifar10-curve.png)" in md and "](figures/scorecard.png)" in md
    assert "1/lambda^2" in md and "a <b>\\| pipe" not in md  # details are list items, not cells

    page = paths["html"].read_text()
    table = re.search(r"<table class='claims'.*?</table>", page, re.S).group(0)
    assert table.count("<tr") == len(results["claims"]) + 1
    for c in results["claims"]:
        assert table.count(f"<code>{html.escape(c['id'])}</code>") == 1
    assert page.count("data:image/png;base64,") == 3
    assert "class='v v-FAIL'" in table and "guard</a> &lt;tripped&gt;" in table
    assert "<a class='g' href='#g-guard'>guard</a>" in table and "<dt id='g-guard'>Guard</dt>" in page  # glossary
    assert "<tripped>" not in page and "<b>|" not in page
    assert "http://" not in page and "https://" not in page  # self-contained


def every(md: str) -> str:
    """The report's table of every claim (after the first screen's findings)."""
    return md[md.index("## Every claim") :]


def test_the_first_screen_is_one_row_per_finding_and_one_line_of_skips(results, tmp_path):
    results["claims"][0].update(interval=[0.93, 0.97], bar=0.9, op=">=", part="Table 1", title="Seeds agree")
    results["claims"][1].update(title="Seeds agree", bar=0.9, op=">=")
    results["claims"][2].update(reason="Skipped: dataset 'imagenet' (train) not found (tried x); URLError: <urlopen>")
    paths = build.build(results, tmp_path)
    md = paths["markdown"].read_text()
    first = md[md.index("## Does the paper hold?") : md.index("## Every claim")]
    rows = [line for line in first.splitlines() if line.startswith("| ")][1:]
    assert rows[0].startswith(
        "| Seeds agree | Table 1 | cifar10 | 0.99 | >= 0.90 (cpu scale; paper scale >= 0.97) | 0.950"
    )
    assert rows[1].startswith("|  |  | seed |")  # the same finding's second condition, under it
    assert not any("eig" in r for r in rows)  # skipped: in the one line, not a row
    assert "Not measured, no local copy: imagenet (eig[imagenet])" in first and "URLError" not in md
    page = paths["html"].read_text()
    assert page.index("id='findings'") < page.index("<ul class='meta'>")  # the findings come first
    assert "<details><summary>no local copy of imagenet" in page  # the exception text one click away


def test_every_claim_is_drawn_against_its_bar_right_meaning_it_holds():
    from harness.report.scorecard import margin

    assert margin({"measured": 0.95, "interval": [0.93, 0.97], "bar": 0.9, "op": ">="}) == pytest.approx(
        (0.05, 0.03, 0.07)
    )
    assert margin({"measured": 0.2, "interval": [0.1, 0.3], "bar": 0.4, "op": "<="}) == pytest.approx((0.2, 0.1, 0.3))
    assert margin({"measured": 0.27, "threshold": "C10 ratio <= 0.4 (every example)"}) == pytest.approx((0.13,) * 3)
    assert margin({"measured": None, "bar": 0.9, "op": ">="}) is None


def test_a_rebuild_leaves_no_stale_figure(results, tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "old-claim-fit.png").write_bytes(b"x")
    build.build(results, tmp_path)
    assert not (tmp_path / "figures" / "old-claim-fit.png").exists()


def test_claims_follow_the_papers_order(results, tmp_path):
    results["meta"]["order"] = ["eig", "decorr", "seed"]
    md = build.build(results, tmp_path)["markdown"].read_text()
    rows = [line for line in every(md).splitlines() if line.startswith("| ")][1:]
    assert [r.split("`")[1] for r in rows] == ["eig[imagenet]", "decorr", "seed[cifar10]", "seed"]


def test_history_draws_the_claims_that_moved_in_one_figure(results, tmp_path):

    file = tmp_path / "history.csv"
    for value in (0.95, 0.93):
        results["claims"][0]["measured"] = value
        results["meta"]["date"] = f"2024-01-0{int(value * 100) - 90}"
        history.append(results, file)
    past = history.load(file, "cpu")
    assert len(history.runs(past)) == 2
    paths = build.build(results, tmp_path / "out", file)
    assert [p.name for p in paths["figures"] if p.name == "history.png"] == ["history.png"]
    assert not any("trend" in p.name for p in paths["figures"])
    assert history.moved(past, ["seed[cifar10]", "seed"]) == ["seed[cifar10]"]  # the other did not move
    assert "## History" in paths["markdown"].read_text()
    old = history.results_of(past, "0")
    assert {c["id"]: c["measured"] for c in old["claims"]}["seed[cifar10]"] == 0.95


def _history(results, file, runs):
    """Append one full run a (date, machine, threads, commit, verdict of seed[cifar10]) to ``file``."""
    for date, machine, threads, commit, verdict in runs:
        results["meta"].update(date=date, machine=machine, threads=threads, commit=commit)
        results["claims"][0]["verdict"] = verdict
        history.append(results, file)
    return history.load(file, "cpu")


AMD, INTEL = "AMD EPYC, 2 cores", "Intel Xeon, 2 cores"


def test_a_verdict_that_differs_by_machine_within_one_commit_is_said_in_the_report(results, tmp_path):
    """One commit's runs share code and rules: where the newest run of each machine and thread
    count differ in verdict, the report names the machines and the commit; absent where they agree."""

    file = tmp_path / "history.csv"
    past = _history(results, file, [
        ("2024-01-01", AMD, [1], "aaa1111", "INCONCLUSIVE"),  # older: not the newest AMD run
        ("2024-01-02", AMD, [1], "aaa1111", "PASS"),
        ("2024-01-03", INTEL, [1], "aaa1111", "INCONCLUSIVE"),
        ("2024-01-04", INTEL, [2], "aaa1111", "PASS"),  # the same Intel, two threads
    ])  # fmt: skip
    said = history.across_machines(past, "seed[cifar10]")
    assert said == (
        f"differs by machine or thread count at commit aaa1111: {AMD}, 1 thread: PASS 0.950; "
        f"{INTEL}, 1 thread: INCONCLUSIVE 0.950; {INTEL}, 2 threads: PASS 0.950"
    )
    assert "method" not in said  # one commit: no change of method
    assert history.across_machines(past, "seed") is None  # DEVIATES on every run
    md = build.build(results, tmp_path / "out", file)["markdown"].read_text()
    assert md.count("verdict in the history's clean runs") == 1 and said in md
    assert said in (tmp_path / "out" / "report.html").read_text()
    one = past.query(f"machine == '{AMD}'")
    assert history.across_machines(one, "seed[cifar10]") is None  # one machine, one commit: nothing to say


def test_a_verdict_that_differs_across_commits_is_the_methods_not_the_machines(results, tmp_path):
    """Runs of different commits differ in code or rules: their verdicts are not set against each
    other as the machine's; the change is named at the commit that began the newest verdict."""

    file = tmp_path / "history.csv"
    past = _history(results, file, [
        ("2024-01-01", AMD, [1], "aaa1111", "PASS"),
        ("2024-01-02", INTEL, [1], "aaa1111", "PASS"),
        ("2024-01-03", AMD, [1], "bbb2222", "INCONCLUSIVE"),  # the method changed the verdict here
        ("2024-01-04", INTEL, [1], "ccc3333", "INCONCLUSIVE"),
    ])  # fmt: skip
    said = history.across_machines(past, "seed[cifar10]")
    assert said == "changed with the method at commit bbb2222: PASS 0.950 at aaa1111, INCONCLUSIVE 0.950 from bbb2222"
    assert "machine" not in said
    agree = past[past["commit"] != "aaa1111"]  # AMD at bbb2222, Intel at ccc3333: one verdict
    assert history.across_machines(agree, "seed[cifar10]") is None
    past = _history(results, file, [("2024-01-05", INTEL, [2], "ddd4444", "PASS")])
    said = history.across_machines(past, "seed[cifar10]")
    assert said == (
        "changed with the method at commit ddd4444: INCONCLUSIVE 0.950 at ccc3333, PASS 0.950 from ddd4444"
        " (run on another machine or thread count too)"
    )
    past = _history(results, file, [("2024-01-06", AMD, [1], "ddd4444", "INCONCLUSIVE")])
    said = history.across_machines(past, "seed[cifar10]")  # ddd4444's runs disagree: the machines'
    assert said == (
        f"differs by machine or thread count at commit ddd4444: {INTEL}, 2 threads: PASS 0.950; "
        f"{AMD}, 1 thread: INCONCLUSIVE 0.950. changed with the method at commit bbb2222: PASS 0.950 at "
        "aaa1111, INCONCLUSIVE 0.950 from bbb2222"  # the commits whose runs agree
    )


def test_only_judged_clean_runs_count_as_a_machine_difference(results, tmp_path):
    """A SKIP or ERROR on one machine, or a dirty working tree, says nothing of the numbers: no
    difference; nor is one drawn from a history of all scales (a results dict without one)."""

    file = tmp_path / "history.csv"
    for machine, verdict, dirty in (
        ("AMD EPYC, 2 cores", "PASS", False),
        ("Intel Xeon, 2 cores", "SKIP", False),
        ("Arm, 2 cores", "ERROR", False),
        ("Zen 5, 2 cores", "FAIL", True),
    ):
        results["meta"].update(machine=machine, commit="aaa1111", dirty=dirty)
        results["claims"][0]["verdict"] = verdict
        history.append(results, file)
    assert history.across_machines(history.load(file, "cpu"), "seed[cifar10]") is None
    results["meta"].update(machine="Zen 5, 2 cores", dirty=False)
    results["claims"][0]["verdict"] = "FAIL"
    history.append(results, file)
    assert "Zen 5, 2 cores, 1 thread: FAIL" in history.across_machines(history.load(file, "cpu"), "seed[cifar10]")
    results["meta"].pop("scale")
    md = build.build(results, tmp_path / "out", file)["markdown"].read_text()
    assert "verdict in the history" not in md


def test_a_history_written_before_the_threads_column_gains_it(results, tmp_path):
    """The committed history predates ``threads``: appending rewrites it with the column, its
    old rows "threads not recorded", nothing lost."""

    file = tmp_path / "history.csv"
    history.append(results, file)
    old = pd.read_csv(file).drop(columns="threads")
    old.to_csv(file, index=False)
    results["meta"].update(commit="new1111", threads=[1, 2])
    history.append(results, file)
    back = history.load(file)
    assert back.columns.tolist() == list(history.COLUMNS) and len(back) == 2 * len(results["claims"])
    assert back["threads"].isna().sum() == len(results["claims"]) and set(back["threads"].dropna()) == {"1,2"}
    assert back[old.columns].iloc[: len(old)].astype(str).equals(old.astype(str))


def test_compare_flags_flip_and_ignores_unchanged(results):
    new = copy.deepcopy(results)
    new["claims"][0].update(verdict="FAIL", measured=0.5)
    rows = build.compare(results, new)  # NaN == NaN and None == None count as unchanged
    assert [(r["id"], r["old"], r["new"], r["flipped"]) for r in rows] == [("seed[cifar10]", "PASS", "FAIL", True)]
    assert build.compare(results, copy.deepcopy(results)) == []


def test_compare_measured_change_and_presence(results):
    new = copy.deepcopy(results)
    new["claims"][1]["measured"] = 0.81  # DEVIATES stays DEVIATES
    del new["claims"][2]  # SKIP disappears
    new["claims"].append(claim("new[pass]", "PASS"))  # PASS appears
    rows = {r["id"]: r for r in build.compare(results, new)}
    assert set(rows) == {"seed", "eig[imagenet]", "new[pass]"}
    assert not rows["seed"]["flipped"] and rows["seed"]["new_measured"] == 0.81
    assert not rows["eig[imagenet]"]["flipped"] and rows["eig[imagenet]"]["status"] == "not run"
    assert not rows["new[pass]"]["flipped"] and rows["new[pass]"]["status"] == "new"
    assert rows["seed"]["status"] == "changed"


def test_check_flags_errors_and_empty_runs(results, tmp_path):
    ok = write(tmp_path / "ok.json", results)
    assert report_main(["--check", ok]) == 0
    broken = copy.deepcopy(results)
    broken["claims"][0]["verdict"] = "ERROR"
    assert report_main(["--check", write(tmp_path / "bad.json", broken)]) == 1
    assert report_main(["--check", write(tmp_path / "empty.json", {"claims": []})]) == 1


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def test_main_compare_exit_codes(results, tmp_path, capsys):
    old = write(tmp_path / "old.json", results)
    assert report_main(["--compare", old, old]) == 0
    assert "flipped: 0" in capsys.readouterr().out
    flipped = copy.deepcopy(results)
    flipped["claims"][0]["verdict"] = "FAIL"
    new = write(tmp_path / "new.json", flipped)
    assert report_main(["--compare", old, new]) == 1
    out = capsys.readouterr().out
    assert "seed[cifar10]" in out and "flipped: 1" in out


def test_main_rebuilds_report(results, tmp_path, capsys):
    src = write(tmp_path / "in.json", results)
    assert report_main(["--results", src, "--out", str(tmp_path / "out")]) == 0
    assert str(tmp_path / "out" / "report.html") in capsys.readouterr().out
    assert (tmp_path / "out" / "figures" / "seed-corr.png").is_file()


@pytest.mark.parametrize("content", [None, "not json {", '["a list"]'])
def test_main_bad_input_exits_2(tmp_path, capsys, content):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    assert report_main(["--results", str(path), "--out", str(tmp_path)]) == 2
    assert report_main(["--compare", str(path), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_cli_module_entry_point(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "harness.report", "--results", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


def test_header_says_how_the_runs_read_were_trained():
    """A warm report (every run read from the cache) still says how long its runs trained and at
    what rate, from the runs' own records, so a rejudged report is not taken for a cold one."""
    meta = {
        "runs": {
            "trained": 0,
            "read": 2,
            "train_s": 0,
            "read_made": {"train_s": 3723.0, "rates": [480, 1020], "machines": ["AMD EPYC, 2 cores"]},
        }
    }
    runs = dict(words.header(meta))["runs"]
    assert runs.startswith("0 trained by this run (0:00:00), 2 read from the run cache: warm")
    assert "had trained 1:02:03 at 480-1,020 images/s a worker on AMD EPYC, 2 cores" in runs
    assert "had trained" not in dict(words.header({"runs": {"trained": 2, "read": 0, "train_s": 5}}))["runs"]


def test_a_fail_names_what_failed_when_its_shown_value_did_not():
    row = {
        "verdict": "FAIL",
        "measured": 0.036,
        "conditions": [
            "FAIL: lowest train accuracy at the judged step 0.947 >= 0.99 (premise)",
            "FAIL: max corr with lambda (guard) 0.957 <= 0.775",
            "INCONCLUSIVE: energy ~ random: most - least 0.036 [-0.008, 0.080] (3 runs) > 0",
        ],
    }
    assert words.failed_on(row) == "max corr with lambda (guard)"  # the premise is not named
    shown = {**row, "conditions": ["FAIL: formula fit 0.861 [0.839, 0.880] (3 seeds) >= 0.91"], "measured": 0.861}
    assert words.failed_on(shown) == "" and words.failed_on({**row, "verdict": "PASS"}) == ""


def test_a_results_file_renders_the_same_whatever_fixtures_say(tmp_path, monkeypatch):
    """A row carries its bar's derivation and models, and the meta its copies' notes: a page
    rendered after paper.toml and scales.toml changed is byte for byte the
    page rendered before."""
    from harness.config import paper

    results = json.loads((ROOT / "reports" / "cpu" / "results.json").read_text())
    before = build.build(results, tmp_path / "before")
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    for name in ("paper.toml", "scales.toml", "changes.toml"):
        text = (ROOT / "fixtures" / name).read_text()
        (fixtures / name).write_text(text.replace("0.99", "0.55").replace("width = 0.25", "width = 0.5"))
    monkeypatch.setattr(paper, "FIXTURES", fixtures)
    paper.fixture_table.cache_clear()
    try:
        (seed,) = [c for c in results["claims"] if c["id"] == "seed[cifar10]"]
        assert paper.bar_text("seed", "cifar10") != seed["bar_derivation"]  # the edited table is read
        after = build.build(results, tmp_path / "after")
    finally:
        monkeypatch.undo()
        paper.fixture_table.cache_clear()
    for kind in ("markdown", "html"):
        assert after[kind].read_bytes() == before[kind].read_bytes()


def test_a_row_is_one_typed_record_and_an_unknown_field_is_one_line():
    row = Row.from_json({"id": "seed[cifar10]", "nodeid": "n", "claim": "seed", "verdict": "PASS", "bar": 0.9})
    assert row.bar == 0.9 and row.to_json()["bar"] == 0.9 and "judged" not in row.to_json()
    with pytest.raises(RowError, match="unknown field"):
        Row.from_json({"id": "x", "nodeid": "n", "claim": "seed", "colour": "red"})


@pytest.mark.parametrize("name", ["converged", "cpu-appendix", "cpu-binary", "cpu-datasets", "cpu-depth"])
def test_a_committed_report_is_what_its_template_renders(name, tmp_path):
    """The pages' shape lives in harness/report/templates: a committed report (last rendered by
    the code before the templates, then migrated) renders byte for byte the same through them
    (the embedded PNGs aside: their bytes are matplotlib's). The cpu page is left out: a local
    full run appends to its history, and so to its page."""
    folder = ROOT / "reports" / name
    out = build.build(build.load(folder / "results.json"), tmp_path, ROOT / "reports" / "history.csv")
    assert out["markdown"].read_text() == (folder / "report.md").read_text()
    png = re.compile(r'src="data:image/png;base64,[^"]*"')
    assert png.sub("", out["html"].read_text()) == png.sub("", (folder / "report.html").read_text())
