"""Text for the record view: search terms from query strings, highlighting, abstract sections.

Highlighting sanitises the text first (an allow-list of inline tags such as ``<i>`` and
``<sup>``; any other tag is shown as text) and only then wraps matches in ``<mark>``, so a title
can never become other markup on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup

from evidence.markup import sanitise
from evidence.terms import highlight_html, match_spans

_FIELD_TAG = re.compile(r"\[[^\]]*\]")
_PHRASE = re.compile(r'"([^"]+)"')
_OPERATORS = {"and", "or", "not"}
_SECTION = re.compile(r"^([A-Z][A-Z0-9 ,/&()-]{1,60}):\s+(.*)$", re.S)


def search_terms(queries: Iterable[str]) -> list[str]:
    """Words and phrases of PubMed-style queries, without field tags, operators or brackets.

    ``("community mental health"[tiab] OR addict*) AND systematic[sb]`` gives
    ``["community mental health", "addict*"]``: a term tagged with a subset filter like
    ``[sb]`` or ``[pt]`` is a filter, not a word of the text, so it is left out.
    """
    terms: list[str] = []
    for query in queries:
        query = re.sub(r'("[^"]+"|[^\s()"]+)\[(sb|pt|filter|dp|pdat|edat|la)\]', " ", query or "",
                       flags=re.I)
        query = _FIELD_TAG.sub(" ", query)
        for phrase in _PHRASE.findall(query):
            terms.append(" ".join(phrase.split()))
        rest = _PHRASE.sub(" ", query)
        for word in re.split(r"[\s()]+", rest):
            word = word.strip("'")
            if word and word.lower() not in _OPERATORS and len(word.rstrip("*")) > 1:
                terms.append(word)
    seen: dict[str, str] = {}
    for term in terms:
        seen.setdefault(term.lower(), term)
    return sorted(seen.values(), key=len, reverse=True)


def highlight(text: str | None, terms: list[str], include: Iterable[str] = (),
              exclude: Iterable[str] = ()) -> Markup:
    """``text`` with its inline markup rendered safely (``evidence.markup.sanitise``) and every
    term wrapped in ``<mark>``, inside compounds and inflected forms as well
    (``rusmiddel`` in ``rusmiddelproblemer``; rules in ``evidence.terms``).

    The team's chosen words (``screening.highlight``) are marked too, in two colours:
    ``<mark class="hl-include">`` and ``<mark class="hl-exclude">``, each to the end of the
    word it starts in (``rus`` marks all of ``Rusmiddelbruk``). A chosen word inside a search
    term is marked inside the term's mark, so both show (``community`` inside the phrase
    ``community mental health``); where chosen words overlap, an exclude word wins.
    """
    include, exclude = tuple(include), tuple(exclude)
    if not include and not exclude:
        return highlight_html(sanitise(text), terms)
    return mark_groups(sanitise(text), [("hl-exclude", exclude), ("hl-include", include),
                                        ("", tuple(terms))])


_TAG_OR_ENTITY = re.compile(r"(<[^>]*>|&[#\w]+;)")


def mark_groups(safe_html: str | Markup, groups: list[tuple[str, tuple[str, ...]]]) -> Markup:
    """Wrap each ``(css class, words)`` group's matches in ``<mark>`` inside the text of
    already-safe HTML (tags and entities left alone).

    The group without a class (search terms) gives the outer marks; the chosen words' marks
    (with a class; an earlier group wins an overlap among them) nest inside, split where a
    term's mark begins or ends, so the marks stay well nested and none hides another."""
    pieces = []
    for piece in _TAG_OR_ENTITY.split(str(safe_html)):
        if not piece or piece[0] in "<&":
            pieces.append(piece)
            continue
        outer: list[tuple[int, int, str]] = []
        inner: list[tuple[int, int, str]] = []
        for css, words in groups:
            for start, end in match_spans(piece, words) if words else ():
                if not css:
                    outer.append((start, end, css))
                    continue
                while end < len(piece) and (piece[end].isalnum() or piece[end] == "_"):
                    end += 1  # a chosen word: mark to the end of the word
                if all(end <= a or start >= b for a, b, _ in inner):
                    inner.append((start, end, css))
        pieces.append(_nested_marks(piece, *_swap_enclosing(outer, inner)))
    return Markup("".join(pieces))


def _open(css: str) -> str:
    return f'<mark class="{css}">' if css else "<mark>"


def _swap_enclosing(outer: list, inner: list) -> tuple[list, list]:
    """A chosen word that holds whole search terms (``rus`` marks ``Rusmiddelbruk``, the term
    ``rusmiddel`` is inside) becomes the outer mark, its terms nested in it; one that
    crosses a term's edge stays inside and is split there."""
    for span in list(inner):
        held = [o for o in outer if span[0] <= o[0] and o[1] <= span[1]
                and (o[0], o[1]) != span[:2]]  # the same span: the chosen word's colour
        crossed = any(o[0] < span[1] and span[0] < o[1] and o not in held for o in outer)
        if held and not crossed:
            inner.remove(span)
            outer = [o for o in outer if o not in held] + [span]
            inner = inner + held
    return sorted(outer), sorted(inner)


def _nested_marks(text: str, outer: list[tuple[int, int, str]],
                  inner: list[tuple[int, int, str]]) -> str:
    """``text`` with ``outer`` spans (not overlapping each other) marked, and ``inner`` spans
    (not overlapping each other) marked inside them: the text is cut at every span's ends,
    and each cut piece opens or closes what changes there, inner marks first to close."""
    if not outer and not inner:
        return text
    cuts = sorted({0, len(text), *(p for s in outer + inner for p in s[:2])})

    def around(spans, a):
        return next((s for s in spans if s[0] <= a < s[1]), None)

    out, open_outer, open_inner = [], None, None
    for a, b in zip(cuts, cuts[1:], strict=False):
        o, i = around(outer, a), around(inner, a)
        if open_inner is not None and (i != open_inner or o != open_outer):
            out.append("</mark>")
            open_inner = None
        if o != open_outer:
            if open_outer is not None:
                out.append("</mark>")
            if o is not None:
                out.append(_open(o[2]))
            open_outer = o
        if i is not None and open_inner is None:
            out.append(_open(i[2]))
            open_inner = i
        out.append(text[a:b])
    out.append("</mark>" * ((open_inner is not None) + (open_outer is not None)))
    return "".join(out)


def abstract_sections(abstract: str | None, terms: list[str], include: Iterable[str] = (),
                      exclude: Iterable[str] = ()) -> list[dict[str, Markup]]:
    """Paragraphs of a stored abstract; a "LABEL: text" paragraph becomes a labelled section."""
    sections = []
    for paragraph in (abstract or "").split("\n\n"):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        match = _SECTION.match(paragraph)
        label, body = (match.group(1), match.group(2)) if match else ("", paragraph)
        sections.append({"label": label, "text": highlight(body, terms, include, exclude)})
    return sections
