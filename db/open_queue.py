"""The title/abstract queue's table, ``screening_open``, when records are written in bulk.

Triggers keep ``screening_open`` in step with ``records`` and ``stage_votes`` (migration
m160): right for a decision or a merge, but a deduplication pass writes thousands of new
records at once, and there the insert trigger's per-row statements cost more than the inserts
themselves (1.5 s of 2.6 s for 50,000 records, bench/import_bench.py). A pass pauses that
trigger and opens its new records in one statement instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

#: Put the records matching ``{where}`` (on ``records r``) in ``screening_open`` when they
#: still need a title/abstract vote: the set-wise form of the triggers' ``_OPEN_RECORD``.
OPEN_RECORDS = """INSERT OR REPLACE INTO screening_open (record_id, votes, year, shuffle)
    SELECT r.id, coalesce(v.votes, 0), r.year, ((r.id * 1103515245 + 12345) % 2147483647)
    FROM records r LEFT JOIN stage_votes v ON v.stage = 'screening' AND v.record_id = r.id
    WHERE {where} AND coalesce(v.votes, 0) < 2 AND v.resolution IS NULL"""


@contextmanager
def records_added_in_bulk(conn: sqlite3.Connection, first_id: int) -> Iterator[None]:
    """Insert records inside this block without the per-row trigger; on leaving it, every
    record with an id of ``first_id`` or more is opened (or re-opened) in one statement.

    Call it inside a transaction, with ``first_id`` above every record id stored before:
    the pause is a row that only this transaction sees, and an error anywhere rolls back
    the records and the pause together.
    """
    conn.execute("INSERT INTO screening_open_paused (paused) VALUES (1)")
    try:
        yield
    finally:
        conn.execute("DELETE FROM screening_open_paused")
    conn.execute(OPEN_RECORDS.format(where="r.id >= ?"), [first_id])
