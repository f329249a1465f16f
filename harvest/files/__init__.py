"""Readers for exported reference files: RIS, MEDLINE (.nbib), BibTeX, CSV/TSV, EndNote XML,
Web of Science and Cochrane Library exports.

Each ``read_<format>(path)`` is a generator of hit dicts (see ``harvest.store.HIT_FIELDS``) whose
``raw`` is the original entry as a dict. Problems raise :class:`FileFormatError` naming the file
and the entry number or line, so a person can open the file and fix it; no entry of a file is
dropped without an error. :data:`READERS` is the one registry of formats (the CLI's
``--format`` choices come from it). This module holds the shared parts (decoding, format
detection, stable ids) and RIS; the others live in ``files.medline``, ``files.tabular`` (CSV,
EndNote XML, Excel exports), ``files.bibtex``, ``files.wos``, ``files.cochrane``,
``files.refer`` (EndNote tagged) and ``files.ovid``.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rispy import RisParser

from evidence import normalise as n
from evidence.errors import EvidenceError

EXTENSIONS = {
    ".ris": "ris", ".nbib": "nbib", ".medline": "nbib", ".bib": "bibtex", ".bibtex": "bibtex",
    ".csv": "csv", ".tsv": "csv", ".xml": "endnote-xml", ".xlsx": "xlsx", ".isi": "wos",
    ".ciw": "wos", ".enw": "enw",
}
_SNIFF_BYTES = 64 * 1024


class FileFormatError(EvidenceError):
    """A file that cannot be read, naming the file and the entry or line."""


# -- decoding and detection ----------------------------------------------------------------


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM) or UTF-16 with a BOM.

    Empty files, binary files and other encodings are refused with the line of the first bad
    byte and the fix, because guessing an encoding silently garbles Norwegian letters.
    """
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return unify_newlines(data.decode("utf-16"))
    _check_text(path, data)
    try:
        return unify_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise _not_utf8(path, data, e.start) from None


#: Bytes decoded at a time by :func:`read_lines`.
LINES_CHUNK = 1 << 20


def read_lines(path: Path) -> Iterator[str]:
    """The lines of the file, as :func:`read_text` reads it, decoded a megabyte at a time.

    A reader that walks lines (RIS) gives its first entries before the rest of the file is
    decoded and split: the importer starts storing them while the file is read, instead of
    waiting for all of it (about 0.1 s for a 20 MB export). UTF-8 never puts a newline byte
    inside a character, so each chunk ends after a newline and decodes on its own (CRLF
    stays whole); UTF-16 files are decoded whole.
    """
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        yield from unify_newlines(data.decode("utf-16")).splitlines()
        return
    _check_text(path, data)
    start, encoding = 0, "utf-8-sig"  # the BOM only at the start
    while start < len(data):
        end = data.find(b"\n", start + LINES_CHUNK)
        end = len(data) if end == -1 else end + 1
        try:
            text = data[start:end].decode(encoding)
        except UnicodeDecodeError as e:
            raise _not_utf8(path, data, start + e.start) from None
        yield from unify_newlines(text).splitlines()
        start, encoding = end, "utf-8"


def _check_text(path: Path, data: bytes) -> None:
    if not data or data.isspace():  # not data.strip(): that copies the whole file
        raise FileFormatError(f"{path.name}: the file is empty; export the references again")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise FileFormatError(f"{path.name}: this is a binary file, not a text export; "
                              "export RIS, .nbib, BibTeX, CSV or EndNote XML")


def _not_utf8(path: Path, data: bytes, at: int) -> FileFormatError:
    line = data.count(b"\n", 0, at) + 1
    return FileFormatError(
        f"{path.name}: line {line} is not UTF-8 (byte 0x{data[at]:02x}); the file is "
        "probably Latin-1/Windows-1252: save it as UTF-8 (Excel: 'CSV UTF-8') or convert "
        f"it with `iconv -f windows-1252 -t utf-8 {path.name}`")


