"""Accuracy of the deduplication on a labelled set (ASySD's format), for tests and the bench.

The set has no cluster ids: each row is ``unique`` (the copy to keep) or ``duplicate``. A
record holding no ``unique`` row is a missed duplicate; one holding k > 1 merged k - 1
distinct works (false merges). See tests/fixtures/dedup/SOURCES.md.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from evidence.harvest import store

COLUMNS = ("author", "title", "year", "journal", "abstract", "doi", "number", "pages",
           "volume", "isbn")
_MISSING = {"", "NA"}


@dataclass
class Accuracy:
    duplicates: int
    uniques: int
    missed: int
    false_merges: int

    @property
    def sensitivity(self) -> float:
        return (self.duplicates - self.missed) / self.duplicates if self.duplicates else 1.0

    @property
    def specificity(self) -> float:
        return 1 - self.false_merges / self.uniques if self.uniques else 1.0


def load_labelled(db: sqlite_utils.Database, path: str | Path, search: str = "labelled",
                  part: slice = slice(None)) -> dict[str, str]:
    """Store the set's rows (or a ``part`` of them) as hits of one run.

    Returns external id -> ``unique``/``duplicate`` for the rows stored.
    """
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[part]
    run_id = store.start_run(db, store.ensure_search(db, search))
    hits = []
    for row in rows:
        value = {k: (None if row[k] in _MISSING else row[k]) for k in COLUMNS}
        hits.append({
            "external_id": row["record_id"], "title": value["title"],
            "abstract": value["abstract"], "authors": value["author"], "year": value["year"],
            "journal": value["journal"], "doi": value["doi"], "issue": value["number"],
            "pages": value["pages"], "volume": value["volume"], "isbn": value["isbn"],
        })
    store.save_hits(db, run_id, hits)
    store.finish_run(db, run_id)
    return {row["record_id"]: row["source"] for row in rows}


def measure(db: sqlite_utils.Database, labels: dict[str, str]) -> Accuracy:
    """Score the records the hits of a labelled set ended up in."""
    groups: dict[int, list[str]] = {}
    for external_id, record_id in db.execute("SELECT external_id, record_id FROM hits"):
        groups.setdefault(record_id, []).append(external_id)
    return measure_groups(groups.values(), labels)


def measure_groups(groups: Iterable[Iterable[str]], labels: dict[str, str]) -> Accuracy:
    """Score any deduplication's result: groups of record ids, one group per kept record
    (another tool's clusters, in bench/dedupe_compare.py). Ids in no group stand alone."""
    uniques: list[int] = []
    seen: set[str] = set()
    for group in groups:
        members = list(group)
        seen.update(members)
        uniques.append(sum(1 for m in members if labels.get(m) == "unique"))
    uniques.extend(1 if label == "unique" else 0
                   for record_id, label in labels.items() if record_id not in seen)
    counts = Counter(labels.values())
    return Accuracy(
        duplicates=counts["duplicate"], uniques=counts["unique"],
        missed=sum(1 for k in uniques if k == 0),
        false_merges=sum(k - 1 for k in uniques if k > 1),
    )
