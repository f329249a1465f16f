"""PubMed records as hits: one parsed ``PubmedArticle`` / ``PubmedBookArticle`` -> a hit dict.

Pure functions of Bio.Entrez's parsed elements (no network, no database), so they run in the
harvester's parser processes and in tests alike.
"""

from __future__ import annotations

import re
from typing import Any

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
#: Inline markup PubMed keeps in titles and abstracts (<i>, <sub>, MathML); not "p <0.01".
_TAGS = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s+[\w:.-]+\s*=\s*\"[^\"]*\")*\s*/?>")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    # MathML and line breaks leave runs of layout whitespace behind the removed tags.
    text = " ".join(_TAGS.sub("", str(value)).split())
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
    if not month:
        return year
    month_no = int(month) if month.isdigit() else MONTHS.get(month[:3].lower())
    if not month_no:
        return year
    day = str(parts.get("Day", "")).strip()
    return f"{year}-{month_no:02d}" + (f"-{int(day):02d}" if day.isdigit() else "")


def _authors(author_list: Any) -> list[str]:
    authors = []
    for author in author_list or []:
        if author.get("CollectiveName"):
            authors.append(_text(author["CollectiveName"]))
        elif author.get("LastName"):
            initials = author.get("Initials") or author.get("ForeName")
            authors.append(f"{author['LastName']}, {initials}" if initials
                           else str(author["LastName"]))
    return [a for a in authors if a]


def _abstract(abstract: Any) -> str | None:
    """Labelled sections become "LABEL: text" paragraphs separated by a blank line."""
    if not abstract:
        return None
    paragraphs = []
    for part in abstract.get("AbstractText", []):
        text = _text(part)
        label = getattr(part, "attributes", {}).get("Label")
        if text:
            paragraphs.append(f"{label}: {text}" if label else text)
    return "\n\n".join(paragraphs) or None


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
        str(pages[k]) for k in ("StartPage", "EndPage") if pages.get(k))
    pmid = str(citation["PMID"])
    keywords = [_text(k) for group in citation.get("KeywordList", []) for k in group]
    return {
        "external_id": pmid, "pmid": pmid,
        "doi": elocations.get("doi") or ids.get("doi"), "pmcid": ids.get("pmc"),
        "title": _text(art.get("ArticleTitle")) or _text(art.get("VernacularTitle")),
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
        "mesh_terms": [str(m["DescriptorName"]) for m in citation.get("MeshHeadingList", [])],
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
    authors = _authors(next(iter(doc.get("AuthorList", [])), None)
                       or next(iter(book.get("AuthorList", [])), None))
    keywords = [_text(k) for group in doc.get("KeywordList", []) for k in group]
    return {
        "external_id": pmid, "pmid": pmid, "doi": ids.get("doi"), "pmcid": ids.get("pmc"),
        "title": chapter or _text(book.get("BookTitle")),
        "journal": _text(book.get("BookTitle")) if chapter else None,
        "abstract": _abstract(doc.get("Abstract")),
        "authors": authors,
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
