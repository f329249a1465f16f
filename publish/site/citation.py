"""Who a page names for a work: its authors, or its editors marked as editors.

An edited book or report often has no authors, only editors; the site then names the editors
with "(red.)" / "(ed.)" after them, as a citation would, instead of naming nobody. One helper
for every page that shows a work (record, theme, search, feed), so they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def names(value: Any) -> list[str]:
    """A published list of people ("; "-separated, as ``records.authors``) as a list."""
    return [n.strip() for n in str(value or "").split(";") if n.strip()]


def byline(row: Mapping[str, Any], t: Callable[[str], str]) -> str:
    """The work's authors as published; without authors its editors and "(red.)"/"(ed.)";
    otherwise empty. Plain text: templates escape it."""
    if names(row.get("authors")):
        return str(row["authors"])
    editors = names(row.get("editors"))
    if not editors:
        return ""
    suffix = t("editor_suffix" if len(editors) == 1 else "editors_suffix")
    return f"{'; '.join(editors)} {suffix}"


async def editors_column(db, prefix: str = "") -> str:
    """``editors`` in a SELECT list; NULL in a file published before editors were."""
    if "editors" in await db.table_columns("records"):
        return f"{prefix}editors"
    return "NULL AS editors"
