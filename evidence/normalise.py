"""Normalisers for bibliographic fields, shared by every source.

Each function takes whatever a source gives (text, number, None) and returns the canonical
form or None. They never raise on odd input: a source with a bad DOI still yields a hit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*|https?://doi\.org/)", re.I)
_DOI_SHAPE = re.compile(r"10\.\d{4,9}/\S+")
#: shortDOI (``10/abcd``, https://shortdoi.org): kept as given, never mistaken for a date
#: (``10/2020``) because it must hold a letter.
_SHORT_DOI = re.compile(r"10/(?=[a-z0-9]*[a-z])[a-z0-9]{2,12}", re.I)
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d|21\d\d)(?!\d)")


def clean_text(value: Any) -> str | None:
    """Trim and collapse white space; empty becomes None."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (list, tuple)):
        text = " ".join(str(v) for v in value if v)
    else:
        text = str(value)
    if text.isascii():
        # most texts are clean already: a few substring scans (what str.split() splits ASCII
        # at, besides one space) instead of splitting a whole abstract into words and joining
        # them again; written out, as a generator over them costs a fifth more
        if (text and text[0] != " " and text[-1] != " " and "  " not in text
                and "\n" not in text and "\t" not in text and "\r" not in text
                and "\x0b" not in text and "\x0c" not in text and "\x1c" not in text
                and "\x1d" not in text and "\x1e" not in text and "\x1f" not in text):
            return text
    elif not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = " ".join(text.split())
    return text or None


def normalise_doi(value: Any) -> str | None:
    """Lower case, no resolver URL or ``doi:`` prefix, no trailing punctuation; a shortDOI
    (``10/abcd``) stays a shortDOI."""
    text = clean_text(value)
    if not text:
        return None
    text = text.split()[0] if " " in text and _DOI_SHAPE.search(text.split()[0]) else text
    if re.match(r"https?://", text, re.I):  # a link's query string or fragment is not the DOI
        text = re.split(r"[?#]", text, maxsplit=1)[0]
    text = _DOI_PREFIX.sub("", text.strip())
    match = _DOI_SHAPE.search(text)
    if not match:
        short = _SHORT_DOI.fullmatch(text.rstrip(".,;"))
        return short.group(0).lower() if short else None
    doi = match.group(0).rstrip(".,;)]}>").lower()
    return doi.replace("%2f", "/")


def normalise_pmid(value: Any) -> str | None:
    """Digits only, no leading zeros; ``PMID: 123`` and ``123 [pmid]`` both give ``123``."""
    text = clean_text(value)
    if not text:
        return None
    match = re.search(r"\d{1,9}", text)
    return str(int(match.group(0))) if match else None


def normalise_pmcid(value: Any) -> str | None:
    text = clean_text(value)
    if not text:
        return None
    match = re.search(r"PMC\s*(\d+)", text, re.I)
    return f"PMC{match.group(1)}" if match else None


def normalise_year(value: Any) -> int | None:
    """The first plausible four-digit year in the value (``2024 Jan-Feb``, ``2024/03/01``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1500 <= value <= 2199 else None
    text = clean_text(value)
    if not text:
        return None
    match = _YEAR.search(text)
    return int(match.group(1)) if match else None


def normalise_authors(value: Any) -> list[str]:
    """A list of author names, ``Last, First`` where the source gave that order.

    Accepts a list, or one string separated by semicolons, newlines or `` and ``.
    """
    if value is None:
        return []
    if isinstance(value, str):
        parts: Iterable[Any] = re.split(r"\s*;\s*|\n+|\s+and\s+", value)
    else:
        parts = value
    names = []
    for part in parts:
        name = clean_text(part)
        if name:
            names.append(name.rstrip(","))
    return names


def normalise_list(value: Any) -> list[str]:
    """Keywords, publication types, MeSH terms: a list of distinct non-empty strings."""
    if value is None:
        return []
    items = re.split(r"\s*;\s*|\n+", value) if isinstance(value, str) else value
    seen: dict[str, None] = {}
    for item in items:
        text = clean_text(item)
        if text:
            seen.setdefault(text, None)
    return list(seen)


def normalise_pages(value: Any) -> str | None:
    text = clean_text(value)
    return text.replace("--", "-").replace("–", "-") if text else None
