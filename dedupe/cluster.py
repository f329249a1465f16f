"""Fold hits into records: one record per work, across searches, sources and years.

How a run works (:func:`dedupe`):

1. Every hit is fingerprinted (dedupe/keys.py). Hits that already have a record keep
   it; hits without one (``record_id IS NULL``) are pending.
2. Each pending hit is compared only with hits that share a blocking key (DOI, PMID, PMC id,
   the start or the end of the title, first author + year), so the work grows with the number
   of hits, not its square. Every member of a block is a candidate (no cap: a common surname
   such as Wang or Hansen in one year must not hide a duplicate); one vectorised title
   comparison drops the hopeless ones before pairs are scored by dedupe/score.py.
3. Pairs are joined best first. A join is refused when any hit of one side clearly differs
   from any hit of the other (a preprint and its article, two PMIDs, a pair a person split),
   so A~B and B~C never drag in a C that clearly is not A.
4. Each cluster becomes one record. Two existing records that end up together are merged:
   the survivor (the screened one, else the older) takes their hits, decisions and themes, so
   a new hit that joins a screened record inherits its decision and is not queued again.
5. Pairs between the thresholds are stored in ``duplicate_pairs`` as ``uncertain`` (by hit id,
   which survives re-clustering) for ``evidence duplicates`` and the screening app.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from rapidfuzz import process
from rapidfuzz.distance import Indel

from evidence.config import DedupeSettings
from evidence.db.open_queue import records_added_in_bulk
from evidence.db.values import now
from evidence.dedupe.keys import (
    STORED,
    Fingerprint,
    block_keys,
    fingerprint,
    from_stored,
    store_keys,
    stored_values,
)
from evidence.dedupe.score import MAX_BONUS, PREFIX_MIN, clearly_differ, score
from evidence.errors import EvidenceError

RECORD_FIELDS = (
    "title", "abstract", "authors", "year", "journal", "journal_abbrev", "volume", "issue",
    "pages", "doi", "pmid", "pmcid", "isbn", "issn", "pub_date", "language",
    "publication_types", "keywords", "mesh_terms", "item_type", "url", "original_title",
    "creators", "oa_url",
)
_KEY_COLUMNS = ("id", "record_id", "title", "authors", "year", "journal", "volume", "pages",
                "doi", "pmid", "pmcid", "isbn", "item_type", "publication_types")
#: Score given to a pair a person merged: above any computed score.
OVERRIDE = 2.0
_CHUNK = 500


class DedupeError(EvidenceError):
    """A duplicate-pair decision that cannot be applied (unknown pair or record)."""


class PairDecidedError(DedupeError):
    """A reviewer tried to change a pair a person already decided (leads only)."""


@dataclass
class DedupeResult:
    hits: int = 0
    new_records: int = 0
    merged: int = 0
    uncertain: int = 0


def dedupe(db: sqlite_utils.Database, settings: DedupeSettings | None = None, *,
           memory: Memory | None = None) -> DedupeResult:
    """Give every hit without a record one: an existing record of the same work, or a new one.

    ``merged`` counts hits that joined an existing record or another hit's record;
    ``uncertain`` counts pairs newly left for a person to decide. One transaction.
    ``memory`` carries what one pass learnt to the next (:class:`Steps`).
    """
    settings = settings or DedupeSettings()
    result = DedupeResult()
    if db.execute("SELECT 1 FROM hits WHERE record_id IS NULL LIMIT 1").fetchone() is None:
        return result
    memory = memory if memory is not None else Memory()
    fps, computed = _fingerprints(db, memory)
    pending = [i for i, fp in enumerate(fps) if fp.record_id is None]
    result.hits = len(pending)
    clusters = _Clusters(fps, settings)
    edges = _candidate_edges(fps, pending, settings, memory.blocks)
    edges.extend(_override_edges(db, clusters))
    clusters.forbid(_split_pairs(db))
    edges.sort(key=lambda e: -e[0])
    uncertain: dict[tuple[int, int], tuple[float, int, int]] = {}
    for value, i, j in edges:
        if value >= settings.upper_threshold:
            clusters.join(i, j, force=value >= OVERRIDE)
        elif value >= settings.lower_threshold:
            uncertain.setdefault(clusters.pair_key(i, j), (value, i, j))
    with db.atomic():
        store_keys(db, [(fp.hit_id, stored_values(fp)) for fp in computed])
        placed = _write_records(db, fps, clusters, result, pending)
        result.uncertain = _store_uncertain(db, fps, clusters, uncertain.values())
    for group, record_id in placed:  # what the next pass remembers (Memory)
        for i in group:
            fps[i] = fps[i]._replace(record_id=record_id)
    memory.data_version = _data_version(db)
    return result


class Steps:
    """Deduplicate hits in steps while more are still arriving: an import deduplicates while
    its file is read (harvest/files/importing.py), a harvest while it waits for the network
    (harvest/runs.py); :meth:`finish` folds in the rest.

    Passes share a :class:`Memory`, so each reads and indexes only its new hits; what every
    pass still walks is the list of all hits, so a step is at least ``first`` hits and a
    quarter of those deduplicated before it: an import into a database of a million hits
    makes one pass, a first import of 50,000 about ten, the last of them small. Each pass is
    an ordinary :func:`dedupe` run, the same as importing the hits in parts.
    """

    FIRST = 5_000

    def __init__(self, db: sqlite_utils.Database, settings: DedupeSettings | None, *,
                 first: int | None = None) -> None:
        self.db, self.settings = db, settings
        self.first = first or self.FIRST
        self.done = db.execute("SELECT count(*) FROM hits WHERE record_id IS NOT NULL"
                               ).fetchone()[0]
        self.pending = 0
        self.result = DedupeResult()
        self.memory = Memory()

    def step(self) -> int:
        """How many new hits make a pass worth its cost now."""
        return max(self.first, self.done // 4)

    def added(self, hits: int) -> None:
        """``hits`` new hits are stored: deduplicate now if they are enough."""
        self.pending += hits
        if self.pending >= self.step():
            self.run()

    def idle(self) -> None:
        """The caller would wait now (an import whose file is not read yet): deduplicate if
        a smaller step waits, a fifth of ``first`` and a sixteenth of the hits deduplicated,
        so that :meth:`finish`, which nothing overlaps, has little left."""
        if self.pending >= max(self.first // 5, self.done // 16, 1):
            self.run()

    def when_enough_wait(self) -> None:
        """Deduplicate now if enough hits wait, counted in the database (for callers that
        store hits without telling :meth:`added`, such as a harvest's sources)."""
        step = self.step()
        self.pending = self.db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM hits WHERE record_id IS NULL LIMIT ?)",
            [step]).fetchone()[0]
        if self.pending >= step:
            self.run()

    def finish(self) -> DedupeResult:
        """Deduplicate what is left; the totals of every pass."""
        self.run()
        return self.result

    def run(self) -> None:
        """One pass now, whatever waits."""
        done = dedupe(self.db, self.settings, memory=self.memory)
        for total in dataclasses.fields(DedupeResult):
            setattr(self.result, total.name,
                    getattr(self.result, total.name) + getattr(done, total.name))
        self.done += done.hits
        self.pending = 0


