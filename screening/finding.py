"""Find records while screening: the SQL behind the *Find records* page.

Filters combine (AND): words in the title, the title in the work's own language
(``original_title``: a Norwegian report's Norwegian title), the abstract, the authors or the
editors (an edited volume's names, ``creators``), year or year range, source, search,
and decision, reason and theme. Whose decisions those last three are depends on who asks, so
blind dual screening stays blind: a reviewer filters by their own current decisions only; a
lead by one reviewer's (``reviewer``) or, with none chosen, by the records' final state
(``record_status``: include, exclude, maybe, conflict, undecided) and anyone's reasons and themes.

Words match inside Norwegian compounds and inflected forms: each word is compared, folded
(lower case, accents off), as a substring of the folded text, by its shortest Snowball stem of
four letters or more (``rusmidler`` finds ``rusmiddelbruk``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from evidence.citation import editors_of
from evidence.db.values import json_list
from evidence.terms import fold, stems

PAGE = 50
#: Counting stops here: "more than 1,000 records" says enough, and keeps a broad search fast.
COUNT_CAP = 1000
#: Far beyond any list (a page past the end is empty), and its offset fits SQLite's integers.
MAX_PAGE = 10**6
_YEARS = re.compile(r"^\s*(\d{4})\s*(?:[-–]\s*(\d{4})\s*)?$")
STATES = ("queue", "mine")
#: The arguments that narrow a search (``/-/screen?words=rus`` is a filtered queue).
FILTER_KEYS = ("words", "year", "source", "search", "decision", "reason", "theme", "reviewer")
FINAL = ("include", "exclude", "maybe", "conflict", "undecided")


@dataclass
class Filters:
    """The page's query arguments, cleaned (unknown values become "no filter")."""

    words: str = ""
    year: str = ""
    source: str = ""
    search: str = ""
    decision: str = ""
    reason: str = ""
    theme: str = ""
    reviewer: str = ""
    state: str = ""
    page: int = 1
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: dict[str, str], *, lead: bool) -> Filters:
        clean = {k: (args.get(k) or "").strip()[:200] for k in (
            "words", "year", "source", "search", "decision", "reason", "theme", "reviewer",
            "state")}
        if not lead:
            clean["reviewer"] = ""
        if clean["state"] not in STATES:
            clean["state"] = ""
        if clean["decision"] not in FINAL:
            clean["decision"] = ""
        page = args.get("page", "1")
        digits = page.isascii() and page.isdigit()
        number = (int(page) if len(page) < 8 else MAX_PAGE) if digits else 1
        return cls(**clean, page=min(max(number, 1), MAX_PAGE))

    def narrows(self) -> bool:
        """Whether any filter is set (the status and the page do not count)."""
        return any(getattr(self, key) for key in FILTER_KEYS)

    def query(self, **changes: Any) -> dict[str, str]:
        """The non-empty arguments (for links to other pages of the same search)."""
        values = {k: str(v) for k, v in {**self.__dict__, **changes}.items()
                  if k != "problems" and v not in ("", None)}
        if values.get("page") == "1":
            values.pop("page")
        return values


def word_key(word: str) -> str:
    """The part of ``word`` a text must contain: its shortest stem of 4+ letters, or itself,
    less one letter for a stem of six or more, so a plural that drops a vowel still matches
    (``rusmidler`` -> ``rusmid``, found in ``rusmiddelbruk``)."""
    word = fold(word)
    keys = [k for k in stems(word) if len(k) >= 4 and word.startswith(k)]
    key = min(keys, key=len) if keys else word
    return key[:-1] if len(key) >= 6 and key != word else key


def search_words(f: Filters) -> list[str]:
    """The words searched for (at most eight; quotes are not phrases here)."""
    return f.words.replace('"', " ").split()[:8]


#: Letters a JSON list may hold escaped (``json.dumps`` writes ``ø`` as ``\\u00f8``).
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
#: Words are passed to :func:`has_words` as one bound parameter, joined by this character
#: (white space, so never part of a word).
_WORDS_SEP = "\x1f"


