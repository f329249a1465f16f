"""The one factory of the published site's Datasette, used by ``evidence serve`` and the tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from datasette.app import Datasette

from evidence.publish.build import read_site
from evidence.publish.site.renderers import PLUGIN

#: Datasette's own templates (table, row, database, base, footer) in the reader's language. Only
#: this factory passes them, so the screening server's Datasette pages stay as they are.
OVERRIDES = Path(__file__).parent / "overrides"
#: Datasette's 1 s per query; 500 ms per facet, so the theme facet (published.facets, about
#: 200 ms over 200,000 records) still shows on the unfiltered records page. Suggested facets
#: are off: they try every column and cost seconds on 200,000 rows.
SETTINGS = {"sql_time_limit_ms": 1000, "facet_time_limit_ms": 500, "suggest_facets": False,
            "max_returned_rows": 1000, "default_page_size": 50}


def site_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata stored by ``evidence publish``, keyed to this file's database name."""
    site = read_site(path)
    meta = copy.deepcopy(json.loads(site.get("metadata") or "{}"))
    databases = meta.setdefault("databases", {})
    if "__db__" in databases:
        databases[Path(path).stem] = databases.pop("__db__")
    meta.setdefault("plugins", {})[PLUGIN] = {"enabled": True}
    return meta


def make_datasette(path: str | Path, **kwargs: Any) -> Datasette:
    """Datasette on the published file, immutable, with its metadata and our templates.

    Example::

        ds = make_datasette("published.db"); response = await ds.client.get("/")
    """
    return Datasette(
        immutables=[str(path)], metadata=site_metadata(path), template_dir=str(OVERRIDES),
        settings={**SETTINGS, **kwargs.pop("settings", {})}, **kwargs)