def _rows(db: sqlite_utils.Database, sql: str, params: Iterable[Any] = ()) -> Iterator[dict]:
    cursor = db.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def _fingerprints(db: sqlite_utils.Database,
                  memory: Memory) -> tuple[list[Fingerprint], list[Fingerprint]]:
    """(every hit's fingerprint, hits with a record first; those computed in this run).

    Fingerprints are read back from ``dedupe_keys`` (an import stores those of its new hits
    as it reads the file); hits without one are fingerprinted now. With fingerprints in
    ``memory`` from an earlier pass, only the hits still without a record are read, and the
    remembered ones get their current records (a pass may have merged some).
    """
    if memory.fps:
        fresh = _stored_fingerprints(db, "h.record_id IS NULL")
        computed = _computed_fingerprints(db)
        if any(fp.record_id is not None for fp in computed):
            # a remembered hit was changed since (harvest.store): its keys are new
            memory.fps, memory.blocks = [], Blocks()
            return _fingerprints(db, memory)
        if memory.data_version != _data_version(db):
            # another connection wrote (a merge in the screening app, say): re-read records
            records = dict(db.execute("SELECT id, record_id FROM hits").fetchall())
            memory.fps = [fp if fp.record_id == records[fp.hit_id]
                          else fp._replace(record_id=records[fp.hit_id])
                          for fp in memory.fps]
        memory.fps.extend(sorted(fresh + computed, key=lambda fp: fp.hit_id))
        return memory.fps, computed
    fps = _stored_fingerprints(db)
    computed = _computed_fingerprints(db)
    if computed:
        fps = sorted(fps + computed, key=lambda fp: (fp.record_id is None, fp.hit_id))
    memory.fps = fps
    return fps, computed