def joined(*columns: str) -> str:
    """SQL joining ``columns`` into one text, a line each (NULL as empty): SQLite joins them
    faster than Python receives them one by one, which is what a search of every record
    costs most."""
    return " || char(10) || ".join(f"coalesce({c}, '')" for c in columns)


#: What the Find page's words are looked for in: the title, the title in the work's own
#: language, the abstract and the authors (their JSON list as stored); the editors come
#: from ``r.creators`` (:func:`searched_text`).
FIND_TEXT = joined("r.title", "r.original_title", "r.abstract", "r.authors")


def searched_text(text: str | None, creators: str | None) -> str:
    """The folded text a search of a record reads: ``text`` (:func:`joined` columns) and the
    editors among ``creators`` (role ``editor``, by name through
    ``evidence.citation.editors_of``, so a role word such as "editor" never matches). Letters
    a JSON list holds escaped are read as letters; its quotes and commas make no word."""
    text = text or ""
    if "\\u" in text:
        text = _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
    if creators and creators != "[]":
        text += "\n" + "; ".join(editors_of({"creators": creators}))
    return fold(text)


def has_words(text: str | None, creators: str | None, keys: str) -> bool:
    """Every one of ``keys`` (:data:`_WORDS_SEP`-joined :func:`word_key` values) occurs in
    the record's :func:`searched_text`: one call per record, whatever the number of words."""
    folded = searched_text(text, creators)
    for key in _keys(keys):
        if key not in folded:
            return False
    return True


