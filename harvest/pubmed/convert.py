"""PubMed records as hits: one parsed ``PubmedArticle`` / ``PubmedBookArticle`` -> a hit dict.

Pure functions of Bio.Entrez's parsed elements (no network, no database), so they run in the
harvester's parser processes and in tests alike.
"""

from __future__ import annotations

import re
from typing import Any

from evidence.markup import ALLOWED_TAGS, from_mathml

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
#: Inline markup PubMed keeps in titles and abstracts (<i>, <sub>, MathML); not "p <0.01".
_TAGS = re.compile(r"<(/?)([A-Za-z][\w:.-]*)(?:\s+[\w:.-]+\s*=\s*\"[^\"]*\")*\s*/?>")


def _text(value: Any) -> str | None:
    """The element's text with its inline markup kept as the safe tags the apps render
    (``<sup>``, ``<i>`` ...) and MathML turned into them (``evidence.markup``); any other tag
    is dropped, and layout whitespace collapsed."""
    if value is None:
        return None
    text = from_mathml(str(value))
    text = _TAGS.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}>"
                     if m.group(2).lower() in ALLOWED_TAGS else "", text)
    text = " ".join(text.split())
    return text or None


def _date(parts: Any) -> str | None:
    """``YYYY-MM-DD`` (or shorter) from a PubDate, or the MedlineDate text as it stands."""
    if not parts:
        return None
    if parts.get("MedlineDate"):
        return str(parts["MedlineDate"])
    year = str(parts.get("Year", "")).strip()
    if not year:
        return None
    month = str(parts.get("Month", "")).strip()
    season = str(parts.get("Season", "")).strip()
    if not month:
        return f"{year} {season}" if season else year
    month_no = int(month) if month.isdigit() else MONTHS.get(month[:3].lower())
    if not month_no:
        return year
    day = str(parts.get("Day", "")).strip()
    return f"{year}-{month_no:02d}" + (f"-{int(day):02d}" if day.isdigit() else "")


def _authors(author_list: Any) -> list[str]:
    """"Last, Fore names Suffix", as MEDLINE's FAU writes them (``Wise, John Pierce Sr``), so
    a record harvested as XML and one imported as .nbib store the same names."""
    authors = []
    for author in author_list or []:
        if author.get("CollectiveName"):
            authors.append(_text(author["CollectiveName"]))
        elif author.get("LastName"):
            given = " ".join(str(x) for x in (author.get("ForeName") or author.get("Initials"),
                                              author.get("Suffix")) if x)
            authors.append(f"{author['LastName']}, {given}" if given
                           else str(author["LastName"]))
    return [a for a in authors if a]


def _author_lists(lists: Any, kind: str) -> Any:
    """The ``AuthorList`` of ``Type`` ``kind`` (``authors``, the default, or ``editors``)."""
    for author_list in lists or []:
        if str(getattr(author_list, "attributes", {}).get("Type", "authors")) == kind:
            return author_list
    return None


def _abstract(abstract: Any) -> str | None:
    """Labelled sections become "LABEL: text" paragraphs separated by a blank line."""
    if not abstract:
        return None
    paragraphs = []
    parts = abstract.get("AbstractText", [])
    if isinstance(parts, str):  # older renderings: one text, not a list of sections
        parts = [parts]
    for part in parts:
        text = _text(part)
        label = getattr(part, "attributes", {}).get("Label")
        if text:
            paragraphs.append(f"{label}: {text}" if label else text)
    return "\n\n".join(paragraphs) or None


def mesh_heading(heading: Any) -> str:
    """A MeSH heading as MEDLINE's ``MH`` line writes it (``*Depression/therapy``, a ``*``
    before each major topic, ``/`` before each qualifier), so XML and .nbib agree."""

    def term(element: Any) -> str:
        major = str(getattr(element, "attributes", {}).get("MajorTopicYN", "N")) == "Y"
        return ("*" if major else "") + str(element)

    return "/".join([term(heading["DescriptorName"]),
                     *(term(q) for q in heading.get("QualifierName", []))])


def article_number(pii: Any) -> str | None:
    """An online-only article's number (``e154225``, ``eabl6449``), which PubMed gives as its
    ``pii`` and which belongs in pages; a publisher's item id (``S0140-6736(20)30183-5``) is
    not one."""
    text = str(pii or "").strip()
    return text if re.fullmatch(r"[A-Za-z]{0,5}\d[\w.-]{0,18}", text) and not re.fullmatch(
        r"S\d{4}-\d{3}[\dX].*", text) else None


