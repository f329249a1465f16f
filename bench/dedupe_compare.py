"""Our deduplication side by side with bib-dedupe 0.11.0 on the same labelled records.

    python3 -m pip install bib-dedupe==0.11.0     # for this bench only: not a dependency
    python3 bench/dedupe_compare.py

Three sets, each scored the same way (dedupe/evaluate.py, ASySD's rule: a kept record with
no ``unique`` row is a missed duplicate, one with k > 1 holds k - 1 false merges):

- the labelled development set (tests/fixtures/dedup/labelled_dev.csv, 738 records),
- the same set with every DOI blanked (Idunn, Google Scholar and grey literature have none),
- numbered titles (tests/fixtures/dedup/numbers.csv): parts of a series, survey waves, yearly
  reports, 12- and 24-month follow-ups, year ranges, two presentations of one study, and the
  same work with its number written two ways.

Times are the deduplication alone: our ``dedupe()`` on hits already stored; bib-dedupe's
``prep``, ``block``, ``match`` and ``cluster`` on a DataFrame already built (its default of all
cores). Each tool runs once per set after one untimed warm-up run.
"""

from __future__ import annotations

import csv
import os
import platform
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence.config import DedupeSettings  # noqa: E402
from evidence.db.migrations import open_db  # noqa: E402
from evidence.dedupe.cluster import dedupe  # noqa: E402
from evidence.dedupe.evaluate import Accuracy, load_labelled, measure, measure_groups  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "dedup"
BIB_DEDUPE_VERSION = "0.11.0"


def read_rows(path: Path, blank_dois: bool = False) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{**row, "doi": "NA"} if blank_dois else row for row in rows]


def write_rows(rows: list[dict[str, str]], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def ours(rows: list[dict[str, str]]) -> tuple[Accuracy, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        labels = load_labelled(db, write_rows(rows, Path(tmp) / "set.csv"))
        started = time.perf_counter()
        dedupe(db, DedupeSettings())
        seconds = time.perf_counter() - started
        accuracy = measure(db, labels)
        db.close()
        return accuracy, seconds


def bib_dedupe_frame(rows: list[dict[str, str]]):
    """bib-dedupe's input: BibTeX-like fields, authors joined by `` and ``."""
    import pandas as pd

    def value(row: dict[str, str], key: str) -> str:
        return "" if row[key] in ("", "NA") else row[key]

    return pd.DataFrame([{
        "ID": row["record_id"], "ENTRYTYPE": "article", "title": value(row, "title"),
        "author": value(row, "author").replace("; ", " and "), "year": value(row, "year"),
        "journal": value(row, "journal"), "volume": value(row, "volume"),
        "number": value(row, "number"), "pages": value(row, "pages"),
        "abstract": value(row, "abstract"), "doi": value(row, "doi"),
    } for row in rows])


def run_bib_dedupe(rows: list[dict[str, str]]) -> tuple[Accuracy, float]:
    from bib_dedupe import bib_dedupe as bd

    frame = bib_dedupe_frame(rows)
    started = time.perf_counter()
    prepared = bd.prep(frame, verbosity_level=0)
    pairs = bd.block(prepared, verbosity_level=0)
    matches = bd.match(pairs, verbosity_level=0)
    groups = bd.cluster(matches, verbosity_level=0)
    seconds = time.perf_counter() - started
    labels = {row["record_id"]: row["source"] for row in rows}
    return measure_groups(groups, labels), seconds


def line(tool: str, accuracy: Accuracy, seconds: float) -> str:
    return (f"  {tool:<22} sensitivity {accuracy.sensitivity:.4f}  specificity "
            f"{accuracy.specificity:.4f}  ({accuracy.missed} missed, {accuracy.false_merges} "
            f"false merges)  {seconds:6.2f} s")


def main() -> None:
    try:
        other = version("bib-dedupe")
    except PackageNotFoundError:
        sys.exit(f"bib-dedupe is not installed: python3 -m pip install "
                 f"bib-dedupe=={BIB_DEDUPE_VERSION} (for this bench only)")
    if other != BIB_DEDUPE_VERSION:
        print(f"note: bib-dedupe {other} installed, the figures in docs/dedupe.md are for "
              f"{BIB_DEDUPE_VERSION}")
    print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    sets = [
        ("labelled set, with DOIs", read_rows(FIXTURES / "labelled_dev.csv")),
        ("labelled set, DOIs blanked", read_rows(FIXTURES / "labelled_dev.csv", True)),
        ("numbered titles", read_rows(FIXTURES / "numbers.csv")),
    ]
    ours(sets[-1][1])  # warm-up: imports, first database
    run_bib_dedupe(sets[-1][1])
    for name, rows in sets:
        uniques = sum(1 for row in rows if row["source"] == "unique")
        print(f"{name}: {len(rows)} records, {uniques} works")
        accuracy, seconds = ours(rows)
        print(line("evidence (ours)", accuracy, seconds))
        accuracy, seconds = run_bib_dedupe(rows)
        print(line(f"bib-dedupe {other}", accuracy, seconds))


if __name__ == "__main__":
    main()
