"""``current_decisions`` and ``stage_votes`` (migration m160) follow the ``decisions`` history
whatever writes it: the one writer, a raw insert, an undo, a dedupe merge, a delete."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from evidence.db.decisions import save_decision
from evidence.db.migrations import migrations, open_db
from evidence.db.open_queue import OPEN_RECORDS, records_added_in_bulk
from evidence.dedupe.cluster import merge_records
from evidence.harvest.files.importing import import_file
from evidence.screening import queries as q


def _records(db, *ids: int) -> None:
    db["records"].insert_all([{"id": i, "title": f"t{i}", "year": 2024} for i in ids])


def _current(db) -> list[tuple]:
    return db.execute("SELECT record_id, stage, reviewer, decision FROM current_decisions"
                      " ORDER BY record_id, stage, reviewer").fetchall()


def _votes(db) -> list[tuple]:
    return db.execute("SELECT stage, record_id, votes, kinds, decision, resolution"
                      " FROM stage_votes ORDER BY stage, record_id").fetchall()


def test_latest_decision_per_reviewer_and_stage_is_current(db):
    _records(db, 1, 2)
    save_decision(db.conn, 1, "ana", "include")
    save_decision(db.conn, 1, "ana", "exclude", reason="wrong-topic")
    save_decision(db.conn, 1, "bo", "include")
    save_decision(db.conn, 2, "ana", "maybe")
    assert _current(db) == [(1, "screening", "ana", "exclude"),
                            (1, "screening", "bo", "include"),
                            (2, "screening", "ana", "maybe")]
    assert _votes(db) == [("screening", 1, 2, 2, "exclude", None),
                          ("screening", 2, 1, 1, "maybe", None)]


def test_undo_to_nothing_removes_the_current_row_and_the_tally(db):
    _records(db, 1)
    save_decision(db.conn, 1, "ana", "include")
    q.undo_last(db.conn, "ana")
    assert _current(db) == [] and _votes(db) == []
    assert db.execute("SELECT count(*) FROM decisions").fetchone()[0] == 2  # history kept


def test_resolution_settles_its_own_stage_only(db):
    _records(db, 1)
    save_decision(db.conn, 1, "ana", "include")
    save_decision(db.conn, 1, "bo", "exclude", reason="wrong-topic")
    save_decision(db.conn, 1, "lead", "include", stage="resolution")
    save_decision(db.conn, 1, "ana", "exclude", stage="full_text", reason="wrong-topic")
    save_decision(db.conn, 1, "lead", "exclude", stage="full_text_resolution")
    assert _votes(db) == [("full_text", 1, 1, 1, "exclude", "exclude"),
                          ("screening", 1, 2, 2, "exclude", "include")]


def test_raw_inserts_and_deletes_keep_the_tables(db):
    _records(db, 1)
    db.execute("INSERT INTO decisions (record_id, reviewer, stage, decision, created_at)"
               " VALUES (1, 'ana', 'screening', 'include', '2024-01-01')")
    assert _current(db) == [(1, "screening", "ana", "include")]
    db.execute("DELETE FROM decisions")
    assert _current(db) == [] and _votes(db) == []


def test_dedupe_merge_moves_current_decisions_to_the_survivor(db):
    _records(db, 1, 2)
    save_decision(db.conn, 1, "ana", "include")
    save_decision(db.conn, 2, "bo", "exclude", reason="wrong-topic")
    with db.atomic():
        merge_records(db, 1, 2)
    assert _current(db) == [(1, "screening", "ana", "include"),
                            (1, "screening", "bo", "exclude")]
    assert _votes(db) == [("screening", 1, 2, 2, "exclude", None)]


def test_existing_history_is_backfilled_on_upgrade(db_path):
    old = sqlite_utils.Database(db_path)
    migrations.apply(old, stop_before="m160_current_decisions")
    _records(old, 1, 2)
    old["decisions"].insert_all([
        {"record_id": 1, "reviewer": "ana", "stage": "screening", "decision": "include",
         "created_at": "2024-01-01"},
        {"record_id": 1, "reviewer": "ana", "stage": "screening", "decision": None,
         "created_at": "2024-01-02"},
        {"record_id": 2, "reviewer": "ana", "stage": "screening", "decision": "exclude",
         "created_at": "2024-01-03"},
    ])
    status = ("SELECT record_id, decision, conflict, votes, decided_at FROM record_status"
              " ORDER BY record_id")
    status_before = old.execute(status).fetchall()
    old.close()
    db = open_db(db_path)
    assert _current(db) == [(2, "screening", "ana", "exclude")]
    assert db.execute(status).fetchall() == status_before


def test_queue_counts_read_the_tallies(db):
    _records(db, 1, 2, 3)
    save_decision(db.conn, 1, "ana", "include")
    save_decision(db.conn, 2, "bo", "exclude", reason="wrong-topic")
    assert q.queue_state(db.conn, "ana", needed=2) == (2, 2, 3)
    assert q.queue_state(db.conn, "ana", needed=1) == (3, 1, 3)
    save_decision(db.conn, 2, "lead", "include", stage="resolution")
    assert q.queue_state(db.conn, "ana", needed=2) == (3, 1, 3)


def _open(db) -> list[tuple]:
    return db.execute("SELECT record_id, votes, year FROM screening_open"
                      " ORDER BY record_id").fetchall()


def test_screening_open_follows_records_and_votes(db):
    _records(db, 1, 2, 3)
    save_decision(db.conn, 1, "ana", "include")
    save_decision(db.conn, 2, "ana", "include")
    save_decision(db.conn, 2, "bo", "include")
    save_decision(db.conn, 3, "lead", "exclude", stage="resolution")
    assert _open(db) == [(1, 1, 2024)]
    db.execute("UPDATE records SET year = 2020 WHERE id = 1")
    _records(db, 4)
    assert _open(db) == [(1, 1, 2020), (4, 0, 2024)]
    q.undo_last(db.conn, "bo")
    assert _open(db) == [(1, 1, 2020), (2, 1, 2024), (4, 0, 2024)]
    db.execute("DELETE FROM decisions WHERE record_id = 4")
    db.execute("DELETE FROM records WHERE id = 4")
    assert _open(db) == [(1, 1, 2020), (2, 1, 2024)]


_OPEN_ROWS = "SELECT record_id, votes, year, shuffle FROM {table} ORDER BY record_id"


def _open_recomputed(db) -> list[tuple]:
    """``screening_open`` as it would be filled from scratch by ``OPEN_RECORDS``. Compared
    whole, shuffle key included, with what the triggers filled: the bulk statement copies
    the triggers' SQL (migration m160), and the two must not drift apart."""
    db.execute("CREATE TEMP TABLE expected AS SELECT * FROM screening_open WHERE 0")
    db.execute(OPEN_RECORDS.format(where="1").replace("INTO screening_open", "INTO expected"))
    rows = db.execute(_OPEN_ROWS.format(table="expected")).fetchall()
    db.execute("DROP TABLE expected")
    return rows


