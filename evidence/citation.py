"""Who a work is by, and its title in its own language, as every page names them.

An edited book or report often has no authors, only editors (``records.creators`` with the
role ``editor``, migration m500); it is then named by its editors with "(red.)" / "(ed.)"
after them, as a citation would, instead of by nobody. The screening app (record, full-text
and conflict pages, duplicate pairs) and the published site (record, theme and search pages,
the Atom feed) both name works through :func:`byline`, so a reviewer and a reader see the
same names; neither owns the rule, so it lives here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from evidence import markup

#: What follows the editors who name a work without authors, per language: (one editor,
#: several), as a Norwegian or English citation writes it. The one owner of these strings:
#: the screening app's and the site's catalogues (``editor_suffix`` / ``editors_suffix``)
#: and the exports' short reference all read them from here.
EDITOR_SUFFIXES: dict[str, tuple[str, str]] = {
    "nb": ("(red.)", "(red.)"),
    "en": ("(ed.)", "(eds.)"),
}


def editor_suffix(language: str, count: int) -> str:
    """What follows ``count`` editors: "(red.)", "(ed.)" or "(eds.)" (English by default)."""
    one, many = EDITOR_SUFFIXES.get(language, EDITOR_SUFFIXES["en"])
    return one if count == 1 else many


def suffix_entries(language: str) -> dict[str, str]:
    """The catalogue entries ``editor_suffix`` and ``editors_suffix`` of ``language``."""
    return {
        "editor_suffix": editor_suffix(language, 1),
        "editors_suffix": editor_suffix(language, 2),
    }


def names(value: Any) -> list[str]:
    """A list of people as a list: a Python list (the working database's decoded JSON) or
    "; "-separated text (the published ``records.authors`` and ``records.editors``)."""
    if isinstance(value, list | tuple):
        return [str(n).strip() for n in value if n is not None and str(n).strip()]
    return [n.strip() for n in str(value or "").split(";") if n.strip()]


def editors_of(record: Mapping[str, Any]) -> list[str]:
    """The record's editors, the names to cite where a work has no author: ``creators`` with
    the role ``editor`` (working database, JSON text or a list), or the published
    ``editors`` column."""
    if "editors" in record.keys():
        return names(record["editors"])
    creators = record.get("creators") or "[]"
    if isinstance(creators, str):
        try:
            creators = json.loads(creators)
        except ValueError:
            return []
    if not isinstance(creators, list):
        return []
    return [
        c["name"]
        for c in creators
        if isinstance(c, dict) and c.get("role") == "editor" and c.get("name")
    ]


def byline(row: Mapping[str, Any], t: Callable[[str], str], most: int | None = None) -> str:
    """The work's authors; without authors its editors and "(red.)"/"(ed.)"/"(eds.)" (the
    translator's ``editor_suffix`` / ``editors_suffix``); otherwise empty. ``row`` holds
    ``authors`` and ``editors`` as lists or "; "-separated text. With ``most``, the first
    ``most`` names and " …". Plain text: templates escape it."""
    people = names(row.get("authors"))
    editors = [] if people else names(row.get("editors"))
    shown = people or editors
    if not shown:
        return ""
    text = "; ".join(shown[:most] if most else shown)
    if most and len(shown) > most:
        text += " …"
    if editors:
        text += " " + t("editor_suffix" if len(editors) == 1 else "editors_suffix")
    return text


def original_title(original: str | None, title: str | None) -> str | None:
    """``original`` (the title in the work's own language: PubMed's ``VernacularTitle``,
    Zotero's *Original title*) as stored, or None where it is empty or only repeats the
    title (compared as plain text, ignoring case and inline markup)."""
    plain = (markup.strip(original) or "").strip() if original else ""
    if not plain or plain.casefold() == (markup.strip(title or "") or "").strip().casefold():
        return None
    return original
