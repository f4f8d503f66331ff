"""The history of full runs: every full ``pytest claims/`` appends its rows (verdict, measured
value and interval) with the run's commit, date, scale, torch/torchvision versions, machine and
the thread counts that trained its runs to ``history.csv`` beside the report folders. The
report draws each claim's value over past runs (the nightly trend), and ``--compare`` can take
any past run as the reference."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from harness.report.scorecard import bar_of

COLUMNS = (
    "run", "commit", "dirty", "date", "scale", "torch", "torchvision", "machine", "threads", "cold",
    "id", "verdict", "measured", "lo", "hi",
)  # fmt: skip


def _threads(meta: dict) -> str | None:
    """The run's training thread counts as one field ("1", "1,2"); None where not recorded."""
    t = meta.get("threads")
    t = [t] if isinstance(t, int) else t or []
    return ",".join(map(str, t)) or None


def rows_of(results: dict) -> pd.DataFrame:
    """One history row per claim of a results dict."""
    meta = results.get("meta") or {}
    run = f"{meta.get('date', '?')} {meta.get('commit', '?')}"
    out = []
    for c in results.get("claims", []):
        lo, hi = (c.get("interval") or [None, None])[:2]
        out.append(
            {
                "run": run,
                "commit": meta.get("commit"),
                "dirty": meta.get("dirty"),
                "date": meta.get("date"),
                "scale": meta.get("scale"),
                "torch": meta.get("torch"),
                "torchvision": meta.get("torchvision"),
                "machine": meta.get("machine"),
                "threads": _threads(meta),
                "cold": (meta.get("runs") or {}).get("trained", 0) > 0,
                "id": c["id"],
                "verdict": c.get("verdict"),
                "measured": c.get("measured"),
                "lo": lo,
                "hi": hi,
            }
        )
    return pd.DataFrame(out, columns=list(COLUMNS))


def append(results: dict, file: Path) -> None:
    """Append a full run's rows to ``file`` (created with its header when absent). A history
    written before a column was added is rewritten with it (empty in its old rows)."""
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    new = rows_of(results)
    if file.exists() and pd.read_csv(file, nrows=0).columns.tolist() != list(COLUMNS):
        old = load(file)
        tmp = file.with_suffix(".csv.tmp")
        pd.concat([old, new]).to_csv(tmp, index=False)
        tmp.replace(file)
        return
    new.to_csv(file, mode="a", header=not file.exists(), index=False)


def load(file: Path, scale: str | None = None) -> pd.DataFrame:
    """The history (of one scale), oldest run first; empty when there is none."""
    file = Path(file)
    if not file.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    df = pd.read_csv(file, dtype={"threads": str}).reindex(columns=list(COLUMNS))
    return df[df["scale"] == scale] if scale else df


def runs(df: pd.DataFrame) -> list[str]:
    """The runs of a history, oldest first."""
    return list(dict.fromkeys(df["run"]))


def results_of(df: pd.DataFrame, ref: str) -> dict:
    """A past run as a results dict (for ``compare``): ``ref`` is a run's index (0 the oldest,
    -1 the newest) or a prefix of its date or commit."""
    names = runs(df)
    try:
        name = names[int(ref)]
    except (ValueError, IndexError):
        hits = [n for n in names if n.startswith(ref) or n.split(" ")[-1].startswith(ref)]
        if not hits:
            raise KeyError(f"no run '{ref}' in the history ({len(names)} runs)") from None
        name = hits[-1]
    sel = df[df["run"] == name]
    claims = [
        {"id": r.id, "verdict": r.verdict, "measured": None if pd.isna(r.measured) else float(r.measured)}
        for r in sel.itertuples()
    ]
    return {"meta": {"run": name}, "claims": claims}


JUDGED = ("PASS", "FAIL", "DEVIATES", "INCONCLUSIVE")


def across_machines(df: pd.DataFrame, claim_id: str) -> str | None:
    """One claim's verdict over the history's clean runs, where it differs: by machine or thread
    count, or with the method.

    A history row records the run's commit, not its training fingerprint or a hash of the rules
    (fixtures/paper.toml), so only one commit's runs share code and rules: a difference between
    them is put down to the machine or thread count (on the CPU both set the order of the sums,
    oneDNN's kernels by CPU kind and the split of a reduction by threads; docs/reproducibility.md),
    as said for the newest commit whose runs differ, with the newest run of each machine and count.
    Across commits the verdict changed with the method: the commits in the order of their first
    run, each with its runs' verdict where they agree, and the commit that began the newest
    verdict (the oldest of the newest commits with it) named against the one before; where those
    two commits ran on no common machine and thread count the line says so, for then the machine
    may have changed it too.

    Only judged verdicts count (a SKIP or ERROR says nothing of the numbers), only committed code
    (``dirty`` rows and an unknown commit are left out) and only the newest row's torch version.
    Rows written before the history had threads say "threads not recorded". ``None`` when nothing
    differs."""
    if "machine" not in df or df.empty:
        return None
    sel = df[(df["id"] == claim_id) & df["verdict"].isin(JUDGED) & (df["dirty"].astype(str) != "True")]
    sel = sel[sel["commit"].notna() & (sel["commit"].astype(str) != "uncommitted")]
    if sel.empty:
        return None
    sel = sel[sel["torch"] == sel["torch"].iloc[-1]]
    said = [s for s in (_by_machine(sel), _by_method(sel)) if s]
    return ". ".join(said) or None


