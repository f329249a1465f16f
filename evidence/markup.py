"""Inline markup of titles and abstracts: render it safely, or strip it for plain-text formats.

PubMed and publishers send titles like ``<i>Pseudomonas</i> in CO<sub>2</sub>`` (JATS as
``<jats:italic>``). Pages show that markup through nh3, an allow-list sanitiser: only the
inline tags below survive, without attributes, and nh3 closes what a title leaves open. Any
other tag is shown as the text it is (``&lt;script&gt;``), so a record can never inject HTML
and a reader still sees what the source wrote. RIS, BibTeX, CSV, xlsx and the search index
get plain text that keeps the meaning (``10<sup>18</sup>`` becomes ``10¹⁸``, ``x<sup>a+b</sup>``
``x^(a+b)``, ``CO<sub>2</sub>`` ``CO2``). MathML (PubMed's and JATS abstracts') is turned
into the same inline markup by :func:`from_mathml`, so ``V̇O<sub>2max</sub>`` is stored, not
``V . O 2 m a x``.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

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
    """``text`` as plain text for RIS, BibTeX, CSV, xlsx and the index: tags removed, and
    super- and subscripts kept as what they mean (Unicode ``¹⁸``, ``₂``, else ``^(...)``,
    ``_(...)``), so ``10<sup>18</sup>`` never becomes ``1018``."""
    if text is None or not has_markup(text):
        return text
    text = _TAG.sub(_bare_tag, text)
    previous = None
    while previous != text:  # innermost scripts first, so nested ones come out right
        previous = text
        text = _SCRIPT.sub(_plain_script, text)
    plain = _TAG.sub(lambda m: "" if m.group(2).lower() in _RENAME else m.group(0), text)
    return plain.strip()


_SUPERSCRIPT = dict(zip("0123456789+-−=()niaeoxhijklmprstuvw",
                        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱᵃᵉᵒˣʰⁱʲᵏˡᵐᵖʳˢᵗᵘᵛʷ", strict=True))
_SUBSCRIPT = dict(zip("0123456789+-−=()aeoxhklmnpstijruv",
                      "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ", strict=True))
_SCRIPT = re.compile(r"<(sup|sub)>([^<>]*)</\1>")


def _bare_tag(match: re.Match) -> str:
    """Allowed tags in their bare form (``<jats:sup>`` -> ``<sup>``), others untouched."""
    closing, name, _ = match.groups()
    tag = _RENAME.get(name.lower())
    return f"<{closing}{tag}>" if tag else match.group(0)


def _plain_script(match: re.Match) -> str:
    kind, content = match.group(1), match.group(2).strip()
    if not content:
        return ""
    if kind == "sub" and content.isascii() and content.isdigit():
        return content  # CO<sub>2</sub> is written CO2 in plain text, and searched so
    table = _SUPERSCRIPT if kind == "sup" else _SUBSCRIPT
    if all(c in table for c in content):
        return "".join(table[c] for c in content)
    mark = "^" if kind == "sup" else "_"
    return mark + (content if content.isalnum() and len(content) == 1 else f"({content})")


# -- MathML -----------------------------------------------------------------------------------

_MATH = re.compile(r"<(?:[\w.-]+:)?math\b.*?</(?:[\w.-]+:)?math\s*>", re.S)
#: Accents drawn over a letter (``<mover>``), as combining characters.
_ACCENTS = {".": "\u0307", "˙": "\u0307", "·": "\u0307", "^": "\u0302", "ˆ": "\u0302",
            "~": "\u0303", "˜": "\u0303", "¯": "\u0304", "‾": "\u0305", "→": "\u20d7",
            "¨": "\u0308", "..": "\u0308"}


def from_mathml(text: str | None) -> str | None:
    """``text`` with each MathML formula (``<math>`` or ``<mml:math>``) replaced by inline
    markup: scripts as ``<sub>``/``<sup>``, accents as combining characters, fractions as
    ``a/b``. A formula that does not parse keeps its text content."""
    if not text or "math" not in text:
        return text
    return _MATH.sub(_render_formula, text)


def _render_formula(match: re.Match) -> str:
    source = re.sub(r"<(/?)[\w.-]+:", r"<\1", match.group(0))   # drop namespace prefixes
    source = re.sub(r"\sxmlns(?::[\w.-]+)?=\"[^\"]*\"", "", source)
    try:
        root = ET.fromstring(source)
    except ET.ParseError:
        return " ".join(re.sub(r"<[^>]*>", " ", match.group(0)).split())
    return _math(root)


def _math(el: ET.Element) -> str:
    tag = el.tag.rsplit("}", 1)[-1]
    kids = [c for c in el if c.tag.rsplit("}", 1)[-1] not in ("annotation",
                                                                "annotation-xml")]
    parts = [_math(c) for c in kids]
    if tag in ("mi", "mn", "mo", "ms"):
        return "".join(el.itertext()).strip()
    if tag == "mtext":
        return " ".join("".join(el.itertext()).split()) or " "
    if tag == "mspace":
        return " "
    if tag == "none" or tag == "mprescripts":
        return ""
    if tag == "semantics":
        return parts[0] if parts else ""
    if tag in ("msub", "munder") and len(parts) == 2:
        return f"{parts[0]}<sub>{parts[1]}</sub>"
    if tag == "msup" and len(parts) == 2:
        return f"{parts[0]}<sup>{parts[1]}</sup>"
    if tag in ("msubsup", "munderover") and len(parts) == 3:
        return f"{parts[0]}<sub>{parts[1]}</sub><sup>{parts[2]}</sup>"
    if tag == "mover" and len(parts) == 2:
        accent = _ACCENTS.get("".join(kids[1].itertext()).strip())
        return parts[0] + accent if accent else f"{parts[0]}<sup>{parts[1]}</sup>"
    if tag == "mmultiscripts":
        return _multiscripts(kids)
    if tag == "mfrac" and len(parts) == 2:
        return f"{_group(parts[0])}/{_group(parts[1])}"
    if tag == "msqrt":
        return f"√{_group(''.join(parts))}"
    if tag == "mroot" and len(parts) == 2:
        return f"<sup>{parts[1]}</sup>√{_group(parts[0])}"
    if tag == "mfenced":
        return (el.get("open", "(") + el.get("separators", ",")[:1].join(parts)
                + el.get("close", ")"))
    if tag == "mtable":
        return "; ".join(parts)
    return "".join(parts)


def _group(text: str) -> str:
    plain = re.sub(r"<[^>]*>", "", text)
    return text if len(plain) <= 1 or plain.isalnum() else f"({text})"


def _multiscripts(kids: list[ET.Element]) -> str:
    """Base, then (sub, sup) pairs after it, then ``<mprescripts/>`` and pairs before it:
    ``<sup>3</sup>He``."""
    names = [k.tag.rsplit("}", 1)[-1] for k in kids]
    split = names.index("mprescripts") if "mprescripts" in names else len(kids)
    base = _math(kids[0]) if kids else ""
    post, pre = kids[1:split], kids[split + 1:]

    def scripts(pairs: list[ET.Element]) -> str:
        out = ""
        for i in range(0, len(pairs) - 1, 2):
            sub, sup = _math(pairs[i]), _math(pairs[i + 1])
            out += (f"<sub>{sub}</sub>" if sub else "") + (f"<sup>{sup}</sup>" if sup else "")
        return out

    return scripts(pre) + base + scripts(post)
