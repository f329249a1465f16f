"""`evidence enrich`: find the missing abstracts, DOIs and open-access links of records.

Records from Google Scholar exports (Publish or Perish) and many other files have no
abstract, some no DOI. Each such record is looked up in OpenAlex, then (for what OpenAlex
did not fill) in Crossref:

- by DOI: OpenAlex in batches (``filter=doi:A|B|…``, 50 a request), Crossref in batches too
  (``filter=doi:A,doi:B,…``, which Crossref reads as "any of"), then ``/works/{doi}`` for a
  DOI the batch did not return;
- by title where there is no DOI (OpenAlex ``title.search``, Crossref
  ``query.bibliographic``), and a candidate is taken **only** when it is clearly the same work
  by the deduplication's own rules (dedupe/score.py: title, year, first author), so another
  work's abstract is never copied. A DOI answer is checked the same way (a wrong DOI in a file
  does not bring a stranger's abstract).

A work found becomes a hit of that service on the record, in the search ``enrich-openalex``
or ``enrich-crossref`` (one run per command), so where each field came from stays visible
and a later harvest of the same work joins the record through it. The record's fields are
recomputed from its hits as always (dedupe/cluster.py ``best_fields``), which fills the
abstract, DOI and ``oa_url``. Every lookup is remembered in ``enrich_lookups`` in the same
transaction as its hit, so a killed run resumes where it stopped and a second run asks
nothing again (``again=True`` asks again). The two services are asked at the same time, each
within its own documented limits (harvest/webapi.py), which is what makes thousands of
records a minute possible.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from evidence.config import Config, DedupeSettings, Search, ServiceSettings
from evidence.db.config_sync import ensure_search
from evidence.db.values import LOOKUP_PREFIX, now
from evidence.dedupe.keys import fingerprint, title_key
from evidence.dedupe.score import clearly_differ, same_authors, score
from evidence.harvest import store

#: Records asked about per DOI request (OpenAlex ``doi:A|B``, Crossref ``doi:A,doi:B``).
DOI_BATCH = 50


@dataclass
class EnrichResult:
    """What a run did, for the closing summary."""

    looked_up: int = 0
    abstracts: int = 0
    dois: int = 0
    oa_links: int = 0
    not_found: int = 0
    refused: int = 0
    skipped: int = 0
    by_source: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        text = (f"{self.looked_up} looked up, {self.abstracts} abstracts filled, "
                f"{self.dois} DOIs found, {self.not_found} not found")
        extra = [f"{self.oa_links} open-access links" if self.oa_links else "",
                 f"{self.refused} title matches refused as not clearly the same work"
                 if self.refused else ""]
        return "; ".join([text, *filter(None, extra)])


@dataclass
class _Source:
    """One service as enrichment uses it: its client, converter and search row."""

    name: str
    api: Any
    to_hit: Callable[[dict[str, Any]], dict[str, Any]]
    by_dois: Callable[[list[str]], list[dict[str, Any]]]
    by_title: Callable[[str], list[dict[str, Any]]]
    batch: int
    search_id: int = 0
    run_id: int = 0


def _sources(services: ServiceSettings, names: Iterable[str],
             clients: dict[str, Any] | None) -> list[_Source]:
    from evidence.harvest.crossref import client as cr
    from evidence.harvest.crossref.convert import to_hit as crossref_hit
    from evidence.harvest.openalex import client as oa
    from evidence.harvest.openalex.convert import to_hit as openalex_hit

    clients = clients or {}
    made = []
    for name in names:
        if name == "openalex":
            api = clients.get(name) or oa.client(services)
            made.append(_Source(name, api, openalex_hit,
                                lambda dois, api=api: oa.works_by_doi(api, dois),
                                lambda title, api=api: oa.search_title(api, title),
                                DOI_BATCH))
        elif name == "crossref":
            api = clients.get(name) or cr.client(services)
            made.append(_Source(name, api, crossref_hit,
                                lambda dois, api=api: cr.works_by_doi(api, dois),
                                lambda title, api=api: cr.search(api, title), DOI_BATCH))
    return made


def enrich(db: sqlite_utils.Database, config: Config | None, services: ServiceSettings, *,
           record_ids: Iterable[int] | None = None, sources: Iterable[str] | None = None,
           again: bool = False, progress: bool = False,
           clients: dict[str, Any] | None = None) -> EnrichResult:
    """Look up the records that lack an abstract or a DOI (or those ``record_ids``)."""
    settings = config.dedupe if config else DedupeSettings()
    names = tuple(sources or (config.enrich.sources if config else ("openalex", "crossref")))
    chain = _sources(services, names, clients)
    records = _wanted(db, record_ids)
    result = EnrichResult()
    if not records or not chain:
        return result
    for source in chain:
        source.search_id = ensure_search(db, Search(
            name=f"{LOOKUP_PREFIX}{source.name}", source=source.name,
            description=f"Works found by `evidence enrich` in {source.api.label}"))
        source.run_id = _open_run(db, source.search_id)
    before = {r["id"]: (bool(r["abstract"]), bool(r["doi"]), bool(r["oa_url"]))
              for r in records}
    state = _Lookups(db, chain, settings, again, result)
    with _bar(len(records), progress) as tick:
        state.run(records, tick)
    for source in chain:
        store.finish_run(db, source.run_id, "complete")
    _count(db, before, state.asked, result)
    return result


def _wanted(db: sqlite_utils.Database, record_ids: Iterable[int] | None) -> list[dict]:
    where = "(abstract IS NULL OR abstract = '' OR doi IS NULL OR doi = '')"
    params: list[Any] = []
    if record_ids is not None:
        ids = sorted(set(record_ids))
        if not ids:
            return []
        rows: list[dict] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows += list(db.query(f"SELECT * FROM records WHERE {where} AND id IN "
                                  f"({', '.join('?' * len(chunk))}) ORDER BY id", chunk))
        return rows
    return list(db.query(f"SELECT * FROM records WHERE {where} ORDER BY id", params))


def _open_run(db: sqlite_utils.Database, search_id: int) -> int:
    """The enrichment search's unfinished run (a killed `evidence enrich`), else a new one."""
    row = db.execute("SELECT id FROM runs WHERE search_id = ? AND status IN ('running',"
                     " 'interrupted') ORDER BY id DESC LIMIT 1", [search_id]).fetchone()
    if row:
        db["runs"].update(row[0], {"status": "running", "error": None})
        return row[0]
    return store.start_run(db, search_id)