def medline_date(value: Any) -> str | None:
    """MEDLINE's ``DP`` (``2006 Mar 1``, ``2006 Mar``, ``2024 Jan-Feb``, ``2021 Spring``) in
    the form the XML's dates take: ``2006-03-01``, ``2006-03``, else the text as it stands."""
    text = " ".join(str(value or "").split())
    match = re.fullmatch(r"(\d{4})(?: ([A-Za-z]{3})[a-z]*(?: (\d{1,2}))?)?", text)
    if not match or (match.group(2) and match.group(2).lower() not in MONTHS):
        return text or None
    year, month, day = match.groups()
    if not month:
        return year
    return f"{year}-{MONTHS[month.lower()]:02d}" + (f"-{int(day):02d}" if day else "")


def _ids(id_list: Any) -> dict[str, str]:
    return {str(i.attributes.get("IdType")): str(i) for i in id_list or []}


def _plain(value: Any) -> Any:
    """Bio.Entrez's element classes as plain JSON-ready values, empty parts left out."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def to_hit(article: dict[str, Any]) -> dict[str, Any]:
    """One parsed PubmedArticle or PubmedBookArticle as a hit dict (see store.HIT_FIELDS)."""
    if "BookDocument" in article:
        return _book_hit(article)
    citation = article["MedlineCitation"]
    art = citation["Article"]
    journal = art.get("Journal", {})
    issue = journal.get("JournalIssue", {})
    ids = _ids(article.get("PubmedData", {}).get("ArticleIdList"))
    elocations = {str(e.attributes.get("EIdType")): str(e) for e in art.get("ELocationID", [])}
    pages = art.get("Pagination", {})
    pgn = pages.get("MedlinePgn") or "-".join(
        str(pages[k]) for k in ("StartPage", "EndPage") if pages.get(k)) or article_number(
        elocations.get("pii"))
    pmid = str(citation["PMID"])
    keywords = [_text(k) for group in citation.get("KeywordList", []) for k in group]
    return {
        "external_id": pmid, "pmid": pmid,
        "doi": elocations.get("doi") or ids.get("doi"), "pmcid": ids.get("pmc"),
        "title": _text(art.get("ArticleTitle")) or _text(art.get("VernacularTitle")),
        "original_title": _text(art.get("VernacularTitle")),
        "abstract": _abstract(art.get("Abstract")),
        "authors": _authors(art.get("AuthorList")),
        "journal": _text(journal.get("Title")),
        "journal_abbrev": _text(journal.get("ISOAbbreviation")),
        "issn": _text(journal.get("ISSN")),
        "volume": _text(issue.get("Volume")), "issue": _text(issue.get("Issue")),
        "pages": pgn or None,
        "pub_date": _date(issue.get("PubDate")),
        "language": ", ".join(str(x) for x in art.get("Language", [])) or None,
        "publication_types": [str(p) for p in art.get("PublicationTypeList", [])],
        "mesh_terms": [mesh_heading(m) for m in citation.get("MeshHeadingList", [])],
        "keywords": [k for k in keywords if k],
        "item_type": "journalArticle",
        "url": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        "raw": _plain(article),
    }


def _book_hit(article: dict[str, Any]) -> dict[str, Any]:
    doc = article["BookDocument"]
    book = doc.get("Book", {})
    ids = _ids(doc.get("ArticleIdList"))
    pmid = str(doc["PMID"])
    chapter = _text(doc.get("ArticleTitle"))
    # A chapter's or a book's authors; the book's editors are kept as editors, never authors.
    authors = _authors(_author_lists(doc.get("AuthorList"), "authors")
                       or _author_lists(book.get("AuthorList"), "authors"))
    editors = _authors(_author_lists(book.get("AuthorList"), "editors")
                       or _author_lists(doc.get("AuthorList"), "editors"))
    keywords = [_text(k) for group in doc.get("KeywordList", []) for k in group]
    return {
        "external_id": pmid, "pmid": pmid, "doi": ids.get("doi"), "pmcid": ids.get("pmc"),
        "title": chapter or _text(book.get("BookTitle")),
        "journal": _text(book.get("BookTitle")) if chapter else None,
        "abstract": _abstract(doc.get("Abstract")),
        "authors": authors,
        "creators": [{"role": "editor", "name": name} for name in editors],
        "isbn": ", ".join(str(i) for i in book.get("Isbn", [])) or None,
        "volume": _text(book.get("Volume")),
        "pub_date": _date(book.get("PubDate")),
        "language": ", ".join(str(x) for x in doc.get("Language", [])) or None,
        "publication_types": [str(p) for p in doc.get("PublicationType", [])],
        "keywords": [k for k in keywords if k],
        "item_type": "bookSection" if chapter else "book",
        "url": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        "raw": _plain(article),
    }
