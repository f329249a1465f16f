"""CSV/TSV and EndNote XML readers (see ``harvest.files`` for the shared parts)."""

from __future__ import annotations

import ast
import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence import normalise as n
from evidence.harvest.files import (
    FileFormatError,
    IdKeeper,
    first,
    ids_in_text,
    is_wos_header,
    isbn_or_issn,
    pages,
    pmid_from_accession,
    read_text,
    split_structured,
)

# -- CSV / TSV ------------------------------------------------------------------------------

#: Our field -> accepted column names (compared lower-case, with spaces and underscores
#: removed), in order of preference: the first listed name present in a file wins (for the
#: external id, the first such column in the file). Taken from
#: the exports of ASReview, Zotero, EndNote, Embase, Scopus, Springer Link, PubMed, IEEE
#: Xplore, Publish or Perish, Web of Science (Excel) and our Excel evidence tables.
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("recordid", "key", "id", "customid", "accessionnumber", "ut(uniquewosid)",
                    "ut", "eid", "pui", "embaseaccessionnumber", "embaseaccessionid"),
    "title": ("title", "itemtitle", "primarytitle", "articletitle", "documenttitle", "ti",
              "tittel"),
    "abstract": ("abstract", "abstractnote", "ab", "notesabstract", "sammendrag"),
    "authors": ("authors", "author", "authornames", "authorfullnames", "firstauthors",
                "au", "forfattere", "forfatter"),
    "year": ("year", "publicationyear", "py", "pubyear", "år", "ar"),
    "journal": ("journal", "journal/book", "publicationtitle", "sourcetitle", "publication",
                "publicationname", "secondarytitle", "journalname", "journaltitle",
                "tidsskrift"),
    "journal_abbrev": ("journalisoabbreviation", "journalabbreviation",
                       "abbreviatedsourcetitle", "journaliso", "isosourceabbreviation", "ta"),
    "doi": ("doi", "itemdoi", "doilink"),
    "pmid": ("pmid", "pubmedid", "medlinepmid"),
    "pmcid": ("pmcid", "pmc"),
    "keywords": ("keywords", "authorkeywords", "manualtags", "kw", "emneord", "indexkeywords",
                 "keywordsplus", "ieeeterms", "automatictags"),
    "url": ("url", "link", "articleurl", "fulltextlink", "openurllink", "pdflink", "lenke"),
    "pages": ("pages", "page"),
    "start_page": ("startpage", "pagestart", "firstpage", "sp"),
    "end_page": ("endpage", "pageend", "lastpage", "ep"),
    "article_number": ("art.no.", "articleno", "articlenumber"),
    "volume": ("volume", "journalvolume", "vl", "årgang"),
    "issue": ("issue", "journalissue", "number", "is"),
    "isbn": ("isbn", "isbns"),
    "issn": ("issn", "eissn"),
    "isbn_issn": ("isbn/issn",),
    "language": ("language", "languageoforiginaldocument", "languageofarticle", "la", "språk"),
    "item_type": ("itemtype", "typeofreference", "referencetype", "documenttype",
                  "contenttype", "publicationtype", "type"),
    "pub_date": ("date", "publicationdate", "dateofpublication", "dato"),
    "publisher": ("publisher", "utgiver"),
    "citation": ("source", "citation", "kilde"),
    "extra": ("extra", "notes", "note"),
}
_ALIASES = {alias: field for field, aliases in COLUMNS.items() for alias in aliases}
_RANK = {alias: rank for field, aliases in COLUMNS.items() if field != "external_id"
         for rank, alias in enumerate(aliases)}
csv.field_size_limit(2**31 - 1)


def column_key(name: str) -> str:
    return re.sub(r"[\s_]+", "", name.strip().lstrip("\ufeff").lower())


