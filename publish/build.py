"""Build the published database: included records, themes, searches, PRISMA counts, metadata.

The published file is what the public sees, so it is built from an allow-list of columns: no
reviewer names, notes, users or raw payloads unless ``screening.public_fields`` names them.
It is written to a temporary file next to ``out`` and moved over it with ``os.replace`` only
when complete, so a reader (or ``evidence serve``) never sees half a database.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import re
import sqlite3
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml
from sqlite_utils.db import DescIndex

from evidence import markup
from evidence.citation import editors_of, original_title
from evidence.config import Config
from evidence.db.config_sync import save_screening_rule
from evidence.db.outcomes import outcomes, theme_conflicts
from evidence.db.stages import stage_counts
from evidence.db.values import LOOKUP_SEARCHES, json_list, now
from evidence.errors import EvidenceError
from evidence.models.safe import check_start, current_stop
from evidence.models.stopping import describe_method
from evidence.publish import editions
from evidence.publish.kinds import work_kind
from evidence.publish.map_counts import TABLE as MAP_COUNTS
from evidence.publish.map_counts import create_map_counts
from evidence.publish.outputs import check_output, database_file
from evidence.publish.search import (
    INDEX,
    SYNONYM_TABLE,
    TERMS,
    create_search_index,
    synonym_groups,
)

#: Private fields that ``screening.public_fields`` may publish (column name -> decisions column).
OPTIONAL_PUBLIC_FIELDS = {"note": "note", "reviewers": "reviewer", "reason": "reason"}
#: Tables of the published file (view names must not take these).
TABLES = {"records", INDEX, TERMS, "search_runs", "record_themes", "themes", "theme_groups",
          "searches", "prisma", "site", "editions", MAP_COUNTS, SYNONYM_TABLE}
#: Mode of the published file: readable by the web server's user, as a normal file would be.
PUBLISHED_MODE = 0o644
DOI_URL = "https://doi.org/"
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/"

_INCLUDED = """
SELECT r.id, r.title, r.authors, r.year, r.journal, r.volume, r.issue, r.pages, r.doi, r.pmid,
  r.pmcid, r.isbn, r.issn, r.pub_date, r.language, r.abstract, r.publication_types, r.keywords,
  r.item_type, r.url, r.oa_url, r.original_title, r.creators, rs.decided_at
FROM record_status rs JOIN records r ON r.id = rs.record_id
WHERE rs.decision = 'include' ORDER BY r.id
"""
_LATEST_TEXT = """
SELECT d.record_id, d.{column} FROM decisions d JOIN (
  SELECT max(id) AS id FROM decisions WHERE {column} IS NOT NULL AND {column} != ''
  GROUP BY record_id) latest ON latest.id = d.id
