"""Scores for candidate pairs: how likely two hits are the same work.

A score is a number in [0, 1] (title similarity, moved up or down by the other fields), or
:data:`VETO` when the two clearly differ (a preprint and its article, an erratum and its
article, two different PMIDs). Pairs at or above ``upper_threshold`` merge, pairs between the
thresholds are left for a person. The weights were set on tests/fixtures/dedup/labelled_dev.csv.
"""

from __future__ import annotations

from rapidfuzz.distance import Indel

from evidence.config import DedupeSettings
from evidence.dedupe.keys import Fingerprint, journals_match
from evidence.dedupe.numbers import title_digits, title_numbers

VETO = -1.0
#: An identifier match with agreeing titles: certain.
CERTAIN = 1.0
#: Same identifier, same first author and year, different title: a translated title.
TRANSLATED = 0.95
#: A title at least this long (no spaces) that starts another counts as the same title.
PREFIX_MIN = 50
#: The most :func:`_adjustment` can add to the title similarity (every field agreeing and a
#: shared identifier). A pair whose titles are more than this below the lower threshold can
#: only reach it through a shared identifier or a cut-short title (:data:`PREFIX_MIN`), so
#: dedupe/cluster.py skips scoring the rest. Raise it with any bonus added to _adjustment.
MAX_BONUS = 0.05 + 0.01 + 0.1 * (1 - 0.8) + 0.02 + 0.01 + 0.03 + 0.01


#: Different years in different journals: one study presented twice (two conference
#: abstracts, an abstract and the paper), not one work. Enough to keep even identical titles
#: by the same team below the upper threshold: such pairs are left for a person.
PRESENTED_TWICE = 0.15
#: A title of fewer words (``Editorial``, ``Editor's comments``) says little: the same
#: editor writes one in every issue. A page, year or volume conflict then sets them apart.
SHORT_TITLE_WORDS = 4
SHORT_TITLE_CONFLICT = 0.2
#: One title has a number the other lacks (``The X study`` / ``The X study 2``).
EXTRA_NUMBER = 0.1


def kinds_clash(a: Fingerprint, b: Fingerprint, settings: DedupeSettings) -> bool:
    """A preprint and a journal article, or an erratum and its article, unless configured."""
    if a.kind == b.kind:
        return False
    kinds = {a.kind, b.kind}
    if "erratum" in kinds:
        return not settings.merge_errata
    return not settings.merge_preprints


def title_similarity(a: Fingerprint, b: Fingerprint) -> float | None:
    """Normalised Indel similarity of the titles; a title cut short counts as equal."""
    if not a.title or not b.title:
        return None
    sim = Indel.normalized_similarity(a.title, b.title)
    short, long_ = (a.compact, b.compact) if len(a.compact) <= len(b.compact) else \
        (b.compact, a.compact)
    if len(short) >= PREFIX_MIN and long_.startswith(short):
        sim = max(sim, 0.95)
    return sim


def same_database_record(a: Fingerprint, b: Fingerprint) -> bool:
    """The same PMID or PMC id: one database record, so one work whatever the titles say."""
    return bool((a.pmid and a.pmid == b.pmid) or (a.pmcid and a.pmcid == b.pmcid))


def pages_differ(a: Fingerprint, b: Fingerprint) -> bool:
    """Different first pages; a letter before the number (``S212``, ``c37``, ``e123``) is
    kept by some sources and dropped by others, so it does not count."""
    return bool(a.page and b.page and a.page != b.page
                and a.page.lstrip("abcdefghijklmnopqrstuvwxyz") !=
                b.page.lstrip("abcdefghijklmnopqrstuvwxyz"))


def authors_differ(a: Fingerprint, b: Fingerprint) -> bool:
    """Different first authors and at most a third of the last names shared."""
    return bool(a.authors and b.authors and a.first_author != b.first_author
                and author_overlap(a.authors, b.authors) <= 1 / 3)


def shares_identifier(a: Fingerprint, b: Fingerprint) -> bool:
    """A shared identifier that proves one work.

    A shared DOI proves nothing when the first pages or the author lists differ: a
    conference supplement gives all its abstracts one DOI, and some publishers reuse an
    issue's DOI for its items. Such pairs are scored on their other fields.
    """
    if same_database_record(a, b):
        return True
    return bool(a.doi and a.doi == b.doi and not pages_differ(a, b)
                and not authors_differ(a, b))


def numbers_clash(a: Fingerprint, b: Fingerprint) -> bool:
    """Each title has a number the other lacks: part 1 and part 2, the 2023 and the 2024
    edition, a 12- and a 24-month follow-up (numbers are canonical, dedupe/numbers.py).

    Not when both sit on the same page of the same year's volume: then one copy has a typo
    (``p6INK4a`` for ``p16INK4a``), since two works do not start on one page. Page 1 is
    left out: reports and article-numbered journals all start there.
    """
    if a.title == b.title or same_database_record(a, b):
        return False
    numbers_a, numbers_b = title_numbers(a.title), title_numbers(b.title)
    if not (numbers_a - numbers_b and numbers_b - numbers_a):
        return False
    same_place = a.page and a.page == b.page and a.page != "1" and a.year == b.year \
        and not (a.volume and b.volume and a.volume != b.volume)
    return not same_place


