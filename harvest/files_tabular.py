"""CSV/TSV, BibTeX and EndNote XML readers (see ``harvest.files`` for the shared parts)."""

from __future__ import annotations

import ast
import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bibtexparser
from bibtexparser.bparser import BibTexParser
from bibtexparser.customization import convert_to_unicode

from evidence.harvest import normalise as n
from evidence.harvest.files import (
    FileFormatError,
    IdKeeper,
    first,
    ids_in_text,
    isbn_or_issn,
    pages,
    pmid_from_accession,
    read_text,
    split_structured,
)

# -- CSV / TSV ------------------------------------------------------------------------------

#: Our field -> accepted column names (compared lower-case, with spaces and underscores
#: removed), taken from ASReview, Zotero, EndNote, Embase, Scopus and Excel evidence tables.
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("recordid", "key", "id", "customid", "accessionnumber"),
    "title": ("title", "primarytitle", "articletitle", "documenttitle", "ti", "tittel"),
    "abstract": ("abstract", "abstractnote", "ab", "notesabstract", "sammendrag"),
    "authors": ("authors", "author", "authornames", "firstauthors", "authorfullnames", "au",
                "forfattere", "forfatter"),
    "year": ("year", "publicationyear", "py", "pubyear", "år", "ar"),
    "journal": ("journal", "publicationtitle", "sourcetitle", "publicationname",
                "secondarytitle", "journalname", "journaltitle", "tidsskrift"),
    "journal_abbrev": ("journalabbreviation", "abbreviatedsourcetitle", "ta"),
    "doi": ("doi",),
    "pmid": ("pmid", "pubmedid"),
    "pmcid": ("pmcid", "pmc"),
    "keywords": ("keywords", "authorkeywords", "manualtags", "kw", "emneord"),
    "url": ("url", "link", "openurllink", "lenke"),
    "pages": ("pages", "page"),
    "start_page": ("startpage", "pagestart", "sp"),
    "end_page": ("endpage", "pageend", "ep"),
    "volume": ("volume", "vl", "årgang"),
    "issue": ("issue", "number", "is"),
    "isbn": ("isbn",),
    "issn": ("issn",),
    "isbn_issn": ("isbn/issn",),
    "language": ("language", "la", "språk"),
    "item_type": ("itemtype", "typeofreference", "referencetype", "documenttype", "type"),
    "pub_date": ("date", "publicationdate", "dato"),
    "publisher": ("publisher", "utgiver"),
    "citation": ("source", "kilde"),
    "extra": ("extra", "notes", "note"),
}
_ALIASES = {alias: field for field, aliases in COLUMNS.items() for alias in aliases}


def column_key(name: str) -> str:
    return re.sub(r"[\s_]+", "", name.strip().lower())


def read_csv(path: str | Path) -> Iterator[dict[str, Any]]:
    """CSV or TSV with a header row; separator ``,`` ``;`` or tab, found from the header."""
    path = Path(path)
    text = read_text(path)
    header = text.lstrip("\n").split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        yield from table_hits(path, reader)
    except csv.Error as e:
        raise FileFormatError(f"{path.name}: line {reader.line_num}: {e}") from e


def table_hits(path: Path, rows: Iterator[list[str]]) -> Iterator[dict[str, Any]]:
    """Hits from a header row and data rows, columns matched by :data:`COLUMNS`."""
    columns = next(rows, None)
    if not columns:
        raise FileFormatError(f"{path.name}: the file is empty; export the references again")
    fields = {i: _ALIASES.get(column_key(c)) for i, c in enumerate(columns)}
    if not any(fields.values()):
        raise FileFormatError(
            f"{path.name}: line 1: no known column (found {', '.join(columns[:8])}); "
            "name the columns title, abstract, authors, year, journal, doi ...")
    ids = IdKeeper()
    for number, row in enumerate(rows, 1):
        if not any(cell.strip() for cell in row):
            continue
        raw = {c.strip(): v for c, v in zip(columns, row, strict=False)}
        values: dict[str, Any] = {}
        for i, cell in enumerate(row):
            if fields.get(i) and cell.strip() and fields[i] not in values:
                values[fields[i]] = cell
        yield ids.assign(csv_to_hit(values, raw), values.get("external_id"), number)