"""
_SEARCHES_PER_RECORD = f"""
SELECT DISTINCT h.record_id, s.name FROM hits h JOIN searches s ON s.id = h.search_id
WHERE h.deleted = 0 AND h.record_id IS NOT NULL AND s.id NOT IN ({LOOKUP_SEARCHES})
ORDER BY h.record_id, s.name
"""


def safe_url(url: str | None) -> str | None:
    """``url`` when it is a web address (http, https) or a DOI (as its doi.org address);
    None for anything else: imported data once carried ``javascript:`` links onto the site."""
    text = (url or "").strip()
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")) and not any(c.isspace() for c in text):
        return text
    if lowered.startswith("doi:") and text[4:].strip().startswith("10."):
        return DOI_URL + text[4:].strip()
    return None


class PublishError(EvidenceError):
    """The published database cannot be built (nothing to publish, unwritable folder)."""


@dataclass
class PublishResult:
    path: str
    records: int
    themes: int
    searches: int
    prisma: dict[str, int]
    #: The rule applied (``screening.reviewers_per_record`` of the configuration just read).
    reviewers_per_record: int = 1
    rule: str = ""
    #: Records every reviewer so far included, still short of the votes the rule needs.
    waiting: int = 0
    #: ``{"reviewers_per_record", "records", "published_at"}`` of the publish before, if any.
    previous: dict[str, Any] | None = None
    #: The edition published and how many of its works it published first.
    edition: str = ""
    new_records: int = 0
    #: Works no edition has published as the newest of the series yet (an older edition
    #: published again after a later one took them in): new in the next edition.
    awaiting_edition: int = 0
    #: What the edition stores in the working database (ids, searches, PRISMA rows).
    record_ids: list[int] = field(default_factory=list, repr=False)
    searches_rows: list[dict] = field(default_factory=list, repr=False)
    prisma_rows: list[dict] = field(default_factory=list, repr=False)
    #: Included records whose includers disagree on themes or summary, not resolved by a
    #: lead: published with the union of their themes and the first summary written.
    theme_conflicts: int = 0


def publish(db: sqlite_utils.Database, out: str | Path, config: Config,
            edition: str | None = None) -> PublishResult:
    """Build the published database at ``out`` from the working database ``db``, as edition
    ``edition`` (default ``project.edition``, else the current year; see editions.py).

    Example::

        publish(open_db("evidence.db"), "published.db", load_config("evidence.yml"), "2024")
    """
    edition = editions.edition_name(edition, config.edition)
    out = check_output(out, "published", protected=[database_file(db.conn), config.path])
    needed = config.screening.reviewers_per_record
    save_screening_rule(db, needed, config.screening.stages)
    previous = db.execute("SELECT value FROM sync_state WHERE key = 'last_publish'").fetchone()
    with _publish_lock(out):
        _remove_stale_temp_files(out)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        except OSError as e:
            raise PublishError(f"--out {out}: cannot write in {out.parent} ({e.strerror})") from e
        os.close(fd)
        try:
            pub = sqlite_utils.Database(tmp)
            pub.execute("PRAGMA journal_mode = OFF")
            pub.execute("PRAGMA synchronous = OFF")
            result = _build(db, pub, config, edition)
            pub.close()
            os.chmod(tmp, PUBLISHED_MODE)  # mkstemp makes 0600; web servers must read it
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    result.path = str(out)
    result.reviewers_per_record, result.rule = needed, config.screening.rule
    result.waiting = _waiting_for_votes(db, needed)
    result.theme_conflicts = _unresolved_theme_conflicts(db)
    result.previous = json.loads(previous[0]) if previous else None
    with db.atomic():
        db["sync_state"].upsert({"key": "last_publish", "updated_at": now(), "value": json.dumps(
            {"reviewers_per_record": needed, "records": result.records, "published_at": now()})},
            pk="key")
        editions.save_edition(db, edition, result.record_ids, result.new_records,
                              result.searches_rows, result.prisma_rows)
    return result


def _waiting_for_votes(db: sqlite_utils.Database, needed: int) -> int:
    """Records whose reviewers all included them so far, with fewer votes than the rule needs
    and no lead's resolution: not published yet, and worth saying so."""
    return db.execute("""
      SELECT count(*) FROM record_status rs WHERE rs.decision IS NULL AND rs.conflict = 0
        AND rs.votes BETWEEN 1 AND ? - 1 AND NOT EXISTS (
          SELECT 1 FROM decisions d WHERE d.record_id = rs.record_id AND d.decision != 'include'
            AND d.stage = 'screening' AND d.id = (SELECT max(id) FROM decisions d2
              WHERE d2.record_id = d.record_id AND d2.reviewer = d.reviewer
                AND d2.stage = d.stage))""", [needed]).fetchone()[0]


def _unresolved_theme_conflicts(db: sqlite_utils.Database) -> int:
    """Included records with a theme conflict no lead has resolved (db/outcomes.py)."""
    found = theme_conflicts(db.conn)
    if not found:
        return 0
    return db.execute("SELECT count(*) FROM record_status WHERE decision = 'include' AND"
                      " record_id IN (SELECT value FROM json_each(?))",
                      [json.dumps(sorted(found))]).fetchone()[0]


@contextlib.contextmanager
def _publish_lock(out: Path) -> Iterator[None]:
    """One publish per output folder at a time, so the stale-file sweep never removes a live
    one. The lock is on the folder itself: nothing is left behind."""
    try:
        fd = os.open(out.parent, os.O_RDONLY)
    except OSError as e:
        raise PublishError(f"--out {out}: cannot open {out.parent} ({e.strerror})") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise PublishError(f"another `evidence publish` is writing into {out.parent};"
                               " wait for it") from e
        yield
    finally:
        os.close(fd)


def _remove_stale_temp_files(out: Path) -> None:
    """Temporary files of a publish that was killed (up to hundreds of MB each)."""
    for stale in out.parent.glob(f".{glob.escape(out.name)}.*.tmp"):
        stale.unlink(missing_ok=True)


