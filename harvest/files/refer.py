"""EndNote tagged ("refer") files: Google Scholar's and AIS eLibrary's ``.enw`` export, EndNote's
"EndNote Export" style. One record per block of lines, blocks separated by blank lines::

    %0 Journal Article
    %T A title
    %A Hansen, Kari
    %J Tidsskrift for psykisk helsearbeid
    %D 2024

A line without ``%`` continues the tag above. ``%M`` (accession number) or else ``%F``
(label) is the external id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence import normalise as n
from evidence.harvest.files import (
    FileFormatError,
    IdKeeper,
    as_list,
    first,
    ids_in_text,
    isbn_or_issn,
    read_text,
    split_structured,
)

_TAG = re.compile(r"^%([0-9A-Z@!#$&()*+^|~>?\]\[])(?: (.*))?$")
#: Tags that repeat: authors, editors, keywords, urls.
REPEATED = {"A", "E", "Y", "?", "K", "U", ">"}


def refer_entries(text: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(entry number, first line, fields) per block of ``%`` lines."""
    record: dict[str, Any] = {}
    number = start = 0
    tag = ""
    for lineno, line in enumerate([*text.split("\n"), ""], 1):
        line = line.lstrip("\ufeff").rstrip()
        match = _TAG.match(line)
        if not line.strip():
            if record:
                yield number, start, record
            record, tag = {}, ""
            continue
        if match:
            if not record:
                number, start = number + 1, lineno
            tag, value = match.group(1), (match.group(2) or "").strip()
            if tag in REPEATED:
                record.setdefault(tag, []).append(value)
            elif tag in record:
                record[tag] += "\n" + value
            else:
                record[tag] = value
        elif record and tag:
            if isinstance(record[tag], list):
                record[tag][-1] += " " + line.strip()
            else:
                record[tag] += "\n" + line.strip()


def read_enw(path: str | Path) -> Iterator[dict[str, Any]]:
    """An EndNote tagged (refer) file."""
    path = Path(path)
    ids = IdKeeper()
    number = 0
    for number, line, record in refer_entries(read_text(path)):
        if not record.get("T") and not record.get("M"):
            raise FileFormatError(f"{path.name}: entry {number} (line {line}) has neither a "
                                  "title (%T) nor an accession number (%M)")
        yield ids.assign(refer_to_hit(record), first(record.get("M"), record.get("F")), number)
    if number == 0:
        raise FileFormatError(f"{path.name}: no EndNote tagged records found (no '%T ' lines)")


def refer_to_hit(r: dict[str, Any]) -> dict[str, Any]:
    kind = r.get("0")
    isbn, issn = isbn_or_issn(r.get("@"))
    urls = as_list(r.get("U"))
    pmid, pmcid = ids_in_text(urls, r.get("Z"))
    keywords = [k for v in as_list(r.get("K")) for k in re.split(r"\s*[;\n]\s*", v) if k]
    journal = first(r.get("J"), r.get("B") if kind != "Book" else None)
    return {
        "title": r.get("T"), "abstract": split_structured(r.get("X")),
        "authors": as_list(r.get("A")), "year": first(r.get("D"), r.get("8")),
        "pub_date": first(r.get("8"), r.get("D")), "journal": journal,
        "journal_abbrev": r.get("O") if r.get("J") else None,
        "volume": r.get("V"), "issue": r.get("N"), "pages": r.get("P"),
        "doi": first(r.get("R") if n.normalise_doi(r.get("R")) else None,
                     *[u for u in urls if "doi.org/" in u]),
        "pmid": pmid, "pmcid": pmcid, "isbn": isbn, "issn": issn,
        "language": r.get("G"), "keywords": keywords, "item_type": kind,
        "url": first(urls), "raw": r,
    }
