"""Who a page names for a work: its authors, or its editors marked as editors.

An edited book or report often has no authors, only editors; the site then names the editors
with "(red.)" / "(ed.)" after them, as a citation would, instead of naming nobody. One helper
for every page that shows a work (record, theme, search, feed), so they agree; it lives in
``evidence.citation``, shared with the screening app.
"""

from __future__ import annotations

from evidence.citation import byline, names

__all__ = ["byline", "editors_column", "names"]


async def editors_column(db, prefix: str = "") -> str:
    """``editors`` in a SELECT list; NULL in a file published before editors were."""
    if "editors" in await db.table_columns("records"):
        return f"{prefix}editors"
    return "NULL AS editors"
