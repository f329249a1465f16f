"""Time the screening app's word searches on a database of many records: the Find page's
words (title, original title, abstract, authors, editors) and *My decisions*' search.

A word that matches few records makes SQLite read every record, so these are the slow case
of both pages. One record in ten has an original-language title and one in fifty is an
edited volume (editors, no authors), as in a Norwegian knowledge base. The functions are
called as the pages call them, on one connection, without Datasette.

Example:

    python3 bench/find_bench.py --records 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence.db.decisions import save_decision  # noqa: E402
from evidence.screening import finding  # noqa: E402
from evidence.screening import queries as q  # noqa: E402
from tests.screening_data import seed  # noqa: E402

#: Find words: one rare word (in one original title), a word of every abstract with a rare
#: one (the AND reads all), an editor's name, and three words.
FIND = ("særtilbud", "systematic særtilbud", "Dåstøl", "interdisciplinary review særtilbud")
#: My decisions searches: a rare phrase, an editor, a word of every title.
MINE = ("særtilbud for", "dåstøl", "community")


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, load {os.getloadavg()[0]:.1f}"
    )


def add_names(db_path: Path, records: int) -> None:
    """Original titles on every tenth record, editors instead of authors on every fiftieth;
    the rare word and the rare editor on one record each."""
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "UPDATE records SET original_title = ? WHERE id = ?",
            [
                (f"Kommunale tjenester {i}: erfaringer fra brukere og pårørende", i)
                for i in range(10, records + 1, 10)
            ],
        )
        conn.executemany(
            "UPDATE records SET authors = '[]', creators = ? WHERE id = ?",
            [
                (json.dumps([{"role": "editor", "name": f"Redaktør{i}, Kari"}]), i)
                for i in range(50, records + 1, 50)
            ],
        )
        middle = records // 2
        conn.execute(
            "UPDATE records SET original_title = 'Særtilbud for unge' WHERE id = ?", [middle]
        )
        conn.execute(
            "UPDATE records SET creators = ? WHERE id = ?",
            [json.dumps([{"role": "editor", "name": "Dåstøl, Ørjan"}]), middle + 1],
        )


def timed(call, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="Records in the database.")
    parser.add_argument(
        "--decided",
        type=int,
        default=5_000,
        help="Records the reviewer has decided (My decisions reads these).",
    )
    parser.add_argument("--repeats", type=int, default=5, help="Timed calls per search.")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="find-bench-"))
    try:
        config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
        shutil.copy(ROOT / "evidence" / "templates" / "evidence.example.yml", config_path)
        seed(db_path, config_path, args.records)
        add_names(db_path, args.records)
        conn = sqlite3.connect(db_path)
        step = max(1, args.records // args.decided)
        for record_id in range(1, args.records + 1, step)[: args.decided]:
            save_decision(conn, record_id, "bench", "include")
        save_decision(conn, args.records // 2, "bench", "include")
        save_decision(conn, args.records // 2 + 1, "bench", "exclude")
        print(f"machine: {machine()}")
        print(f"--- Find page words, {args.records:,} records (median / max of {args.repeats})")
        for words in FIND:
            filters = finding.Filters(words=words)
            found = finding.find_records(conn, filters, viewer="bench", lead=False)[1]
            times = timed(
                lambda f=filters: finding.find_records(conn, f, viewer="bench", lead=False),
                args.repeats,
            )
            print(
                f"{words!r:40} {found:>6} found  median {statistics.median(times):7.1f} ms"
                f"   max {max(times):7.1f} ms"
            )
        print(f"--- My decisions search, {args.decided:,} decisions")
        for text in MINE:
            found = len(q.my_decisions(conn, "bench", q=text))
            times = timed(lambda t=text: q.my_decisions(conn, "bench", q=t), args.repeats)
            print(
                f"{text!r:40} {found:>6} found  median {statistics.median(times):7.1f} ms"
                f"   max {max(times):7.1f} ms"
            )
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
