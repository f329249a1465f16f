"""Full-text search of the published records that finds Norwegian compounds and inflections.

Choice (measured in docs/publishing.md, "Search"): an FTS5 word index with prefix indexes,
plus a small table of *expansions* made at publish time, rather than a trigram index. A
trigram index finds ``rus`` in ``virus`` and ``Prussia``, cannot rank by word, ignores
queries under three letters and is three times the size; a stemmed-only index misses the
middle of compounds. Here a query word matches:

- as a prefix, through its stems (``evidence.terms.search_prefixes``): ``rus`` finds
  ``rusmiddelproblemer``, ``problemer`` finds ``problemene`` and ``problems``;
- as a later part of a compound, through ``search_terms``: at publish time every indexed
  word that splits into two known words (Koehn and Knight's frequency rule: the parts
  together are more common than the whole) is listed under its later parts, so
  ``problemer`` also finds ``rusmiddelproblemer`` and ``helseproblemer``;
- through an English stem that is not a prefix of the word (``communities`` finds
  ``community``), listed in ``search_terms`` too.

Words are ANDed; ``"a phrase"`` is a phrase; ``OR`` between two words is an OR. Ranking is
FTS5's bm25 with titles, themes and summaries weighted above abstracts.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlite_utils

from evidence.terms import WORD, fold, search_prefixes, stems

INDEX = "search_index"
TERMS = "search_terms"
#: Indexed columns of ``records`` and their bm25 weights (title counts ten times an abstract).
COLUMNS = {"title": 10.0, "themes": 4.0, "summary": 4.0, "keywords": 3.0, "authors": 2.0,
           "abstract": 1.0}
#: Columns whose words make the compound vocabulary (names are not split).
VOCABULARY_COLUMNS = ("title", "themes", "summary", "keywords", "abstract")
MIN_HEAD, MIN_TAIL, MIN_COMPOUND = 3, 4, 7
MIN_SHARED_TAIL = 6  # a tail known only from compounds must be longer (not "rapy", "ment")
MIN_SHARED_HEAD = 5  # likewise a head known only as the start of other words
RARE = 3  # a word in this many documents or fewer may be split whatever its parts' counts
LINKS = ("", "s", "e")  # Norwegian linking letters: barn-e-vern, arbeid-s-liv
#: Most compounds OR-ed in for one query word (the commonest first).
MAX_EXPANSIONS = 60
_PHRASE_OR_WORD = re.compile(r'"([^"]*)"|(\S+)')
_EXPAND = (f"SELECT term FROM {TERMS} WHERE key >= :low AND key < :high"
           f" ORDER BY docs DESC LIMIT {MAX_EXPANSIONS}")


def create_search_index(pub: sqlite_utils.Database) -> None:
    """The FTS5 index over ``records`` and the ``search_terms`` expansions.

    The index reads its text from ``records`` (external content), so it adds only the
    index itself to the file. ``content='records'`` is written with single quotes on
    purpose: Datasette then does not take it for the table's own FTS and leaves
    ``?_search=`` to the site's filter (``evidence.publish.site.search``).
    """
    names = ", ".join(COLUMNS)
    pub.execute(f"CREATE VIRTUAL TABLE {INDEX} USING fts5({names}, content='records',"
                " content_rowid='id', tokenize='unicode61 remove_diacritics 2',"
                " prefix='2 3')")
    pub.execute(f"INSERT INTO {INDEX}({INDEX}) VALUES ('rebuild')")
    weights = ", ".join(str(w) for w in COLUMNS.values())
    pub.execute(f"INSERT INTO {INDEX}({INDEX}, rank) VALUES ('rank', 'bm25({weights})')")
    pub.execute(f"INSERT INTO {INDEX}({INDEX}) VALUES ('optimize')")
    pub.execute(f"CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, {INDEX}, col)")
    cols = ", ".join(f"'{c}'" for c in VOCABULARY_COLUMNS)
    docs = dict(pub.execute(f"SELECT term, sum(doc) FROM temp.vocab WHERE col IN ({cols})"
                            " GROUP BY term").fetchall())
    pub.execute("DROP TABLE temp.vocab")
    pub[TERMS].create({"key": str, "term": str, "docs": int}, pk=("key", "term"))
    with pub.conn:
        pub.conn.executemany(f"INSERT OR IGNORE INTO {TERMS} VALUES (?, ?, ?)",
                             ((key, term, docs[term]) for key, term in expansions(docs)))


def expansions(docs: dict[str, int]) -> Iterable[tuple[str, str]]:
    """``(key, term)`` pairs: a compound under each later part, a word under a stem that is
    not a prefix of it. ``docs`` is the vocabulary with document counts."""
    splits: dict[str, list[str]] = {}
    docs = {**shared_tails(docs), **docs}
    words = sorted(docs)
    for term in words:
        if not term.isalpha():
            continue
        for part in _later_parts(term, docs, words, splits):
            yield part, term
        if not term.endswith("y"):  # only English -y stems (communiti) are not prefixes
            continue
        for stem in stems(term):
            if len(stem) >= 4 and not term.startswith(stem):
                yield stem, term


def shared_tails(docs: dict[str, int]) -> dict[str, int]:
    """Tails that end two or more indexed words after a known head, though never standing
    alone (``problemer`` of ``rusmiddelproblemer`` and ``helseproblemer``), with the documents
    of those words: a small corpus lacks many plain words its compounds are made of."""
    heads: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for term, count in docs.items():
        if len(term) < MIN_COMPOUND + 1 or not term.isalpha():
            continue
        for i in range(MIN_HEAD + 1, len(term) - MIN_SHARED_TAIL + 1):
            tail = term[i:]
            if tail in docs or term[:i] not in docs:
                continue
            heads.setdefault(tail, set()).add(term[:i])
            counts[tail] = counts.get(tail, 0) + count
    return {tail: counts[tail] for tail, found in heads.items() if len(found) >= 2}


def _split(term: str, docs: dict[str, int], words: list[str]) -> tuple[str, str] | None:
    """The best split of ``term`` into a head and an indexed tail word.

    The head is an indexed word, or (from ``MIN_SHARED_HEAD`` letters) the start of two or
    more indexed words (``rusmiddel`` of ``rusmiddelbruk``). Koehn and Knight's rule keeps a
    common word whole (``understanding``): the parts must be more common than the word,
    unless the word is rare (``RARE`` documents or fewer), as most compounds are.
    """
    if len(term) < MIN_COMPOUND:
        return None
    best, score = None, 0.0
    floor = 0 if docs.get(term, 0) <= RARE else docs.get(term, 0)
    for i in range(MIN_HEAD, len(term) - MIN_TAIL + 1):
        head = term[:i]
        if head not in docs and (i < MIN_SHARED_HEAD or _starts(words, head) < 2):
            continue
        for link in LINKS:
            tail = term[i + len(link):]
            if len(tail) < MIN_TAIL or not term.startswith(link, i) or tail not in docs:
                continue
            value = math.sqrt(docs.get(head, 1) * docs[tail])
            if value > max(score, floor):
                best, score = (head, tail), value
    return best


def _starts(words: list[str], prefix: str) -> int:
    """How many of the sorted ``words`` start with ``prefix`` (0, 1 or 2: enough to know)."""
    i = bisect.bisect_left(words, prefix)
    return sum(1 for w in words[i:i + 2] if w.startswith(prefix))


def _later_parts(term: str, docs: dict[str, int], words: list[str],
                 memo: dict[str, list[str]]) -> list[str]:
    """Every part of ``term`` that starts after its beginning: rusmiddelproblemer ->
    [problemer, middel] (through rus|middel)."""
    if term in memo:
        return memo[term]
    memo[term] = []
    split = _split(term, docs, words)
    if split:
        head, tail = split
        memo[term] = [tail, *_later_parts(head, docs, words, memo),
                      *_later_parts(tail, docs, words, memo)]
    return memo[term]


# --- queries --------------------------------------------------------------------------------

@dataclass
class Query:
    """A reader's query, parsed: its clauses (each a list of OR-ed items) and words."""

    text: str
    clauses: list[list[str]] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        """Words and phrases to highlight."""
        return [item for clause in self.clauses for item in clause]