def _build(db: sqlite_utils.Database, pub: sqlite_utils.Database, config: Config,
           edition: str) -> PublishResult:
    language = config.language
    themes = _theme_rows(db, language)
    by_slug = {t["slug"]: t for t in themes}
    records = list(_record_rows(db, config, by_slug))
    first = editions.first_editions(db, edition, (r["id"] for r in records))
    for row in records:
        row["first_edition"] = first[row["id"]]
    new_records = sum(1 for name in first.values() if name == edition)
    # nothing included yet: the columns of a row of nothing (the site and its search index
    # need every column, as with records)
    columns = list(records[0] if records else
                   {**next(_record_rows(db, config, by_slug, rows=[defaultdict(lambda: None)])),
                    "first_edition": None})
    with pub.atomic():
        _create_records(pub, records, columns)
        groups = _create_themes(pub, records, themes)
        searches = _search_rows(db, language)
        pub["searches"].insert_all(searches, pk="name")
        pub["search_runs"].create(RUN_COLUMNS, pk="id")
        pub["search_runs"].insert_all(db.query(_RUNS))
        stop = current_stop(db.conn)  # a lead's stop in the app (who stays private)
        prisma = prisma_rows(db, language,
                             stopped=config.screening.stopping_applied or stop is not None)
        pub["prisma"].insert_all(prisma, pk="id")
        create_map_counts(pub, records, {t["slug"]: t["group_slug"] for t in themes})
        pub["editions"].create(editions.PUBLISHED_COLUMNS, pk="name")
        pub["editions"].insert_all(editions.published_rows(
            db, edition, len(records), new_records, searches, prisma))
        views = {g["view"]: g["name"] for g in groups} | {t["view"]: t["name"] for t in themes}
        metadata = build_metadata(config, searches, prisma, views)
        pub["site"].insert_all([
            {"key": "language", "value": language},
            {"key": "title", "value": config.title},
            {"key": "published_at", "value": now()},
            {"key": "edition", "value": edition},
            {"key": "feed_id", "value": _feed_id(db)},
            {"key": "metadata", "value": json.dumps(metadata, ensure_ascii=False)},
            {"key": "screening_method", "value": describe_method(
                config.screening, language,
                sum(r["count"] for r in prisma if r["step"] == "not_screened_stopping_rule"),
                stop=stop, checked=check_start(db.conn) is not None)},
        ], pk="key")
    create_search_index(pub, synonym_groups(config.synonyms))
    counts = {row["step"] + (f":{row['key']}" if row["key"] else ""): row["count"]
              for row in prisma}
    return PublishResult("", len(records), len(themes), len(searches), counts,
                         edition=edition, new_records=new_records,
                         awaiting_edition=sum(1 for name in first.values() if name is None),
                         record_ids=[r["id"] for r in records], searches_rows=searches,
                         prisma_rows=prisma)


def _feed_id(db: sqlite_utils.Database) -> str:
    """A random id of this knowledge base, made once and kept in the working database: the
    Atom feeds' ids derive from it, so they stay the same whatever host serves the site."""
    row = db.execute("SELECT value FROM sync_state WHERE key = 'feed_id'").fetchone()
    if row:
        return row[0]
    value = str(uuid.uuid4())
    with db.atomic():
        db["sync_state"].upsert({"key": "feed_id", "updated_at": now(), "value": value},
                                pk="key")
    return value


def _theme_rows(db: sqlite_utils.Database, language: str) -> list[dict[str, Any]]:
    rows = db.query("SELECT slug, name, name_nb, name_en, group_slug, group_nb, group_en,"
                    " position FROM themes ORDER BY position, slug")
    return [{
        "slug": r["slug"], "name": r[f"name_{language}"] or r["name"],
        "group_slug": r["group_slug"] or "other",
        "group_name": r[f"group_{language}"] or r["group_slug"] or "",
        "position": r["position"],
    } for r in rows]


def _grouped(db: sqlite_utils.Database, sql: str) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for record_id, value in db.execute(sql).fetchall():
        result.setdefault(record_id, []).append(value)
    return result