def _data_version(db: sqlite_utils.Database) -> int:
    """Changes when another connection commits (SQLite's ``PRAGMA data_version``)."""
    return db.execute("PRAGMA data_version").fetchone()[0]


def _stored_fingerprints(db: sqlite_utils.Database, where: str = "1") -> list[Fingerprint]:
    return [from_stored(hit_id, record_id, values) for hit_id, record_id, *values in db.execute(
        f"SELECT k.hit_id, h.record_id, {', '.join('k.' + c for c in STORED)}"
        f" FROM dedupe_keys k JOIN hits h ON h.id = k.hit_id WHERE {where}"
        " ORDER BY h.record_id IS NULL, k.hit_id")]


def _computed_fingerprints(db: sqlite_utils.Database) -> list[Fingerprint]:
    """Fingerprints of the hits without stored ones, computed now.

    The hits without keys are found through an index of hit ids (``IN``), not by reading
    every hit row: hits carry their raw export and fill a page each, and a step of an
    import (:class:`Steps`) asks again after every few thousand hits.
    """
    return [fingerprint(row) for row in _rows(
        db, f"SELECT {', '.join(_KEY_COLUMNS)} FROM hits WHERE id IN (SELECT h.id FROM hits h"
            " WHERE NOT EXISTS (SELECT 1 FROM dedupe_keys k WHERE k.hit_id = h.id))"
            " ORDER BY record_id IS NULL, id")]


class Blocks:
    """Hit positions by hashed blocking key (dedupe/keys.py ``block_keys``).

    Built once from the hits that have a record; the pending hits join as they are compared,
    so a later pass over more hits (:class:`Steps`) goes on with the same blocks. A hash
    collision only adds a pair to score.

    Hits with a PMID and hits without one are kept in separate buckets (``buckets`` and
    ``without_pmid``). Two hits with different PMIDs are two works (score.py vetoes the
    pair), so a hit with a PMID is compared only with the hits without one, besides its own
    PMID's bucket. That matters for a PubMed harvest: a year of systematic reviews shares a
    few title endings ("... a systematic review"), and comparing each new hit with a whole
    such bucket made a harvest's deduplication quadratic (bench/pubmed_bench.py).
    """

    def __init__(self) -> None:
        self.buckets: dict[int, list[int]] = defaultdict(list)  # hits with a PMID
        self.without_pmid: dict[int, list[int]] = defaultdict(list)
        self.size = 0  # positions 0 .. size - 1 are in

    def mates(self, fp: Fingerprint, key: tuple[str, str], hashed: int) -> list[int]:
        """The hits of ``key``'s bucket that ``fp`` may be a duplicate of."""
        without = self.without_pmid.get(hashed, [])
        if fp.pmid and key[0] != "pmid":
            return without
        return self.buckets.get(hashed, []) + without

    def add(self, fps: list[Fingerprint], i: int, hashed: int, *, one_per_record: bool) -> None:
        """Put hit ``i`` in a bucket (one hit per record per key is enough for the hits with
        a record: the clusters check the rest)."""
        fp = fps[i]
        bucket = (self.buckets if fp.pmid else self.without_pmid)[hashed]
        if not (one_per_record and bucket and fps[bucket[-1]].record_id == fp.record_id):
            bucket.append(i)

    def add_records(self, fps: list[Fingerprint]) -> None:
        """Put in the hits with a record from position ``size`` on (they come first)."""
        for i in range(self.size, len(fps)):
            fp = fps[i]
            if fp.record_id is None:
                break
            for key in block_keys(fp):
                self.add(fps, i, hash(key), one_per_record=True)
            self.size = i + 1


@dataclass
class Memory:
    """What passes over a growing set of hits keep (:class:`Steps`): every hit's fingerprint
    (hits with a record first) and the blocks, so a pass reads and indexes only new hits.

    A pass leaves the records it gave in ``fps``; the next re-reads the hits' records only if
    another connection has written since (``data_version``), not after every pass of an
    import, whose one transaction no one else can write into.
    """

    fps: list[Fingerprint] = dataclasses.field(default_factory=list)
    blocks: Blocks = dataclasses.field(default_factory=Blocks)
    data_version: int | None = None