def unify_newlines(text: str) -> str:
    """CRLF and CR-only line ends (old Mac exports, BIOSIS) become LF, so every reader and
    the csv module see one line per line."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


Reader = Callable[[Path], Iterator[dict[str, Any]]]


def _package(module: str) -> str:
    """The full name of a reader module (``""`` is this package, which holds RIS)."""
    return f"evidence.harvest.files.{module}" if module else "evidence.harvest.files"


def _lazy(module: str, name: str) -> Reader:
    """A reader imported on first use (the format modules import this one)."""

    def reader(path: Path) -> Iterator[dict[str, Any]]:
        return getattr(importlib.import_module(_package(module)), name)(path)

    reader.__name__ = name
    reader.__doc__ = f"``{_package(module)}.{name}``"
    return reader


#: The one registry of file formats: ``--format`` name -> reader (a generator of hit dicts).
READERS: dict[str, Reader] = {
    "ris": _lazy("", "read_ris"),
    "nbib": _lazy("medline", "read_nbib"),
    "bibtex": _lazy("bibtex", "read_bibtex"),
    "csv": _lazy("tabular", "read_csv"),
    "endnote-xml": _lazy("tabular", "read_endnote_xml"),
    "wos": _lazy("wos", "read_wos"),
    "cochrane": _lazy("cochrane", "read_cochrane"),
    "enw": _lazy("refer", "read_enw"),
    "ovid": _lazy("ovid", "read_ovid"),
    "pubmed-xml": _lazy("pubmed_xml", "read_pubmed_xml"),
    "xlsx": _lazy("", "_read_xlsx"),
}
FORMATS = tuple(READERS)
_KNOWN = ("RIS, MEDLINE/.nbib, PubMed XML, BibTeX, CSV/TSV, EndNote XML, EndNote tagged "
          "(.enw), Web of Science (plain text or tab-delimited), Cochrane Library plain text, "
          "Ovid tagged, Excel")

_WOS_PLAIN = re.compile(r"(?:FN |VR \d|PT [A-Z]$)", re.M)
_MEDLINE_TAGS = re.compile(r"^(?:PMID|OWN|OID|FAU|STAT|LID|AID|PHST|EDAT|MHDA)\s*- ", re.M)
_OVID = re.compile(r"^<\s*\d+\.?\s*>\s*$", re.M)
_COCHRANE = re.compile(r"^(?:Record #\d+ of \d+\s*$|ID: C[DN]-?\d)", re.M)


def detect_format(path: str | Path) -> str:
    """The format of ``path`` judged from its content, falling back to its extension.

    A file that is none of :data:`READERS` is refused with a message saying so, never read
    as something else.
    """
    path = Path(path)
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04" and path.suffix.lower() in (".xlsx", ".xlsm"):
            return "xlsx"
    head = _head(path).lstrip("\ufeff \t\n")
    first = head.split("\n", 1)[0]
    if head.startswith("<"):
        return _detect_xml(path, head)
    if _WOS_PLAIN.match(head) and re.search(r"^(?:TI|UT|ER)\b", head, re.M):
        return "wos"
    if is_wos_header(first):
        return "wos"
    if re.search(r"^PMID- ", head, re.M):
        return "nbib"
    if re.search(r"^TY {1,2}-", head, re.M):
        return "ris"
    if _OVID.search(head) and re.search(r"^(?:TI|UI|AU)  - ", head, re.M):
        return "ovid"
    if _COCHRANE.search(head) and re.search(r"^(?:TI|AU|SO|YR): ", head, re.M):
        return "cochrane"
    if _MEDLINE_TAGS.search(head) and re.search(r"^TI  - ", head, re.M):
        return "nbib"
    if re.search(r"^\s*@\s*[A-Za-z]+\s*[{(]", head, re.M):
        return "bibtex"
    if re.search(r"^%T ", head, re.M) and len(re.findall(r"^%[0-9A-Z@] ", head, re.M)) >= 3:
        return "enw"
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt") and any(c in first for c in ",;\t"):
        return "csv"
    if suffix in EXTENSIONS and suffix not in (".xml", ".isi", ".ciw"):
        return EXTENSIONS[suffix]
    raise FileFormatError(f"{path.name}: not a known export format; the readers take {_KNOWN}. "
                          f"If it is one of them, give it with --format ({'|'.join(FORMATS)})")


def _detect_xml(path: Path, head: str) -> str:
    if _OVID.search(head) and not re.search(r"^TY {1,2}-", head, re.M):
        return "ovid"
    if re.search(r"<rdf:RDF\b", head[:4000]):
        raise FileFormatError(f"{path.name}: this is Zotero RDF; export RIS or BibTeX "
                              "instead (Zotero: File > Export Library)")
    if re.search(r"<xml>\s*<records>", head[:4000]):
        return "endnote-xml"
    if re.search(r"<PubmedArticleSet\b|<!DOCTYPE\s+PubmedArticleSet\b", head[:4000]):
        return "pubmed-xml"
    raise FileFormatError(f"{path.name}: XML that is neither EndNote XML (<xml><records>) nor "
                          "PubMed XML (<PubmedArticleSet>); export RIS, BibTeX or EndNote XML "
                          "instead")


def is_wos_header(line: str) -> bool:
    """A Web of Science tab-delimited header: ``PT<TAB>AU<TAB>...`` two-letter field tags."""
    tags = [t.strip() for t in line.rstrip("\t").split("\t")]
    return (len(tags) >= 5 and tags[0] in ("PT", "FN") and "TI" in tags
            and all(re.fullmatch(r"[A-Z][A-Z0-9]", t) for t in tags))


def _head(path: Path) -> str:
    with open(path, "rb") as f:
        data = f.read(_SNIFF_BYTES)
    if not data or data.isspace():  # not data.strip(): that copies the whole file
        raise FileFormatError(f"{path.name}: the file is empty; export the references again")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return unify_newlines(data.decode("utf-16", errors="replace"))
    if b"\x00" in data:
        raise FileFormatError(f"{path.name}: this is a binary file, not a text export; "
                              "export RIS, .nbib, BibTeX, CSV or EndNote XML")
    return unify_newlines(data.decode("utf-8", errors="replace"))


def read_file(path: str | Path, fmt: str | None = None) -> Iterator[dict[str, Any]]:
    """Read ``path`` as ``fmt`` (detected from the content when not given)."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in READERS:
        raise FileFormatError(f"{path.name}: unknown format {fmt!r}; use one of "
                              f"{', '.join(FORMATS)}")
    return READERS[fmt](path)