def _key(record: dict[str, Any]) -> str | None:
    if record.get("doi"):
        return f"doi:{record['doi']}"
    title = title_key(record.get("title"))
    return f"title:{title}" if title else None


class _Lookups:
    """Runs the lookups of every source at once; applies each answer in the main thread."""

    def __init__(self, db: sqlite_utils.Database, chain: list[_Source],
                 settings: DedupeSettings, again: bool, result: EnrichResult):
        self.db, self.chain, self.settings, self.result = db, chain, settings, result
        self.again = again
        self.asked: set[int] = set()
        self.done_keys = set() if again else {
            (r, s, k) for r, s, k in db.execute(
                "SELECT record_id, source, key FROM enrich_lookups")}

    def run(self, records: list[dict[str, Any]], tick: Callable[[int], None]) -> None:
        threads = sum(max(1, getattr(s.api, "concurrency", 1)) for s in self.chain)
        self.tick, self.waiting = tick, {r["id"] for r in records}
        self.batches: dict[int, list[dict[str, Any]]] = {}
        self.pending: dict[Future, tuple[int, list[dict[str, Any]], str]] = {}
        self.tried: set[tuple[int, str]] = set()
        # not a `with`: Ctrl-C or an error ends the command without waiting for the requests
        # in flight; every answer applied so far is stored
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="enrich")
        try:
            for record in records:
                self._next(record)
            self._flush_batches()
            while self.pending:
                done, _ = wait(self.pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index, group, kind = self.pending.pop(future)
                    self._apply(index, group, kind, future.result())
                self._flush_batches()
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _order(self, record: dict[str, Any]) -> list[int]:
        """The services to ask, in order: by DOI always the configured order; by title the
        first service alternates between records, so both services' title searches (one
        request a record, the slow part) run within their own limits at the same time."""
        order = list(range(len(self.chain)))
        if record.get("doi") or len(order) < 2:
            return order
        turn = record["id"] % len(order)
        return order[turn:] + order[:turn]

    def _next(self, record: dict[str, Any]) -> None:
        """Send ``record`` to the first service of its order not yet asked about it."""
        for index in self._order(record):
            source = self.chain[index]
            key = _key(record)
            if key is None or not _missing(record):
                break
            if (record["id"], source.name) in self.tried or \
                    (record["id"], source.name, key) in self.done_keys:
                continue
            self.tried.add((record["id"], source.name))
            self.asked.add(record["id"])
            if key.startswith("doi:"):
                batch = self.batches.setdefault(index, [])
                batch.append(record)
                if len(batch) >= source.batch:
                    self._submit_dois(index)
            else:
                future = self.pool.submit(source.by_title, _reference(record, source.name))
                self.pending[future] = (index, [record], "title")
            return
        self._finish(record["id"])

    def _submit_dois(self, index: int) -> None:
        batch = self.batches.pop(index, [])
        if batch:
            source = self.chain[index]
            future = self.pool.submit(source.by_dois, [r["doi"] for r in batch])
            self.pending[future] = (index, batch, "doi")

    def _flush_batches(self) -> None:
        for index in list(self.batches):
            self._submit_dois(index)

    def _finish(self, record_id: int) -> None:
        if record_id in self.waiting:
            self.waiting.discard(record_id)
            self.tick(1)

    def _apply(self, index: int, group: list[dict[str, Any]], kind: str,
               works: list[dict[str, Any]]) -> None:
        """Store what ``works`` answer for ``group`` (one transaction), then pass on."""
        source = self.chain[index]
        hits = [store.normalise_hit(source.to_hit(w)) for w in works]
        chosen = [(record, *self._choose(record, hits, kind)) for record in group]
        with self.db.atomic():
            attached = self._attach(source, [(r["id"], hit) for r, _, hit in chosen if hit])
            stamp = now()
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO enrich_lookups (record_id, source, key, outcome,"
                " hit_id, looked_up_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(r["id"], source.name, _key(r), outcome, attached.get(r["id"]), stamp)
                 for r, outcome, _ in chosen])
            if attached:
                from evidence.dedupe.cluster import refresh_records

                refresh_records(self.db, sorted(attached))
        for record, outcome, _ in chosen:
            self.done_keys.add((record["id"], source.name, _key(record)))
            self.result.refused += outcome == "refused"
        fresh = {r["id"]: r for r in _wanted(self.db, [r["id"] for r in group])}
        for record in group:
            if record["id"] in fresh:
                self._next(fresh[record["id"]])
            else:
                self._finish(record["id"])

    def _choose(self, record: dict[str, Any], hits: list[dict[str, Any]],
                kind: str) -> tuple[str, dict[str, Any] | None]:
        """The hit that is this record's work, by DOI or by a clear title match."""
        mine = fingerprint({**record, "id": 0})
        if kind == "doi":
            candidates = [h for h in hits if h["doi"] == record["doi"]]
        else:
            candidates = hits
        best, best_score, near = None, 0.0, False
        for hit in candidates:
            theirs = fingerprint({**hit, "id": 1})
            if clearly_differ(mine, theirs, self.settings):
                near = near or kind == "title"
                continue
            if kind == "doi":
                return "found", hit
            value = score(mine, theirs, self.settings)
            if value >= self.settings.upper_threshold and _agree(mine, theirs):
                if value > best_score:
                    best, best_score = hit, value
            elif value >= self.settings.lower_threshold:
                near = True
        if best:
            return "found", best
        return ("refused" if near else "not_found"), None

    def _attach(self, source: _Source, found: list[tuple[int, dict[str, Any]]]) -> dict[int, int]:
        """Store the hits found in the source's enrichment run, each on its record;
        returns record id -> hit id (a work already another record's is left there: the two
        records are duplicates, which the deduplication decides, not this)."""
        if not found:
            return {}
        store.save_hits(self.db, source.run_id, [hit for _, hit in found], normalised=True)
        ids = sorted({hit["external_id"] for _, hit in found})
        stored = {external_id: (hit_id, record_id) for hit_id, external_id, record_id in
                  self.db.execute(f"SELECT id, external_id, record_id FROM hits WHERE"
                                  f" search_id = ? AND external_id IN"
                                  f" ({', '.join('?' * len(ids))})", [source.search_id, *ids])}
        attached: dict[int, int] = {}
        for record_id, hit in found:
            hit_id, owner = stored[hit["external_id"]]
            if owner in (None, record_id):
                stored[hit["external_id"]] = (hit_id, record_id)
                attached[record_id] = hit_id
        self.db.conn.executemany("UPDATE hits SET record_id = ? WHERE id = ?",
                                 [(record_id, hit_id) for record_id, hit_id in attached.items()])
        return attached


