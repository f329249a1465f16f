"""Zotero items as hits: one item of the Web API's JSON -> a hit dict (no network), and the
identifiers an item carries (also read by `evidence zotero push`, publish/zotero_push.py)."""

from __future__ import annotations

import re
from typing import Any

#: The creator type Zotero cites first for each item type (its schema's primary creator);
#: every other type is ``author``. Creators of other types are kept with their role.
PRIMARY_CREATOR = {
    "artwork": "artist", "audioRecording": "performer", "bill": "sponsor",
    "computerProgram": "programmer", "film": "director", "interview": "interviewee",
    "map": "cartographer", "patent": "inventor", "podcast": "podcaster",
    "presentation": "presenter", "radioBroadcast": "director", "tvBroadcast": "director",
    "videoRecording": "director",
}
#: ``extra`` lines read into a field the item leaves empty (``Issue: 1``).
_EXTRA_TO_HIT = {"issue": "issue", "volume": "volume", "pages": "pages", "issn": "issn",
                 "isbn": "isbn", "language": "language", "original title": "original_title",
                 "publication title": "journal", "container title": "journal"}


def to_hit(item: dict[str, Any]) -> dict[str, Any]:
    """A store hit dict from one Zotero item (the API's JSON, with ``data`` and ``meta``)."""
    data = item.get("data", item)
    extra = data.get("extra") or ""
    fields = extra_fields(extra)
    ids = item_ids(data, fields)
    date = data.get("date") or ""
    meta = item.get("meta") or {}
    parsed = pub_date(date, meta.get("parsedDate"))
    primary = PRIMARY_CREATOR.get(data.get("itemType") or "", "author")
    creators = data.get("creators") or []
    hit = {
        "external_id": data.get("key") or item.get("key"),
        "title": data.get("title") or data.get("caseName") or data.get("nameOfAct"),
        "abstract": data.get("abstractNote"),
        "authors": authors(creators, primary),
        "creators": [{"role": c.get("creatorType") or "contributor", "name": name(c)}
                     for c in creators if (c.get("creatorType") or "author") != primary],
        "year": parsed or date,
        "pub_date": parsed or date or None,
        "journal": (data.get("publicationTitle") or data.get("bookTitle")
                    or data.get("proceedingsTitle") or data.get("websiteTitle")),
        "journal_abbrev": data.get("journalAbbreviation"),
        "volume": data.get("volume"), "issue": data.get("issue"), "pages": data.get("pages"),
        "doi": ids["doi"], "pmid": ids["pmid"], "pmcid": ids["pmcid"],
        "isbn": data.get("ISBN"), "issn": data.get("ISSN"), "language": data.get("language"),
        "item_type": data.get("itemType"), "url": data.get("url"),
        "keywords": [t["tag"] for t in data.get("tags") or [] if t.get("tag")],
        "raw": {
            "key": data.get("key"), "version": data.get("version") or item.get("version"),
            "collections": data.get("collections") or [], "extra": extra or None,
            "num_children": meta.get("numChildren", 0), "child_notes": 0,
            "child_note_keys": [],
        },
    }
    for key, value in fields.items():
        field = _EXTRA_TO_HIT.get(key)
        if field and not hit.get(field):
            hit[field] = value
    return hit


def pub_date(date: str, parsed: str | None) -> str | None:
    """The date the item's ``date`` means. Zotero's ``parsedDate`` marks an unknown part as
    ``00`` (``1992-00-00``) and reads ``08/1993`` as day 8 of an unknown month
    (``1993-00-08``): unknown parts are dropped, month/year is read as such, and a season is
    kept as PubMed writes it (``2001 Spring``)."""
    month_year = _MONTH_YEAR.fullmatch(date or "")
    if month_year and 1 <= int(month_year.group(1)) <= 12:
        return f"{month_year.group(2)}-{int(month_year.group(1)):02d}"
    if not parsed:
        return None
    year, month, day = ([*parsed.split("-"), "", ""])[:3]
    if month.strip("0") == "":
        season = _SEASON.search(date or "")
        return f"{year} {season.group(0).capitalize()}" if season else year
    return f"{year}-{month}" if day.strip("0") == "" else f"{year}-{month}-{day}"


_MONTH_YEAR = re.compile(r"\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*")
_SEASON = re.compile(r"\b(?:spring|summer|autumn|fall|winter)\b", re.I)


def authors(creators: list[dict[str, Any]], primary: str = "author") -> list[str]:
    """The item type's primary creators (authors; a film's directors, an artwork's artists),
    "Last, First" or the single-field name; the others are kept as creators with a role."""
    return [n for c in creators if (c.get("creatorType") or "author") == primary
            and (n := name(c))]


def name(creator: dict[str, Any]) -> str | None:
    """"Last, First", or the single-field name."""
    if creator.get("name"):
        return creator["name"]
    if creator.get("lastName"):
        first = creator.get("firstName") or ""
        return f"{creator['lastName']}, {first}" if first else creator["lastName"]
    return None


#: ``Key: value`` lines of an item's ``extra`` (Zotero's place for fields its type lacks:
#: ``PMID: 123``, ``Issue: 1``, ``original-date: 1950``).
_EXTRA_FIELD = re.compile(r"^\s*([A-Za-z][A-Za-z -]{0,40}?)\s*:\s*(\S.*?)\s*$", re.M)
_DOI_IN_TEXT = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+", re.I)


def extra_fields(extra: str | None) -> dict[str, str]:
    """The ``Key: value`` lines of ``extra``, keys lower-cased with ``-``/``_`` as spaces (the
    first line of a key wins)."""
    fields: dict[str, str] = {}
    for match in _EXTRA_FIELD.finditer(extra or ""):
        key = re.sub(r"[\s_-]+", " ", match.group(1).strip().lower())
        fields.setdefault(key, match.group(2))
    return fields


def item_ids(data: dict[str, Any],
             fields: dict[str, str] | None = None) -> dict[str, str | None]:
    """The DOI, PMID and PMCID of an item's ``data``: its DOI field, else its ``extra`` lines
    (``DOI: ...``, ``PMID: ...``), else a DOI inside ``extra`` or the URL (cut before a query
    string: ``...ch22?prevSearch=`` is not part of the DOI). Raw: the caller normalises them.
    ``fields`` is ``extra_fields(extra)`` when the caller has read them already."""
    extra = data.get("extra") or ""
    fields = extra_fields(extra) if fields is None else fields
    doi = (data.get("DOI") or fields.get("doi") or _doi_in(extra)
           or _doi_in(re.split(r"[?#]", data.get("url") or "", maxsplit=1)[0]))
    return {"doi": doi, "pmid": fields.get("pmid"), "pmcid": fields.get("pmcid")}


def _doi_in(text: str | None) -> str | None:
    match = _DOI_IN_TEXT.search(text or "")
    return match.group(0) if match else None