def _value(v) -> str:
    return "" if pd.isna(v) else f" {v:.3f}"


def _where(r) -> str:
    t = r.threads
    return f"{r.machine}, " + ("threads not recorded" if pd.isna(t) else f"{t} thread{'s' * (str(t) != '1')}")


def _by_machine(sel: pd.DataFrame) -> str | None:
    """The newest commit whose newest runs on each machine and thread count differ in verdict."""
    for commit in reversed(list(dict.fromkeys(sel["commit"]))):
        newest = sel[sel["commit"] == commit].groupby(["machine", "threads"], sort=False, dropna=False).tail(1)
        if newest["verdict"].nunique() > 1:
            each = "; ".join(f"{_where(r)}: {r.verdict}{_value(r.measured)}" for r in newest.itertuples())
            return f"differs by machine or thread count at commit {commit}: {each}"
    return None


def _by_method(sel: pd.DataFrame) -> str | None:
    """The commit that began the newest verdict, against the commit before it; commits whose
    runs disagree among themselves (``_by_machine``'s) are left out."""
    commits = [g for _, g in sel.groupby("commit", sort=False) if g["verdict"].nunique() == 1]
    if len(commits) < 2:
        return None
    verdicts = [g["verdict"].iloc[-1] for g in commits]
    k = len(commits) - 1
    while k > 0 and verdicts[k - 1] == verdicts[-1]:
        k -= 1
    if k == 0:
        return None
    old, new = commits[k - 1].iloc[-1], commits[k].iloc[-1]
    runs_of = lambda g: set(zip(g["machine"].astype(str), g["threads"].astype(str), strict=True))  # noqa: E731
    also = "" if runs_of(commits[k - 1]) & runs_of(commits[k]) else " (run on another machine or thread count too)"
    return (
        f"changed with the method at commit {new.commit}: {old.verdict}{_value(old.measured)} at {old.commit}, "
        f"{new.verdict}{_value(new.measured)} from {new.commit}{also}"
    )


MOVED = 1e-3  # a claim whose value moved less than this over the runs is left out of the figure


def moved(df: pd.DataFrame, claim_ids) -> list[str]:
    """The claims (in the given order) with two or more measured runs whose value moved by more
    than ``MOVED``."""
    out = []
    for cid in claim_ids:
        v = df.loc[df["id"] == cid, "measured"].dropna()
        if len(v) >= 2 and float(v.max() - v.min()) > MOVED:
            out.append(cid)
    return out


def short_machine(name: str) -> str:
    """'AMD EPYC (family 26, model 2, AVX-512), 2 cores' -> 'AMD f26'; 'Intel(R) Xeon(R) ...' -> 'Intel'."""
    brand = "AMD" if "AMD" in str(name) else "Intel" if "Intel" in str(name) else str(name).split(",")[0][:10]
    m = re.search(r"family (\d+)", str(name))
    return brand + (f" f{m.group(1)}" if m else "")


def threads_of(t) -> str:
    return "threads ?" if pd.isna(t) or str(t) in ("", "nan") else f"{t} thr"


def small_multiples(df: pd.DataFrame, claims: list[dict], path: Path, colours: dict, style: dict) -> Path | None:
    """One panel a claim whose value moved beyond ``MOVED`` over the history's full runs: its
    value with its 95% interval at each run (coloured by verdict), the bar as a line, a y range
    of at least 0.1 so that noise does not look like a cliff, and each run named on the x axis by
    date, CPU and threads."""
    import matplotlib
    from matplotlib.figure import Figure

    ids = moved(df, [c["id"] for c in claims])
    if not ids:
        return None
    by_id = {c["id"]: c for c in claims}
    names = runs(df)
    cols = 3
    rows_ = (len(ids) + cols - 1) // cols
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(4.2 * cols, 2.6 * rows_ + 0.6), layout="constrained")
        for k, cid in enumerate(ids):
            ax = fig.add_subplot(rows_, cols, k + 1)
            sel = df[df["id"] == cid].dropna(subset=["measured"])
            x = [names.index(r) for r in sel["run"]]
            for xi, r in zip(x, sel.itertuples(), strict=True):
                colour = colours.get(r.verdict, "#444")
                if not pd.isna(r.lo):
                    ax.plot([xi, xi], [r.lo, r.hi], color=colour, lw=2, alpha=0.6)
                ax.plot(xi, r.measured, "o", color=colour, ms=4)
            found = bar_of(by_id[cid])
            ys = [*sel["measured"], *sel["lo"].dropna(), *sel["hi"].dropna()]
            if found:
                ax.axhline(found[1], color="k", lw=1, ls="--")
                ys.append(found[1])
            lo, hi = min(ys), max(ys)
            pad = max(0.05, 0.1 * (hi - lo))
            mid = (lo + hi) / 2
            half = max((hi - lo) / 2 + pad, 0.05)
            ax.set_ylim(mid - half, mid + half)
            ax.set_title(cid, fontsize=9)
            ticks = [f"{r.date[5:10]} {short_machine(r.machine)} {threads_of(r.threads)}" for r in sel.itertuples()]
            ax.set_xticks(x, ticks, fontsize=6, rotation=90)
        fig.suptitle(f"Values over the full runs of this scale that moved by more than {MOVED:g} "
                     "(o: value, line: 95% interval, dashed: today's bar; colour: verdict)", fontsize=9)  # fmt: skip
        fig.savefig(path)
    return path
