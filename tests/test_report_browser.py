"""The HTML report as a person sees it: rendered by a real headless Chromium at 1280 px, it
has no word broken across lines or sticking out of its cell, every image loads, and no path
of the machine that made it. Skips (one line) where Chromium is not installed; .ci/run
installs it."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.report import build, scorecard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)")

PROBE = """
<script>
(() => {
  const out = {broken: [], overflow: [], images: [], paths: [], reprs: []};
  for (const cell of document.querySelectorAll('td, th')) {
    if (cell.scrollWidth > cell.clientWidth + 1) out.overflow.push(cell.textContent.slice(0, 60));
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g; let m;
      while ((m = re.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) out.broken.push(m[0]);
      }
    }
  }
  out.wide = document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;  // a sideways scroll
  const table = document.getElementById('findings');
  if (table) { const r = table.getBoundingClientRect(); out.findings = {top: r.top, bottom: r.bottom}; }
  for (const cell of document.querySelectorAll('td, th'))  // a Python repr or an exception, visible
    if (/\\{'|\\['|[:=] (True|False|None)\\b|Traceback|Error:|<urlopen/.test(cell.innerText))
      out.reprs.push(cell.innerText.slice(0, 80));
  for (const img of document.images) if (!(img.complete && img.naturalWidth > 0)) out.images.push(img.alt);
  const text = document.body.innerText;
  const found = text.match(/(^|[\\s(])\\/(home|root|work|tmp|Users|usr|var|opt|mnt)\\/\\S*/g);
  if (found) out.paths = found;
  const pre = document.createElement('pre'); pre.id = 'layout'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);  // as text: a word like '<data' must not become a tag
})();
</script>
"""


def render(page: str, tmp_path, size: str = "1280,2000") -> dict:
    """Open ``page`` in headless Chromium (1280 px wide) and return what the probe found."""
    file = tmp_path / "probe.html"
    file.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         f"--window-size={size}", "--virtual-time-budget=5000", "--dump-dom", file.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    ).stdout  # fmt: skip
    found = re.findall(r'<pre id="layout">(\{.*?\})</pre>', dom, re.S)  # the probe's output, not its source
    assert found, "Chromium rendered nothing"
    return json.loads(html.unescape(found[-1]))


def results(**row) -> dict:
    base = {
        "id": "random_labels[cifar10]",
        "claim": "random_labels",
        "part": "Table 2",
        "title": "True and random labels give the same profile, far from init",
        "source": "Table 2",
        "dataset": "cifar10",
        "paper": "0.90 ± 0.02 (random v init 0.03 ± 0.22)",
        "measured": 0.944,
        "interval": [0.93, 0.96],
        "n": 6,
        "threshold": "true ~ random >= 0.85",
        "bar": 0.85,
        "verdict": "PASS",
        "reason": "train accuracy at the judged step 1.000 >= 0.99; max corr with lambda (guard) 0.47 <= 0.775",
        "details": {"random-label train accuracy at the judged step": [1.0, 1.0]},
        "figures": [
            {"kind": "lines", "name": "p", "title": "profiles", "series": [{"label": "a", "x": [0, 1], "y": [1, 2]}]}
        ],
    }
    skip = {**base, "id": "seed[cifar100]", "verdict": "SKIP", "measured": None, "interval": None, "figures": [],
            "reason": "Skipped: dataset 'cifar100' (train) not found: tried <data root>/cifar-100-python"}  # fmt: skip
    return {
        "meta": {"commit": "abc", "scale": "cpu", "order": ["seed", "random_labels"]},
        "claims": [{**base, **row}, skip],
    }


def test_the_report_reads_well_in_a_browser(tmp_path):
    page = build.build(results(), tmp_path)["html"].read_text()
    found = render(page, tmp_path)
    assert {k: v for k, v in found.items() if k != "findings"} == {
        "broken": [], "overflow": [], "images": [], "paths": [], "reprs": [], "wide": False
    }  # fmt: skip


REFERENCE = Path(__file__).resolve().parents[1] / "reports" / "cpu" / "results.json"


@pytest.mark.skipif(not REFERENCE.exists(), reason="no committed reports/cpu/results.json")
def test_the_first_screen_of_the_reference_report_holds_every_finding(tmp_path):
    """reports/cpu re-rendered and opened at 1400x900: the findings table, with every finding
    measured, ends within the first screen; no visible cell shows a repr or an exception."""
    results = json.loads(REFERENCE.read_text())
    page = build.build(results, tmp_path / "r")["html"].read_text()
    found = render(page, tmp_path, "1400,900")
    assert found["findings"]["bottom"] <= 900, found["findings"]
    assert found["reprs"] == [] and found["images"] == [] and found["paths"] == [] and not found["wide"]
    for f in scorecard.finding_rows(results["claims"]):
        assert html.escape(f["title"]) in page.split("id='findings'")[1].split("</table>")[0]


def test_the_probe_catches_broken_words_missing_images_and_machine_paths(tmp_path):
    """The probe's negative control: the old CSS (overflow-wrap:anywhere) in a narrow column,
    an image that does not load and an absolute path are each caught."""
    page = build.build(results(reason="see /work/shared/datasets/cifar10 for details"), tmp_path)["html"].read_text()
    squeeze = "td,th{overflow-wrap:anywhere!important;min-width:0!important}table{width:500px!important}"
    page = page.replace("</style>", squeeze + "</style>")
    page = page.replace('<img alt="profiles" src="data:image/png;base64,', '<img alt="profiles" src="missing.png#')
    found = render(page, tmp_path)
    assert found["broken"] and found["images"] == ["profiles"] and found["paths"]