def _read_xlsx(path: Path) -> Iterator[dict[str, Any]]:
    """Hits of a database's Excel export (read like its CSV), or of an Excel evidence table
    (``harvest.evidence_table`` owns that format and also imports its decisions through
    ``import_evidence_table``)."""
    from evidence.harvest.files import evidence_table, tabular

    if tabular.is_xlsx_export(path):
        return tabular.read_xlsx_export(path)
    return (evidence_table.to_hit(row) for row in evidence_table.read_evidence_table(path))


# -- shared helpers -------------------------------------------------------------------------


class IdKeeper:
    """Stable external ids within one file.

    An entry keeps the id its source gave (RIS ``ID``/``AN``, a CSV ``record_id``, a BibTeX
    key), else a hash of title, year, authors and DOI, so re-importing the same file adds
    nothing. Only when two *different* entries would share an id does the later one get the
    entry number as a suffix; an exact repeat keeps the id and is counted as already stored.
    """

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def assign(self, hit: dict[str, Any], given: Any, number: int) -> dict[str, Any]:
        base = n.clean_text(given) or content_id(hit)
        raw = hit.get("raw")
        external_id = base
        if self.seen.setdefault(base, raw) != raw:
            external_id = f"{base}#{number}"
            self.seen.setdefault(external_id, raw)
        hit["external_id"] = external_id
        return hit


def content_id(hit: dict[str, Any]) -> str:
    """A short hash of title, year, authors and DOI: the same work gives the same id."""
    parts = [
        (n.clean_text(hit.get("title")) or "").lower(),
        str(n.normalise_year(hit.get("year") or hit.get("pub_date")) or ""),
        "; ".join(n.normalise_authors(hit.get("authors"))).lower(),
        n.normalise_doi(hit.get("doi")) or "",
    ]
    return "sha1:" + hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:16]


_LABEL = re.compile(r"[A-Z][A-Z0-9 ,/&()'-]{1,60}[A-Z)]$")


def split_structured(abstract: str | None) -> str | None:
    """Put each section of a structured abstract in its own paragraph (``LABEL: text``).

    Sources flatten ``BACKGROUND: ... METHODS: ...`` into one line; the store keeps sections
    as paragraphs separated by a blank line. Text without labels is left alone.
    """
    if not abstract or "\n\n" in abstract:
        return abstract
    abstract = abstract.strip()
    colon = abstract.find(": ")
    # a label must open the text (a label holds no colon, so it ends at the first one): an
    # abstract that does not start with one is left alone after one look, not one per colon
    if not 0 < colon <= 62 or not (first := _LABEL.search(abstract, 0, colon)) \
            or first.start():
        return abstract
    starts = [0]  # the opening label, found above; the others follow later colons
    colon = abstract.find(": ", colon + 2)
    while colon != -1:
        match = _LABEL.search(abstract, max(colon - 62, 0), colon)
        if match:
            before = abstract[max(match.start() - 3, 0):match.start()].rstrip()[-1:]
            if before in ("", ".", "?", "!", ")"):
                starts.append(match.start())
        colon = abstract.find(": ", colon + 2)
    if len(starts) < 2 or starts[0] != 0:
        return abstract
    bounds = [*starts, len(abstract)]
    return "\n\n".join(abstract[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False))


