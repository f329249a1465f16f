"""The kind of a published work, for the map's columns (``/-/map?by=kind``).

The report sorts its works by kind before topic (systematic reviews, Norwegian and Nordic
research, books) and its theme groups are named that way. One kind per work, so a theme's
cells add up to its works: a book (the item type, or a publisher where a journal would be)
first, then a review (its publication type, or the words of :mod:`record_kind`), then
Nordic research, else other research. The word rules are :mod:`screening.record_kind`'s.
"""

from __future__ import annotations

import json

from evidence.models.record_kind import kinds

#: The map's column order.
KINDS = ("review", "nordic", "book", "other")
_BOOK_TYPES = {"book", "booksection", "book section", "book chapter", "chapter", "monograph"}
_REVIEW_TYPES = {
    "systematic review",
    "meta-analysis",
    "review",
    "scoping review",
    "systematic reviews",
    "meta-analyses",
}


def work_kind(
    title: str | None,
    abstract: str | None,
    journal: str | None,
    item_type: str | None = None,
    publication_types: str | list | None = None,
) -> str:
    """``review``, ``nordic``, ``book`` or ``other`` (see the module docstring)."""
    types = publication_types
    if isinstance(types, str):
        try:
            types = json.loads(types) if types.startswith("[") else [types]
        except ValueError:
            types = [types]
    types = {str(t).strip().lower() for t in types or []}
    # the cheap tests first: item type, publisher, publication type, then the words
    if (item_type or "").strip().lower() in _BOOK_TYPES or "book" in kinds("", "", journal or ""):
        return "book"
    if types & _REVIEW_TYPES:
        return "review"
    marks = kinds(title or "", abstract or "", journal or "")
    if "review" in marks:
        return "review"
    if "nordic" in marks:
        return "nordic"
    return "other"
