"""Where a record's full text can be found: links from its identifiers, and a local PDF.

The full-text stage shows these next to the decision. A local PDF comes only from the
configured ``screening.full_text_folder``, looked up by file names made from the record's own
identifiers (never a path taken from the record or the request), so the app cannot be made
to serve any other file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote


def pdf_names(record: dict[str, Any]) -> list[str]:
    """File names tried for a record, in order: ``<record id>.pdf``, ``<PMID>.pdf``, the DOI
    with every character outside ``[A-Za-z0-9._-]`` as ``_`` (``10.1000_x.1.pdf``)."""
    names = [f"{int(record['id'])}.pdf"]
    if record.get("pmid") and str(record["pmid"]).isdigit():
        names.append(f"{record['pmid']}.pdf")
    if record.get("doi"):
        names.append(re.sub(r"[^A-Za-z0-9._-]", "_", str(record["doi"])).lower() + ".pdf")
    return names


def find_pdf(folder: str | None, record: dict[str, Any]) -> Path | None:
    """The record's PDF in ``folder`` (None when no folder is configured or none matches)."""
    if not folder:
        return None
    base = Path(folder)
    for name in pdf_names(record):
        path = base / name
        if path.is_file() and path.resolve().parent == base.resolve():
            return path
    return None


def full_text_links(record: dict[str, Any]) -> list[dict[str, str]]:
    """Outside links to the full text: the open-access copy a source knows (``oa_url``, from
    OpenAlex or Crossref), DOI, PubMed Central, PubMed, the record's web address."""
    links = []
    oa_url = str(record.get("oa_url") or "")
    if oa_url.startswith(("https://", "http://")) and not any(c.isspace() for c in oa_url):
        links.append({"kind": "oa", "label": "Open access", "href": oa_url})
    if record.get("doi"):
        links.append({"kind": "doi", "label": f"DOI {record['doi']}",
                      "href": f"https://doi.org/{quote(str(record['doi']), safe='/')}"})
    pmcid = str(record.get("pmcid") or "").upper()
    if re.fullmatch(r"(PMC)?\d+", pmcid):
        pmcid = pmcid if pmcid.startswith("PMC") else f"PMC{pmcid}"
        links.append({"kind": "pmc", "label": f"PubMed Central {pmcid}",
                      "href": f"https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/"})
    if record.get("pmid") and str(record["pmid"]).isdigit():
        links.append({"kind": "pubmed", "label": f"PubMed {record['pmid']}",
                      "href": f"https://pubmed.ncbi.nlm.nih.gov/{record['pmid']}/"})
    url = str(record.get("url") or "")
    if url.startswith(("https://", "http://")):
        links.append({"kind": "url", "label": url if len(url) <= 60 else url[:57] + "...",
                      "href": url})
    return links