def _record_rows(db: sqlite_utils.Database, config: Config, themes: dict[str, dict],
                 rows: Iterable[Mapping[str, Any]] | None = None):
    """One public row per included record (or per row of ``rows``): readable authors, links,
    summary, themes."""
    final = outcomes(db.conn)  # the final decision's themes and summary (db/outcomes.py)
    summaries = {rid: o.summary for rid, o in final.items()}
    theme_slugs = {rid: o.themes for rid, o in final.items()}
    searches = _grouped(db, _SEARCHES_PER_RECORD)
    extra = {name: dict(db.execute(_LATEST_TEXT.format(column=column)).fetchall())
             for name, column in OPTIONAL_PUBLIC_FIELDS.items()
             if name in config.screening.public_fields}
    for row in db.query(_INCLUDED) if rows is None else rows:
        rid = row["id"]
        slugs = theme_slugs.get(rid) or []
        slugs = list(dict.fromkeys(s for s in slugs if s in themes))
        groups = list(dict.fromkeys(themes[s]["group_name"] for s in slugs))
        doi, pmid = row["doi"], row["pmid"]
        # Short columns first, long text last: facets and sorts then read less of each row.
        # title and abstract are plain text (CSV, JSON and the index read them); the source's
        # inline markup (<i>, <sup>) is kept in title_html / abstract_html where there is any.
        yield {
            "id": rid, "title": markup.strip(row["title"]),
            # the title in the work's own language (PubMed's VernacularTitle, Zotero's
            # "Original title"), shown under the title; editors name a work without authors
            "original_title": _original_title(row["original_title"], row["title"]),
            "authors": "; ".join(map(str, json_list(row["authors"]))),
            "editors": "; ".join(editors_of(row)),
            "year": row["year"], "journal": row["journal"],
            "kind": work_kind(row["title"], row["abstract"], row["journal"], row["item_type"],
                              row["publication_types"]),
            # List columns hold no repeated values: the ``tags`` facet counts them as they are.
            "themes": json.dumps(list(dict.fromkeys(themes[s]["name"] for s in slugs)),
                                 ensure_ascii=False),
            "theme_groups": json.dumps(groups, ensure_ascii=False),
            "publication_types": json.dumps(
                list(dict.fromkeys(json_list(row["publication_types"]))), ensure_ascii=False),
            "searches": json.dumps(searches.get(rid, []), ensure_ascii=False),
            "screened_at": (row["decided_at"] or "")[:10] or None,
            "theme_slugs": json.dumps(slugs),
            "volume": row["volume"], "issue": row["issue"], "pages": row["pages"],
            "doi": doi, "doi_url": DOI_URL + doi if doi else None,
            "pmid": pmid, "pubmed_url": f"{PUBMED_URL}{pmid}/" if pmid else None,
            "pmcid": row["pmcid"], "isbn": row["isbn"], "issn": row["issn"],
            "pub_date": row["pub_date"], "language": row["language"],
            "item_type": row["item_type"], "url": safe_url(row["url"]),
            "oa_url": safe_url(row["oa_url"]),  # the open-access full text (evidence enrich)
            "keywords": "; ".join(map(str, json_list(row["keywords"]))),
            "summary": summaries.get(rid), "abstract": markup.strip(row["abstract"]),
            "title_html": row["title"] if markup.has_markup(row["title"]) else None,
            "abstract_html": row["abstract"] if markup.has_markup(row["abstract"]) else None,
            **{name: values.get(rid) for name, values in extra.items()},
        }


def _original_title(original: str | None, title: str | None) -> str | None:
    """The original-language title as plain text, or None where it only repeats the title."""
    kept = original_title(original, title)
    return markup.strip(kept).strip() if kept else None


def _create_records(pub: sqlite_utils.Database, records: list[dict], names: list[str]) -> None:
    """The ``records`` table, written with ``executemany`` (the rows are already plain)."""
    columns = {"id": int, "year": int}
    for name in names:
        columns.setdefault(name, str)
    pub["records"].create(columns, pk="id")
    names = list(columns)
    sql = (f"INSERT INTO records ({', '.join(names)}) "
           f"VALUES ({', '.join('?' for _ in names)})")
    pub.conn.executemany(sql, ([row.get(n) for n in names] for row in records))
    # Datasette sorts by year desc then id; facets scan these columns: covering indexes.
    pub["records"].create_index([DescIndex("year")])
    for column in ("journal", "themes", "publication_types", "first_edition", "kind"):
        pub["records"].create_index([column])
    pub["records"].create_index([DescIndex("screened_at")])  # the Atom feeds, newest first


