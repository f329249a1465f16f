"""Web of Science field-tagged exports: plain text (``FN``/``VR``/``PT`` ... ``ER``/``EF``)
and tab-delimited (a header row of tags, UTF-8 or UTF-16), from the Core Collection and the
other Clarivate databases (BIOSIS Previews, Zoological Record, MEDLINE, CABI ...).

Both layouts give the same ``{tag: value}`` dict, so one mapping serves them. The accession
number ``UT`` (``WOS:000424022700066``, ``BCI:BCI2017...``, ``ZOOR:...``, ``MEDLINE:123``) or
else ``AN`` is the hit's external id; ``ID`` is Keywords Plus, never an id.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.harvest.files import (
    FileFormatError,
    IdKeeper,
    first,
    is_wos_header,
    pages,
    read_text,
    split_structured,
)

#: Tags whose plain-text continuation lines are separate items (one author per line).
ITEM_PER_LINE = {"AU", "AF", "BA", "BF", "BE", "CR", "C1", "C3"}
#: Tags that hold ``;``-separated lists in both layouts.
LISTS = {"AU", "AF", "BA", "BF", "BE", "DE", "ID", "MH", "WC", "SC", "DT"}
_TAG = re.compile(r"([A-Z][A-Z0-9])(?: (.*))?$")


def read_wos(path: str | Path) -> Iterator[dict[str, Any]]:
    """A Web of Science export, plain text or tab-delimited (detected from the first line)."""
    path = Path(path)
    text = read_text(path)
    first_line = text.lstrip("\n").split("\n", 1)[0]
    entries = (wos_tab_entries(text, path.name) if is_wos_header(first_line)
               else wos_plain_entries(text, path.name))
    ids = IdKeeper()
    number = 0
    for number, _line, fields in entries:
        yield ids.assign(wos_to_hit(fields), first(fields.get("UT"), fields.get("AN")), number)
    if number == 0:
        raise FileFormatError(f"{path.name}: no Web of Science records found (no 'PT' line "
                              "or data row)")


def wos_plain_entries(text: str, name: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(entry number, first line, fields) per ``PT`` .. ``ER`` record of a plain-text export."""
    record: dict[str, list[str]] | None = None
    number = start = 0
    tag = ""
    header = ended = False
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.lstrip("\ufeff")
        match = _TAG.match(line) if line[:1] != " " else None
        if record is None:
            header = header or bool(match and match.group(1) == "FN")
            ended = ended or bool(match and match.group(1) == "EF")
            if match and match.group(1) == "PT":
                number, start, record = number + 1, lineno, {"PT": [match.group(2) or ""]}
            elif match and match.group(1) in ("ER", "TI", "AU", "UT", "SO", "DI"):
                raise FileFormatError(f"{name}: line {lineno}: '{match.group(1)}' outside a "
                                      "record (no 'PT' line since the last 'ER'); its record "
                                      "would be lost: export the file again")
            continue
        if match and match.group(1) == "ER":
            yield number, start, _join_plain(record)
            record = None
        elif match and match.group(1) == "PT":
            raise FileFormatError(f"{name}: record {number} (line {start}) has no end tag 'ER' "
                                  f"before the next record starts at line {lineno}")
        elif match:
            tag = match.group(1)
            record.setdefault(tag, []).append(match.group(2) or "")
        elif line.strip():
            record.setdefault(tag, []).append(line.strip())
    if record is not None:
        raise FileFormatError(f"{name}: record {number} (line {start}) has no end tag 'ER'; "
                              "the file looks truncated: export it again")
    if header and number and not ended:
        raise FileFormatError(f"{name}: the file has no end-of-file tag 'EF' after record "
                              f"{number}; it looks truncated: export it again")


