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

- written the way Norwegian drops an ``e`` before ``l`` (``middel`` -> ``midler``, ``sykkel``
  -> ``sykler``): every indexed word with such an ``el`` (before the end or a known word) is
  also listed under its shortened form, so ``rusmidler`` finds ``rusmiddelproblemer``;
- through a synonym: Norwegian and English words of the domain find each other
  (``depresjon`` and ``depression``, ``psykisk helse`` and ``mental health``), from
  :data:`SYNONYMS` and the project's ``synonyms`` in evidence.yml, stored in the published file.

Words are ANDed; ``"a phrase"`` is a phrase; ``OR`` between two words is an OR. A query is cut
at :data:`MAX_QUERY_CHARS` characters and :data:`MAX_CLAUSES` words (each word costs lookups).
Ranking is FTS5's bm25 with titles (and original-language titles), themes and summaries
weighted above abstracts, editors as authors.
"""

from __future__ import annotations

import bisect
import math
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import sqlite_utils

from evidence.terms import SYNCOPE, WORD, fold, search_prefixes, stems

INDEX = "search_index"
TERMS = "search_terms"
SYNONYM_TABLE = "search_synonyms"
#: Norwegian and English words of the field that find each other; a project adds its own
#: groups with ``synonyms:`` in evidence.yml. Each group: words or phrases of one meaning.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("depresjon", "depression"),
    ("angst", "anxiety"),
    ("ensomhet", "loneliness"),
    ("psykisk helse", "mental health"),
    ("psykisk lidelse", "mental illness", "mental disorder"),
    ("rusmiddelbruk", "substance use"),
    ("avhengighet", "addiction"),
    ("selvmord", "suicide"),
    ("selvskading", "self-harm"),
    ("alkohol", "alcohol"),
    ("kommune", "municipality"),
    ("ungdom", "adolescents", "youth"),
    ("eldre", "older adults"),
    ("bolig", "housing"),
    ("behandling", "treatment"),
    ("forebygging", "prevention"),
    ("pårørende", "carers"),
    ("brukermedvirkning", "user involvement"),
)
#: Longest query read (as on /-/search), and most words (each costs index lookups).
MAX_QUERY_CHARS = 500
MAX_CLAUSES = 16
#: Indexed columns of ``records`` and their bm25 weights (title counts ten times an abstract).
#: The title in the work's own language (``original_title``: a Norwegian report's Norwegian
#: title) weighs as the title, and a book's editors (``editors``) as authors: a reader finds
#: a work by either, ranked as if the match were in its title or its byline.
COLUMNS = {"title": 10.0, "original_title": 10.0, "themes": 4.0, "summary": 4.0,
           "keywords": 3.0, "authors": 2.0, "editors": 2.0, "abstract": 1.0}
#: Columns whose words make the compound vocabulary (names are not split).
VOCABULARY_COLUMNS = ("title", "original_title", "themes", "summary", "keywords", "abstract")
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


def synonym_groups(extra: Iterable[Iterable[str]] = ()) -> list[list[str]]:
    """The built-in :data:`SYNONYMS` and a project's own groups, folded, without repeats;
    a project group sharing a term with a built-in one joins it."""
    groups: list[list[str]] = []
    for group in [*SYNONYMS, *extra]:
        terms = [" ".join(WORD.findall(fold(t))) for t in group]
        terms = list(dict.fromkeys(t for t in terms if t))
        home = next((g for g in groups if set(g) & set(terms)), None)
        if home is None:
            groups.append(terms)
        else:
            home.extend(t for t in terms if t not in home)
    return [g for g in groups if len(g) > 1]


def create_search_index(pub: sqlite_utils.Database,
                        synonyms: list[list[str]] | None = None) -> None:
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
    pub[SYNONYM_TABLE].create({"grp": int, "term": str}, pk=("grp", "term"))
    with pub.conn:
        pub.conn.executemany(f"INSERT OR IGNORE INTO {TERMS} VALUES (?, ?, ?)",
                             ((key, term, docs[term]) for key, term in expansions(docs)))
        pub.conn.executemany(
            f"INSERT OR IGNORE INTO {SYNONYM_TABLE} VALUES (?, ?)",
            ((i, t) for i, g in enumerate(synonym_groups() if synonyms is None else synonyms)
             for t in g))


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
        for short in syncopated(term, docs):
            yield short, term
        if not term.endswith("y"):  # only English -y stems (communiti) are not prefixes
            continue
        for stem in stems(term):
            if len(stem) >= 4 and not term.startswith(stem):
                yield stem, term


def syncopated(term: str, docs: dict[str, int]) -> list[str]:
    """``term`` as Norwegian writes it when an ending follows an ``-el``: the ``e`` goes and a
    doubled consonant is single (``rusmiddelproblemer`` -> ``rusmidlproblemer``, the form
    ``rusmidler`` starts with). Only an ``el`` after a doubled consonant (``middel``,
    ``sykkel``, ``artikkel``), at the end, or before an indexed word counts, so ``modellen``
    or ``helse`` get no false forms."""
    forms = []
    for match in SYNCOPE.finditer(term):
        rest = term[match.end():]
        doubled = len(match.group(0)) == 4
        if rest and not doubled and rest not in docs and rest[1:] not in docs:
            continue
        forms.append(term[:match.start()] + match.group(1) + "l" + rest)
    return forms


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
    """A reader's query, parsed: its clauses (each a list of OR-ed items), and the synonyms
    found for a run of clauses: ``{first clause: (clauses in the run, other terms)}``."""

    text: str
    clauses: list[list[str]] = field(default_factory=list)
    synonyms: dict[int, tuple[int, list[str]]] = field(default_factory=dict)

    @property
    def words(self) -> list[str]:
        """Words and phrases to highlight (synonyms included)."""
        own = [item for clause in self.clauses for item in clause]
        return own + [t for _, terms in self.synonyms.values() for t in terms if t not in own]


def parse_query(text: str, synonyms: list[list[str]] | None = None) -> Query:
    """Words (ANDed), ``"phrases"`` and ``a OR b``; FTS syntax characters are ignored. The
    first :data:`MAX_QUERY_CHARS` characters and :data:`MAX_CLAUSES` words count. With
    ``synonyms`` (:func:`synonym_groups`), words of a group find its other terms."""
    text = (text or "")[:MAX_QUERY_CHARS]
    query = Query(text)
    join_next = False
    for match in _PHRASE_OR_WORD.finditer(text):
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
    del query.clauses[MAX_CLAUSES:]
    if synonyms:
        query.synonyms = find_synonyms(query.clauses, synonyms)
    return query


@lru_cache(maxsize=8192)
def _forms(word: str) -> frozenset[str]:
    """A word's search prefixes and itself (cached: every query word meets every synonym)."""
    return frozenset(search_prefixes(word)) | {fold(word)}