def view_name(prefix: str, slug: str) -> str:
    """``theme_stigma`` for theme ``stigma``: a name Datasette shows without quoting."""
    name = f"{prefix}_" + re.sub(r"[^0-9a-zA-Z]+", "_", slug).strip("_").lower()
    return name + "_view" if name in TABLES else name  # a theme called "groups"


def _create_themes(pub: sqlite_utils.Database, records: list[dict],
                   themes: list[dict]) -> list[dict]:
    """``themes``, ``theme_groups``, ``record_themes`` and one view per group and theme."""
    links = [{"record_id": r["id"], "theme_slug": slug}
             for r in records for slug in json.loads(r["theme_slugs"])]
    pub["record_themes"].create({"record_id": int, "theme_slug": str},
                                pk=("record_id", "theme_slug"),
                                foreign_keys=[("record_id", "records", "id")])
    pub["record_themes"].insert_all(links)
    pub["record_themes"].create_index(["theme_slug"])
    counts: dict[str, int] = {}
    for link in links:
        counts[link["theme_slug"]] = counts.get(link["theme_slug"], 0) + 1
    groups: dict[str, dict] = {}
    for theme in themes:
        theme.update(view=view_name("theme", theme["slug"]), records=counts.get(theme["slug"], 0))
        group = groups.setdefault(theme["group_slug"], {
            "slug": theme["group_slug"], "name": theme["group_name"],
            "view": view_name("group", theme["group_slug"]),
            "position": len(groups), "slugs": []})
        group["slugs"].append(theme["slug"])
    for group in groups.values():
        ids = {link["record_id"] for link in links if link["theme_slug"] in group["slugs"]}
        group["records"] = len(ids)
        _create_view(pub, group["view"], group.pop("slugs"))
    for theme in themes:
        _create_view(pub, theme["view"], [theme["slug"]])
    pub["theme_groups"].insert_all(groups.values(), pk="slug")
    pub["themes"].insert_all(themes, pk="slug", foreign_keys=[
        ("group_slug", "theme_groups", "slug")])
    return list(groups.values())


def _create_view(pub: sqlite_utils.Database, name: str, slugs: list[str]) -> None:
    # Views cannot take bound parameters; slugs come from the configuration and are quoted.
    quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in slugs)
    pub.create_view(name, "SELECT * FROM records WHERE id IN (SELECT record_id FROM"
                          f" record_themes WHERE theme_slug IN ({quoted}))",
                    replace=True)


_SEARCH_COUNTS = f"""
SELECT s.id, s.name, s.source, s.description, s.query, s.date_field, s.settings, s.last_run_at,
  (SELECT count(*) FROM runs WHERE search_id = s.id) AS runs,
  (SELECT count(*) FROM hits h WHERE h.search_id = s.id AND h.deleted = 0) AS hits,
  (SELECT count(DISTINCT h.record_id) FROM hits h WHERE h.search_id = s.id AND h.deleted = 0)
    AS records,
  (SELECT count(DISTINCT h.record_id) FROM hits h JOIN record_status rs
     ON rs.record_id = h.record_id WHERE h.search_id = s.id AND h.deleted = 0
     AND rs.decision = 'include') AS included
FROM searches s WHERE s.id NOT IN ({LOOKUP_SEARCHES}) ORDER BY s.id
"""


#: A rolling window's ends in words (``window: {last_months: N}``), in the published language.
_WINDOW_WORDS = {"en": ("{n} months before", "the run date"),
                 "nb": ("{n} måneder før", "kjøredatoen")}


def _search_rows(db: sqlite_utils.Database, language: str = "en") -> list[dict[str, Any]]:
    """The method section: what was searched, where, over which window, with what yield."""
    before, run_date = _WINDOW_WORDS.get(language, _WINDOW_WORDS["en"])
    rows = []
    for s in db.query(_SEARCH_COUNTS):
        last = next(db.query("SELECT window_start, window_end FROM runs WHERE search_id = ?"
                             " ORDER BY id DESC LIMIT 1", [s["id"]]), {})
        start, end = last.get("window_start"), last.get("window_end")
        window = (json.loads(s["settings"] or "{}").get("window") or {})
        if not (start or end):
            start, end = window.get("start"), window.get("end")
            if window.get("last_months"):
                start = start or before.format(n=window["last_months"])
                end = end or window.get("cutoff") or run_date
        rows.append({
            "name": s["name"], "source": s["source"], "description": s["description"],
            "query": s["query"], "date_field": s["date_field"],
            "window_start": start, "window_end": end, "last_run_at": s["last_run_at"],
            "runs": s["runs"], "hits": s["hits"], "records": s["records"],
            "included": s["included"],
        })
    return rows