def _candidate_edges(fps: list[Fingerprint], pending: list[int], settings: DedupeSettings,
                     blocks: Blocks) -> list[tuple[float, int, int]]:
    """Scored pairs (score, i, j) with score >= lower threshold, i pending, j any earlier hit.

    Titles less similar than ``lower - MAX_BONUS`` cannot reach ``lower`` whatever the other
    fields say, so most bucket mates (a common name + year) are dropped by one rapidfuzz call
    per hit instead of a full score each. Only a shared identifier or a cut-short title (same
    first ``PREFIX_MIN`` characters, so the same title-start bucket) lifts such a pair: the
    mates of those buckets are always scored, so the edges are the same as scoring every pair.
    """
    blocks.add_records(fps)
    edges = []
    lower = settings.lower_threshold
    # the small margin covers float rounding
    cutoff = lower - MAX_BONUS - 1e-6
    titles = [fp.title for fp in fps]
    for i in pending:
        fp = fps[i]
        candidates: dict[int, None] = {}
        lifted: list[int] = []
        for key in block_keys(fp):
            hashed = hash(key)
            mates = blocks.mates(fp, key, hashed)
            # the whole bucket, however common the name: one C-level title filter
            # (process.extract below) keeps the cost of a large bucket small
            candidates.update(dict.fromkeys(mates))
            if key[0] in _LIFTING:
                lifted.extend(mates)
            elif key[0] == "t0" and len(fp.compact) >= PREFIX_MIN:
                start = fp.compact[:PREFIX_MIN]
                lifted.extend(j for j in mates if fps[j].compact.startswith(start))
            blocks.add(fps, i, hashed, one_per_record=False)
        if candidates:
            chosen = list(candidates)
            if cutoff > 0 and fp.title:
                keep = {chosen[position] for _, _, position in process.extract(
                    fp.title, [titles[j] for j in chosen], scorer=Indel.normalized_similarity,
                    processor=None, limit=None, score_cutoff=cutoff)}
                keep.update(lifted)
                chosen = [j for j in chosen if j in keep]
            for j in chosen:
                value = score(fp, fps[j], settings)
                if value >= lower:
                    edges.append((value, i, j))
    blocks.size = len(fps)
    return edges


#: Blocking keys that are identifiers: a shared one may score high whatever the titles say.
_LIFTING = ("doi", "pmid", "pmcid")


def _hit_positions(fps: list[Fingerprint]) -> dict[int, int]:
    return {fp.hit_id: i for i, fp in enumerate(fps)}


def _override_edges(db: sqlite_utils.Database,
                    clusters: _Clusters) -> list[tuple[float, int, int]]:
    """Pairs a person merged: joined first, whatever their score."""
    edges = []
    for hit_a, hit_b in db.execute(
            "SELECT hit_a, hit_b FROM duplicate_pairs WHERE status = 'merge'").fetchall():
        i, j = clusters.position.get(hit_a), clusters.position.get(hit_b)
        if i is not None and j is not None:
            edges.append((OVERRIDE, i, j))
    return edges


def _split_pairs(db: sqlite_utils.Database) -> list[tuple[int, int]]:
    return db.execute(
        "SELECT hit_a, hit_b FROM duplicate_pairs WHERE status = 'split'").fetchall()


