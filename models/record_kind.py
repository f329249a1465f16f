"""What kind of work a record is, from its title, abstract and journal alone.

The report sorts its works first by kind (international systematic reviews of mental health,
reviews of substance use, Norwegian and Nordic research, new books) and only then by topic,
and the kind shows in a few words any reader would use: "systematic review", "scoping",
"meta-analysis", *kunnskapsoppsummering*; a Norwegian title; a Nordic journal; alcohol, drugs,
*rus*; a publisher where a journal would be. The theme suggester adds these marks to the text
features, so a record's nearest themed records are of its own kind even when few of them
share a word with it (a year gives about a hundred themed records, most with a title only).

The word lists are general (study design, language, region, field), not learned from one
report's themes.
"""

from __future__ import annotations

import re

#: The marks, in a fixed order (a feature column each).
KINDS = ("review", "nordic", "substance_use", "book", "other")

_REVIEW = re.compile(
    r"\b(?:reviews?|scoping|meta-?analy\w*|meta-?synthes\w*|evidence synthes\w*|"
    r"qualitative synthes\w*|systematisk\w* (?:oversikt|litteratur)\w*|"
    r"kunnskapsoppsummering\w*|litteraturgjennomgang\w*|litteraturstudie\w*|"
    r"forskningsoversikt\w*|kunnskapsoversikt\w*)", re.I)
_SUBSTANCE = re.compile(
    r"\b(?:substance|alcohol\w*|drugs?\b|cannabis|addict\w*|opioid\w*|heroin|cocaine|"
    r"harm reduction|syringe\w*|needle|smok\w*|tobacco|nicotine|gambling|overdose\w*|"
    r"rus\w*|narkoti\w*|avhengig\w*|alkohol\w*|spilleavhengig\w*|legemiddelassistert\w*)", re.I)
_NORDIC_PLACE = re.compile(
    r"\b(?:norw\w*|norge|norsk\w*|nordic|nordisk\w*|nordens?|scandinavi\w*|skandinavi\w*|"
    r"sweden|swedish|svensk\w*|denmark|danish|dansk\w*|finland|finnish|iceland\w*|"
    r"s[aá]mi\w*|oslo|bergen|trondheim|troms[øo]|kommun\w*|tidsskrift\w*|tidskrift\w*)", re.I)
_NORDIC_LETTERS = re.compile(r"[æøåÆØÅ]")
#: Common short words of bokmål, nynorsk, Danish and Swedish that English does not have.
_NORDIC_WORDS = frozenset(
    "i og av med som på til et om fra er det å ikke har kan blant ved når hvordan hva hvilke "
    "der den vi jo mellom ein eit frå ikkje kva korleis eller af ved och inte hur mot "
    "sin sitt sine deres etter hos seg samt".split())
_ENGLISH_WORDS = frozenset(
    "the of and in for with a an on among to from is are by at or as how what their its "
    "into between after".split())
_PUBLISHER = re.compile(
    r"\b(?:forlag\w*|gyldendal|cappelen|universitetsforlaget|fagbokforlaget|"
    r"press|publishing|publishers|books?|routledge|springer nature|palgrave)\b", re.I)
_WORD = re.compile(r"\w+")
#: A word each pattern's every alternative starts with (lower case): without one of them in
#: the text the pattern cannot match, and a substring test is a hundred times cheaper than
#: the pattern over an abstract (publish classifies 200,000 records; tests/test_record_kind.py
#: keeps these in step with the patterns).
REVIEW_STEMS = ("review", "scoping", "meta", "synthes", "systematisk", "kunnskapsoppsummering",
                "litteraturgjennomgang", "litteraturstudie", "forskningsoversikt",
                "kunnskapsoversikt")
SUBSTANCE_STEMS = ("substance", "alcohol", "drug", "cannabis", "addict", "opioid", "heroin",
                   "cocaine", "harm reduction", "syringe", "needle", "smok", "tobacco",
                   "nicotine", "gambling", "overdose", "rus", "narkoti", "avhengig", "alkohol",
                   "spilleavhengig", "legemiddelassistert")
NORDIC_STEMS = ("norw", "norge", "norsk", "nordic", "nordisk", "norden", "scandinavi",
                "skandinavi", "sweden", "swedish", "svensk", "denmark", "danish", "dansk",
                "finland", "finnish", "iceland", "sami", "sámi", "oslo", "bergen", "trondheim",
                "tromsø", "tromso", "kommun", "tidsskrift", "tidskrift")


def _search(pattern: re.Pattern, stems: tuple[str, ...], text: str, lower: str) -> bool:
    return any(stem in lower for stem in stems) and pattern.search(text) is not None


def is_nordic_language(title: str) -> bool:
    """A Scandinavian title: its letters, or more Nordic than English short words."""
    if _NORDIC_LETTERS.search(title):
        return True
    words = [w.lower() for w in _WORD.findall(title)]
    return sum(w in _NORDIC_WORDS for w in words) > sum(w in _ENGLISH_WORDS for w in words)


def kinds(title: str, abstract: str = "", journal: str = "") -> list[str]:
    """The marks of :data:`KINDS` that fit this record ("other" when none does)."""
    text = f"{title} {abstract}"
    lower = text.lower()
    found = []
    if _search(_REVIEW, REVIEW_STEMS, text, lower):
        found.append("review")
    if is_nordic_language(title) or _search(
            _NORDIC_PLACE, NORDIC_STEMS, f"{text} {journal}", f"{lower} {journal.lower()}"):
        found.append("nordic")
    if _search(_SUBSTANCE, SUBSTANCE_STEMS, text, lower):
        found.append("substance_use")
    if _PUBLISHER.search(journal):
        found.append("book")
    return found or ["other"]
