"""A complete source in one module, for docs/sources.md and tests/test_sources.py.

It reads a JSON Lines file (one work per line, ``{"id": ..., "title": ..., "doi": ...}``)
named by the search's ``path`` setting, ``page_size`` lines per page. Registering it is one
line: ``SOURCES["example"] = "tests.example_source"`` (in harvest/__init__.py for a real one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.harvest.sources import Checkpoint, EnvVar, Page, Setting, SettingError, Source


def fetch(search: Any, services: Any, checkpoint: Checkpoint, *,
          fail_after: int | None = None) -> Iterator[Page]:
    """Pages of ``page_size`` lines, from where an interrupted run stopped.

    ``fail_after`` stops the run after that many pages, as a dropped connection would.
    """
    settings = SOURCE.options(search)
    lines = Path(settings["path"]).read_text(encoding="utf-8").splitlines()
    line = checkpoint.position.get("line", 0)
    size = settings["page_size"]
    for number, start in enumerate(range(line, len(lines), size)):
        if fail_after is not None and number == fail_after:
            raise ConnectionError("the example feed went away")
        items = [json.loads(text) for text in lines[start:start + size] if text.strip()]
        yield Page(items=items, reported=len(lines), checkpoint={"line": start + size})


def to_hit(item: dict[str, Any]) -> dict[str, Any]:
    return {"external_id": item["id"], "title": item.get("title"), "doi": item.get("doi"),
            "raw": item}


def check(settings: dict[str, Any], config: Any) -> dict[str, Any]:
    if settings["page_size"] < 1:
        raise SettingError("page_size", "must be at least 1")
    return settings


SOURCE = Source(
    name="example", label="Example feed", fetch=fetch, to_hit=to_hit, check=check,
    resumable=True,
    settings={"path": Setting("str", required=True, help="a JSON Lines file"),
              "page_size": Setting("int", default=2, help="lines per page")},
    # what it reads from the environment: `evidence doctor` lists what is missing
    environment=(EnvVar("EXAMPLE_FEED_URL", "the feed's address", url=True),
                 EnvVar("EXAMPLE_FEED_TOKEN", "a token for the feed", needed=True)),
)
