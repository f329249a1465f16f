"""Readers for exported reference files: RIS, PubMed MEDLINE (.nbib), BibTeX, CSV/TSV, EndNote XML.

Each ``read_<format>(path)`` is a generator of hit dicts (see ``harvest.store.HIT_FIELDS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.errors import EvidenceError

FORMATS = ("ris", "nbib", "bibtex", "csv", "endnote-xml")


class FileFormatError(EvidenceError):
    """A file that cannot be read, naming the file and the entry or line."""


def detect_format(path: str | Path) -> str:
    raise FileFormatError(f"{path}: format detection is not implemented yet")


def read_file(path: str | Path, fmt: str | None = None) -> Iterator[dict[str, Any]]:
    raise FileFormatError(f"{path}: importing is not implemented yet")
