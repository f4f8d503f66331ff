"""The report's glossary: the terms of docs/method.md's Glossary (its one source), and the
links from those terms, where a report's cells use them, to their definitions."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

METHOD = Path(__file__).resolve().parents[2] / "docs" / "method.md"
TERM = re.compile(r"^- \*\*(?P<term>[^*]+)\*\*(?P<rest>.*)$")


# The words of a report cell that name a glossary term (lower case), longest first; the term's
# own spelling in the glossary where the cell says it otherwise.
ALIASES = {"controls": "control", "c10": "c(delta)", "energy profiles": "energy profile", "premises": "premise"}


@cache
def entries(path: Path = METHOD) -> tuple[tuple[str, str], ...]:
    """((term, definition), ...) of the ``## Glossary`` section of ``path``; none without it."""
    if not path.exists():
        return ()
    text = path.read_text(encoding="utf-8")
    body = text.split("## Glossary", 1)[1] if "## Glossary" in text else ""
    out: list[list[str]] = []
    for line in body.splitlines():
        if line.startswith("## "):
            break
        m = TERM.match(line)
        if m:
            out.append([m["term"].strip(), m["rest"].lstrip(" :").strip()])
        elif out and line.startswith("  "):
            out[-1][1] += " " + line.strip()
    return tuple((t, d) for t, d in out)


def anchor(term: str) -> str:
    return "g-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


@cache
def _words() -> tuple[dict[str, str], re.Pattern | None]:
    """({lower-case word in a cell: its term's anchor}, the pattern that finds them, longest
    first), built once for every cell of a report."""
    terms = {t.split(" / ")[0].lower(): anchor(t) for t, _ in entries()}
    words = dict(terms)
    words.update({alias: terms[target] for alias, target in ALIASES.items() if target in terms})
    words.pop("run", None)  # "run" is in every cell: linking it would say nothing
    if not words:
        return words, None
    pattern = re.compile(
        r"(?<![\w#-])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![\w-])",
        re.IGNORECASE,
    )
    return words, pattern


def link_terms(escaped: str) -> str:
    """HTML-escaped text with the first use of each glossary term linked to its definition."""
    words, pattern = _words()
    if pattern is None:
        return escaped
    seen: set[str] = set()

    def link(m: re.Match) -> str:
        target = words.get(m.group(1).lower())
        if target is None or target in seen:
            return m.group(0)
        seen.add(target)
        return f"<a class='g' href='#{target}'>{m.group(0)}</a>"

    return pattern.sub(link, escaped)