def _join_plain(record: dict[str, list[str]]) -> dict[str, Any]:
    """Continuation lines: items of a list (authors, addresses) or a wrapped value. Long lines
    in an abstract are paragraphs (newer exports put each section on its own line)."""
    fields: dict[str, Any] = {}
    for tag, lines in record.items():
        if tag in ITEM_PER_LINE:
            fields[tag] = [v for v in lines if v]
        elif tag == "AB" and len(lines) > 1 and max(map(len, lines)) > 100:
            fields[tag] = "\n\n".join(lines)
        else:
            fields[tag] = " ".join(v for v in lines if v)
    return fields


def wos_tab_entries(text: str, name: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(entry number, line, fields) per data row of a tab-delimited export.

    Web of Science does not quote fields, so quotes in titles are text (``QUOTE_NONE``).
    A row with more filled columns than the header has is a broken file, not a guess.
    """
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(io.StringIO(text.lstrip("\n")), delimiter="\t",
                        quoting=csv.QUOTE_NONE)
    header = [t.strip().lstrip("\ufeff") for t in next(reader)]
    number = 0
    for row in _rows(reader, name):
        if not any(cell.strip() for cell in row):
            continue
        number += 1
        extra = [c for c in row[len(header):] if c.strip()]
        if extra:
            raise FileFormatError(f"{name}: line {reader.line_num}: {len(row)} columns, but the "
                                  f"header has {len(header)}; a field holds a tab or the "
                                  "file was cut: export it again")
        fields = {tag: cell for tag, cell in zip(header, row, strict=False) if cell.strip()}
        for tag in ITEM_PER_LINE & fields.keys():
            fields[tag] = [v for v in re.split(r"\s*;\s*", fields[tag]) if v]
        yield number, reader.line_num, fields


def _rows(reader: Any, name: str) -> Iterator[list[str]]:
    """The csv module's own messages never reach the user."""
    try:
        yield from reader
    except csv.Error as e:
        raise FileFormatError(f"{name}: line {reader.line_num}: not a readable tab-delimited "
                              "row; export the records again") from e


def _items(value: Any) -> list[str]:
    if isinstance(value, list):
        return value
    return [v for v in re.split(r"\s*;\s*", value or "") if v]


def _given(*values: Any) -> Any:
    """The first value present, lists kept whole (``first`` would take a list's first item)."""
    return next((v for v in values if v), None)


def wos_to_hit(f: dict[str, Any]) -> dict[str, Any]:
    """One record's tags as a hit dict (Core Collection tags, plus the other databases')."""
    accession = first(f.get("UT"), f.get("AN")) or ""
    pmid = first(f.get("PM"), accession[8:] if accession.startswith("MEDLINE:") else None)
    year = first(f.get("PY"), f.get("EY"))
    return {
        "title": first(f.get("TI"), f.get("X1"), f.get("Z1")),
        "abstract": split_structured(f.get("AB")),
        "authors": _items(_given(f.get("AF"), f.get("AU"), f.get("BF"), f.get("BA"),
                                 f.get("CA"), f.get("GP"))),
        "year": year, "pub_date": " ".join(v for v in (year, f.get("PD")) if v) or f.get("EA"),
        "journal": first(f.get("SO"), f.get("SE"), f.get("S1")),
        "journal_abbrev": first(f.get("JI"), f.get("J9")),
        "volume": f.get("VL"), "issue": f.get("IS"),
        "pages": pages(f.get("BP"), f.get("EP")) or f.get("AR") or f.get("PS"),
        "doi": first(f.get("DI"), f.get("DL")),
        "pmid": pmid if pmid and str(pmid).strip().isdigit() else None,
        "issn": first(f.get("SN"), f.get("EI")), "isbn": f.get("BN"),
        "language": f.get("LA"),
        "keywords": _items(f.get("DE")) + _items(f.get("ID")),
        "mesh_terms": _items(f.get("MH")),
        "publication_types": _items(f.get("DT")),
        "item_type": first(_items(f.get("DT")), f.get("PT")),
        "url": (f"https://www.webofscience.com/wos/woscc/full-record/{accession}"
                if accession.startswith("WOS:") else first(f.get("UR"))),
        "raw": f,
    }