def same_word(a: str, b: str) -> bool:
    """Two words are one for synonyms when they share a stem (``depressive`` and
    ``depression``: ``depress``; ``angsten`` and ``angst``) or one stem of five letters or
    more starts the other (``ensom`` and ``ensomhet``)."""
    return any(x == y or (min(len(x), len(y)) >= 5 and (x.startswith(y) or y.startswith(x)))
               for x in _forms(a) for y in _forms(b))


def find_synonyms(clauses: list[list[str]], groups: list[list[str]]
                  ) -> dict[int, tuple[int, list[str]]]:
    """Runs of single-word clauses that are a term of a synonym group (the longest first):
    ``psykisk helse`` -> ``{0: (2, ["mental health"])}``."""
    found: dict[int, tuple[int, list[str]]] = {}
    i = 0
    while i < len(clauses):
        best: tuple[int, list[str]] | None = None
        for group in groups:
            for term in group:
                words = term.split()
                run = clauses[i:i + len(words)]
                if len(run) < len(words) or (best and len(words) <= best[0]):
                    continue
                if all(len(c) == 1 and " " not in c[0] and same_word(c[0], w)
                       for c, w in zip(run, words, strict=True)):
                    best = (len(words), [t for t in group if t != term])
        if best:
            found[i] = best
            i += best[0]
        else:
            i += 1
    return found


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def match_expression(query: Query, expand: Callable[[str], list[str]]) -> str | None:
    """The FTS5 MATCH text of ``query``; ``expand(key)`` returns the indexed compounds and
    stem forms under a prefix key (a ``search_terms`` lookup). None for an empty query."""
    def word(item: str) -> list[str]:
        alternatives = []
        for prefix in search_prefixes(item):
            if len(prefix) < 2:  # no prefix index for one letter: the word itself
                alternatives.append(_quote(prefix))
                continue
            alternatives.append(_quote(prefix) + " *")
            alternatives.extend(_quote(term) for term in expand(prefix))
        return alternatives

    def either(alternatives: list[str]) -> str:
        unique = list(dict.fromkeys(alternatives))
        return unique[0] if len(unique) == 1 else "(" + " OR ".join(unique) + ")"

    def clause(items: list[str]) -> str:
        return either([a for item in items
                       for a in ([_quote(item)] if " " in item else word(item))])

    clauses = []
    i = 0
    while i < len(query.clauses):
        if i in query.synonyms:
            run, terms = query.synonyms[i]
            own = " AND ".join(clause(c) for c in query.clauses[i:i + run])
            alternatives = [own if run == 1 else f"({own})"]
            for term in terms:
                words = term.split()
                alternatives.extend(word(term) if len(words) == 1 else [" + ".join(
                    _quote(min(search_prefixes(w), key=len)) + " *" for w in words)])
            clauses.append(either(alternatives))
            i += run
            continue
        clauses.append(clause(query.clauses[i]))
        i += 1
    return " AND ".join(clauses) or None


