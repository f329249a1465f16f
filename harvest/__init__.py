"""Getting hits in: one module per source or file format, plus storing and deduplication.

``SOURCES`` maps a search's ``source`` to the module that harvests it. Each such module has
``harvest_search(db, search, config, services, *, since=None, progress=False) -> RunSummary``,
so the ``harvest`` command dispatches without knowing the sources.
"""

from __future__ import annotations

import importlib
from types import ModuleType

SOURCES = {
    "pubmed": "evidence.harvest.pubmed",
    "zotero": "evidence.harvest.zotero",
}


def source_module(source: str) -> ModuleType | None:
    """The harvester module for ``source``, or None for sources that arrive as files."""
    name = SOURCES.get(source)
    return importlib.import_module(name) if name else None
