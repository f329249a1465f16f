"""One OpenAlex work as a hit; its abstract rebuilt from the inverted index.

OpenAlex does not send abstracts as text: ``abstract_inverted_index`` maps each word to the
positions where it occurs. Putting every word at its positions gives the original word
sequence exactly (words are kept as OpenAlex split them, punctuation attached).
"""

from __future__ import annotations

from typing import Any


def abstract_text(index: dict[str, list[int]] | None) -> str | None:
    """The abstract's words in their original order, separated by single spaces."""
    if not index:
        return None
    size = 1 + max((max(places) for places in index.values() if places), default=-1)
    words: list[str | None] = [None] * size
    for word, places in index.items():
        for place in places or ():
            words[place] = word
    return " ".join(w for w in words if w is not None) or None


def short_id(value: str | None) -> str:
    """``https://openalex.org/W2741809807`` -> ``W2741809807`` (the hit's external id)."""
    return (value or "").rstrip("/").rsplit("/", 1)[-1]


def oa_url(work: dict[str, Any]) -> str | None:
    """Where the open-access full text is: OpenAlex's ``open_access.oa_url``, else the best
    open location's PDF or page."""
    url = (work.get("open_access") or {}).get("oa_url")
    best = work.get("best_oa_location") or {}
    return url or best.get("pdf_url") or best.get("landing_page_url") or None


def _name(authorship: dict[str, Any]) -> str | None:
    """``Kari Nordmann`` -> ``Nordmann, Kari``: OpenAlex gives display names first name
    first, and the deduplication reads a name without a comma as last name first."""
    name = (authorship.get("author") or {}).get("display_name") or \
        authorship.get("raw_author_name")
    if not name or "," in name or " " not in name.strip():
        return name
    given, family = name.strip().rsplit(" ", 1)
    return f"{family}, {given}"


def _pages(biblio: dict[str, Any]) -> str | None:
    first, last = biblio.get("first_page"), biblio.get("last_page")
    if first and last and last != first:
        return f"{first}-{last}"
    return first or None


def _raw(work: dict[str, Any]) -> str:
    """The work as stored JSON text (orjson: the harvest's largest cost after parsing)."""
    import orjson

    return orjson.dumps(work).decode()


def to_hit(work: dict[str, Any]) -> dict[str, Any]:
    """One work of ``/works`` as a hit; ``external_id`` is the OpenAlex id (``W…``)."""
    ids = work.get("ids") or {}
    location = work.get("primary_location") or {}
    journal = location.get("source") or {}
    biblio = work.get("biblio") or {}
    return {
        "external_id": short_id(work.get("id")),
        "title": work.get("title") or work.get("display_name"),
        "abstract": abstract_text(work.get("abstract_inverted_index")),
        "authors": [_name(a) for a in work.get("authorships") or []],
        "year": work.get("publication_year"),
        "pub_date": work.get("publication_date"),
        "journal": journal.get("display_name"),
        "volume": biblio.get("volume"),
        "issue": biblio.get("issue"),
        "pages": _pages(biblio),
        "doi": work.get("doi") or ids.get("doi"),
        "pmid": ids.get("pmid"),
        "pmcid": ids.get("pmcid"),
        "issn": journal.get("issn_l"),
        "language": work.get("language"),
        "item_type": work.get("type"),
        "keywords": [k.get("display_name") for k in work.get("keywords") or []
                     if isinstance(k, dict)],
        "url": location.get("landing_page_url") or work.get("id"),
        "oa_url": oa_url(work),
        "raw": _raw(work),
    }
