"""PubMed as a source: searches run through NCBI's E-utilities (ESearch + EFetch).

Three parts, one job each: :mod:`.client` speaks HTTP to E-utilities (rate limit, retries,
NCBI's errors), :mod:`.convert` turns a parsed record into a hit, :mod:`.pipeline` plans the
date slices and keeps batches in flight. The run around them (resume, checkpoint, Ctrl-C,
progress) is the shared lifecycle in :mod:`evidence.harvest.runs`. See docs/pubmed.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidence.harvest.pubmed.convert import to_hit
from evidence.harvest.sources import Checkpoint, EnvVar, Page, Setting, Source

#: PubMed's datetype values: publication, Entrez, modification and creation date.
DATE_FIELDS = ("pdat", "edat", "mdat", "crdt")


def fetch(search: Any, services: Any, checkpoint: Checkpoint, **options: Any) -> Iterator[Page]:
    """Pages of hits for one run; the client is imported here so config loading stays light."""
    from evidence.harvest.pubmed.pipeline import fetch as fetch_pages

    yield from fetch_pages(search, services, checkpoint, **options)


SOURCE = Source(
    name="pubmed", label="PubMed", fetch=fetch, to_hit=to_hit, query_required=True,
    resumable=True,
    settings={"date_field": Setting(("enum", DATE_FIELDS), default="pdat",
                                    help="the date the window applies to (PubMed datetype)")},
    environment=(
        EnvVar("NCBI_EUTILS_URL", "E-utilities address (default NCBI's own)", url=True),
        EnvVar("NCBI_API_KEY", "an NCBI API key allows 10 requests/s instead of 3 "
               "(ncbi.nlm.nih.gov/account/settings)"),
        EnvVar("NCBI_EMAIL", "NCBI asks for a contact address with every request"),
    ),
)
