"""Inline markup of titles and abstracts: render it safely, or strip it for plain-text formats.

PubMed and publishers send titles like ``<i>Pseudomonas</i> in CO<sub>2</sub>`` (JATS as
``<jats:italic>``). Pages show that markup through nh3, an allow-list sanitiser: only the
inline tags below survive, without attributes, and nh3 closes what a title leaves open. Any
other tag is shown as the text it is (``&lt;script&gt;``), so a record can never inject HTML
and a reader still sees what the source wrote. RIS, BibTeX, CSV and xlsx get the text
without tags.
"""

from __future__ import annotations

import html
import re

import nh3
from markupsafe import Markup

#: The inline tags a title or abstract may keep on a page.
ALLOWED_TAGS = frozenset({"i", "b", "em", "strong", "sup", "sub", "u"})
#: Namespaced inline tags of JATS and similar, renamed to their HTML tag.
_RENAME = {"italic": "i", "bold": "b", "sup": "sup", "sub": "sub", "underline": "u",
           "i": "i", "b": "b", "em": "em", "strong": "strong", "u": "u"}
_TAG = re.compile(r"<\s*(/?)\s*(?:[A-Za-z][\w.-]*:)?([A-Za-z][\w.-]*)\b[^<>]*?(/?)>")
_TAG_LIKE = re.compile(r"<\s*/?\s*[A-Za-z]")


def has_markup(text: str | None) -> bool:
    """True when ``text`` holds something that looks like a tag (a cheap pre-check)."""
    return bool(text) and _TAG_LIKE.search(text) is not None


def _allowed_tag(match: re.Match) -> str:
    closing, name, _ = match.groups()
    tag = _RENAME.get(name.lower())
    if tag is None:
        return html.escape(match.group(0), quote=False)
    return f"<{closing}{tag}>"


def sanitise(text: str | None) -> Markup:
    """``text`` as safe HTML: allowed inline tags kept (bare), any other tag escaped."""
    if not text:
        return Markup("")
    if not has_markup(text):
        return Markup(html.escape(text, quote=False))
    pieces, last = [], 0
    for match in _TAG.finditer(text):
        pieces.append(html.escape(text[last:match.start()], quote=False))
        pieces.append(_allowed_tag(match))
        last = match.end()
    pieces.append(html.escape(text[last:], quote=False))
    # nh3 is the guarantee: it keeps only ALLOWED_TAGS, drops attributes, balances tags.
    return Markup(nh3.clean("".join(pieces), tags=set(ALLOWED_TAGS), attributes={},
                            strip_comments=True, link_rel=None))


def keep_inline(text: str) -> str:
    """``text`` with its inline tags in their HTML form (``<jats:italic>`` -> ``<i>``) and
    every other tag dropped: how a source stores an abstract that came as markup (Crossref's
    JATS), so :func:`sanitise` shows its italics and :func:`strip` gives plain text."""
    if not has_markup(text):
        return text
    return _TAG.sub(lambda m: f"<{m.group(1)}{_RENAME[m.group(2).lower()]}>"
                    if m.group(2).lower() in _RENAME and not m.group(3) else "", text)


def strip(text: str | None) -> str | None:
    """``text`` without tags, entities decoded: for RIS, BibTeX, CSV, xlsx and the index."""
    if text is None or not has_markup(text):
        return text
    plain = _TAG.sub(lambda m: "" if m.group(2).lower() in _RENAME else m.group(0), text)
    return plain.strip()
