"""PubMed XML files (``<PubmedArticleSet>``): what PubMed's "Save > Format: PubMed XML" and
E-utilities' EFetch give. Read with the harvester's own parser and conversion
(:mod:`evidence.harvest.pubmed`), so an imported file stores exactly what a harvest of the same
records stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.harvest.files import FileFormatError


def read_pubmed_xml(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every ``PubmedArticle`` and ``PubmedBookArticle`` of the file, in file order, as hits
    keyed by PMID. Any PubMed DTD line is accepted (older ``http://`` ones too) and no DTD is
    fetched; a broken file is refused naming the file, never read in part."""
    from evidence.harvest.pubmed.client import PubMedError, _Transient, parse_articles
    from evidence.harvest.pubmed.convert import to_hit

    path = Path(path)
    try:
        articles = parse_articles(path.read_bytes())
    except (PubMedError, _Transient) as e:
        raise FileFormatError(f"{path.name}: not readable as PubMed XML: {e}") from e
    if not articles:
        raise FileFormatError(f"{path.name}: no PubmedArticle or PubmedBookArticle in the file")
    for article in articles:
        yield to_hit(article)