#: One row per run of a search: the method section's "date run" and hit counts.
RUN_COLUMNS = {"id": int, "search": str, "source": str, "run_on": str, "window_start": str,
               "window_end": str, "status": str, "hits": int, "new_hits": int}
_RUNS = """
SELECT r.id, s.name AS search, s.source, substr(coalesce(r.finished_at, r.started_at), 1, 10)
  AS run_on, r.window_start, r.window_end, r.status,
  (SELECT count(*) FROM hits h WHERE h.run_id = r.id AND h.deleted = 0) AS hits,
  r.new_hit_count AS new_hits
FROM runs r JOIN searches s ON s.id = r.search_id ORDER BY s.id, r.id
"""


def prisma_rows(db: sqlite_utils.Database, language: str = "en", *,
                stopped: bool = False) -> list[dict[str, Any]]:
    """The PRISMA flow counts as rows (step, key, label, count), in flow order.

    Steps: ``identified`` (one row per search), ``identified_total``, ``duplicates_removed``,
    ``records`` (after deduplication), ``awaiting`` (no final decision yet), ``excluded``
    (total) and ``excluded_reason`` (one row per reason of the final exclude), ``included``.
    With a full-text stage (``screening.stages``) the exclusions are title/abstract ones, and
    the full-text steps of :func:`_add_stage_rows` come before ``included``.
    With ``stopped`` (title/abstract screening ended by the stopping rule), the records
    nobody has voted on are ``not_screened_stopping_rule`` rather than part of ``awaiting``
    (of the title/abstract stage, when there is a full-text stage after it).
    """
    rows: list[dict[str, Any]] = []

    def add(step: str, count: int, key: str = "", label: str = "", source: str = "") -> None:
        rows.append({"id": len(rows) + 1, "step": step, "key": key, "label": label or key,
                     "source": source or None, "count": count})

    for s in db.query("SELECT s.name, s.source, count(h.id) AS n FROM searches s"
                      " JOIN hits h ON h.search_id = s.id AND h.deleted = 0"
                      f" WHERE s.id NOT IN ({LOOKUP_SEARCHES}) GROUP BY s.id ORDER BY s.id"):
        add("identified", s["n"], s["name"], s["name"], s["source"])
    identified = sum(r["count"] for r in rows)
    records = db.execute("SELECT count(*) FROM records WHERE id IN"
                         " (SELECT record_id FROM hits WHERE deleted = 0)").fetchone()[0]
    status = dict(db.execute("SELECT coalesce(decision, ''), count(*) FROM record_status"
                             " GROUP BY 1").fetchall())
    add("identified_total", identified)
    add("duplicates_removed", identified - records)
    add("records", records)
    labels = _reason_labels(db, language)
    stages = stage_counts(db.conn)
    not_screened = _never_screened(db) if stopped else 0
    if stopped:
        add("not_screened_stopping_rule", not_screened)
    if "full_text" in stages["stages"]:
        _add_stage_rows(add, stages, labels, not_screened)
        return rows
    add("awaiting", status.get("", 0) + status.get("maybe", 0) - not_screened)
    add("excluded", status.get("exclude", 0))
    for reason, count in _excluded_by_reason(db):
        add("excluded_reason", count, reason or "", labels["screening"].get(reason, reason or "-"))
    add("included", status.get("include", 0))
    return rows


def _never_screened(db: sqlite_utils.Database) -> int:
    """Records (found by a search) without a single title/abstract vote."""
    return db.execute("SELECT count(*) FROM records WHERE id IN"
                      " (SELECT record_id FROM hits WHERE deleted = 0) AND id NOT IN"
                      " (SELECT record_id FROM stage_votes WHERE stage = 'screening')"
                      ).fetchone()[0]


def _reason_labels(db: sqlite_utils.Database, language: str) -> dict[str, dict[str, str]]:
    """``{stage: {slug: label}}`` of the exclusion reasons."""
    labels: dict[str, dict[str, str]] = {"screening": {}, "full_text": {}}
    for r in db.query("SELECT stage, slug, name_nb, name_en FROM exclusion_reasons"
                      " ORDER BY position"):
        labels.setdefault(r["stage"], {})[r["slug"]] = r[f"name_{language}"] or r["slug"]
    return labels


