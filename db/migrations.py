"""The working database: schema as named migrations, applied on every open.

Every table is created here and nowhere else (savers only write). A new column or table is a
new ``@migrations()`` function appended at the end; never edit one that has shipped, because
databases in the field have already applied it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from evidence.db.identity import check_working, identify_connection

migrations = Migrations("evidence")

BUSY_TIMEOUT_MS = 10_000


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    """The contract tables of design.md plus what harvesting and screening need."""
    db["searches"].create({
        "id": int, "name": str, "source": str, "query": str, "description": str,
        "date_field": str, "settings": str, "created_at": str, "last_run_at": str,
    }, pk="id", not_null={"name", "source"})
    db["searches"].create_index(["name"], unique=True)
    db["runs"].create({
        "id": int, "search_id": int, "source": str, "query": str,
        "window_start": str, "window_end": str, "started_at": str, "finished_at": str,
        "status": str, "reported_count": int, "hit_count": int, "new_hit_count": int,
        "file_path": str, "file_sha256": str, "checkpoint": str, "error": str,
    }, pk="id", foreign_keys=[("search_id", "searches", "id")], not_null={"search_id"})
    db["records"].create({
        "id": int, "title": str, "abstract": str, "authors": str, "year": int,
        "journal": str, "journal_abbrev": str, "volume": str, "issue": str, "pages": str,
        "doi": str, "pmid": str, "pmcid": str, "isbn": str, "issn": str, "pub_date": str,
        "language": str, "publication_types": str, "keywords": str, "mesh_terms": str,
        "item_type": str, "url": str, "created_at": str, "updated_at": str,
    }, pk="id")
    db["hits"].create({
        "id": int, "run_id": int, "search_id": int, "source": str, "external_id": str,
        "record_id": int, "title": str, "abstract": str, "authors": str, "year": int,
        "journal": str, "journal_abbrev": str, "volume": str, "issue": str, "pages": str,
        "doi": str, "pmid": str, "pmcid": str, "isbn": str, "issn": str, "pub_date": str,
        "language": str, "publication_types": str, "keywords": str, "mesh_terms": str,
        "item_type": str, "url": str, "raw": str, "deleted": int, "created_at": str,
    }, pk="id", foreign_keys=[
        ("run_id", "runs", "id"), ("search_id", "searches", "id"), ("record_id", "records", "id"),
    ], not_null={"run_id", "search_id", "source", "external_id"}, defaults={"deleted": 0})
    db["hits"].create_index(["search_id", "external_id"], unique=True)
    db["hits"].create_index(["record_id"])
    db["hits"].create_index(["run_id"])
    for column in ("doi", "pmid", "pmcid"):
        db["records"].create_index([column])
        db["hits"].create_index([column])
    db["users"].create({
        "id": int, "username": str, "password_hash": str, "role": str, "created_at": str,
        "disabled": int,
    }, pk="id", not_null={"username", "password_hash", "role"}, defaults={"disabled": 0})
    db["users"].create_index(["username"], unique=True)
    db["decisions"].create({
        "id": int, "record_id": int, "reviewer": str, "stage": str, "decision": str,
        "reason": str, "note": str, "summary": str, "themes": str, "undoes": int,
        "origin": str, "created_at": str,
    }, pk="id", foreign_keys=[("record_id", "records", "id"), ("undoes", "decisions", "id")],
        not_null={"record_id", "reviewer", "stage", "created_at"})
    db["decisions"].create_index(["record_id", "reviewer"])
    db["decisions"].create_index(["reviewer", "created_at"])
    db["themes"].create({
        "id": int, "slug": str, "name": str, "name_nb": str, "name_en": str,
        "group_slug": str, "group_nb": str, "group_en": str, "position": int,
    }, pk="id", not_null={"slug", "name"})
    db["themes"].create_index(["slug"], unique=True)
    db["record_themes"].create({
        "record_id": int, "theme_id": int, "reviewer": str, "created_at": str,
    }, pk=("record_id", "theme_id"), foreign_keys=[
        ("record_id", "records", "id"), ("theme_id", "themes", "id"),
    ])
    db["exclusion_reasons"].create({
        "id": int, "slug": str, "name_nb": str, "name_en": str, "position": int,
    }, pk="id", not_null={"slug"})
    db["exclusion_reasons"].create_index(["slug"], unique=True)


@migrations()
def m002_dedupe_and_sync_state(db: sqlite_utils.Database) -> None:
    """Pair decisions for deduplication and per-library sync state for Zotero."""
    db["duplicate_pairs"].create({
        "id": int, "hit_a": int, "hit_b": int, "score": float, "status": str,
        "decided_by": str, "decided_at": str, "created_at": str,
    }, pk="id", foreign_keys=[("hit_a", "hits", "id"), ("hit_b", "hits", "id")],
        not_null={"hit_a", "hit_b", "status"})
    db["duplicate_pairs"].create_index(["hit_a", "hit_b"], unique=True)
    db["sync_state"].create({
        "key": str, "value": str, "updated_at": str,
    }, pk="key")


@migrations()
def m003_record_status(db: sqlite_utils.Database) -> None:
    """``record_status``: the final decision of every record, derived from ``decisions``.

    The latest row per (record, reviewer, stage) is that reviewer's current decision (an undo
    appends a row that restores the previous value, NULL for none). A lead's ``resolution``
    wins; otherwise the record is decided when enough reviewers (``sync_state`` key
    ``reviewers_per_record``) agree, and in conflict when they differ.
    """
    db.execute("""
    CREATE VIEW record_status AS
    WITH latest AS (
      SELECT max(id) AS id FROM decisions GROUP BY record_id, reviewer, stage
    ), current AS (
      SELECT d.* FROM decisions d JOIN latest USING (id) WHERE d.decision IS NOT NULL
    ), needed AS (
      SELECT coalesce((SELECT CAST(value AS INTEGER) FROM sync_state
                       WHERE key = 'reviewers_per_record'), 1) AS n
    ), screened AS (
      SELECT record_id, count(*) AS votes, count(DISTINCT decision) AS kinds,
             min(decision) AS decision, max(created_at) AS decided_at
      FROM current WHERE stage = 'screening' GROUP BY record_id
    ), resolved AS (
      SELECT c.record_id, c.decision, c.created_at AS decided_at FROM current c
      WHERE c.stage = 'resolution' AND c.id = (
        SELECT max(c2.id) FROM current c2
        WHERE c2.record_id = c.record_id AND c2.stage = 'resolution')
    )
    SELECT r.id AS record_id,
      CASE WHEN res.decision IS NOT NULL THEN res.decision
           WHEN s.kinds = 1 AND s.votes >= needed.n THEN s.decision END AS decision,
      CASE WHEN res.decision IS NULL AND s.kinds > 1 THEN 1 ELSE 0 END AS conflict,
      coalesce(s.votes, 0) AS votes,
      coalesce(res.decided_at, s.decided_at) AS decided_at
    FROM records r CROSS JOIN needed
    LEFT JOIN screened s ON s.record_id = r.id
    LEFT JOIN resolved res ON res.record_id = r.id
    """)


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose outermost ``atomic()`` takes the write lock first.

    A plain ``BEGIN`` starts as a reader; when another process (a second ``evidence import``)
    commits before this transaction's first write, SQLite cannot upgrade the stale snapshot
    and fails at once with "database is locked", without waiting for the busy timeout.
    ``BEGIN IMMEDIATE`` waits for the other writer instead.
    """

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise


def open_db(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open the working database with WAL, foreign keys and a busy timeout; migrate it.

    A file that is not an evidence database (a published one, another program's, not SQLite)
    or was written by a newer version is refused before anything is written to it
    (:mod:`evidence.db.identity`).

    WAL lets the screening app read while a harvest writes; the busy timeout makes two
    reviewers saving at once wait for each other instead of failing.
    """
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    if str(path) != ":memory:":
        try:  # before the first write: someone else's file is refused, never migrated
            check_working(path, identify_connection(conn))
        except BaseException:
            conn.close()
            raise
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
    if str(path) != ":memory:":
        _enable_wal(db)
    if migrate and migrations.pending(db):
        _migrate(db)
    return db


def _enable_wal(db: Database) -> None:
    """Switch to WAL, waiting for a process that holds the file meanwhile.

    SQLite refuses the switch at once ("database is locked", without the busy timeout, to
    avoid a deadlock) while another connection writes in the old journal mode: it happens
    when several processes create the same new database at once (`evidence serve` and
    `evidence import`, say). The switch is retried until the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _migrate(db: Database) -> None:
    """Apply the pending migrations in one transaction, as SQLite's recipe for schema changes
    has it: foreign keys off while a table is rebuilt (``m540`` drops and renames ``hits``,
    which other tables reference), then checked before the commit, then on again.

    Only references the migrations broke stop them: a database that already held a broken
    one (written with foreign keys off by another tool) still opens, as it did before.
    """
    db.execute("PRAGMA foreign_keys = OFF")  # no effect inside a transaction: set before it
    try:
        with db.atomic():  # BEGIN IMMEDIATE: a second process opening the same new file waits
            already = set(db.execute("PRAGMA foreign_key_check").fetchall())
            migrations.apply(db)  # here, then finds nothing pending (it once ran m160 twice)
            broken = [row for row in db.execute("PRAGMA foreign_key_check").fetchall()
                      if row not in already]
            if broken:
                table, rowid, parent, _ = broken[0]
                raise sqlite3.IntegrityError(
                    f"migrating left {len(broken)} broken reference(s), the first in {table}"
                    f" row {rowid} to {parent}; nothing was changed")
    finally:
        db.execute("PRAGMA foreign_keys = ON")


#: Page cache of a bulk write, in KiB: an import's hits, records and keys fit, so a page
#: spilled to the WAL mid-transaction is not read back (SQLite's default is 2 MiB).
BULK_CACHE_KIB = 256 * 1024


@contextlib.contextmanager
def bulk_writes(db: sqlite_utils.Database) -> Iterator[None]:
    """Settings for one large write that can be redone from its input (an import).

    A bigger page cache: an import writes its hits, then links them to records, and with
    SQLite's 2 MiB cache the pages of the first write are spilled and read back for the
    second. Commits that wait for no disk flush: with WAL, ``synchronous = NORMAL`` keeps
    every commit atomic and the file consistent (SQLite's recommended WAL setting); only a
    power cut or OS crash right after a commit can roll that commit back, never a crash of
    the program. An import is re-run from its file without duplicates, so that costs nothing
    there (the two settings together: 4-8 % of a 3,000-record import in paired runs).
    Reviewers' decisions cannot be redone: the defaults (``FULL``) come back afterwards for
    every other write.
    """
    cache = db.execute("PRAGMA cache_size").fetchone()[0]
    synchronous = db.execute("PRAGMA synchronous").fetchone()[0]
    # inside a caller's transaction SQLite refuses to change the flush: the caller's commit
    # decides it, so only the cache is changed then
    relax = not db.conn.in_transaction
    db.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
    if relax:
        db.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        if relax:
            db.execute(f"PRAGMA synchronous = {int(synchronous)}")
        db.execute(f"PRAGMA cache_size = {int(cache)}")


def schema_version(db: sqlite_utils.Database) -> list[str]:
    """Names of the migrations applied to ``db``, oldest first."""
    return [m.name for m in migrations.applied(db)]


@migrations()
def m130_dedupe_keys(db: sqlite_utils.Database) -> None:
    """Normalised fingerprints per hit, so an incremental dedupe does not redo every hit."""
    db["dedupe_keys"].create({
        "hit_id": int, "title": str, "first_author": str, "authors": str, "year": int,
        "journal": str, "volume": str, "page": str, "doi": str, "pmid": str, "pmcid": str,
        "isbn": str, "kind": str,
    }, pk="hit_id", foreign_keys=[("hit_id", "hits", "id")])


@migrations()
def m140_zotero_pushed(db: sqlite_utils.Database) -> None:
    """Which Zotero item each pushed record became, so a second push updates, never duplicates."""
    db["zotero_pushed"].create({
        "record_id": int, "library": str, "item_key": str, "version": int, "pushed_at": str,
    }, pk=("record_id", "library"), foreign_keys=[("record_id", "records", "id")])
    db["zotero_pushed"].create_index(["library", "item_key"])


@migrations()
def m150_screening_queue_indexes(db: sqlite_utils.Database) -> None:
    """Indexes behind the screening queue's orders (newest, oldest, by search) and undo, so
    the next record is found without scanning every record."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_records_year_desc_id ON records (year DESC, id)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_records_year_id ON records (year, id)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_hits_search_record ON hits (search_id, record_id)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_decisions_undoes ON decisions (undoes)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_records_shuffle"
               " ON records (((id * 1103515245 + 12345) % 2147483647), id)")


#: The reviewers' stage a stage name belongs to: a lead's ``resolution`` settles ``screening``
#: (the contract names of title/abstract), ``X_resolution`` settles ``X`` (e.g. ``full_text``).
_GROUP = ("(CASE WHEN {s} = 'resolution' THEN 'screening' WHEN {s} LIKE '%\\_resolution'"
          " ESCAPE '\\' THEN substr({s}, 1, length({s}) - 11) ELSE {s} END)")
_RESOLUTION_OF = "(CASE WHEN {g} = 'screening' THEN 'resolution' ELSE {g} || '_resolution' END)"

#: Recompute the current decision of one (record, reviewer, stage) from the history; ``{side}``
#: is ``NEW`` or ``OLD`` inside a trigger on ``decisions``.
_CURRENT = """
  DELETE FROM current_decisions WHERE record_id = {side}.record_id
    AND reviewer = {side}.reviewer AND stage = {side}.stage;
  INSERT INTO current_decisions (record_id, stage, reviewer, decision_id, decision, reason,
                                 created_at)
    SELECT record_id, stage, reviewer, id, decision, reason, created_at FROM decisions
    WHERE id = (SELECT max(id) FROM decisions WHERE record_id = {side}.record_id
                AND reviewer = {side}.reviewer AND stage = {side}.stage)
      AND decision IS NOT NULL;"""

#: Recompute one record's tally at one reviewers' stage from ``current_decisions``; ``{side}``
#: is ``NEW`` or ``OLD`` inside a trigger on ``current_decisions``.
_TALLY = """
  DELETE FROM stage_votes WHERE stage = {g} AND record_id = {side}.record_id;
  INSERT INTO stage_votes (stage, record_id, votes, kinds, decision, resolution, decided_at)
    SELECT {g}, {side}.record_id, sum(c.stage = {g}),
      count(DISTINCT CASE WHEN c.stage = {g} THEN c.decision END),
      min(CASE WHEN c.stage = {g} THEN c.decision END),
      (SELECT decision FROM current_decisions WHERE record_id = {side}.record_id
         AND stage = {r} ORDER BY decision_id DESC LIMIT 1),
      coalesce((SELECT created_at FROM current_decisions WHERE record_id = {side}.record_id
                  AND stage = {r} ORDER BY decision_id DESC LIMIT 1),
               max(CASE WHEN c.stage = {g} THEN c.created_at END))
    FROM current_decisions c WHERE c.record_id = {side}.record_id AND c.stage IN ({g}, {r})
    HAVING count(*) > 0;"""


def _tally(side: str) -> str:
    group = _GROUP.format(s=f"{side}.stage")
    return _TALLY.format(side=side, g=group, r=_RESOLUTION_OF.format(g=group))


@migrations()
def m160_current_decisions(db: sqlite_utils.Database) -> None:
    """``current_decisions`` and ``stage_votes``: the present state of screening, kept by
    triggers from the append-only ``decisions`` history (which stays the contract table) and
    backfilled from it.

    ``current_decisions`` is the latest non-NULL row per (record, stage, reviewer);
    ``stage_votes`` tallies it per record and reviewers' stage (``screening``, ``full_text``):
    votes, distinct decisions, the decision when they agree, the lead's resolution. The queue
    then reads one narrow row per record instead of searching the history for the latest row
    of every key (87 ms per page with 50,000 decisions before; see docs/screening.md).
    Triggers rather than the writer keep them: every way a row reaches ``decisions`` (the app,
    the xlsx import, the demo, a dedupe merge moving decisions to the surviving record, an
    edit by hand) leaves them right.
    """
    db.execute("""CREATE TABLE current_decisions (
      record_id INTEGER NOT NULL, stage TEXT NOT NULL, reviewer TEXT NOT NULL,
      decision_id INTEGER NOT NULL, decision TEXT NOT NULL, reason TEXT, created_at TEXT,
      PRIMARY KEY (record_id, stage, reviewer)) WITHOUT ROWID""")
    db.execute("CREATE INDEX idx_current_decisions_reviewer"
               " ON current_decisions (reviewer, stage, decision_id)")
    db.execute("""CREATE TABLE stage_votes (
      stage TEXT NOT NULL, record_id INTEGER NOT NULL, votes INTEGER NOT NULL,
      kinds INTEGER NOT NULL, decision TEXT, resolution TEXT, decided_at TEXT,
      PRIMARY KEY (stage, record_id)) WITHOUT ROWID""")
    db.execute("CREATE INDEX IF NOT EXISTS idx_decisions_key"
               " ON decisions (record_id, reviewer, stage, id)")
    for event, body in (("INSERT", _CURRENT.format(side="NEW")),
                        ("DELETE", _CURRENT.format(side="OLD")),
                        ("UPDATE", _CURRENT.format(side="OLD") + _CURRENT.format(side="NEW"))):
        db.execute(f"CREATE TRIGGER decisions_current_{event.lower()} AFTER {event}"
                   f" ON decisions BEGIN {body} END")
    for event, side in (("INSERT", "NEW"), ("DELETE", "OLD")):
        db.execute(f"CREATE TRIGGER current_decisions_tally_{event.lower()} AFTER {event}"
                   f" ON current_decisions BEGIN {_tally(side)} END")
    db.execute("""INSERT INTO current_decisions (record_id, stage, reviewer, decision_id,
        decision, reason, created_at)
      SELECT d.record_id, d.stage, d.reviewer, d.id, d.decision, d.reason, d.created_at
      FROM decisions d JOIN (SELECT max(id) AS id FROM decisions
                             GROUP BY record_id, reviewer, stage) latest USING (id)
      WHERE d.decision IS NOT NULL""")
    db.execute("DROP VIEW IF EXISTS record_status")
    db.execute(_RECORD_STATUS)
    _create_screening_open(db)


#: Put record ``{id}`` in ``screening_open`` when it still needs a title/abstract vote from
#: someone: no lead's resolution and fewer than two votes (two is the most reviewers per
#: record the configuration allows; the queue compares ``votes`` with the configured number).
_OPEN_RECORD = """
  DELETE FROM screening_open WHERE record_id = {id};
  INSERT INTO screening_open (record_id, votes, year, shuffle)
    SELECT r.id, coalesce(v.votes, 0), r.year, ((r.id * 1103515245 + 12345) % 2147483647)
    FROM records r LEFT JOIN stage_votes v ON v.stage = 'screening' AND v.record_id = r.id
    WHERE r.id = {id} AND coalesce(v.votes, 0) < 2 AND v.resolution IS NULL;"""


def _create_screening_open(db: sqlite_utils.Database) -> None:
    """``screening_open``: the records still open at title/abstract, with their queue order
    keys, kept by triggers on ``records`` and ``stage_votes``.

    A reviewer going through the queue in order leaves the decided records at its front; read
    from ``records``, every page would step past all of them (108 ms with 50,000 decided).
    Here they are gone, and with one reviewer per record the next one is the first row of an
    index (``votes = 0``). With two, a reviewer steps past only the records they voted on
    that still wait for the other reviewer.
    """
    db.execute("""CREATE TABLE screening_open (
      record_id INTEGER PRIMARY KEY, votes INTEGER NOT NULL, year INTEGER,
      shuffle INTEGER NOT NULL)""")
    for name, columns in (("newest", "year DESC, record_id"), ("oldest", "year, record_id"),
                          ("random", "shuffle, record_id")):
        db.execute(f"CREATE INDEX idx_screening_open_{name} ON screening_open ({columns})")
        db.execute(f"CREATE INDEX idx_screening_open_votes_{name}"
                   f" ON screening_open (votes, {columns})")
    db.execute(f"""CREATE TRIGGER records_open_insert AFTER INSERT ON records
      BEGIN {_OPEN_RECORD.format(id="NEW.id")} END""")
    db.execute(f"""CREATE TRIGGER records_open_update AFTER UPDATE OF id, year ON records
      BEGIN DELETE FROM screening_open WHERE record_id = OLD.id;
      {_OPEN_RECORD.format(id="NEW.id")} END""")
    db.execute("""CREATE TRIGGER records_open_delete AFTER DELETE ON records
      BEGIN DELETE FROM screening_open WHERE record_id = OLD.id; END""")
    for event, side in (("INSERT", "NEW"), ("DELETE", "OLD")):
        db.execute(f"""CREATE TRIGGER stage_votes_open_{event.lower()} AFTER {event}
          ON stage_votes WHEN {side}.stage = 'screening'
          BEGIN {_OPEN_RECORD.format(id=f"{side}.record_id")} END""")
    db.execute("""INSERT INTO screening_open (record_id, votes, year, shuffle)
      SELECT r.id, coalesce(v.votes, 0), r.year, ((r.id * 1103515245 + 12345) % 2147483647)
      FROM records r LEFT JOIN stage_votes v ON v.stage = 'screening' AND v.record_id = r.id
      WHERE coalesce(v.votes, 0) < 2 AND v.resolution IS NULL""")


#: ``record_status`` (m003) read from ``stage_votes``: the title/abstract outcome per record.
_RECORD_STATUS = """
CREATE VIEW record_status AS
WITH needed AS (
  SELECT coalesce((SELECT CAST(value AS INTEGER) FROM sync_state
                   WHERE key = 'reviewers_per_record'), 1) AS n
)
SELECT r.id AS record_id,
  CASE WHEN v.resolution IS NOT NULL THEN v.resolution
       WHEN v.kinds = 1 AND v.votes >= needed.n THEN v.decision END AS decision,
  CASE WHEN v.resolution IS NULL AND v.kinds > 1 THEN 1 ELSE 0 END AS conflict,
  coalesce(v.votes, 0) AS votes, v.decided_at
FROM records r CROSS JOIN needed
LEFT JOIN stage_votes v ON v.stage = 'screening' AND v.record_id = r.id
"""


@migrations()
def m170_screening_stages(db: sqlite_utils.Database) -> None:
    """The optional full-text stage: exclusion reasons per stage, the outcome of each stage
    per record (``stage_status``) and ``record_status`` following the configured stages.

    ``sync_state`` key ``screening_stages`` (mirrored from ``screening.stages``) says whether
    records included at title/abstract go on to ``full_text``; then their final decision is
    the full-text one (NULL while it is pending), and ``record_status.stage`` says which stage
    a record's decision belongs to.
    """
    db["exclusion_reasons"].add_column("stage", str, not_null_default="screening")
    db.execute("DROP INDEX IF EXISTS idx_exclusion_reasons_slug")
    db.execute("CREATE UNIQUE INDEX idx_exclusion_reasons_stage_slug"
               " ON exclusion_reasons (stage, slug)")
    db.execute("DROP VIEW IF EXISTS record_status")
    db.execute(_STAGE_STATUS)
    db.execute(_FINAL_STATUS)


#: The outcome of every record at every reviewers' stage it has votes at: a lead's
#: resolution, else the decision when enough reviewers agree; ``reason`` is the resolution's,
#: else the reviewers' (the first in alphabetical order when they gave different ones).
_STAGE_STATUS = f"""
CREATE VIEW stage_status AS
WITH needed AS (
  SELECT coalesce((SELECT CAST(value AS INTEGER) FROM sync_state
                   WHERE key = 'reviewers_per_record'), 1) AS n
)
SELECT v.stage, v.record_id,
  CASE WHEN v.resolution IS NOT NULL THEN v.resolution
       WHEN v.kinds = 1 AND v.votes >= needed.n THEN v.decision END AS decision,
  CASE WHEN v.resolution IS NOT NULL THEN (
         SELECT c.reason FROM current_decisions c WHERE c.record_id = v.record_id
           AND c.stage = {_RESOLUTION_OF.format(g="v.stage")} ORDER BY c.decision_id DESC
           LIMIT 1)
       ELSE (SELECT min(c.reason) FROM current_decisions c WHERE c.record_id = v.record_id
               AND c.stage = v.stage) END AS reason,
  CASE WHEN v.resolution IS NULL AND v.kinds > 1 THEN 1 ELSE 0 END AS conflict,
  v.votes, v.decided_at
FROM stage_votes v CROSS JOIN needed
"""

#: ``record_status``: each record's final decision over the configured stages.
_FINAL_STATUS = """
CREATE VIEW record_status AS
WITH settings AS (
  SELECT coalesce((SELECT value FROM sync_state WHERE key = 'screening_stages'), '')
         LIKE '%full_text%' AS full_text
)
SELECT r.id AS record_id,
  CASE WHEN settings.full_text AND ta.decision = 'include' THEN ft.decision
       ELSE ta.decision END AS decision,
  CASE WHEN settings.full_text AND ta.decision = 'include' THEN coalesce(ft.conflict, 0)
       ELSE coalesce(ta.conflict, 0) END AS conflict,
  coalesce(ta.votes, 0) AS votes,
  CASE WHEN settings.full_text AND ta.decision = 'include' THEN ft.decided_at
       ELSE ta.decided_at END AS decided_at,
  CASE WHEN settings.full_text AND ta.decision = 'include' THEN 'full_text'
       ELSE 'screening' END AS stage
FROM records r CROSS JOIN settings
LEFT JOIN stage_status ta ON ta.stage = 'screening' AND ta.record_id = r.id
LEFT JOIN stage_status ft ON ft.stage = 'full_text' AND ft.record_id = r.id
"""


@migrations()
def m180_screening_skips_and_language(db: sqlite_utils.Database) -> None:
    """``screening_skips``: records a reviewer skipped, kept until the rest of their queue is
    done (a skip in the URL was forgotten after the next decision, so the record came straight
    back); ``users.language``: each reviewer's choice of nb or en for the app."""
    db["screening_skips"].create({
        "reviewer": str, "stage": str, "record_id": int, "skipped_at": str,
    }, pk=("reviewer", "stage", "record_id"))  # no foreign key: a dedupe merge may drop a record
    db["users"].add_column("language", str)


@migrations()
def m300_user_sessions(db: sqlite_utils.Database) -> None:
    """``users.session_generation``: a login cookie carries the generation it was issued
    under; logging out or a new password adds one, which ends every older session."""
    db["users"].add_column("session_generation", int, not_null_default=0)


@migrations()
def m301_pair_merge_undo(db: sqlite_utils.Database) -> None:
    """What a person's merge moved (the absorbed record's id and its hits), so a lead can
    undo it in the app."""
    db["duplicate_pairs"].add_column("moved_from", int)
    db["duplicate_pairs"].add_column("moved_hits", str)


#: ``screening.reviewers_per_record`` and whether a full-text stage is configured, as
#: uncorrelated scalar subqueries (computed once per statement, and the views stay flat).
_NEEDED = ("coalesce((SELECT CAST(value AS INTEGER) FROM sync_state"
           " WHERE key = 'reviewers_per_record'), 1)")
_FULL_TEXT_ON = ("(coalesce((SELECT value FROM sync_state WHERE key = 'screening_stages'), '')"
                 " LIKE '%full_text%')")


def _outcome(v: str) -> str:
    """The outcome of a ``stage_votes`` row ``v``: the resolution, else agreeing votes."""
    return (f"(CASE WHEN {v}.resolution IS NOT NULL THEN {v}.resolution"
            f" WHEN {v}.kinds = 1 AND {v}.votes >= {_NEEDED} THEN {v}.decision END)")


@migrations()
def m310_flat_status_views(db: sqlite_utils.Database) -> None:
    """``stage_status`` and ``record_status`` (m170) rewritten as flat joins on ``stage_votes``.

    m170's ``record_status`` joined the ``stage_status`` view twice; SQLite materialised it
    and scanned it for every record (minutes with 100,000 records). Here each record looks up
    its two ``stage_votes`` rows by primary key. Same columns, same values.
    """
    db.execute("DROP VIEW IF EXISTS record_status")
    db.execute("DROP VIEW IF EXISTS stage_status")
    resolution = _RESOLUTION_OF.format(g="v.stage")
    db.execute(f"""
    CREATE VIEW stage_status AS
    SELECT v.stage, v.record_id, {_outcome("v")} AS decision,
      CASE WHEN v.resolution IS NOT NULL THEN (
             SELECT c.reason FROM current_decisions c WHERE c.record_id = v.record_id
               AND c.stage = {resolution} ORDER BY c.decision_id DESC LIMIT 1)
           ELSE (SELECT min(c.reason) FROM current_decisions c WHERE c.record_id = v.record_id
                   AND c.stage = v.stage) END AS reason,
      CASE WHEN v.resolution IS NULL AND v.kinds > 1 THEN 1 ELSE 0 END AS conflict,
      v.votes, v.decided_at
    FROM stage_votes v""")
    at_full_text = f"({_FULL_TEXT_ON} AND {_outcome('ta')} = 'include')"
    db.execute(f"""
    CREATE VIEW record_status AS
    SELECT r.id AS record_id,
      CASE WHEN {at_full_text} THEN {_outcome("ft")} ELSE {_outcome("ta")} END AS decision,
      CASE WHEN {at_full_text} THEN coalesce(ft.resolution IS NULL AND ft.kinds > 1, 0)
           ELSE coalesce(ta.resolution IS NULL AND ta.kinds > 1, 0) END AS conflict,
      coalesce(ta.votes, 0) AS votes,
      CASE WHEN {at_full_text} THEN ft.decided_at ELSE ta.decided_at END AS decided_at,
      CASE WHEN {at_full_text} THEN 'full_text' ELSE 'screening' END AS stage
    FROM records r
    LEFT JOIN stage_votes ta ON ta.stage = 'screening' AND ta.record_id = r.id
    LEFT JOIN stage_votes ft ON ft.stage = 'full_text' AND ft.record_id = r.id""")


@migrations()
def m400_dedupe_keys_numbers(db: sqlite_utils.Database) -> None:
    """Fingerprints are recomputed: titles now spell numbers one way and lose database notes
    such as ``[Review] [33 refs]`` (dedupe/numbers.py, dedupe/keys.py)."""
    db.execute("DELETE FROM dedupe_keys")


@migrations()
def m410_drop_unused_record_orders(db: sqlite_utils.Database) -> None:
    """The title/abstract queue reads ``screening_open`` (m160) and later stages start from
    the records included before, so these two orders of all records serve no query; every
    new record paid for them (about a tenth of writing a record, bench/import_bench.py).
    ``idx_records_year_desc_id`` stays: the Find page lists records newest first."""
    db.execute("DROP INDEX IF EXISTS idx_records_year_id")
    db.execute("DROP INDEX IF EXISTS idx_records_shuffle")


@migrations()
def m420_drop_unused_hit_indexes(db: sqlite_utils.Database) -> None:
    """Hits are never looked up by DOI, PMID or PMC id (deduplication blocks them in memory;
    sources find their stored hits by external id), so these indexes only slowed every
    insert of a hit (bench/import_bench.py)."""
    for column in ("doi", "pmid", "pmcid"):
        db.execute(f"DROP INDEX IF EXISTS idx_hits_{column}")


@migrations()
def m430_screening_open_bulk_pause(db: sqlite_utils.Database) -> None:
    """A deduplication pass may pause the insert trigger of ``screening_open`` and open its
    new records in one statement (db/open_queue.py): while ``screening_open_paused`` has a
    row, which only that pass's transaction ever sees, the trigger does nothing."""
    db.execute("CREATE TABLE screening_open_paused (paused INTEGER NOT NULL)")
    db.execute("DROP TRIGGER records_open_insert")
    db.execute(f"""CREATE TRIGGER records_open_insert AFTER INSERT ON records
      WHEN NOT EXISTS (SELECT 1 FROM screening_open_paused)
      BEGIN {_OPEN_RECORD.format(id="NEW.id")} END""")


@migrations()
def m470_stopping_events(db: sqlite_utils.Database) -> None:
    """SAFE's phases as events (models/safe.py): ``check_started`` when the stopping
    heuristic was first met (the queue then switches to the second model from the decision
    ``decision_id`` on; stored, so the phase never flips back when a later figure moves),
    and ``stopped`` when a lead stopped screening in the app (who, when, the figures then).
    An undo marks the event (``undone_at``, ``undone_by``) instead of deleting it."""
    db["stopping_events"].create({
        "id": int, "kind": str, "decision_id": int, "actor": str, "created_at": str,
        "figures": str, "undone_at": str, "undone_by": str,
    }, pk="id", not_null={"kind", "created_at"})
    db["stopping_events"].create_index(["kind", "undone_at"])


@migrations()
def m480_imported_decisions_index(db: sqlite_utils.Database) -> None:
    """The stopping figures leave out the records an imported evidence table decided
    (models/stopping.py), on every page of the screening app: a small partial index keeps
    that from reading every decision."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_decisions_imported ON decisions (record_id)"
               " WHERE origin = 'import'")


@migrations()
def m500_original_title_and_creators(db: sqlite_utils.Database) -> None:
    """What a source says that the hits lost before: the title in the original language
    (PubMed's ``VernacularTitle``, often Norwegian) and the creators who are not authors, with
    their role (a book's editors, a film's director; JSON ``[{"role", "name"}]``)."""
    for table in ("hits", "records"):
        columns = db[table].columns_dict
        if "original_title" not in columns:
            db[table].add_column("original_title", str)
        if "creators" not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN creators TEXT DEFAULT '[]'")


@migrations()
def m510_editions(db: sqlite_utils.Database) -> None:
    """Every edition published (``evidence publish --edition NAME``): its name, when it was
    first and last published, what it counted (searches and PRISMA, as JSON) and the records
    it published, so next year's publish knows which works are new (publish/editions.py).
    Re-publishing an edition replaces its rows only. ``edition_records.record_id`` is a
    foreign key to ``records``, so a merge of two records (dedupe.cluster.merge_records moves
    every such reference) leaves the survivor in the editions of both."""
    db["editions"].create({
        "name": str, "created_at": str, "published_at": str, "records": int,
        "new_records": int, "searches": str, "prisma": str,
    }, pk="name", not_null={"created_at", "published_at"})
    db["edition_records"].create({"edition": str, "record_id": int},
                                 pk=("edition", "record_id"),
                                 foreign_keys=[("edition", "editions", "name"),
                                               ("record_id", "records", "id")])
    db["edition_records"].create_index(["record_id"])


@migrations()
def m510_record_themes_from_outcomes(db: sqlite_utils.Database) -> None:
    """``record_themes`` rebuilt from every reviewer's current themes (db/outcomes.py): an
    include used to replace the record's themes with this reviewer's, so the first includer's
    themes were lost from ``record_themes`` (they stayed in ``decisions``)."""
    from evidence.db.outcomes import outcomes

    found = outcomes(db.conn)
    links = {(rid, slug) for rid, o in found.items() for slug in o.themes}
    kept = {(rid, slug): (who, at) for rid, slug, who, at in db.execute(
        "SELECT rt.record_id, t.slug, rt.reviewer, rt.created_at FROM record_themes rt"
        " JOIN themes t ON t.id = rt.theme_id").fetchall()}
    first = {}
    for rid, o in found.items():
        for vote in (*o.votes, *([o.resolution] if o.resolution else [])):
            for slug in vote["themes"]:
                first.setdefault((rid, slug), (vote["reviewer"], vote["created_at"]))
    db.execute("DELETE FROM record_themes WHERE record_id IN (SELECT record_id FROM decisions)")
    db.conn.executemany(
        "INSERT OR IGNORE INTO record_themes (record_id, theme_id, reviewer, created_at)"
        " SELECT ?, id, ?, ? FROM themes WHERE slug = ?",
        [(rid, *(kept.get((rid, slug)) or first.get((rid, slug)) or (None, None)), slug)
         for rid, slug in sorted(links)])


@migrations()
def m522_oa_url_and_lookups(db: sqlite_utils.Database) -> None:
    """``records.oa_url`` (contract) and ``hits.oa_url``: where a source (OpenAlex,
    Crossref) knows an open-access full text, carried from hits to records like every field
    (dedupe/cluster.py). ``enrich_lookups`` remembers what `evidence enrich` has asked which
    service about a record, so a second run asks nothing again (harvest/enrich.py)."""
    for table in ("hits", "records"):
        if "oa_url" not in db[table].columns_dict:
            db[table].add_column("oa_url", str)
    db["enrich_lookups"].create({
        "record_id": int, "source": str, "key": str, "outcome": str, "hit_id": int,
        "looked_up_at": str,
    }, pk=("record_id", "source", "key"), foreign_keys=[("record_id", "records", "id")],
        if_not_exists=True)


@migrations()
def m530_edition_records_first_published(db: sqlite_utils.Database) -> None:
    """``edition_records.first_published_at``: when the edition first published the work, kept
    when the edition is published again. A work an older edition takes in after a later
    edition of the series exists (re-publishing last year's edition) is then not new in it
    (publish/editions.py). Rows from before: their edition's first publishing, what counted
    until now."""
    if "first_published_at" not in db["edition_records"].columns_dict:
        db["edition_records"].add_column("first_published_at", str)
    db.execute("UPDATE edition_records SET first_published_at = (SELECT created_at FROM"
               " editions WHERE name = edition_records.edition)"
               " WHERE first_published_at IS NULL")


#: Columns of ``hits`` that hold long texts: kept after every other column (m540).
HITS_LONG_COLUMNS = ("abstract", "raw")


@migrations()
def m540_hits_long_texts_last(db: sqlite_utils.Database) -> None:
    """``hits`` rebuilt with its long texts (``abstract``, ``raw``) after every other column.

    SQLite stores a row's columns in order and moves what does not fit a page to a chain of
    overflow pages; to read a column it walks the chain up to it. ``original_title``,
    ``creators`` and ``oa_url`` were added after ``raw`` (m500, m522), so every statement that
    reads them (a record built from its hits, a record refreshed, an import's links) walked
    each hit's abstract and raw export first: about a tenth of an import of real records
    (bench/import_bench.py --real). The rebuild runs once, with foreign keys off
    (``open_db``); ``transform_sql`` keeps the table's constraints and indexes.
    """
    columns = [c.name for c in db["hits"].columns]
    order = [c for c in columns if c not in HITS_LONG_COLUMNS] + [
        c for c in HITS_LONG_COLUMNS if c in columns]
    if columns == order:
        return
    for sql in db["hits"].transform_sql(column_order=order):
        db.execute(sql)