@lru_cache(maxsize=64)
def _keys(keys: str) -> tuple[str, ...]:
    """``keys`` split once per search, not once per record."""
    return tuple(keys.split(_WORDS_SEP))


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the searches call: ``evidence_searched_text`` and
    ``evidence_has_words`` (deterministic, so SQLite may use them freely)."""
    conn.create_function("evidence_searched_text", 2, searched_text, deterministic=True)
    conn.create_function("evidence_has_words", 3, has_words, deterministic=True)


def _where(f: Filters, viewer: str, lead: bool, needed: int) -> tuple[list[str], dict]:
    where: list[str] = []
    params: dict[str, Any] = {"viewer": viewer, "needed": needed}
    keys = [word_key(word) for word in search_words(f)]
    if keys := [k for k in keys if k]:
        params["words"] = _WORDS_SEP.join(keys)
        where.append(f"evidence_has_words({FIND_TEXT}, r.creators, :words)")
    match = _YEARS.match(f.year) if f.year else None
    if match:
        params["y0"], params["y1"] = int(match[1]), int(match[2] or match[1])
        where.append("r.year BETWEEN :y0 AND :y1")
    elif f.year:
        f.problems.append("year")
    if f.source:
        params["source"] = f.source
        where.append("EXISTS (SELECT 1 FROM hits h WHERE h.record_id = r.id AND NOT h.deleted"
                     " AND h.source = :source)")
    if f.search:
        params["search"] = f.search
        where.append("EXISTS (SELECT 1 FROM hits h JOIN searches s ON s.id = h.search_id"
                     " WHERE h.record_id = r.id AND NOT h.deleted AND s.name = :search)")
    person = f.reviewer if lead and f.reviewer else (None if lead else viewer)
    if person:
        params["person"] = person
        mine = ("SELECT {column} FROM current_decisions c WHERE c.record_id = r.id"
                " AND c.stage = 'screening' AND c.reviewer = :person")
        if f.decision == "undecided":
            where.append(f"NOT EXISTS ({mine.format(column=1)})")
        elif f.decision in ("include", "exclude", "maybe"):
            params["decision"] = f.decision
            where.append(f"({mine.format(column='decision')}) = :decision")
        if f.reason:
            params["reason"] = f.reason
            where.append(f"({mine.format(column='reason')}) = :reason")
        theme_owner = "AND rt.reviewer = :person"
    else:
        if f.decision == "conflict":
            where.append("rs.conflict = 1")
        elif f.decision == "undecided":
            where.append("rs.decision IS NULL AND rs.conflict = 0")
        elif f.decision:
            params["decision"] = f.decision
            where.append("rs.decision = :decision")
        if f.reason:
            params["reason"] = f.reason
            where.append("EXISTS (SELECT 1 FROM current_decisions c WHERE c.record_id = r.id"
                         " AND c.reason = :reason)")
        theme_owner = ""
    if f.theme:
        params["theme"] = f.theme
        where.append("EXISTS (SELECT 1 FROM record_themes rt JOIN themes t ON t.id = rt.theme_id"
                     f" WHERE rt.record_id = r.id AND t.slug = :theme {theme_owner})")
    if f.state == "queue":
        where.append("r.id IN (SELECT record_id FROM screening_open WHERE votes < :needed)"
                     " AND NOT EXISTS (SELECT 1 FROM current_decisions c WHERE c.record_id = r.id"
                     " AND c.stage = 'screening' AND c.reviewer = :viewer)")
    elif f.state == "mine":
        where.append("EXISTS (SELECT 1 FROM current_decisions c WHERE c.record_id = r.id"
                     " AND c.stage = 'screening' AND c.reviewer = :viewer)")
    return where, params


def find_records(conn: sqlite3.Connection, f: Filters, *, viewer: str, lead: bool,
                 needed: int = 1, rows: bool = True) -> tuple[list[dict[str, Any]], int]:
    """One page of matching records (newest first) and how many match (up to COUNT_CAP + 1).

    Each row carries the viewer's own current decision and what names the work (its
    ``original_title``, ``authors`` and ``editors`` as lists); a lead's rows also carry the final
    decision, the number of votes and whether the reviewers disagree.
    """
    register_functions(conn)
    where, params = _where(f, viewer, lead, needed)
    clause = " AND ".join(where) or "1"
    base = f"FROM records r LEFT JOIN record_status rs ON rs.record_id = r.id WHERE {clause}"
    count = conn.execute(f"SELECT count(*) FROM (SELECT 1 {base} LIMIT {COUNT_CAP + 1})",
                         params).fetchone()[0]
    if not rows:
        return [], count
    keys = ("id", "title", "year", "journal", "final", "votes", "conflict", "mine", "reason",
            "sources", "original_title", "authors", "creators")
    found = conn.execute(f"""
      SELECT r.id, r.title, r.year, r.journal, rs.decision, rs.votes, rs.conflict,
        (SELECT decision FROM current_decisions c WHERE c.record_id = r.id
           AND c.stage = 'screening' AND c.reviewer = :viewer),
        (SELECT reason FROM current_decisions c WHERE c.record_id = r.id
           AND c.stage = 'screening' AND c.reviewer = :viewer),
        (SELECT json_group_array(DISTINCT h.source) FROM hits h
           WHERE h.record_id = r.id AND NOT h.deleted),
        r.original_title, r.authors, r.creators
      {base} ORDER BY r.year DESC, r.id LIMIT :limit OFFSET :offset""",
                        {**params, "limit": PAGE, "offset": (f.page - 1) * PAGE}).fetchall()
    items = [dict(zip(keys, row, strict=True)) for row in found]
    for item in items:
        item["sources"] = json_list(item["sources"])
        item["authors"] = [str(n) for n in json_list(item["authors"])]
        item["editors"] = editors_of({"creators": item.pop("creators")})
        if not lead:  # blind: a reviewer never receives anyone else's vote
            item.update(final=None, votes=None, conflict=None)
    return items, count


def filter_choices(conn: sqlite3.Connection, *, lead: bool) -> dict[str, list[str]]:
    """The values the page's drop-downs offer: sources, searches, and (lead) reviewers."""
    choices = {
        "sources": [r[0] for r in conn.execute(
            "SELECT DISTINCT source FROM hits WHERE NOT deleted ORDER BY source")],
        "searches": [r[0] for r in conn.execute("SELECT name FROM searches ORDER BY name")],
        "reviewers": [],
    }
    if lead:
        choices["reviewers"] = [r[0] for r in conn.execute(
            "SELECT DISTINCT reviewer FROM current_decisions ORDER BY reviewer")]
    return choices