class _Clusters:
    """Union-find over hit positions that refuses joins between clearly different hits."""

    def __init__(self, fps: list[Fingerprint], settings: DedupeSettings) -> None:
        self.fps = fps
        self.settings = settings
        self.parent = list(range(len(fps)))
        self.members: dict[int, list[int]] = {}
        self.position = _hit_positions(fps)
        self.cannot: dict[int, set[int]] = defaultdict(set)
        by_record: dict[int, int] = {}
        for i, fp in enumerate(fps):
            if fp.record_id is None:
                continue
            root = by_record.setdefault(fp.record_id, i)
            self.parent[i] = root
            self.members.setdefault(root, []).append(i)

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def group(self, root: int) -> list[int]:
        return self.members.get(root, [root])

    def forbid(self, hit_pairs: Iterable[tuple[int, int]]) -> None:
        """Pairs of hits a person split: their clusters never join."""
        for hit_a, hit_b in hit_pairs:
            i, j = self.position.get(hit_a), self.position.get(hit_b)
            if i is not None and j is not None:
                self.cannot[i].add(j)
                self.cannot[j].add(i)

    def pair_key(self, i: int, j: int) -> tuple[int, int]:
        a, b = self.find(i), self.find(j)
        return (a, b) if a < b else (b, a)

    def join(self, i: int, j: int, *, force: bool = False) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b:
            return False
        group_a, group_b = self.group(a), self.group(b)
        if self._forbidden(group_a, group_b, check_content=not force):
            return False
        if len(group_a) < len(group_b):
            a, b, group_a, group_b = b, a, group_b, group_a
        self.parent[b] = a
        self.members[a] = group_a + group_b
        self.members.pop(b, None)
        return True

    def _forbidden(self, group_a: list[int], group_b: list[int], *, check_content: bool) -> bool:
        if self.cannot:
            set_b = set(group_b)
            if any(self.cannot[i] & set_b for i in group_a if i in self.cannot):
                return True
        if not check_content:
            return False
        fps, settings = self.fps, self.settings
        return any(clearly_differ(fps[i], fps[j], settings) for i in group_a for j in group_b)

    def groups(self, pending: list[int]) -> Iterator[list[int]]:
        """Every cluster that holds one of the ``pending`` hits (positions)."""
        seen: set[int] = set()
        for i in pending:
            root = self.find(i)
            if root not in seen:
                seen.add(root)
                yield self.group(root)


def _write_records(db: sqlite_utils.Database, fps: list[Fingerprint], clusters: _Clusters,
                   result: DedupeResult, pending: list[int]) -> list[tuple[list[int], int]]:
    """Create, extend or merge the records of every cluster that holds a pending hit.

    Record ids are assigned here and written set-wise (a run over a million hits makes most
    of them one-hit records); the new records join the screening queue in one statement
    (db/open_queue.py). Returns each cluster's positions with its record.
    """
    columns = ", ".join(RECORD_FIELDS)
    stamp = now()
    decided = {r for (r,) in db.execute("SELECT DISTINCT record_id FROM decisions")}
    first_id = next_id = (db.execute("SELECT max(id) FROM records").fetchone()[0] or 0) + 1
    singles: list[tuple[int, int]] = []
    assign: list[tuple[int, int]] = []
    refresh: set[int] = set()
    placed: list[tuple[list[int], int]] = []  # (positions, their record now)
    for group in clusters.groups(pending):
        new_hits = [fps[i].hit_id for i in group if fps[i].record_id is None]
        records = sorted({fps[i].record_id for i in group if fps[i].record_id is not None})
        if len(group) == 1:
            singles.append((next_id, new_hits[0]))
            placed.append((group, next_id))
            next_id += 1
            continue
        if records:
            survivor = next((r for r in records if r in decided), records[0])
            for loser in records:
                if loser != survivor:
                    merge_records(db, survivor, loser)
            result.merged += len(new_hits)
        else:
            survivor = next_id
            next_id += 1
            singles.append((survivor, new_hits[0]))
            result.new_records += 1
            result.merged += len(new_hits) - 1
        assign.extend((survivor, hit_id) for hit_id in new_hits)
        placed.append((group, survivor))
        refresh.add(survivor)
    result.new_records += len(singles) - len([s for s in singles if s[0] in refresh])
    # hit -> record, and whether the record starts from that hit's fields, in a temporary
    # table: two set-wise statements write the records and the hits' links, much faster than
    # a statement per hit (bench/import_bench.py)
    starts = {hit_id for _, hit_id in singles}
    db.execute("CREATE TEMP TABLE IF NOT EXISTS dedupe_placing (hit_id INTEGER PRIMARY KEY,"
               " record_id INTEGER NOT NULL, starts INTEGER NOT NULL)")
    db.conn.executemany("INSERT OR REPLACE INTO temp.dedupe_placing VALUES (?, ?, ?)",
                        [(hit_id, record_id, hit_id in starts)
                         for record_id, hit_id in singles + assign])
    with records_added_in_bulk(db.conn, first_id):
        db.execute(f"INSERT INTO records (id, {columns}, created_at, updated_at)"
                   f" SELECT p.record_id, {', '.join('h.' + c for c in RECORD_FIELDS)}, ?, ?"
                   " FROM temp.dedupe_placing p JOIN hits h ON h.id = p.hit_id"
                   " WHERE p.starts ORDER BY p.record_id", [stamp, stamp])
    db.execute("UPDATE hits SET record_id = (SELECT p.record_id FROM temp.dedupe_placing p"
               " WHERE p.hit_id = hits.id) WHERE id IN (SELECT hit_id FROM temp.dedupe_placing)")
    db.execute("DELETE FROM temp.dedupe_placing")
    refresh_records(db, sorted(refresh))
    return placed