def pages(start: Any, end: Any) -> str | None:
    start, end = n.clean_text(start), n.clean_text(end)
    if start and end and "-" not in start:
        return f"{start}-{end}"
    return start or end


def isbn_or_issn(value: Any) -> tuple[str | None, str | None]:
    """Split RIS ``SN`` / CSV ``ISBN/ISSN`` by shape: 8 digits is an ISSN, 10 or 13 an ISBN."""
    text = n.clean_text(value)
    if not text:
        return None, None
    digits = re.sub(r"[^0-9Xx]", "", text.split()[0])
    return (text, None) if len(digits) in (10, 13) else (None, text)


def first(*values: Any) -> Any:
    """The first value that is not empty (lists give their first item)."""
    for value in values:
        if isinstance(value, (list, tuple)):
            value = next((v for v in value if v is not None and str(v).strip()), None)
        if value is not None and str(value).strip():
            return value
    return None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def pmid_from_accession(accession: Any, *provider: Any) -> str | None:
    """An accession number is a PMID when the database says PubMed/MEDLINE/NLM."""
    text = n.clean_text(accession)
    names = " ".join(str(p) for p in provider if p).lower()
    if text and text.isdigit() and len(text) <= 9 and re.search(r"pubmed|medline|nlm", names):
        return text
    return None


_PMID_IN_TEXT = re.compile(r"\bPMID:?\s*(\d{1,9})\b|pubmed\.ncbi\.nlm\.nih\.gov/(\d{1,9})\b"
                           r"|ncbi\.nlm\.nih\.gov/pubmed/(\d{1,9})\b", re.I)
_PMCID_IN_TEXT = re.compile(r"\bPMCID:?\s*(PMC\d+)|/pmc/articles/(PMC\d+)", re.I)


def ids_in_text(*values: Any) -> tuple[str | None, str | None]:
    """(PMID, PMCID) written inside free text or links: Zotero's ``Extra`` field
    (``PMID: 35319117 PMCID: PMC9151451``) or a PubMed link, so dedupe can match on them."""
    pmid = pmcid = None
    for value in values:
        for text in as_list(value):
            text = str(text or "")
            if not pmid and (match := _PMID_IN_TEXT.search(text)):
                pmid = next(g for g in match.groups() if g)
            if not pmcid and (match := _PMCID_IN_TEXT.search(text)):
                pmcid = next(g for g in match.groups() if g).upper()
    return pmid, pmcid


# -- RIS ------------------------------------------------------------------------------------

_RIS_LINE = re.compile(r"([A-Z][A-Z0-9])[ \t]{1,2}-(?:[ \t]+(.*))?$")


class _Parser(RisParser):
    """rispy's tag mapping and list handling; entries, lines and errors are ours."""

    def add(self, record: dict[str, Any], tag: str, content: str, multiline: bool) -> None:
        self._add_tag(record, tag, content, extend_multiline=multiline)


#: Tags that only an entry has: one outside TY..ER means an entry lost its TY line.
_ENTRY_TAGS = {"TI", "T1", "AU", "A1", "AB", "DO", "PY", "JO", "JF", "T2"}


