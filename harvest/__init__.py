"""Getting hits in: one module per source or file format, the run lifecycle, and storing.

``SOURCES`` maps a search's ``source:`` to the module defining its ``SOURCE``
(see :mod:`evidence.harvest.sources`); registering a source is one line here. The harvest
command, the configuration and the run lifecycle (:mod:`evidence.harvest.runs`) ask this
registry, so none of them names a source.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evidence.harvest.sources import Source

SOURCES = {
    "pubmed": "evidence.harvest.pubmed",
    "zotero": "evidence.harvest.zotero",
    "crossref": "evidence.harvest.crossref",
    "openalex": "evidence.harvest.openalex",
}

#: Searches of this source are filled by `evidence import FILE --source NAME`, not harvested.
FILE_SOURCE = "file"


def get_source(name: str) -> Source | None:
    """The registered source called ``name``, or None (``file`` searches, unknown names)."""
    module = SOURCES.get(name)
    return importlib.import_module(module).SOURCE if module else None


def source_names() -> tuple[str, ...]:
    """Every value ``source:`` may take in evidence.yml."""
    return (*SOURCES, FILE_SOURCE)
