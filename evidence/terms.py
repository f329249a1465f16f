"""Word forms for search and highlighting: Norwegian and English stems, prefixes, compounds.

Norwegian writes compounds as one word (``rusmiddelproblemer``) and inflects by suffix
(``problemer``, ``problemene``), so a word is matched by its *prefixes*: the word itself and
its Snowball stems (bokmål and English, since records come in both), and inside a longer word
at a compound boundary. The published site's search (``evidence.publish.search``) and the
highlighting of both the published site and the screening app use these same rules, so what
is found is what is marked.

Text is compared the way SQLite FTS5's ``unicode61 remove_diacritics 2`` tokenizer compares
it: lower case, accents removed (``å`` -> ``a``; ``ø`` and ``æ`` are letters of their own).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer
from markupsafe import Markup

#: Shortest stem used as a prefix: "care" stems to "car" in bokmål, "unge" to "ung".
MIN_STEM = 4
#: Shortest term marked inside a word, and shortest head before it ("rus|middel", not "vi|rus").
MIN_INTERIOR, MIN_HEAD = 4, 3
WORD = re.compile(r"\w+")
_STEMMERS = {"nb": snowballstemmer.stemmer("norwegian"),
             "en": snowballstemmer.stemmer("english")}


@lru_cache(maxsize=1)
def _accents() -> dict[int, str]:
    """Accented letters to their base letter (``é`` -> ``e``, ``å`` -> ``a``), for every
    character of the Basic Multilingual Plane whose decomposition has one base character;
    ``ø`` and ``æ`` have none and stay, as in SQLite FTS5's ``remove_diacritics``. Built on
    first use (about 0.1 s)."""
    table = {}
    for code in range(0xB2, 0x10000):
        char = chr(code)
        parts = unicodedata.normalize("NFD", char)
        if parts == char:
            # Super- and subscripts (``²``, ``₂``, ``ᵢ``: plain text of formulas, see
            # evidence.markup.strip) match their digit or letter.
            plain = unicodedata.normalize("NFKC", char).lower()
            if unicodedata.decomposition(char).startswith(("<super>", "<sub>")) and len(
                    plain) == 1:
                table[code] = plain
            continue
        base = "".join(c for c in parts if not unicodedata.combining(c))
        if len(base) == 1 and code >= 0xC0:
            table[code] = base.lower()
    return table


def fold(text: str | None) -> str:
    """Lower case without accents, one character for one (so spans map back to the text).

    This runs on every title and abstract a word search of the screening app reads
    (screening/finding.py) and on every highlighted text, so it is made cheap: the table maps
    only letters past ASCII, so plain ASCII text is only lower-cased, and other text has only
    its runs of such letters translated (Norwegian text, a letter past ASCII every few
    words: 12 instead of 28 µs for 500 characters; each run keeps its length)."""
    lower = (text or "").lower()
    if lower.isascii():
        return lower
    table = _accents()
    return _NOT_ASCII.sub(lambda run: run[0].translate(table), lower)


_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def stems(word: str) -> set[str]:
    """The bokmål and English Snowball stems of ``word`` (folded)."""
    lower = word.lower()
    return {fold(s.stemWord(lower)) for s in _STEMMERS.values()}


def search_prefixes(word: str) -> list[str]:
    """The prefixes a query word matches: the word and its stems of ``MIN_STEM`` or more
    letters, without any that a shorter one already covers.

    ``problemer`` -> ``["problem"]``; ``community`` -> ``["communiti", "community"]``.
    """
    word = fold(word)
    candidates = {word} | {s for s in stems(word) if len(s) >= MIN_STEM}
    kept = [c for c in candidates
            if not any(o != c and c.startswith(o) for o in candidates)]
    return sorted(kept)


#: An ``-el`` after a consonant (``middel``, ``sykkel``, ``regel``), which Norwegian writes
#: without the ``e`` when an ending follows (``midler``, ``sykler``, ``regler``).
SYNCOPE = re.compile(r"(?<=[^\W\d_]{2})([^\W\d_aeiouyæøå])\1?el")
_SHORTENED = re.compile(r"([^\W\d_]{2,})([^\W\d_aeiouyæøå])l$")


def full_el_forms(prefix: str) -> list[str]:
    """The ``-el`` forms a shortened prefix stands for: ``rusmidl`` -> ``rusmidel``,
    ``rusmiddel`` (the doubled consonant of ``middel``, ``sykkel``); none for others."""
    match = _SHORTENED.search(prefix)
    if not match:
        return []
    head, consonant = match.groups()
    return [f"{head}{consonant}el", f"{head}{consonant}{consonant}el"]


def _highlight_prefixes(word: str) -> list[str]:
    """The search prefixes and the word itself, longest first (so the whole word is marked
    where it stands). An English stem may end in "i" where the text has "y" (communiti);
    a shortened ``-el`` stem marks its full form too (``rusmidler`` marks ``rusmiddel``)."""
    word = fold(word)
    prefixes = {p[:-1] if p.endswith("i") and len(p) > MIN_STEM else p
                for p in search_prefixes(word)}
    prefixes |= {f for p in prefixes for f in full_el_forms(p)}
    return sorted(prefixes | {word}, key=len, reverse=True)


def _term_pattern(term: str) -> str | None:
    """One alternative of the highlight pattern: a word, a ``word*`` or a phrase."""
    words = WORD.findall(fold(term.rstrip("*")))
    if not words:
        return None
    if len(words) > 1:  # a phrase: its words in a row, the last one as a prefix
        return r"(?<![\w&#])" + r"\W+".join(re.escape(w) for w in words)
    word = words[0]
    if term.endswith("*"):  # an explicit truncation marks the whole word, as PubMed reads it
        return rf"(?<![\w&#]){re.escape(word)}\w*"
    prefixes = _highlight_prefixes(word)
    alternatives = [r"(?<![\w&#])(?:" + "|".join(re.escape(p) for p in prefixes) + ")"]
    interior = [re.escape(p) for p in prefixes if len(p) >= MIN_INTERIOR]
    if interior:
        alternatives.append(rf"(?<=[^\W\d_]{{{MIN_HEAD}}})(?:{'|'.join(interior)})")
    return "|".join(f"(?:{a})" for a in alternatives)


@lru_cache(maxsize=256)
def _pattern(terms: tuple[str, ...]) -> re.Pattern | None:
    parts = [p for p in (_term_pattern(t) for t in sorted(terms, key=len, reverse=True)) if p]
    return re.compile("|".join(parts)) if parts else None


def match_spans(text: str, terms: list[str] | tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of every match of ``terms`` in ``text``: at a word start, or inside a
    word after a head of ``MIN_HEAD`` letters (a compound) for terms of ``MIN_INTERIOR``+."""
    pattern = _pattern(tuple(terms))
    if pattern is None or not text:
        return []
    return [m.span() for m in pattern.finditer(fold(text)) if m.end() > m.start()]


_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")


def highlight_html(safe_html: str | Markup, terms: list[str] | tuple[str, ...]) -> Markup:
    """Wrap matches of ``terms`` in ``<mark>`` inside the text of already-safe HTML.

    Tags (the sanitised inline markup) are left alone; only text between them is marked.
    """
    pieces = []
    for piece in _TAG_OR_TEXT.split(str(safe_html)):
        if not piece or piece.startswith("<"):
            pieces.append(piece)
            continue
        last = 0
        for start, end in match_spans(piece, terms):
            pieces.append(piece[last:start] + "<mark>" + piece[start:end] + "</mark>")
            last = end
        pieces.append(piece[last:])
    return Markup("".join(pieces))
