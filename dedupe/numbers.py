"""Numbers in titles, written one way: often the only difference between two distinct works.

Part 1 and part 2 of a series, wave 1 and wave 2 of a survey, the 2023 and the 2024 edition of
a yearly report, a 12- and a 24-month follow-up: their titles are otherwise identical, so a
fuzzy title match would merge them. The same work, on the other hand, writes its number in
many ways: ``part II`` / ``part 2``, ``twelve-month`` / ``12-month``, ``Type II`` / ``Type 2``,
``2010 to 2015`` / ``2010-2015``, ``2010-15`` / ``2010-2015``, ``COVID19`` / ``COVID-19``.
:func:`canonical_numbers` rewrites a folded title so every such spelling becomes the same
digits, and :func:`title_numbers` reads them back for the comparison (dedupe/score.py).
"""

from __future__ import annotations

import functools
import re

#: ``2010-15`` and ``2019/20``: a year range with the second year cut to two digits.
_DASH = "-\u2010-\u2015/"
_SHORT_RANGE = re.compile(rf"\b((1[89]|20)(\d\d))\s*[{_DASH}]\s*(\d\d)\b(?![{_DASH}.,]?\d)")
#: ``10,000`` and ``10 000``: thousands separators.
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:[, \u00a0\u202f\u2009]\d{3})+(?![\d]|[.,]\d)")
_SEPARATORS = re.compile(r"[, \u00a0\u202f\u2009]")
#: a letter next to a digit: ``covid19`` -> ``covid 19``, ``1st`` -> ``1 st``.
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_DIGITS = re.compile(r"\d+")
_ANY_DIGIT = re.compile(r"\d")

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
             "twelfth").split()
_WORDS = {word: value for value, word in enumerate(_UNITS)}
_WORDS.update({word: 20 + 10 * k for k, word in enumerate(_TENS)})
_WORDS.update({word: value for value, word in enumerate(_ORDINALS, start=1)})
_ORDINAL_SUFFIX = {"st", "nd", "rd", "th"}
#: ``ii`` .. ``xxxix``: two or more letters are a Roman numeral anywhere in a title.
_ROMAN = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}
#: ``i``, ``v`` and ``x`` alone are numerals only after one of these (``Part I``, ``Type I``).
_NUMBERED = {"part", "parts", "type", "types", "phase", "wave", "stage", "grade", "class",
             "volume", "vol", "chapter", "study", "paper", "section", "series", "round",
             "cycle", "level", "book", "report", "war", "no", "nr", "number", "del", "bind",
             "fase", "runde", "rapport", "trinn", "studie"}
#: a word :func:`canonical_numbers` may rewrite (the fast path skips titles without one).
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(sorted(_WORDS)) + r"|[ivx]+)\b")
#: words followed by a letter that numbers something: ``case A``, ``vitamin D``.
_LETTERED = _NUMBERED | {"case", "cases", "vitamin", "hepatitis", "influenza", "group", "cohort",
                         "appendix", "version", "model", "scenario", "annex", "arm", "site",
                         "sample", "vedlegg", "gruppe", "kohort", "modell"}
_LETTER_AFTER = re.compile(r"\b(?:" + "|".join(sorted(_LETTERED)) + r") ([a-z])\b")
#: words joining the two ends of a range: ``2010 to 2015`` = ``2010-2015``.
_RANGE_WORDS = {"to", "through", "til", "till", "until"}


def prepare(text: str) -> str:
    """Expand number spellings that folding would lose (run on the raw title).

    ``2010-15`` becomes ``2010-2015`` (only when the result is a later year) and thousands
    separators go, so ``10,000`` and ``10000`` agree.
    """
    if not _ANY_DIGIT.search(text):
        return text
    text = _THOUSANDS.sub(lambda m: _SEPARATORS.sub("", m.group(0)), text)
    return _SHORT_RANGE.sub(_expand_range, text)


def _expand_range(match: re.Match[str]) -> str:
    start, century, end = match.group(1), match.group(2), match.group(4)
    if int(end) <= int(match.group(3)):
        return match.group(0)
    return f"{start}-{century}{end}"


def _roman(token: str) -> int | None:
    match = _ROMAN.match(token)
    if not token or not match:
        return None
    tens, rest = match.groups()
    value = 10 * len(tens)
    if rest == "ix":
        return value + 9
    if rest == "iv":
        return value + 4
    return value + sum(_ROMAN_VALUES[c] for c in rest)


def canonical_numbers(folded: str) -> str:
    """The folded title with every number as digits (see the module docstring).

    Takes the output of ``keys.fold``: lower-case ASCII words separated by single spaces.
    """
    if not folded:
        return folded
    if _ANY_DIGIT.search(folded):
        folded = _LETTER_DIGIT.sub(" ", folded)
    elif not _NUMBER_WORD.search(folded):
        return folded  # most titles: no digits, number words or Roman numerals
    out: list[str] = []
    tokens = folded.split(" ")
    for position, token in enumerate(tokens):
        previous = out[-1] if out else ""
        if token.isdigit():
            out.append(token.lstrip("0") or "0")
            continue
        if token in _ORDINAL_SUFFIX and previous.isdigit():
            continue  # "1st" -> "1"
        if token in _RANGE_WORDS and previous.isdigit() and position + 1 < len(tokens) \
                and _is_number(tokens[position + 1]):
            continue  # "2010 to 2015" -> "2010 2015"
        value = _WORDS.get(token)
        if value is not None:
            if previous.isdigit() and 20 <= int(previous) <= 90 and int(previous) % 10 == 0 \
                    and value < 10 and tokens[position - 1] in _TENS:
                out[-1] = str(int(previous) + value)  # "twenty four" -> 24
            else:
                out.append(str(value))
            continue
        if (len(token) > 1 or previous in _NUMBERED) and not token.strip("ivx"):
            roman = _roman(token)
            if roman:
                out.append(str(roman))
                continue
        out.append(token)
    return " ".join(out)


def _is_number(token: str) -> bool:
    return token.isdigit() or token in _WORDS


@functools.lru_cache(maxsize=1 << 16)
def title_numbers(title: str) -> frozenset[str]:
    """The numbers of a canonical title (:func:`canonical_numbers`), as digit strings, and the
    letters that number things (``Case A`` / ``Case B``, ``hepatitis B`` / ``hepatitis C``).
    Cached: every pair a title is scored in asks again (a few per cent of a deduplication).

    A letter counts only after a word that takes one (:data:`_LETTERED`): broken words
    (``d isease``), initials and the ``s`` of ``Alzheimer's`` are noise, not designators.
    """
    found = set(_DIGITS.findall(title))
    if " " in title:
        found.update(_LETTER_AFTER.findall(title))
    return frozenset(found)


@functools.lru_cache(maxsize=1 << 16)
def title_digits(title: str) -> frozenset[str]:
    """Only the digit numbers of a canonical title."""
    return frozenset(_DIGITS.findall(title))