def read_csv(path: str | Path) -> Iterator[dict[str, Any]]:
    """CSV or TSV with a header row; separator ``,`` ``;`` or tab, found from the header.

    The csv module's own messages never reach the user: a malformed file is reported with
    its line and what to do.
    """
    path = Path(path)
    text = read_text(path)
    header = text.lstrip("\n").split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    yield from table_hits(path, _ParsedRows(csv_rows(path, text, delimiter)))


def csv_rows(path: Path, text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) per row. Strict parsing first; a file it rejects is read again
    leniently, as long as no cell has swallowed whole rows: IEEE Xplore writes unescaped
    quotes inside quoted titles (``"... on "Computer as a Tool""``), which is harmless, while
    an unclosed quote would hide every row up to the next quote inside one cell."""
    try:
        return _parse_csv(text, delimiter, strict=True)
    except csv.Error:
        rows = _parse_csv(text, delimiter, strict=False)
    width = max(len(rows[0][1]) if rows else 0, 2)
    for line, row in rows:
        for cell in row:
            if "\n" in cell and any(len(next(csv.reader([part], delimiter=delimiter), []))
                                    >= width for part in cell.split("\n")[1:]):
                raise FileFormatError(
                    f"{path.name}: line {line}: the CSV is malformed here (a quoted field is "
                    "not closed, so the rows after it would be read as its text); save it "
                    "again from the database or spreadsheet as CSV")
    return rows


def _parse_csv(text: str, delimiter: str, *, strict: bool) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=strict)
    rows = []
    line = 1
    for row in reader:
        rows.append((line, row))
        line = reader.line_num + 1
    return rows


class _ParsedRows:
    """Parsed rows with ``line_num`` (the row's first line), as table_hits reports it."""

    def __init__(self, rows: list[tuple[int, list[str]]]) -> None:
        self.rows, self.line_num = iter(rows), 0

    def __iter__(self) -> _ParsedRows:
        return self

    def __next__(self) -> list[str]:
        self.line_num, row = next(self.rows)
        return row


def table_hits(path: Path, rows: Iterator[list[str]]) -> Iterator[dict[str, Any]]:
    """Hits from a header row and data rows, columns matched by :data:`COLUMNS`."""
    columns = next(rows, None)
    if not columns:
        raise FileFormatError(f"{path.name}: the file is empty; export the references again")
    if is_wos_header("\t".join(c.strip().lstrip("\ufeff") for c in columns)):
        yield from _wos_table(path, columns, rows)
        return
    fields = _field_columns(columns)
    if not fields:
        raise FileFormatError(
            f"{path.name}: line 1: no known column (found {', '.join(columns[:8])}); "
            "name the columns title, abstract, authors, year, journal, doi ...")
    keys = [column_key(c) for c in columns]
    springer = "itemdoi" in keys
    funding = keys.index("fundingtext1") if "fundingtext1" in keys else None
    ids = IdKeeper()
    for number, row in enumerate(rows, 1):
        if not any(cell.strip() for cell in row):
            continue
        if funding is not None and len(row) > len(columns):
            row = _join_funding_texts(row, funding, len(row) - len(columns))
        _check_width(path, rows, columns, row)
        raw = {c.strip().lstrip("\ufeff"): v for c, v in zip(columns, row, strict=False)}
        values: dict[str, Any] = {}
        for field, indexes in fields.items():
            value = next((row[i] for i in indexes if i < len(row) and row[i].strip()), None)
            if value is not None:
                values[field] = value
        if springer and values.get("authors"):
            values["authors"] = split_joined_names(values["authors"])
        given = first(values.get("external_id"), values.get("pmid"))
        yield ids.assign(csv_to_hit(values, raw), given, number)


def _join_funding_texts(row: list[str], at: int, extra: int) -> list[str]:
    """Scopus writes one column per funding text of a record but names only ``Funding Text
    1`` in the header, shifting every later column: the texts go back into one cell."""
    texts = [t for t in row[at:at + extra + 1] if t.strip()]
    return [*row[:at], "\n\n".join(texts), *row[at + extra + 1:]]


def _field_columns(columns: list[str]) -> dict[str, list[int]]:
    """Our field -> the indexes of its columns, most preferred name first."""
    fields: dict[str, list[int]] = {}
    keys = [column_key(c) for c in columns]
    for i in sorted(range(len(keys)), key=lambda i: _RANK.get(keys[i], 0)):
        if keys[i] in _ALIASES:
            fields.setdefault(_ALIASES[keys[i]], []).append(i)
    return fields


def _check_width(path: Path, rows: Any, columns: list[str], row: list[str]) -> None:
    """A row with filled cells beyond the header is shifted: a separator inside an unquoted
    field. Reading it would put values into the wrong fields."""
    if any(cell.strip() for cell in row[len(columns):]):
        line = getattr(rows, "line_num", "?")
        raise FileFormatError(
            f"{path.name}: line {line}: {len(row)} fields but the header has {len(columns)}; "
            "a value holds the separator without quotes: save the file again as CSV")


def _wos_table(path: Path, columns: list[str], rows: Iterator[list[str]]
               ) -> Iterator[dict[str, Any]]:
    """A table whose header is Web of Science field tags (``PT, AU, TI, ... UT``)."""
    from evidence.harvest.files.wos import ITEM_PER_LINE, wos_to_hit

    tags = [c.strip().lstrip("\ufeff") for c in columns]
    ids = IdKeeper()
    for number, row in enumerate(rows, 1):
        if not any(cell.strip() for cell in row):
            continue
        _check_width(path, rows, columns, row)
        f: dict[str, Any] = {t: v for t, v in zip(tags, row, strict=False) if v.strip()}
        for tag in ITEM_PER_LINE & f.keys():
            f[tag] = [v for v in re.split(r"\s*;\s*", f[tag]) if v]
        yield ids.assign(wos_to_hit(f), first(f.get("UT"), f.get("AN")), number)


#: Id columns only a database's own export has: an Excel file with one is read like a CSV
#: export, not as an evidence table (which keeps decisions).
_EXPORT_IDS = {"ut(uniquewosid)", "eid", "pui", "embaseaccessionnumber", "embaseaccessionid",
               "accessionnumber", "key", "itemdoi", "journal/book"}


class _SheetRows:
    """Rows of a sheet as lists of text, with ``line_num`` (the row number) like csv.reader."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self.rows, self.line_num = rows, 0

    def __iter__(self) -> _SheetRows:
        return self

    def __next__(self) -> list[str]:
        values = next(self.rows)
        self.line_num += 1
        return [_cell_text(v) for v in values]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_header(path: str | Path) -> list[str]:
    """The first row of the workbook's first sheet (empty when it cannot be read)."""
    from openpyxl import load_workbook

    from evidence.harvest.files.evidence_table import check_unzipped_size

    try:
        check_unzipped_size(path)
        book = load_workbook(str(path), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable workbook is the evidence table's to report
        return []
    try:
        first_row = next(book.worksheets[0].iter_rows(values_only=True), ()) if book.worksheets \
            else ()
        return [_cell_text(v) for v in first_row]
    finally:
        book.close()


def is_xlsx_export(path: str | Path) -> bool:
    """True for a database's Excel export (Web of Science, Scopus, Embase, Zotero ...): its
    first row has no ``title`` column an evidence table would have, or it has an id column
    only such exports have."""
    keys = [column_key(h) for h in xlsx_header(path)]
    known = [k for k in keys if k in _ALIASES]
    return bool(known) and ("title" not in keys and "tittel" not in keys
                            or bool(_EXPORT_IDS & set(keys)))


def read_xlsx_export(path: str | Path) -> Iterator[dict[str, Any]]:
    """The first sheet of a database's Excel export, its columns matched as in a CSV."""
    from openpyxl import load_workbook

    from evidence.harvest.files.evidence_table import check_unzipped_size

    path = Path(path)
    check_unzipped_size(path)
    book = load_workbook(str(path), read_only=True, data_only=True)
    try:
        yield from table_hits(path, _SheetRows(book.worksheets[0].iter_rows(values_only=True)))
    finally:
        book.close()


_JOINED = re.compile(r"(?<=[a-z\u00e0-\u00ff])(?=[A-Z\u00c0-\u00de][a-z\u00e0-\u00ff]*[.\s])")


def split_joined_names(value: str) -> list[str]:
    """Springer Link's CSV runs author names together (``Andy SmithTom Weber``): split where
    a lower-case letter meets the capital of the next first name (``McDonald`` stays whole,
    because ``Donald`` is not followed by a space or a full stop)."""
    if ";" in value or "," in value:
        return split_authors(value)
    return [name.strip() for name in _JOINED.split(value) if name.strip()]


_EMBASE_SOURCE = re.compile(r"^(?P<journal>.+?) \((?P<year>\d{4})\)(?: (?P<volume>[^:\s(]+)"
                            r"(?::(?P<issue>[^\s(]+))?)?(?: \((?P<pages>[^)]+)\))?")
_PUBMED_CITATION = re.compile(r"^(?P<journal>[^.]+(?:\.[^.;\d][^.;]*)*)\. (?P<date>[^;.]+)"
                              r"(?:;(?P<volume>[^(:.]*)(?:\((?P<issue>[^)]*)\))?"
                              r"(?::(?P<pages>[^.;]+))?)?")


def citation_parts(citation: str | None) -> dict[str, str]:
    """Journal, volume, issue and pages from a one-line citation: Embase's ``Source``
    (``Endoscopic Ultrasound (2014) 3:3 (152-160). Date of Publication: 2014``) or PubMed's
    ``Citation`` (``Nature. 2021 Dec 21;1(2):10-11. doi: ...``). Empty when it is neither
    (Publish or Perish puts the bare journal name in ``Source``)."""
    text = (citation or "").strip()
    match = _EMBASE_SOURCE.match(text) or _PUBMED_CITATION.match(text)
    if not match:
        return {}
    return {k: v.strip() for k, v in match.groupdict().items() if v and v.strip()}


def csv_to_hit(v: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    isbn, issn = isbn_or_issn(v.get("isbn_issn"))
    linked_pmid, linked_pmcid = ids_in_text(v.get("extra"), v.get("url"))
    cited = citation_parts(v.get("citation"))
    # Publish or Perish names the journal "Source"; Scopus writes the database name there.
    source = v.get("citation") if v.get("citation") and not cited else None
    if source and source.strip().lower() in ("scopus", "embase", "medline", "pubmed"):
        source = None
    authors = v.get("authors")
    return {
        "title": v.get("title"), "abstract": split_structured(v.get("abstract")),
        "authors": authors if isinstance(authors, list) else split_authors(authors),
        "year": first(v.get("year"), v.get("pub_date"), cited.get("year"),
                      cited.get("date")),
        "pub_date": first(v.get("pub_date"), cited.get("date")),
        "journal": first(v.get("journal"), cited.get("journal"), source, v.get("publisher")),
        "journal_abbrev": v.get("journal_abbrev"),
        "pmid": v.get("pmid") or linked_pmid,
        "doi": first(v.get("doi"), n.normalise_doi(v.get("url"))),
        "pmcid": v.get("pmcid") or linked_pmcid, "keywords": split_list(v.get("keywords")),
        "url": v.get("url"),
        "pages": first(v.get("pages"), pages(v.get("start_page"), v.get("end_page")),
                       v.get("article_number"), cited.get("pages")),
        "volume": first(v.get("volume"), cited.get("volume")),
        "issue": first(v.get("issue"), cited.get("issue")), "isbn": v.get("isbn") or isbn,
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
