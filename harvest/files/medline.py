"""MEDLINE format: PubMed's "Send to > Citation manager" (.nbib) and the same tagged format
from ERIC and other databases, parsed by ``Bio.Medline``."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from Bio import Medline

from evidence.harvest.files import (
    FileFormatError,
    IdKeeper,
    as_list,
    first,
    read_text,
    split_structured,
)
from evidence.harvest.pubmed.convert import article_number, medline_date


def read_nbib(path: str | Path) -> Iterator[dict[str, Any]]:
    """MEDLINE format: PubMed's "Citation manager" export, and the same format from ERIC and
    other databases. The external id is the ``PMID``, else the database's own ``OID``
    (ERIC's ``EJ1131633``) or ``AN``, else a content hash.
    """
    path = Path(path)
    text = read_text(path)
    # A record starts at its PMID: a blank line before each keeps records apart even when
    # an exporter left them out (Bio.Medline splits records at blank lines only).
    text = re.sub(r"(?m)^(?=PMID- )", "\n", text)
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines, 1)
              if re.match(r"[A-Z]{2,4}\s*- ", line) and (i == 1 or not lines[i - 2].strip())]
    ids = IdKeeper()
    number = 0
    records = Medline.parse(io.StringIO(text)) if starts else iter(())
    for number, record in enumerate(records, 1):
        record = dict(record)
        given = first(record.get("PMID"), record.get("OID"), record.get("AN"))
        if not given and not first(record.get("TI"), record.get("BTI")):
            line = starts[number - 1] if number <= len(starts) else "?"
            raise FileFormatError(f"{path.name}: entry {number} (line {line}) has neither an "
                                  "id (PMID, OID, AN) nor a title")
        yield ids.assign(nbib_to_hit(record), given, number)
    if number == 0:
        advice = ("; in PubMed use Send to > Citation manager"
                  if _looks_like_pubmed(path, text) else "")
        raise FileFormatError(f"{path.name}: no MEDLINE records found (no 'PMID- ' or "
                              f"'TI  - ' lines){advice}")


def _looks_like_pubmed(path: Path, text: str) -> bool:
    """The "Send to > Citation manager" advice is for PubMed files, not ERIC or others."""
    return (path.suffix.lower() == ".nbib" or "pubmed" in path.name.lower()
            or bool(re.search(r"^OWN - NLM", text, re.M))) and not re.search(
                r"^OWN - (?!NLM)", text, re.M)


def nbib_to_hit(r: dict[str, Any]) -> dict[str, Any]:
    """One MEDLINE record (Bio.Medline) as a hit dict."""
    ids = as_list(r.get("LID")) + as_list(r.get("AID"))
    doi = next((i.replace("[doi]", "") for i in ids if i.rstrip().endswith("[doi]")),
               None) or next((i for i in ids if "doi.org/10." in i), None)
    issn = re.search(r"(\d{4}-\d{3}[\dXx])", str(first(r.get("IS"), r.get("ISSN")) or ""))
    pmid = r.get("PMID")
    link = next((i for i in ids if i.startswith("http") and "doi.org/" not in i), None)
    return {
        "pmid": pmid, "title": first(r.get("TI"), r.get("BTI")),
        "abstract": split_structured(r.get("AB")),
        "authors": as_list(r.get("FAU")) or as_list(r.get("AU")),
        "year": r.get("DP"), "pub_date": medline_date(r.get("DP")),
        "journal": first(r.get("JT"), r.get("BTI")), "journal_abbrev": r.get("TA"),
        "volume": r.get("VI"), "issue": r.get("IP"),
        "pages": r.get("PG") or article_number(next(
            (i[:-5].strip() for i in ids if i.rstrip().endswith("[pii]")), None)),
        "doi": doi,
        "pmcid": r.get("PMC"), "issn": issn.group(1) if issn else None,
        "isbn": first(r.get("ISBN")), "language": first(r.get("LA")),
        "publication_types": as_list(r.get("PT")), "mesh_terms": as_list(r.get("MH")),
        "keywords": as_list(r.get("OT")),
        "item_type": _item_type(r),
        "url": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid else link,
        "raw": r,
    }


def _item_type(r: dict[str, Any]) -> str | None:
    """The harvester's item types for PubMed's records (``journalArticle``, ``book``,
    ``bookSection``), so a record stores the same value from .nbib and from XML; other
    databases' MEDLINE files keep their first publication type."""
    if r.get("BTI"):
        return "bookSection" if r.get("TI") else "book"
    if "Journal Article" in as_list(r.get("PT")) or (r.get("PMID") and r.get("TA")):
        return "journalArticle"
    return first(r.get("PT"))