def csv_to_hit(v: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    isbn, issn = isbn_or_issn(v.get("isbn_issn"))
    linked_pmid, linked_pmcid = ids_in_text(v.get("extra"), v.get("url"))
    return {
        "title": v.get("title"), "abstract": split_structured(v.get("abstract")),
        "authors": split_authors(v.get("authors")),
        "year": first(v.get("year"), v.get("pub_date"), v.get("citation")),
        "pub_date": v.get("pub_date"), "journal": first(v.get("journal"), v.get("publisher")),
        "journal_abbrev": v.get("journal_abbrev"),
        "pmid": v.get("pmid") or linked_pmid,
        "doi": first(v.get("doi"), n.normalise_doi(v.get("url"))),
        "pmcid": v.get("pmcid") or linked_pmcid, "keywords": split_list(v.get("keywords")),
        "url": v.get("url"), "pages": v.get("pages") or pages(v.get("start_page"),
                                                              v.get("end_page")),
        "volume": v.get("volume"), "issue": v.get("issue"), "isbn": v.get("isbn") or isbn,
        "issn": v.get("issn") or issn, "language": v.get("language"),
        "item_type": v.get("item_type"), "raw": raw,
    }


def _literal_list(text: str) -> list[str] | None:
    """ASReview writes lists as Python literals: ``['Marx, Karl', 'Lindgren, Astrid']``."""
    if text.startswith("[") and text.endswith("]"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        if isinstance(value, list):
            return [str(item) for item in value]
    return None


def split_authors(value: str | None) -> list[str]:
    """``A; B``, a Python list literal, or Embase's ``Liu R., Adler D.G.`` (comma separated
    when every part has a space, so ``Larsen, LJ`` stays one name)."""
    if not value:
        return []
    text = value.strip()
    listed = _literal_list(text)
    if listed is not None:
        return listed
    if ";" not in text and "\n" not in text:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) > 1 and all(" " in p for p in parts if p):
            return parts
    return n.normalise_authors(text)


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    listed = _literal_list(value.strip())
    return listed if listed is not None else re.split(r"\s*[;\n]\s*|,\s+", value)


# -- BibTeX ---------------------------------------------------------------------------------


def read_bibtex(path: str | Path) -> Iterator[dict[str, Any]]:
    """BibTeX/BibLaTeX (Zotero, JabRef, Google Scholar); the entry key is the external id."""
    path = Path(path)
    text = read_text(path)
    parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False)
    parser.customization = convert_to_unicode
    entries = bibtexparser.loads(text, parser=parser).entries
    if not entries:
        raise FileFormatError(f"{path.name}: no BibTeX entries found (no '@type{{key,' line)")
    ids = IdKeeper()
    for number, entry in enumerate(entries, 1):
        if not entry.get("ID"):
            raise FileFormatError(f"{path.name}: entry {number}: has no citation key")
        yield ids.assign(bibtex_to_hit(entry), entry["ID"], number)


def _unbrace(value: Any) -> str | None:
    return n.clean_text(str(value).replace("{", "").replace("}", "")) if value else None


def bibtex_to_hit(e: dict[str, Any]) -> dict[str, Any]:
    authors = [a for a in re.split(r"\s+and\s+", _unbrace(e.get("author")) or "") if a]
    keywords = re.split(r"\s*[;,]\s*", _unbrace(e.get("keywords")) or "")
    return {
        "title": _unbrace(e.get("title")), "abstract": split_structured(_unbrace(
            e.get("abstract"))), "authors": authors,
        "year": e.get("year") or e.get("date"), "pub_date": e.get("date"),
        "journal": _unbrace(first(e.get("journal"), e.get("journaltitle"), e.get("booktitle"))),
        "journal_abbrev": _unbrace(e.get("shortjournal")),
        "volume": e.get("volume"), "issue": e.get("number") or e.get("issue"),
        "pages": e.get("pages"), "doi": e.get("doi"), "pmid": e.get("pmid"),
        "pmcid": e.get("pmcid"), "isbn": e.get("isbn"), "issn": e.get("issn"),
        "url": e.get("url"), "language": e.get("language") or e.get("langid"),
        "keywords": [k for k in keywords if k], "item_type": e.get("ENTRYTYPE"), "raw": e,
    }