def parse_query(text: str) -> Query:
    """Words (ANDed), ``"phrases"`` and ``a OR b``; FTS syntax characters are ignored."""
    query = Query(text or "")
    join_next = False
    for match in _PHRASE_OR_WORD.finditer(text or ""):
        phrase, token = match.groups()
        if token == "OR":
            join_next = bool(query.clauses)
            continue
        items = [" ".join(WORD.findall(fold(phrase)))] if phrase is not None else \
            WORD.findall(fold(token))
        for item in (i for i in items if i):
            if join_next:
                query.clauses[-1].append(item)
                join_next = False
            else:
                query.clauses.append([item])
    return query


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def match_expression(query: Query, expand: Callable[[str], list[str]]) -> str | None:
    """The FTS5 MATCH text of ``query``; ``expand(key)`` returns the indexed compounds and
    stem forms under a prefix key (a ``search_terms`` lookup). None for an empty query."""
    clauses = []
    for clause in query.clauses:
        alternatives: list[str] = []
        for item in clause:
            if " " in item:
                alternatives.append(_quote(item))
                continue
            for prefix in search_prefixes(item):
                alternatives.append(_quote(prefix) + " *")
                alternatives.extend(_quote(term) for term in expand(prefix))
        unique = list(dict.fromkeys(alternatives))
        clauses.append(unique[0] if len(unique) == 1 else "(" + " OR ".join(unique) + ")")
    return " AND ".join(clauses) or None


def expand_params(prefix: str) -> dict[str, str]:
    """Parameters of the ``search_terms`` lookup for ``prefix`` (keys starting with it)."""
    return {"low": prefix, "high": prefix + "\U0010ffff"}


def expand_sync(conn) -> Callable[[str], list[str]]:
    """``expand`` for :func:`match_expression` over a plain sqlite3 connection."""
    def expand(prefix: str) -> list[str]:
        return [row[0] for row in conn.execute(_EXPAND, expand_params(prefix))]
    return expand


EXPAND_SQL = _EXPAND