def ris_entries(lines: Iterable[str], name: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(entry number, first line, rispy-style dict) per ``TY`` .. ``ER`` block.

    Lenient where exports are odd: text between entries (Ovid's ``1.`` counters), untagged
    continuation lines (kept with the tag above, as in Scopus notes and Rayyan keywords),
    blank lines inside an entry, a tab before the dash. Strict where data would be lost: an
    entry that is not closed by ``ER`` before the next ``TY`` or the end of the file, and
    tagged lines outside an entry (an entry whose ``TY`` line is missing).
    """
    parser = _Parser()
    record: dict[str, Any] | None = None
    number = start = 0
    last_tag = "TY"
    for lineno, line in enumerate(lines, 1):
        if (line[2:5] == "  -" and line[5:6] in ("", " ") and line[:2].isupper()
                and line[0].isalpha()):
            tag, content = line[:2], line[6:].strip()
        else:
            match = _RIS_LINE.match(line.lstrip("\ufeff"))
            tag = match.group(1) if match else None
            content = (match.group(2) or "").strip() if match else line.strip()
        if record is None:
            if tag == "TY":
                number, start, last_tag = number + 1, lineno, "TY"
                record = {"type_of_reference": content}
            elif tag in _ENTRY_TAGS and content:
                raise FileFormatError(
                    f"{name}: line {lineno}: tag '{tag}' outside an entry (no 'TY  - ' line "
                    "since the last 'ER  - '); its entry would be lost: export the file again "
                    "or add the entry's 'TY  - ' line")
            continue
        if tag == "ER":
            yield number, start, record
            record = None
        elif tag == "TY":
            raise FileFormatError(f"{name}: entry {number} (line {start}) has no end tag "
                                  f"'ER  -' before the next entry starts at line {lineno}")
        elif tag:
            if content:
                parser.add(record, tag, content, False)
            last_tag = tag
        elif content:
            parser.add(record, last_tag, content, True)
    if record is not None:
        raise FileFormatError(f"{name}: entry {number} (line {start}) has no end tag 'ER  -'; "
                              "the file looks truncated: export it again")
    if number == 0:
        raise FileFormatError(f"{name}: no RIS entries found (no 'TY  - ' line)")


def read_ris(path: str | Path) -> Iterator[dict[str, Any]]:
    """RIS from Zotero, EndNote, Ovid, Scopus, Web of Science, ProQuest, Embase, Rayyan."""
    path = Path(path)
    ids = IdKeeper()
    for number, start, entry in ris_entries(read_lines(path), path.name):
        try:
            hit = ris_to_hit(entry)
        except (TypeError, ValueError, AttributeError) as e:
            raise FileFormatError(f"{path.name}: entry {number} (line {start}): {e}") from e
        yield ids.assign(hit, first(entry.get("id"), entry.get("accession_number")), number)


def ris_to_hit(e: dict[str, Any]) -> dict[str, Any]:
    """One rispy-style entry as a hit dict."""
    kind = n.clean_text(e.get("type_of_reference"))
    journal = first(e.get("alternate_title3"), e.get("secondary_title") if kind != "BOOK"
                    else None, e.get("journal_name"), e.get("alternate_title1"))
    abbrev = first(e.get("alternate_title2"), e.get("alternate_title1"), e.get("journal_name"))
    isbn, issn = isbn_or_issn(e.get("issn"))
    urls = [u for u in as_list(e.get("urls")) if n.clean_text(u)]
    unknown = e.get("unknown_tag") or {}
    doi = ris_doi(e, urls, unknown)
    work_types = [t for t in as_list(e.get("type_of_work")) if not n.normalise_doi(t)]
    linked_pmid, linked_pmcid = ids_in_text(urls, e.get("file_attachments2"), e.get("notes"))
    return {
        "title": first(e.get("title"), e.get("primary_title"), e.get("translated_title")),
        "abstract": split_structured(first(e.get("abstract"), e.get("notes_abstract"))),
        "authors": list(dict.fromkeys(as_list(e.get("authors"))
                                      + as_list(e.get("first_authors")))),
        "year": first(e.get("year"), e.get("publication_year"), e.get("date")),
        "pub_date": first(e.get("date"), e.get("publication_year"), e.get("year")),
        "journal": journal, "journal_abbrev": abbrev if abbrev != journal else None,
        "volume": e.get("volume"), "issue": e.get("number"),
        "pages": pages(e.get("start_page"), e.get("end_page")),
        "doi": doi, "isbn": isbn, "issn": issn,
        "pmid": pmid_from_accession(e.get("accession_number"), e.get("database_provider"),
                                    e.get("name_of_database")) or linked_pmid,
        "pmcid": first(*[v for v in as_list(e.get("custom2")) if "PMC" in str(v)])
        or linked_pmcid,
        "language": e.get("language"), "keywords": as_list(e.get("keywords")),
        "publication_types": work_types or as_list(unknown.get("PT")),
        "item_type": kind, "url": urls[0] if urls else None,
        "raw": _plain(e),
    }


def ris_doi(e: dict[str, Any], urls: list[str], unknown: dict[str, Any]) -> str | None:
    """The DOI wherever the exporter put it: ``DO``, ``L3`` (EndNote, SAGE), a ``doi.org``
    link in ``UR``/``L2``/``L1``, or ``M3`` (Taylor & Francis, Wiley). A shortDOI
    (``10/abcd``) is kept as given."""
    links = [*urls, *as_list(e.get("file_attachments2")), *as_list(e.get("file_attachments1"))]
    candidates = [*as_list(e.get("doi")), *as_list(unknown.get("L3")),
                  *[u for u in links if "doi.org/" in str(u)], *as_list(e.get("type_of_work"))]
    return next((c for c in candidates if n.normalise_doi(c)), None)


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in entry.items()}
