"""Cochrane Library plain-text export (CENTRAL trials, also Cochrane Reviews).

The Cochrane Library's "Export selected citation(s)" as plain text writes::

    Record #1 of 2
    ID: CN-01234567
    AU: Hansen K
    TI: A randomised trial of ...
    SO: Journal of things
    YR: 2021
    VL: 12
    NO: 3
    PG: 45-56
    PM: PUBMED 33333333
    XR: EMBASE 634000000
    PT: Journal Article
    KY: Adult; Female
    DOI: 10.1000/xyz123
    AB: ...
    US: https://www.cochranelibrary.com/central/doi/10.1002/central/CN-01234567/full

``ID`` (``CN-...`` or ``CD...``) is the hit's external id. Records are separated by
``Record #n of N`` lines (or by a new ``ID:`` line when those are missing).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.harvest.files import (
    FileFormatError,
    IdKeeper,
    as_list,
    first,
    read_text,
    split_structured,
)

_RECORD = re.compile(r"^Record #(\d+) of (\d+)\s*$")
_FIELD = re.compile(r"^([A-Z][A-Z0-9]|DOI):\s?(.*)$")
#: Tags that may repeat, kept as lists.
REPEATED = {"AU", "KY", "PT", "XR", "PM", "EM", "CC"}


def cochrane_entries(text: str, name: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(entry number, first line, fields) per record."""
    record: dict[str, Any] | None = None
    number = start = total = 0
    tag = ""
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.lstrip("\ufeff").rstrip()
        marker = _RECORD.match(line)
        field = _FIELD.match(line)
        if marker or (field and field.group(1) == "ID" and record and "ID" in record):
            if record:
                yield number, start, record
            number, start, record = number + 1, lineno, {}
            total = int(marker.group(2)) if marker else total
            if not field:
                continue
        if field:
            if record is None:
                number, start, record = number + 1, lineno, {}
            tag, value = field.group(1), field.group(2).strip()
            if tag in REPEATED:
                record.setdefault(tag, []).append(value)
            elif tag in record:
                record[tag] += "\n\n" + value
            else:
                record[tag] = value
        elif line.strip() and record is not None and tag:
            _continue(record, tag, line.strip())
    if record:
        yield number, start, record
    if total and number != total:
        raise FileFormatError(f"{name}: the file says {total} records but holds {number}; it "
                              "looks truncated: export it again")


def _continue(record: dict[str, Any], tag: str, text: str) -> None:
    if isinstance(record.get(tag), list):
        record[tag][-1] += " " + text
    else:
        record[tag] = f"{record.get(tag, '')} {text}".strip()


def read_cochrane(path: str | Path) -> Iterator[dict[str, Any]]:
    """A Cochrane Library plain-text export; the record ``ID`` is the external id."""
    path = Path(path)
    ids = IdKeeper()
    number = 0
    for number, line, record in cochrane_entries(read_text(path), path.name):
        if not record.get("ID") and not record.get("TI"):
            raise FileFormatError(f"{path.name}: record {number} (line {line}) has neither "
                                  "an ID nor a title")
        yield ids.assign(cochrane_to_hit(record), record.get("ID"), number)
    if number == 0:
        raise FileFormatError(f"{path.name}: no Cochrane records found (no 'ID:' or 'TI:' "
                              "line)")


def _prefixed(values: Any, prefix: str) -> str | None:
    """``PUBMED 33333333`` from ``PM``/``XR`` lists: the number after the database name."""
    for value in as_list(values):
        match = re.match(rf"{prefix}\s*:?\s*(\d+)", str(value), re.I)
        if match:
            return match.group(1)
    return None


def cochrane_to_hit(r: dict[str, Any]) -> dict[str, Any]:
    keywords = [k for v in as_list(r.get("KY")) for k in re.split(r"\s*;\s*", v) if k]
    types = [t for v in as_list(r.get("PT")) for t in re.split(r"\s*;\s*", v) if t]
    return {
        "title": r.get("TI"), "abstract": split_structured(r.get("AB")),
        "authors": [a for v in as_list(r.get("AU")) for a in re.split(r"\s*;\s*", v) if a],
        "year": r.get("YR"), "pub_date": first(r.get("YR")),
        "journal": r.get("SO"), "volume": r.get("VL"), "issue": r.get("NO"),
        "pages": r.get("PG"), "doi": r.get("DOI"),
        "pmid": first(_prefixed(r.get("PM"), "PUBMED"), _prefixed(r.get("XR"), "PUBMED"),
                      *[v for v in as_list(r.get("PM")) if str(v).strip().isdigit()]),
        "issn": r.get("IS") or r.get("SN"), "language": r.get("LA"),
        "keywords": keywords, "publication_types": types,
        "item_type": first(types) or "Trial record", "url": r.get("US"), "raw": r,
    }
