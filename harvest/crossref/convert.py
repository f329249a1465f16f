"""One Crossref work (an item of ``/works``) as a hit, and JATS abstracts as text.

Crossref's abstracts are JATS XML as the publisher deposited it: ``<jats:sec>`` sections with
``<jats:title>`` labels, ``<jats:p>`` paragraphs, inline ``<jats:italic>``/``<jats:sup>``.
They are stored as the project stores PubMed's: one paragraph per section, ``Label: text``,
paragraphs separated by a blank line, inline markup in the form evidence/markup.py renders
safely (anything else dropped), entities decoded.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TAG = re.compile(r"<\s*(/?)\s*(?:[A-Za-z][\w.-]*:)?([A-Za-z][\w.-]*)\b[^<>]*?(/?)>")
#: Elements that end a paragraph.
_BLOCKS = {"p", "sec", "abstract", "list-item", "list", "disp-quote", "boxed-text",
           "trans-abstract", "def-list", "fig", "table-wrap"}
#: Elements whose text labels the paragraph that follows.
_LABELS = {"title", "label"}
#: A leading "Abstract" heading says nothing the page does not.
_PLAIN_HEADINGS = {"abstract", "summary", "sammendrag", "samandrag", "resumé", "resume"}


def jats_to_text(value: str | None) -> str | None:
    """A JATS abstract as paragraphs of text; section titles kept as ``Title: ...``."""
    if not value or not value.strip():
        return None
    paragraphs: list[str] = []
    label: list[str] | None = None
    pending_label = ""
    current: list[str] = []
    last = 0

    def flush() -> None:
        nonlocal pending_label
        text = _inline("".join(current))
        current.clear()
        if text:
            paragraphs.append(f"{pending_label}: {text}" if pending_label else text)
            pending_label = ""

    for match in _TAG.finditer(value):
        piece = value[last:match.start()]
        (label if label is not None else current).append(piece)
        last = match.end()
        closing, name = match.group(1), match.group(2).lower()
        if name in _LABELS:
            if not closing:
                flush()
                label = []
            elif label is not None:
                text = _plain("".join(label)).rstrip(":. ")
                label = None
                if text and not (not paragraphs and text.lower() in _PLAIN_HEADINGS):
                    pending_label = f"{pending_label}: {text}" if pending_label else text
        elif name in _BLOCKS:
            flush()
        else:
            (label if label is not None else current).append(match.group(0))
    (label if label is not None else current).append(value[last:])
    flush()
    if pending_label and not paragraphs:
        paragraphs.append(pending_label)
    return "\n\n".join(paragraphs) or None


def _inline(text: str) -> str:
    from evidence.markup import keep_inline

    return html.unescape(" ".join(keep_inline(text).split()))


def _plain(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _date(item: dict[str, Any]) -> str | None:
    """The earliest publication date Crossref has: print or online, else ``issued``."""
    for key in ("issued", "published", "published-print", "published-online", "created"):
        parts = ((item.get(key) or {}).get("date-parts") or [[None]])[0]
        if parts and parts[0]:
            return "-".join(f"{int(p):02d}" for p in parts if p is not None)
    return None


def _authors(item: dict[str, Any]) -> list[str]:
    names = []
    for person in item.get("author") or []:
        family, given = person.get("family"), person.get("given")
        name = f"{family}, {given}" if family and given else family or person.get("name")
        if name:
            names.append(name)
    return names


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return next((str(v) for v in value if v), None)
    return str(value) if value else None


def oa_url(item: dict[str, Any]) -> str | None:
    """The work's own page when Crossref says it is under a Creative Commons licence
    (open access); Crossref knows no repository copies (OpenAlex does)."""
    licences = [(lic.get("URL") or "") for lic in item.get("license") or []]
    if any("creativecommons.org" in url for url in licences):
        return item.get("URL") or (f"https://doi.org/{item['DOI']}" if item.get("DOI") else None)
    return None


def _raw(item: dict[str, Any]) -> str:
    """The item as stored JSON text (orjson: the harvest's largest cost after parsing)."""
    import orjson

    return orjson.dumps(item).decode()


def to_hit(item: dict[str, Any]) -> dict[str, Any]:
    """One ``/works`` item as a hit; ``external_id`` is the DOI (Crossref's own id)."""
    title = _first(item.get("title"))
    subtitle = _first(item.get("subtitle"))
    if title and subtitle and subtitle.lower() not in title.lower():
        title = f"{title.rstrip(' :')}: {subtitle}"
    return {
        "external_id": (item.get("DOI") or "").lower(),
        "title": _inline(title) if title else None,
        "abstract": jats_to_text(item.get("abstract")),
        "authors": _authors(item),
        "pub_date": _date(item),
        "journal": _first(item.get("container-title")),
        "journal_abbrev": _first(item.get("short-container-title")),
        "volume": item.get("volume"),
        "issue": item.get("issue"),
        "pages": item.get("page") or item.get("article-number"),
        "doi": item.get("DOI"),
        "issn": "; ".join(item.get("ISSN") or []) or None,
        "isbn": _first(item.get("ISBN")),
        "language": item.get("language"),
        "item_type": item.get("type"),
        "keywords": item.get("subject") or [],
        "url": item.get("URL"),
        "oa_url": oa_url(item),
        "raw": _raw(item),
    }
