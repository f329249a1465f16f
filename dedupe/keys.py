"""Normalised fingerprints of hits and the blocking keys that pick candidate pairs.

Sources spell the same work differently: HTML in titles, ``[translated title]`` brackets,
``Curr Opin Lipidol`` vs ``Current Opinion in Lipidology``, ``221-8`` vs ``221-228``, authors as
``Adeli K.Lewis G. F.`` or ``Adeli, Khosrow``. A :class:`Fingerprint` holds the comparable form
of one hit, so each hit is normalised once per run and every comparison is cheap.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from typing import Any, NamedTuple

from evidence import normalise as n
from evidence.dedupe.numbers import canonical_numbers, prepare

_TAGS = re.compile(r"<[^>]{0,200}>")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_MISSING = {"", "na", "n/a", "nan", "none", "null", "-"}
#: bioRxiv and medRxiv share 10.1101 with the Cold Spring Harbor journals (``10.1101/gr.…``,
#: ``10.1101/gad.…``): only their date-style (``10.1101/2020.03.22.20040287``) and early
#: all-digit (``10.1101/123456``) suffixes are preprints.
_PREPRINT_1101 = re.compile(r"10\.1101/(?:\d{4}\.\d{2}\.\d{2}\.\d+|\d+)(?:v\d+)?$")
_PREPRINT_DOI = ("10.21203/", "10.2139/ssrn", "10.48550/", "10.31234/",
                 "10.20944/preprints", "10.31219/", "10.22541/")
_PREPRINT_WORDS = re.compile(r"\b(biorxiv|medrxiv|arxiv|psyarxiv|preprints?|research square|"
                             r"ssrn|osf preprints)\b")
_ERRATUM_TITLE = re.compile(r"^(erratum|errata|correction|corrigendum|corrigenda|retraction|"
                            r"retracted|notice of retraction|expression of concern)\b")
_ERRATUM_TYPES = {"published erratum", "erratum", "correction", "retraction of publication",
                  "retraction notice", "expression of concern"}
_JOURNAL_STOP = {"the", "of", "and", "in", "for", "on", "journal", "j", "a"}
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "đ": "d",
                          "Đ": "d", "ł": "l", "Ł": "l", "œ": "oe", "Œ": "oe"})
BLOCK_CHARS = 24
#: Author fields that name nobody: they must not make two works "by the same author".
_NO_NAME = {"anonymous", "anon", "unknown", "et al", "no authorship indicated", "author"}
#: Bracketed database annotations at the end of a title: a count of references, a word or a
#: list of words (``Review``, ``German, English``, ``corrected``), or a note on errata,
#: comments, retractions, abstract numbers or the article's language.
_ANNOTATION = re.compile(
    r"\s*(\d+\s+refs?|[^\W\d]+(?:\s*,\s*[^\W\d]+)*|(?:published\s+)?errat|comment|see\s|"
    r"retract|abstract\s+no|article\s+in\s|update|reprint)", re.I)


class Fingerprint(NamedTuple):
    """The comparable form of one hit (``hit_id``, its record, and normalised fields)."""

    hit_id: int
    record_id: int | None
    title: str          # folded, lower case, words separated by one space
    compact: str        # title without spaces: used for blocking
    first_author: str   # first author's last name, folded
    authors: str        # all author name tokens, folded, space separated
    year: int | None
    journal: tuple[str, ...]
    volume: str
    page: str           # first page
    doi: str
    pmid: str
    pmcid: str
    isbn: str
    kind: str           # "article", "preprint" or "erratum"


def fold(text: Any) -> str:
    """Lower case ASCII words: no accents, HTML, punctuation, or doubled spaces."""
    if text is None:
        return ""
    value = str(text)
    if "<" in value:
        value = _TAGS.sub(" ", value)
    if "&" in value:
        value = html.unescape(value)
    if not value.isascii():
        value = unicodedata.normalize("NFKD", value.translate(_LETTERS))
        value = "".join(c for c in value if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", value.lower()).strip()


def missing(value: Any) -> bool:
    if value is None:
        return True
    return len(value) < 5 and value.strip().lower() in _MISSING if isinstance(value, str) \
        else str(value).strip().lower() in _MISSING


def title_key(title: Any) -> str:
    """Normalised title: ``[Title in English].`` and ``title in english`` compare equal, and
    numbers are digits however they were written (``Part II`` = ``part 2``, dedupe/numbers.py)."""
    if missing(title):
        return ""
    text = str(title).strip()
    if text.startswith("[") and text.rstrip(". ").endswith("]") and text.count("[") == 1:
        text = text.strip().rstrip(". ")[1:-1]
    text = _strip_annotations(text)
    return canonical_numbers(fold(prepare(text)))


def _strip_annotations(text: str) -> str:
    """Drop what databases append in brackets: ``[Review] [33 refs]``, ``[German]``,
    ``[Erratum appears in ...]``, ``[abstract no: 12]``: not part of the title, and their
    numbers would set two copies of one work apart (dedupe/numbers.py)."""
    while text.endswith(("]", "].")) and "[" in text:
        start = text.rfind("[")
        inside = text[start + 1:text.rfind("]")]
        if start == 0 or not _ANNOTATION.match(inside):
            break
        text = text[:start].rstrip(" .")
    return text


def author_names(authors: Any) -> list[str]:
    """Author strings from a stored JSON list, a list, or one free-text string."""
    if missing(authors):
        return []
    if isinstance(authors, str) and authors.startswith("["):
        try:
            authors = json.loads(authors)
        except ValueError:
            pass
    if isinstance(authors, str):
        authors = [authors]
    return [str(a) for a in authors if not missing(a)]


def author_keys(authors: Any) -> tuple[str, str]:
    """(first author's last name, the distinct last names sorted), both folded.

    Initials and first names are dropped because sources disagree on them (``G. F.`` vs
    ``Gary F``); without a comma, the last name is the first token (``Last F.``).
    """
    names = author_names(authors)
    if not names:
        return "", ""
    tokens: list[str] = []
    first = ""
    for name in names:
        if "," in name:  # "Last, First": only the last name counts
            name_tokens = fold(name.split(",")[0]).split()
        else:  # "Last F." or several names run together ("Adeli K.Lewis G. F.")
            name_tokens = [t for t in fold(name).split() if len(t) > 1]
        if " ".join(name_tokens) in _NO_NAME:
            continue
        if not first and name_tokens:
            first = name_tokens[0]
        tokens.extend(name_tokens)
    return first, " ".join(sorted(set(tokens)))


def journal_key(journal: Any) -> tuple[str, ...]:
    """Significant words of a journal name (``Journal``, ``of``, ``the`` dropped)."""
    if missing(journal):
        return ()
    text = str(journal).split(". Conference")[0].split(":")[0]
    return tuple(w for w in fold(text).split() if w not in _JOURNAL_STOP)


def journals_match(a: tuple[str, ...], b: tuple[str, ...]) -> bool | None:
    """True when one name abbreviates the other word by word (``curr opin lipidol``), None
    when either is missing."""
    if not a or not b:
        return None
    if a == b:
        return True
    if len(a) != len(b):
        short, long_ = (a, b) if len(a) < len(b) else (b, a)
        # allow one extra word in the full name (a subtitle or a dropped stop word)
        return len(long_) - len(short) <= 1 and all(
            any(w.startswith(s) for w in long_) for s in short)
    return all(x.startswith(y) or y.startswith(x) for x, y in zip(a, b, strict=True))


def first_page(pages: Any) -> str:
    """The start page: ``221-8``, ``221-228`` and ``221`` all give ``221``."""
    if missing(pages):
        return ""
    text = str(pages).strip().lower()
    match = re.match(r"[a-z]?\d+", text.replace(" ", ""))
    return match.group(0).lstrip("0") if match else ""


def clean_isbn(value: Any) -> str:
    """First ISBN/ISSN in the field, digits and X only (``0957-9672 (Print)`` -> 09579672)."""
    if missing(value):
        return ""
    match = re.search(r"[\dXx][\dXx-]{6,16}[\dXx]", str(value))
    return match.group(0).replace("-", "").upper() if match else ""


def clean_volume(value: Any) -> str:
    if missing(value):
        return ""
    match = re.search(r"\d+", str(value))
    return match.group(0).lstrip("0") if match else fold(value)


def work_kind(title: str, doi: str, journal: Any, item_type: Any, types: Any) -> str:
    """``preprint``, ``erratum`` or ``article``: these are never one record unless configured."""
    type_names = {t.lower() for t in author_names(types)} if types and types != "[]" else set()
    if type_names & _ERRATUM_TYPES or _ERRATUM_TITLE.match(title):
        return "erratum"
    if doi.startswith(_PREPRINT_DOI) or _PREPRINT_1101.match(doi) or \
            str(item_type or "").lower() == "preprint" or "preprint" in type_names or \
            _PREPRINT_WORDS.search(str(journal or "").lower()):
        return "preprint"
    return "article"


def fingerprint(row: dict[str, Any]) -> Fingerprint:
    """The fingerprint of one hit row (the ``hits`` table's columns)."""
    title = title_key(row.get("title"))
    first, authors = author_keys(row.get("authors"))
    # hits are stored normalised (harvest/store.py): only re-normalise what is not
    doi, pmid, pmcid, year = (row.get(k) for k in ("doi", "pmid", "pmcid", "year"))
    doi = n.normalise_doi(doi) or "" if doi and not doi.startswith("10.") else doi or ""
    return Fingerprint(
        hit_id=row["id"], record_id=row.get("record_id"), title=title,
        compact=title.replace(" ", ""), first_author=first, authors=authors,
        year=year if isinstance(year, int) else n.normalise_year(year),
        journal=journal_key(row.get("journal")),
        volume=clean_volume(row.get("volume")), page=first_page(row.get("pages")), doi=doi,
        pmid=pmid if not pmid or pmid.isdigit() else n.normalise_pmid(pmid) or "",
        pmcid=pmcid if not pmcid or pmcid.startswith("PMC") else n.normalise_pmcid(pmcid) or "",
        isbn=clean_isbn(row.get("isbn")),
        kind=work_kind(title, doi, row.get("journal"), row.get("item_type"),
                       row.get("publication_types")),
    )


#: The columns of ``dedupe_keys``: a fingerprint without its hit and record (migration m130).
STORED = ("title", "first_author", "authors", "year", "journal", "volume", "page", "doi",
          "pmid", "pmcid", "isbn", "kind")


def stored_values(fp: Fingerprint) -> tuple:
    """A fingerprint as the values of ``dedupe_keys``' ``STORED`` columns."""
    return (fp.title, fp.first_author, fp.authors, fp.year, " ".join(fp.journal), fp.volume,
            fp.page, fp.doi, fp.pmid, fp.pmcid, fp.isbn, fp.kind)


def from_stored(hit_id: int, record_id: int | None, values: tuple) -> Fingerprint:
    """The fingerprint of a hit from its ``dedupe_keys`` values (see :func:`stored_values`)."""
    title, first_author, authors, year, journal, volume, page, doi, pmid, pmcid, isbn, kind \
        = values
    return Fingerprint(hit_id, record_id, title, title.replace(" ", ""), first_author, authors,
                       year, tuple(journal.split()), volume, page, doi, pmid, pmcid, isbn, kind)


def key_values(row: dict[str, Any]) -> tuple:
    """``dedupe_keys`` values of a hit row not stored yet (no id): an import computes them
    while it reads the file (harvest/files/reading.py), so deduplication only reads them back."""
    return stored_values(fingerprint({**row, "id": 0}))


def store_keys(db: Any, keys: list[tuple[int, tuple]]) -> None:
    """Store ``(hit_id, stored values)`` pairs in ``dedupe_keys``, replacing older ones."""
    db.conn.executemany(
        f"INSERT OR REPLACE INTO dedupe_keys (hit_id, {', '.join(STORED)})"
        f" VALUES (?, {', '.join('?' * len(STORED))})",
        [(hit_id, *values) for hit_id, values in keys])


def block_keys(fp: Fingerprint) -> list[tuple[str, str]]:
    """Keys that put likely duplicates in the same bucket; only bucket mates are compared.

    Exact identifiers, the first and the last characters of the title (a typo rarely hits
    both ends), and first author + year for titles that differ at both ends.
    """
    keys = []
    if fp.doi:
        keys.append(("doi", fp.doi))
    if fp.pmid:
        keys.append(("pmid", fp.pmid))
    if fp.pmcid:
        keys.append(("pmcid", fp.pmcid))
    if len(fp.compact) >= 8:
        keys.append(("t0", fp.compact[:BLOCK_CHARS]))
        keys.append(("t1", fp.compact[-BLOCK_CHARS:]))
    if fp.first_author and fp.year:
        keys.append(("ay", f"{fp.first_author}|{fp.year}"))
    return keys