def extra_number(a: Fingerprint, b: Fingerprint) -> bool:
    """One title has a number the other lacks, and the other is not merely cut short."""
    if a.title == b.title:
        return False
    numbers_a, numbers_b = title_digits(a.title), title_digits(b.title)
    if numbers_a == numbers_b:
        return False
    short, long_ = (a.compact, b.compact) if len(a.compact) <= len(b.compact) else \
        (b.compact, a.compact)
    return not (len(short) >= PREFIX_MIN and long_.startswith(short))


def author_overlap(a: str, b: str) -> float:
    """Jaccard similarity of two sets of last names (space-separated, as fingerprinted)."""
    set_a, set_b = set(a.split()), set(b.split())
    return len(set_a & set_b) / len(set_a | set_b)


def same_authors(a: Fingerprint, b: Fingerprint) -> bool | None:
    if not a.first_author or not b.first_author:
        return None
    return a.first_author == b.first_author


def score(a: Fingerprint, b: Fingerprint, settings: DedupeSettings) -> float:
    """How likely ``a`` and ``b`` are one work, or :data:`VETO`."""
    if kinds_clash(a, b, settings):
        return VETO
    if a.pmid and b.pmid and a.pmid != b.pmid:
        return VETO
    if numbers_clash(a, b):
        return VETO
    title = title_similarity(a, b)
    shared = shares_identifier(a, b)
    near_year = a.year is None or b.year is None or abs(a.year - b.year) <= 1
    if shared:
        if title is None or title >= 0.8:
            return CERTAIN
        if same_authors(a, b) and near_year:
            return TRANSLATED
    if title is None:
        return 0.0
    return max(0.0, min(1.0, title + _adjustment(a, b, shared)))


def _adjustment(a: Fingerprint, b: Fingerprint, shared: bool) -> float:
    """Evidence from the fields besides the title, added to the title similarity.

    Its largest possible value is :data:`MAX_BONUS`: keep the two in step.
    """
    adjust = 0.05 if shared else 0.0
    if a.kind != b.kind:
        # a preprint and its article (configured to merge) differ in DOI, journal, pages
        # and often year: only the authors tell
        if a.authors and b.authors:
            adjust += 0.1 * (author_overlap(a.authors, b.authors) - 0.8)
        return adjust
    journals = journals_match(a.journal, b.journal)
    if a.year and b.year:
        gap = abs(a.year - b.year)
        adjust += 0.01 if gap == 0 else -0.02 if gap == 1 else -0.15 * gap
        if gap and journals is False and not shared:
            adjust -= PRESENTED_TWICE
    if a.authors and b.authors:
        overlap = author_overlap(a.authors, b.authors)
        adjust += 0.1 * (overlap - 0.8)
        if a.year and b.year and a.year != b.year and overlap < 0.85:
            adjust -= 0.1  # a conference abstract and the later paper by a grown team
        if a.first_author != b.first_author:
            adjust -= 0.05
    if journals is not None:
        adjust += 0.02 if journals else -0.02
    if a.volume and b.volume:
        adjust += 0.01 if a.volume == b.volume else -0.05
    if a.page and b.page:
        adjust += -0.08 if pages_differ(a, b) else 0.03
    if a.title.count(" ") < SHORT_TITLE_WORDS - 1 and (
            pages_differ(a, b) or (a.year and b.year and a.year != b.year)
            or (a.volume and b.volume and a.volume != b.volume)):
        adjust -= SHORT_TITLE_CONFLICT
    if a.doi and b.doi and a.doi != b.doi:
        adjust -= 0.1
    if extra_number(a, b):
        adjust -= EXTRA_NUMBER
    if a.isbn and b.isbn:
        adjust += 0.01 if a.isbn == b.isbn else -0.01
    return adjust


def clearly_differ(a: Fingerprint, b: Fingerprint, settings: DedupeSettings) -> bool:
    """Two hits that must never share a record, whatever links them through a third.

    A different title alone is not enough (a translated title is the same work); a different
    title by a different first author, with no shared identifier, is.
    """
    if kinds_clash(a, b, settings) or (a.pmid and b.pmid and a.pmid != b.pmid):
        return True
    if numbers_clash(a, b):
        return True
    if a.year and b.year and abs(a.year - b.year) > 2:
        return True
    title = title_similarity(a, b)
    if title is not None and title < 0.5 and not shares_identifier(a, b):
        return same_authors(a, b) is not True
    return False