#: Columns a reader sees, or that are a work's own words: a match only in ``themes`` (the
#: label the project gave) ranks below a match here.
OWN_COLUMNS = tuple(c for c in COLUMNS if c != "themes")


def own_words_expression(expression: str, indexed: Iterable[str] | None = None) -> str:
    """``expression`` restricted to :data:`OWN_COLUMNS` (an FTS5 column filter); with
    ``indexed`` (:func:`index_columns` of a published file), to those of them it has: a
    file published before ``original_title`` and ``editors`` were indexed lacks them, and
    FTS5 refuses a filter naming a column it does not have."""
    have = set(OWN_COLUMNS if indexed is None else indexed)
    kept = [c for c in OWN_COLUMNS if c in have]
    return "{" + " ".join(kept) + "} : (" + expression + ")"


def index_columns(conn) -> list[str]:
    """The columns of a published file's search index (fewer in files published before)."""
    return [row[1] for row in conn.execute(f"PRAGMA table_info({INDEX})")]


def read_synonyms(conn) -> list[list[str]]:
    """The synonym groups stored in a published file (none in files published before)."""
    try:
        rows = conn.execute(f"SELECT grp, term FROM {SYNONYM_TABLE} ORDER BY grp, rowid")
    except sqlite3.OperationalError:  # an older published file: no synonyms table
        return []
    groups: dict[int, list[str]] = {}
    for grp, term in rows:
        groups.setdefault(grp, []).append(term)
    return list(groups.values())


def expand_params(prefix: str) -> dict[str, str]:
    """Parameters of the ``search_terms`` lookup for ``prefix`` (keys starting with it)."""
    return {"low": prefix, "high": prefix + "\U0010ffff"}


def expand_sync(conn) -> Callable[[str], list[str]]:
    """``expand`` for :func:`match_expression` over a plain sqlite3 connection."""
    def expand(prefix: str) -> list[str]:
        return [row[0] for row in conn.execute(_EXPAND, expand_params(prefix))]
    return expand


EXPAND_SQL = _EXPAND
