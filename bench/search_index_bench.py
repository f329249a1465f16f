"""Benchmark: the published word index (prefixes, stems, compound table) against a trigram index.

Copies a published database (e.g. the one `bench/publish_bench.py --dir DIR` leaves in DIR),
adds an FTS5 trigram index over the same columns to the copy, and prints both indexes' sizes
and query times for prefix, compound and short queries (docs/publishing.md, "Search").

    python3 bench/publish_bench.py --records 200000 --dir /tmp/pb
    python3 bench/search_index_bench.py /tmp/pb/published.db
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence.publish.search import COLUMNS, INDEX, expand_sync, match_expression, parse_query  # noqa: E402

QUERIES = ("rus", "rusmiddel", "problemer", "eldre", "co", "stigma", "loneliness")


def size_mb(conn: sqlite3.Connection, prefix: str) -> float:
    row = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE ?", [prefix + "%"])
    return (row.fetchone()[0] or 0) / 1e6


def timed(conn: sqlite3.Connection, sql: str, arg: str) -> tuple[int, float]:
    times, count = [], 0
    conn.execute(sql, [arg]).fetchone()  # warm-up: the first query reads the index from disk
    for _ in range(5):
        start = time.perf_counter()
        count = conn.execute(sql, [arg]).fetchone()[0]
        times.append(time.perf_counter() - start)
    return count, statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="A published database (it is copied, not changed).")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="search-index-bench-")
    copy = Path(folder) / "copy.db"
    shutil.copy(args.db, copy)
    try:
        conn = sqlite3.connect(copy)
        start = time.perf_counter()
        conn.execute(f"CREATE VIRTUAL TABLE tri USING fts5({', '.join(COLUMNS)},"
                     " content='records', content_rowid='id', tokenize='trigram')")
        conn.execute("INSERT INTO tri(tri) VALUES ('rebuild')")
        conn.commit()
        print(f"load average {os.getloadavg()[0]:.1f}; trigram index built in "
              f"{time.perf_counter() - start:.1f} s")
        print(f"size: word index {size_mb(conn, INDEX):.0f} MB, "
              f"trigram {size_mb(conn, 'tri'):.0f} MB")
        expand = expand_sync(conn)
        for q in QUERIES:
            words = timed(conn, f"SELECT count(*) FROM {INDEX} WHERE {INDEX} MATCH ?",
                          match_expression(parse_query(q), expand))
            print(f"{q:10s} words+compounds {words[0]:7,d} matches {words[1]:6.1f} ms", end="   ")
            if len(q) < 3:
                print("trigram: not searchable (under 3 letters)")
                continue
            tri = timed(conn, "SELECT count(*) FROM tri WHERE tri MATCH ?", f'"{q}"')
            print(f"trigram {tri[0]:7,d} matches {tri[1]:6.1f} ms")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
