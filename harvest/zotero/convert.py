"""Zotero items as hits: one item of the Web API's JSON -> a hit dict (no network)."""

from __future__ import annotations

from typing import Any

from evidence.zotero_api import item_ids


def to_hit(item: dict[str, Any]) -> dict[str, Any]:
    """A store hit dict from one Zotero item (the API's JSON, with ``data`` and ``meta``)."""
    data = item.get("data", item)
    extra = data.get("extra") or ""
    ids = item_ids(data)
    date = data.get("date") or ""
    meta = item.get("meta") or {}
    return {
        "external_id": data.get("key") or item.get("key"),
        "title": data.get("title") or data.get("caseName") or data.get("nameOfAct"),
        "abstract": data.get("abstractNote"),
        "authors": authors(data.get("creators") or []),
        "year": meta.get("parsedDate") or date,
        "pub_date": meta.get("parsedDate") or date or None,
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


def authors(creators: list[dict[str, Any]]) -> list[str]:
    """Authors only (not editors or contributors), "Last, First" or the single-field name."""
    names = []
    for creator in creators:
        if creator.get("creatorType", "author") != "author":
            continue
        if creator.get("name"):
            names.append(creator["name"])
        elif creator.get("lastName"):
            first = creator.get("firstName") or ""
            names.append(f"{creator['lastName']}, {first}" if first else creator["lastName"])
    return names

