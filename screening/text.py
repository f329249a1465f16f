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
from evidence.terms import highlight_html, match_spans

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


def highlight(text: str | None, terms: list[str], include: Iterable[str] = (),
              exclude: Iterable[str] = ()) -> Markup:
    """``text`` with its inline markup rendered safely (``evidence.markup.sanitise``) and every
    term wrapped in ``<mark>``, inside compounds and inflected forms as well
    (``rusmiddel`` in ``rusmiddelproblemer``; rules in ``evidence.terms``).

    The team's chosen words (``screening.highlight``) are marked too, in two colours:
    ``<mark class="hl-include">`` and ``<mark class="hl-exclude">``, each to the end of the
    word it starts in (``rus`` marks all of ``Rusmiddelbruk``). Where marks overlap, an
    exclude word wins over an include word, and both over a search term.
    """
    include, exclude = tuple(include), tuple(exclude)
    if not include and not exclude:
        return highlight_html(sanitise(text), terms)
    return mark_groups(sanitise(text), [("hl-exclude", exclude), ("hl-include", include),
                                        ("", tuple(terms))])


_TAG_OR_ENTITY = re.compile(r"(<[^>]*>|&[#\w]+;)")


def mark_groups(safe_html: str | Markup, groups: list[tuple[str, tuple[str, ...]]]) -> Markup:
    """Wrap each ``(css class, words)`` group's matches in ``<mark>`` inside the text of
    already-safe HTML (tags and entities left alone); an earlier group wins an overlap."""
    pieces = []
    for piece in _TAG_OR_ENTITY.split(str(safe_html)):
        if not piece or piece[0] in "<&":
            pieces.append(piece)
            continue
        taken: list[tuple[int, int, str]] = []
        for css, words in groups:
            for start, end in match_spans(piece, words) if words else ():
                if css:  # a chosen word: mark to the end of the word
                    while end < len(piece) and (piece[end].isalnum() or piece[end] == "_"):
                        end += 1
                if all(end <= a or start >= b for a, b, _ in taken):
                    taken.append((start, end, css))
        last = 0
        for start, end, css in sorted(taken):
            tag = f'<mark class="{css}">' if css else "<mark>"
            pieces.append(f"{piece[last:start]}{tag}{piece[start:end]}</mark>")
            last = end
        pieces.append(piece[last:])
    return Markup("".join(pieces))


def abstract_sections(abstract: str | None, terms: list[str], include: Iterable[str] = (),
                      exclude: Iterable[str] = ()) -> list[dict[str, Markup]]:
    """Paragraphs of a stored abstract; a "LABEL: text" paragraph becomes a labelled section."""
    sections = []
    for paragraph in (abstract or "").split("\n\n"):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        match = _SECTION.match(paragraph)
        label, body = (match.group(1), match.group(2)) if match else ("", paragraph)
        sections.append({"label": label, "text": highlight(body, terms, include, exclude)})
    return sections
