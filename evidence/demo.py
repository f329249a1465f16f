"""``evidence demo``: the whole flow on bundled sample data, offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def run_demo(directory: Path) -> Iterator[str]:
    yield f"demo not built yet ({directory})"
