"""Who a page names for a work: its authors, or its editors marked as editors.

An edited book or report often has no authors, only editors; the site then names the editors
with "(red.)" / "(ed.)" after them, as a citation would, instead of naming nobody. One helper
for every page that shows a work (record, theme, search, feed), so they agree; it lives in
``evidence.citation``, shared with the screening app.
"""

from __future__ import annotations

from evidence.citation import byline, names

__all__ = ["byline", "editors_column", "names", "optional_column"]


async def optional_column(db, name: str, prefix: str = "") -> str:
    """``name`` of ``records`` in a SELECT list; NULL in a file published before it was."""
    if name in await db.table_columns("records"):
        return f"{prefix}{name}"
    return f"NULL AS {name}"


async def editors_column(db, prefix: str = "") -> str:
    """``editors`` in a SELECT list; NULL in a file published before editors were."""
    return await optional_column(db, "editors", prefix)