def _add_stage_rows(add, stages: dict[str, Any], labels: dict[str, dict[str, str]],
                    not_screened: int = 0) -> None:
    """PRISMA 2020 rows of two stages: title/abstract (``awaiting``, less the
    ``not_screened`` left by a stopping rule, ``excluded``, ``excluded_reason``), then full
    text (``sought``, ``not_retrieved``, ``assessed``, ``full_text_awaiting``,
    ``full_text_excluded``, ``full_text_excluded_reason``) and the ``included`` of the
    full-text stage."""
    ta, ft = stages["title_abstract"], stages["full_text"]
    add("awaiting", ta["awaiting"] - not_screened)
    add("excluded", ta["excluded"])
    for reason, count in ta["reasons"]:
        add("excluded_reason", count, reason, labels["screening"].get(reason, reason or "-"))
    add("sought", ft["sought"])
    add("not_retrieved", ft["not_retrieved"])
    add("assessed", ft["assessed"])
    add("full_text_awaiting", ft["awaiting"])
    add("full_text_excluded", ft["excluded"])
    for reason, count in ft["reasons"]:
        add("full_text_excluded_reason", count, reason,
            labels["full_text"].get(reason, reason or "-"))
    add("included", ft["included"])


def _excluded_by_reason(db: sqlite_utils.Database) -> list[tuple[str | None, int]]:
    """The reason of each final exclude: the latest exclude row (a resolution first)."""
    return db.execute("""
    SELECT d.reason, count(*) FROM record_status rs JOIN decisions d ON d.id = (
      SELECT id FROM decisions WHERE record_id = rs.record_id AND decision = 'exclude'
      ORDER BY stage = 'resolution' DESC, id DESC LIMIT 1)
    WHERE rs.decision = 'exclude' GROUP BY d.reason ORDER BY count(*) DESC, d.reason
    """).fetchall()


# --- metadata -------------------------------------------------------------------------------

def metadata_template() -> dict[str, Any]:
    """``publish/metadata.yml``: the Datasette metadata with nb/en labels and {placeholders}."""
    text = resources.files("evidence.publish").joinpath("metadata.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def localise(node: Any, language: str, values: dict[str, Any]) -> Any:
    """Pick the ``language`` leaf of every ``{nb: ..., en: ...}`` and fill {placeholders}."""
    if isinstance(node, dict):
        if set(node) == {"nb", "en"}:
            return localise(node[language], language, values)
        return {k: localise(v, language, values) for k, v in node.items()}
    if isinstance(node, list):
        return [localise(v, language, values) for v in node]
    if isinstance(node, str):
        return node.format_map(_Blank(values)) if "{" in node else node
    return node


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def build_metadata(config: Config, searches: list[dict], prisma: list[dict],
                   views: dict[str, str]) -> dict[str, Any]:
    """The Datasette metadata of this publication, database block under key ``__db__``.

    ``serve`` renames ``__db__`` to the database's name (the file's stem), so a renamed
    file keeps its metadata.
    """
    counts = {r["step"]: r["count"] for r in prisma if r["step"] != "identified"}
    last_run = max((s["last_run_at"] or "" for s in searches if s["runs"]), default="") or "-"
    values = {"title": config.title, "description": config.description.strip(),
              "licence": config.licence or "", "last_run": last_run[:10],
              # what was run, not what is configured: a search without a run found nothing
              "searches": sum(1 for s in searches if s["runs"]),
              **{k: v for k, v in counts.items()}}
    meta = localise(metadata_template(), config.language, values)
    tables = meta["databases"]["__db__"].setdefault("tables", {})
    view_meta = tables.pop("__view__", {})
    for name, label in views.items():
        tables[name] = {**view_meta, "title": label}
    return meta


def read_site(path: str | Path) -> dict[str, str]:
    """The ``site`` table of a published database (language, title, metadata JSON)."""
    path = Path(path)
    if not path.exists():
        raise PublishError(f"{path} does not exist: run `evidence publish --out {path}` first")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT key, value FROM site").fetchall())
    except sqlite3.DatabaseError as e:
        raise PublishError(f"{path} is not a published database ({e}): "
                           "build one with `evidence publish`") from e
    finally:
        conn.close()