def _open_rows(db) -> list[tuple]:
    return db.execute(_OPEN_ROWS.format(table="screening_open")).fetchall()


def test_records_added_in_bulk_join_the_queue_when_the_block_ends(db):
    _records(db, 1, 2)
    save_decision(db.conn, 1, "ana", "include")
    with db.atomic():
        with records_added_in_bulk(db.conn, 3):
            _records(db, 3, 4)
            assert [r for r, *_ in _open(db)] == [1, 2]  # the trigger is paused
        assert _open(db) == [(1, 1, 2024), (2, 0, 2024), (3, 0, 2024), (4, 0, 2024)]
    _records(db, 5)  # the trigger works again
    assert _open_rows(db) == _open_recomputed(db) and len(_open(db)) == 5
    assert db.execute("SELECT count(*) FROM screening_open_paused").fetchone()[0] == 0


def test_an_error_in_a_bulk_write_leaves_queue_and_trigger_as_they_were(db):
    _records(db, 1)
    with pytest.raises(RuntimeError), db.atomic():
        with records_added_in_bulk(db.conn, 2):
            _records(db, 2)
            raise RuntimeError("stopped half-way")
    assert db.execute("SELECT count(*) FROM screening_open_paused").fetchone()[0] == 0
    _records(db, 3)
    assert _open(db) == [(1, 0, 2024), (3, 0, 2024)]


def test_an_import_opens_exactly_the_records_it_creates(db):
    exports = Path(__file__).parent / "fixtures" / "exports" / "asreview"
    import_file(db, exports / "embase.ris")
    save_decision(db.conn, 1, "ana", "exclude", reason="wrong-topic")
    import_file(db, exports / "ovid_psycinfo.ris")
    records = db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert len(_open(db)) == records > 2
    assert _open_rows(db) == _open_recomputed(db)


def test_every_order_skips_finished_records_at_the_front(db):
    _records(db, *range(1, 11))
    for record_id in range(1, 6):
        save_decision(db.conn, record_id, "ana", "exclude", reason="wrong-topic")
    for order in ("newest", "oldest", "random"):
        next_id, left, total = q.queue_state(db.conn, "bo", order=order)
        assert next_id > 5 and (left, total) == (5, 10), order
    assert q.queue_state(db.conn, "bo", needed=2)[0] == 1  # dual: ana's votes wait for bo
    assert q.queue_state(db.conn, "ana", needed=2)[:2] == (6, 5)


def test_record_status_looks_up_each_records_votes_by_key(db):
    """One record's votes are found by primary key, never by scanning a view per record
    (m170's nested views did that: minutes with 100,000 records)."""
    plan = [row[3] for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT coalesce(decision, ''), count(*) FROM record_status"
        " GROUP BY 1").fetchall()]
    joins = [step for step in plan if "LEFT-JOIN" in step]
    assert len(joins) == 2 and all(step.startswith("SEARCH") for step in joins), plan
    assert not any(step.startswith("MATERIALIZE") for step in plan), plan
