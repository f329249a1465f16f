"""Ovid's own tagged export (Embase, Ovid MEDLINE, PsycINFO ... saved as "Citavi", "Reference
Manager" or plain "Complete Reference" from ovid.com)::

    <3001. >
    VN  - Ovid Technologies
    DB  - Embase
    UI  - 621381829
    TI  - Quality of life in patients with ...
    SO  - BMC Proceedings. ... 12 (Supplement 3) (no pagination), 2018.
    AU  - Behan L.

``<n. >`` (or ``<n>``) starts a record; lines before the first one (Ovid's search strategy)
are skipped. Tags are up to four letters padded to ``XX  - ``; other lines continue the tag
above (abstract sections are paragraphs). ``UI`` is the external id, and the PMID when the
database is MEDLINE.
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

_RECORD = re.compile(r"^<\s*(\d+)\.?\s*>\s*$")
_TAG = re.compile(r"^(?=[A-Z][A-Z0-9 ]{3}- )([A-Z][A-Z0-9]{1,3}) *- ?(.*)$")
REPEATED = {"AU", "FA", "MH", "OD", "KW", "PT", "ID", "IN", "ST", "DJ", "AD"}
#: Volume, issue and pages in Ovid's ``SO``: Embase ``Journal. 98 (3) (pp 1-10), 2018.``,
#: MEDLINE ``J Clin Psychol. 76(1):1-10, 2020 Jan.``
_SO_PARTS = re.compile(r"\. (?P<volume>\d[\w-]*)(?: ?\((?!pp )(?P<issue>[^)]+)\))?"
                       r"(?: \(pp (?P<pages>[^)]+)\)|:(?P<mpages>[^,]+),)?")


def ovid_entries(text: str, name: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(entry number, first line, fields) per ``<n>`` record."""
    record: dict[str, Any] | None = None
    number = start = 0
    tag = ""
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.lstrip("\ufeff").rstrip()
        if _RECORD.match(line):
            if record is not None:
                yield number, start, record
            number, start, record, tag = number + 1, lineno, {}, ""
            continue
        if record is None or not line.strip():
            continue
        match = _TAG.match(line)
        if match:
            tag, value = match.group(1), match.group(2).strip()
            if tag in REPEATED:
                record.setdefault(tag, []).append(value)
            else:
                record[tag] = f"{record[tag]}\n{value}" if tag in record else value
        elif tag:
            joiner = "\n\n" if tag == "AB" and not line.startswith(" ") else " "
            if isinstance(record[tag], list):
                record[tag][-1] += " " + line.strip()
            else:
                record[tag] += joiner + line.strip()
    if record is not None:
        yield number, start, record


def read_ovid(path: str | Path) -> Iterator[dict[str, Any]]:
    """An Ovid tagged export; ``UI`` (else ``AN``) is the external id."""
    path = Path(path)
    ids = IdKeeper()
    number = 0
    for number, line, record in ovid_entries(read_text(path), path.name):
        if not record.get("TI") and not record.get("UI"):
            raise FileFormatError(f"{path.name}: record {number} (line {line}) has neither a "
                                  "title (TI) nor an id (UI)")
        yield ids.assign(ovid_to_hit(record), first(record.get("UI"), record.get("AN")), number)
    if number == 0:
        raise FileFormatError(f"{path.name}: no Ovid records found (no '<1>' line)")


def ovid_to_hit(r: dict[str, Any]) -> dict[str, Any]:
    source = r.get("SO") or ""
    cited = _SO_PARTS.search(source)
    parts = {k: v for k, v in cited.groupdict().items() if v} if cited else {}
    parts["journal"] = source.split(". ", 1)[0].strip() or None
    database = str(r.get("DB") or "")
    ui = str(r.get("UI") or "").strip()
    pmid = first(ui if re.search(r"medline|pubmed", database, re.I) and ui.isdigit() else None,
                 r.get("PM") if str(r.get("PM") or "").strip().isdigit() else None)
    return {
        "title": r.get("TI"), "abstract": split_structured(r.get("AB")),
        "authors": as_list(r.get("FA")) or as_list(r.get("AU")),
        "year": first(r.get("YR"), r.get("DP"), source), "pub_date": r.get("DP"),
        "journal": first(r.get("JN"), r.get("JT"), parts.get("journal")),
        "volume": first(r.get("VO"), r.get("VI"), parts.get("volume")),
        "issue": first(r.get("IP"), r.get("NO"), parts.get("issue")),
        "pages": first(r.get("PG"), parts.get("pages"), parts.get("mpages")),
        "doi": first(r.get("DO"), r.get("DI")), "pmid": pmid,
        "issn": first(r.get("IS"), r.get("ISSN")), "isbn": r.get("IB"),
        "language": first(r.get("LG"), r.get("LA")),
        "keywords": as_list(r.get("KW")) + as_list(r.get("ID")),
        "mesh_terms": [m.lstrip("*") for m in as_list(r.get("MH"))],
        "publication_types": as_list(r.get("PT")),
        "item_type": first(r.get("PT"), r.get("ST")), "url": first(r.get("UR"), r.get("XL")),
        "raw": r,
    }