def _record_references(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to ``records.id``: whatever other areas add."""
    found = []
    for table in db.table_names():
        for fk in db[table].foreign_keys:
            if fk.other_table == "records":
                found.append((table, fk.column))
    return found


def merge_records(db: sqlite_utils.Database, survivor: int, loser: int) -> None:
    """Move everything of record ``loser`` (hits, decisions, themes...) to ``survivor``."""
    for table, column in _record_references(db):
        # a row the survivor already has (same theme twice) is dropped, not duplicated
        db.execute(f"UPDATE OR IGNORE [{table}] SET [{column}] = ? WHERE [{column}] = ?",
                   [survivor, loser])
        db.execute(f"DELETE FROM [{table}] WHERE [{column}] = ?", [loser])
    db.execute("DELETE FROM records WHERE id = ?", [loser])


def _quality(hit: dict[str, Any]) -> tuple:
    """Order hits for picking field values: PubMed-like first, then DOI, abstract, age."""
    return (not hit["pmid"], not hit["doi"], not hit["abstract"],
            (hit["title"] or "").startswith("["), hit["id"])


def best_fields(hits: list[dict[str, Any]]) -> dict[str, Any]:
    """The merged record's fields: longest abstract and author list, else the best hit's."""
    ordered = sorted(hits, key=_quality)
    row: dict[str, Any] = {}
    for field in RECORD_FIELDS:
        values = [h[field] for h in ordered if h[field] not in (None, "", "[]")]
        if field == "abstract":
            row[field] = max(values, key=len, default=None)
        elif field == "authors":
            row[field] = max(values, key=lambda v: v.count('", "'), default="[]")
        else:
            row[field] = values[0] if values else None
    return row


def refresh_record(db: sqlite_utils.Database, record_id: int) -> None:
    """Recompute a record's fields from all its hits."""
    refresh_records(db, [record_id])


def refresh_records(db: sqlite_utils.Database, record_ids: list[int]) -> None:
    """Recompute records' fields from their hits (best values, see :func:`best_fields`)."""
    assignments = ", ".join(f"{field} = ?" for field in RECORD_FIELDS)
    stamp = now()
    for start in range(0, len(record_ids), _CHUNK):
        chunk = record_ids[start:start + _CHUNK]
        by_record: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for hit in _rows(db, f"SELECT id, record_id, {', '.join(RECORD_FIELDS)} FROM hits"
                             f" WHERE record_id IN ({', '.join('?' * len(chunk))})", chunk):
            by_record[hit["record_id"]].append(hit)
        db.conn.executemany(
            f"UPDATE records SET {assignments}, updated_at = ? WHERE id = ?",
            [[*best_fields(hits).values(), stamp, record_id]
             for record_id, hits in by_record.items()])


def _store_uncertain(db: sqlite_utils.Database, fps: list[Fingerprint], clusters: _Clusters,
                     pairs: Iterable[tuple[float, int, int]]) -> int:
    """Keep pairs between the thresholds whose hits ended in different records."""
    stored = 0
    stamp = now()
    for value, i, j in pairs:
        if clusters.find(i) == clusters.find(j):
            continue
        hit_a, hit_b = sorted((fps[i].hit_id, fps[j].hit_id))
        cursor = db.execute(
            "INSERT OR IGNORE INTO duplicate_pairs (hit_a, hit_b, score, status, created_at)"
            " VALUES (?, ?, ?, 'uncertain', ?)", [hit_a, hit_b, round(value, 4), stamp])
        stored += cursor.rowcount
    return stored


# Pair review: the CLI and the screening app -------------------------------------------------

def _record_row(db: sqlite_utils.Database, record_id: int) -> dict[str, Any]:
    return next(_rows(db, "SELECT * FROM records WHERE id = ?", [record_id]))


def list_uncertain_pairs(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Undecided pairs of records that may be one work, best score first.

    Each item: ``pair_id``, ``record_a`` and ``record_b`` (record rows), ``score``. One item
    per pair of records, however many of their hits matched.
    """
    rows = db.execute("""
        SELECT p.id, p.score, ha.record_id, hb.record_id FROM duplicate_pairs p
        JOIN hits ha ON ha.id = p.hit_a JOIN hits hb ON hb.id = p.hit_b
        WHERE p.status = 'uncertain' AND ha.record_id IS NOT NULL
          AND hb.record_id IS NOT NULL AND ha.record_id != hb.record_id
        ORDER BY p.score DESC, p.id""").fetchall()
    decided = {tuple(sorted(pair)) for pair in db.execute("""
        SELECT ha.record_id, hb.record_id FROM duplicate_pairs p
        JOIN hits ha ON ha.id = p.hit_a JOIN hits hb ON hb.id = p.hit_b
        WHERE p.status IN ('split', 'merge')""").fetchall()}
    items, seen = [], set()
    for pair_id, value, record_a, record_b in rows:
        key = tuple(sorted((record_a, record_b)))
        if key in seen or key in decided:
            continue
        seen.add(key)
        items.append({"pair_id": pair_id, "record_a": _record_row(db, key[0]),
                      "record_b": _record_row(db, key[1]), "score": value})
    return items


def decide_pair(db: sqlite_utils.Database, pair_id: int, decision: str, reviewer: str, *,
                lead: bool = True) -> None:
    """Store a person's ``merge`` or ``split`` on a pair; a merge joins the records now.

    Every later run respects it: a split pair's records are never joined, a merge stays.
    A pair a person has decided changes only by a lead (``lead``; the CLI's user owns the
    database and counts as one): a reviewer once merged a pair the lead had split.
    """
    if decision not in ("merge", "split"):
        raise DedupeError(f"decision must be merge or split, not {decision!r}")
    row = db.execute("""
        SELECT ha.record_id, hb.record_id, p.status, p.decided_by FROM duplicate_pairs p
        JOIN hits ha ON ha.id = p.hit_a JOIN hits hb ON hb.id = p.hit_b
        WHERE p.id = ?""", [pair_id]).fetchone()
    if row is None:
        raise DedupeError(f"no duplicate pair {pair_id}: see `evidence duplicates`")
    if not lead:  # every pair the decision changes, not only the one posted
        decided = _decided_between(db, row[0], row[1])
        if decided:
            raise PairDecidedError(f"records {row[0]} and {row[1]} were decided ({decided[0]})"
                                   f" by {decided[1]}: only a lead can change it")
    decide_records(db, row[0], row[1], decision, reviewer)


def _decided_between(db: sqlite_utils.Database, record_a: int | None,
                     record_b: int | None) -> tuple[str, str] | None:
    """(status, decided_by) of a person's decision on any hit pair between two records.

    :func:`decide_records` rewrites every pair between them, so a pair stored after a lead's
    split (a later import scores the same two records again, as ``uncertain``) must not let
    a reviewer merge what the lead kept apart.
    """
    return db.execute("""
        SELECT p.status, p.decided_by FROM duplicate_pairs p
        JOIN hits ha ON ha.id = p.hit_a JOIN hits hb ON hb.id = p.hit_b
        WHERE p.status IN ('merge', 'split')
          AND ((ha.record_id = ? AND hb.record_id = ?) OR (ha.record_id = ? AND hb.record_id = ?))
        ORDER BY p.decided_at DESC LIMIT 1""", [record_a, record_b, record_b, record_a]).fetchone()


def undo_merge(db: sqlite_utils.Database, pair_id: int, reviewer: str) -> int:
    """Undo a person's merge: the absorbed record comes back (same id when it is free) with
    the hits it brought, and the pair becomes a split so no later run joins them again.

    Decisions and themes stay with the surviving record. Returns the restored record's id.
    """
    row = db.execute("SELECT status, moved_from, moved_hits FROM duplicate_pairs WHERE id = ?",
                     [pair_id]).fetchone()
    if row is None or row[0] != "merge" or not row[2]:
        raise DedupeError(f"pair {pair_id} is not a merge that can be undone")
    moved_from, moved = row[1], json.loads(row[2])
    hit_ids, record = moved["hits"], moved["record"]
    survivor = db.execute("SELECT record_id FROM hits WHERE id = ?", [hit_ids[0]]).fetchone()[0]
    stamp = now()
    with db.atomic():
        taken = db.execute("SELECT 1 FROM records WHERE id = ?", [moved_from]).fetchone()
        columns = [c for c in record if c != "id"]
        restored = db.execute(
            f"INSERT INTO records (id, {', '.join(columns)}) VALUES (?{', ?' * len(columns)})",
            [None if taken else moved_from, *(record[c] for c in columns)]).lastrowid
        marks = ", ".join("?" * len(hit_ids))
        db.execute(f"UPDATE hits SET record_id = ? WHERE id IN ({marks})", [restored, *hit_ids])
        db.execute("UPDATE duplicate_pairs SET status = 'split', decided_by = ?, decided_at = ?,"
                   " moved_hits = NULL WHERE moved_from = ? AND status = 'merge'",
                   [reviewer, stamp, moved_from])
        refresh_record(db, survivor)
    return restored


def list_merged_pairs(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    """Merges a person made that can still be undone, newest first (one per merge)."""
    return list(_rows(db, """
        SELECT min(p.id) AS pair_id, p.moved_from, max(p.decided_by) AS decided_by,
          max(p.decided_at) AS decided_at, r.title
        FROM duplicate_pairs p JOIN hits h ON h.id = p.hit_a JOIN records r ON r.id = h.record_id
        WHERE p.status = 'merge' AND p.moved_hits IS NOT NULL
        GROUP BY p.moved_from ORDER BY decided_at DESC LIMIT ?""", [limit]))


def decide_records(db: sqlite_utils.Database, record_a: int, record_b: int, decision: str,
                   reviewer: str) -> int:
    """``merge`` or ``split`` two records by id (as `evidence duplicates` lists them).

    The decision is stored on every hit pair between the two records (one pair is created if
    none was scored), so it survives later re-clustering. Returns the surviving record's id.
    """
    if decision not in ("merge", "split"):
        raise DedupeError(f"decision must be merge or split, not {decision!r}")
    if record_a == record_b:
        raise DedupeError(f"records {record_a} and {record_b} are the same record")
    hits = {}
    for record_id in (record_a, record_b):
        first = db.execute("SELECT min(id) FROM hits WHERE record_id = ?", [record_id]).fetchone()
        if first[0] is None:
            raise DedupeError(f"no record {record_id} with hits: see `evidence duplicates`")
        hits[record_id] = first[0]
    stamp = now()
    with db.atomic():
        changed = db.execute("""
            UPDATE duplicate_pairs SET status = ?, decided_by = ?, decided_at = ?
            WHERE (hit_a IN (SELECT id FROM hits WHERE record_id = ?)
                   AND hit_b IN (SELECT id FROM hits WHERE record_id = ?))
               OR (hit_a IN (SELECT id FROM hits WHERE record_id = ?)
                   AND hit_b IN (SELECT id FROM hits WHERE record_id = ?))""",
            [decision, reviewer, stamp, record_a, record_b, record_b, record_a]).rowcount
        if not changed:
            hit_a, hit_b = sorted(hits.values())
            db.execute("INSERT INTO duplicate_pairs (hit_a, hit_b, score, status, decided_by,"
                       " decided_at, created_at) VALUES (?, ?, NULL, ?, ?, ?, ?)",
                       [hit_a, hit_b, decision, reviewer, stamp, stamp])
        if decision == "split":
            return record_a
        decided = {r for (r,) in db.execute(
            "SELECT DISTINCT record_id FROM decisions WHERE record_id IN (?, ?)",
            [record_a, record_b])}
        survivor = min(decided) if decided else min(record_a, record_b)
        loser = record_b if survivor == record_a else record_a
        moved = {"hits": [h for (h,) in db.execute(
            "SELECT id FROM hits WHERE record_id = ? ORDER BY id", [loser])],
            "record": _record_row(db, loser)}
        db.execute(  # what undo_merge needs to give the absorbed record back
            "UPDATE duplicate_pairs SET moved_from = ?, moved_hits = ? WHERE status = 'merge'"
            " AND decided_at = ? AND (hit_a IN (SELECT id FROM hits WHERE record_id = ?)"
            " OR hit_b IN (SELECT id FROM hits WHERE record_id = ?))",
            [loser, json.dumps(moved), stamp, loser, loser])
        merge_records(db, survivor, loser)
        refresh_record(db, survivor)
    return survivor