def _agree(a: Any, b: Any) -> bool:
    """Year and first author, the scorer's other two rules, must not be in doubt: both
    years known and within one, and the same first author when both name one."""
    if not a.year or not b.year or abs(a.year - b.year) > 1:
        return False
    return same_authors(a, b) is not False


def _missing(record: dict[str, Any]) -> bool:
    return not record.get("abstract") or not record.get("doi")


def _reference(record: dict[str, Any], source: str) -> str:
    """What to search for: the title (OpenAlex), with first author and year (Crossref)."""
    import json

    title = record.get("title") or ""
    if source != "crossref":
        return title
    authors = json.loads(record.get("authors") or "[]")
    first = authors[0].split(",")[0] if authors else ""
    return " ".join(str(p) for p in (title, first, record.get("year") or "") if p)


def _count(db: sqlite_utils.Database, before: dict[int, tuple[bool, bool, bool]],
           asked: set[int], result: EnrichResult) -> None:
    result.looked_up = len(asked)
    for start_ids in _chunks(sorted(asked), 500):
        for row in db.query(f"SELECT id, abstract, doi, oa_url FROM records WHERE id IN"
                            f" ({', '.join('?' * len(start_ids))})", start_ids):
            had_abstract, had_doi, had_oa = before.get(row["id"], (True, True, True))
            result.abstracts += bool(row["abstract"]) and not had_abstract
            result.dois += bool(row["doi"]) and not had_doi
            result.oa_links += bool(row["oa_url"]) and not had_oa
    found = {r for (r,) in db.execute("SELECT DISTINCT record_id FROM enrich_lookups WHERE"
                                      " outcome = 'found'")}
    result.not_found = len(asked - found)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@contextlib.contextmanager
def _bar(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr, as the harvest shows (none unless ``enabled``)."""
    if not enabled:
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=" records", desc="enrich", file=sys.stderr,
              leave=False) as bar:
        yield bar.update
