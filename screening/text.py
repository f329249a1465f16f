"""Text for the record view: search terms from query strings, highlighting, abstract sections.

Highlighting escapes the text first and only then wraps matches in ``<mark>``, so a title with
markup in it can never become markup on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

_FIELD_TAG = re.compile(r"\[[^\]]*\]")
_PHRASE = re.compile(r'"([^"]+)"')
_OPERATORS = {"and", "or", "not"}
_SECTION = re.compile(r"^([A-Z][A-Z0-9 ,/&()-]{1,60}):\s+(.*)$", re.S)


def search_terms(queries: Iterable[str]) -> list[str]:
    """Words and phrases of PubMed-style queries, without field tags, operators or brackets.

    ``("community mental health"[tiab] OR addict*) AND systematic[sb]`` gives
    ``["community mental health", "addict*"]``: a term tagged with a subset filter like
    ``[sb]`` or ``[pt]`` is a filter, not a word of the text, so it is left out.
    """
    terms: list[str] = []
    for query in queries:
        query = re.sub(r'("[^"]+"|[^\s()"]+)\[(sb|pt|filter|dp|pdat|edat|la)\]', " ", query or "",
                       flags=re.I)
        query = _FIELD_TAG.sub(" ", query)
        for phrase in _PHRASE.findall(query):
            terms.append(" ".join(phrase.split()))
        rest = _PHRASE.sub(" ", query)
        for word in re.split(r"[\s()]+", rest):
            word = word.strip("'")
            if word and word.lower() not in _OPERATORS and len(word.rstrip("*")) > 1:
                terms.append(word)
    seen: dict[str, str] = {}
    for term in terms:
        seen.setdefault(term.lower(), term)
    return sorted(seen.values(), key=len, reverse=True)


def _pattern(terms: list[str]) -> re.Pattern | None:
    parts = []
    for term in terms:
        stem = str(escape(term.rstrip("*")))
        if not stem:
            continue
        body = r"\s+".join(re.escape(p) for p in stem.split())
        parts.append(body + (r"\w*" if term.endswith("*") else ""))
    if not parts:
        return None
    return re.compile(r"(?<![&#\w])(" + "|".join(parts) + r")(?!\w)", re.I)


def highlight(text: str | None, terms: list[str]) -> Markup:
    """``text`` escaped, with every term wrapped in ``<mark>``."""
    escaped = str(escape(text or ""))
    pattern = _pattern(terms)
    if pattern is None:
        return Markup(escaped)
    return Markup(pattern.sub(lambda m: f"<mark>{m.group(1)}</mark>", escaped))


def abstract_sections(abstract: str | None, terms: list[str]) -> list[dict[str, Markup]]:
    """Paragraphs of a stored abstract; a "LABEL: text" paragraph becomes a labelled section."""
    sections = []
    for paragraph in (abstract or "").split("\n\n"):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        match = _SECTION.match(paragraph)
        label, body = (match.group(1), match.group(2)) if match else ("", paragraph)
        sections.append({"label": label, "text": highlight(body, terms)})
    return sections