# -- EndNote XML (also Mendeley's and Zotero's "EndNote XML" export) ------------------------


def read_endnote_xml(path: str | Path) -> Iterator[dict[str, Any]]:
    """``<xml><records><record>`` with or without ``<style>`` wrappers around text."""
    path = Path(path)
    text = read_text(path)
    if re.search(r"<rdf:RDF\b", text[:4000]):
        raise FileFormatError(f"{path.name}: this is Zotero RDF; export RIS or BibTeX instead "
                              "(Zotero: File > Export Library)")
    ids = IdKeeper()
    number = 0
    parser = ET.iterparse(io.StringIO(text), events=("start", "end"))
    try:
        _, root = next(parser)
        if root.tag != "xml":
            raise FileFormatError(f"{path.name}: XML whose root is <{root.tag}>, not "
                                  "EndNote XML (<xml><records>); export RIS instead")
        for event, element in parser:
            if event == "end" and element.tag == "record":
                number += 1
                raw = endnote_fields(element)
                element.clear()
                given = first(raw.get("rec-number"), raw.get("accession-num"))
                yield ids.assign(endnote_to_hit(raw), given, number)
    except ET.ParseError as e:
        line = e.position[0]
        raise FileFormatError(f"{path.name}: entry {number + 1} (line {line}): broken XML "
                              f"({e}); export the file again") from e
    if number == 0:
        raise FileFormatError(f"{path.name}: no <record> entries found in this EndNote XML")


def _text(element: ET.Element | None) -> str | None:
    return n.clean_text("".join(element.itertext())) if element is not None else None


def endnote_fields(record: ET.Element) -> dict[str, Any]:
    """A flat dict of one record: repeated elements (authors, keywords, urls) as lists."""
    raw: dict[str, Any] = {}
    for child in record:
        if child.tag in ("contributors", "keywords", "urls", "titles", "periodical", "dates"):
            continue
        raw[child.tag] = _text(child)
    raw["ref-type"] = record.find("ref-type").get("name") if record.find(
        "ref-type") is not None else None
    raw["authors"] = [_text(a) for a in record.iterfind("contributors/authors/author")]
    raw["keywords"] = [_text(k) for k in record.iterfind("keywords/keyword")]
    raw["urls"] = [_text(u) for u in record.iterfind("urls/related-urls/url")]
    for group in ("titles", "periodical"):
        for child in record.iterfind(group + "/*"):
            raw.setdefault(f"{group}/{child.tag}", _text(child))
    raw["year"] = _text(record.find("dates/year"))
    raw["date"] = _text(record.find("dates/pub-dates/date"))
    return {k: v for k, v in raw.items() if v not in (None, [])}


def endnote_to_hit(r: dict[str, Any]) -> dict[str, Any]:
    isbn, issn = isbn_or_issn(r.get("isbn"))
    journal = first(r.get("periodical/full-title"), r.get("titles/secondary-title"))
    doi = r.get("electronic-resource-num")
    linked_pmid, linked_pmcid = ids_in_text(r.get("urls"), r.get("notes"))
    return {
        "title": r.get("titles/title"), "abstract": split_structured(r.get("abstract")),
        "authors": r.get("authors", []), "year": first(r.get("year"), r.get("date")),
        "pub_date": r.get("date"), "journal": journal,
        "journal_abbrev": first(r.get("periodical/abbr-1"), r.get("titles/alt-title")),
        "volume": r.get("volume"), "issue": first(r.get("issue"), r.get("number")),
        "pages": r.get("pages"), "doi": doi if n.normalise_doi(doi) else None,
        "isbn": isbn, "issn": issn,
        "pmid": pmid_from_accession(r.get("accession-num"), r.get("database"),
                                    r.get("remote-database-name"),
                                    r.get("remote-database-provider")) or linked_pmid,
        "pmcid": linked_pmcid,
        "language": r.get("language"), "keywords": r.get("keywords", []),
        "url": first(r.get("urls")), "item_type": r.get("ref-type"), "raw": r,
    }
