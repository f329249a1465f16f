"""Text for the record view: search terms from query strings, highlighting, abstract sections.

Highlighting sanitises the text first (an allow-list of inline tags such as ``<i>`` and
``<sup>``; any other tag is shown as text) and only then wraps matches in ``<mark>``, so a title
can never become other markup on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup

from evidence.markup import sanitise
from evidence.terms import highlight_html

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


def highlight(text: str | None, terms: list[str]) -> Markup:
    """``text`` with its inline markup rendered safely (``evidence.markup.sanitise``) and every
    term wrapped in ``<mark>``, inside compounds and inflected forms as well
    (``rusmiddel`` in ``rusmiddelproblemer``; rules in ``evidence.terms``)."""
    return highlight_html(sanitise(text), terms)


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
