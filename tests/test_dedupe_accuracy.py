"""Accuracy on the labelled development set (ASySD, see tests/fixtures/dedup/SOURCES.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from evidence.config import DedupeSettings
from evidence.db.migrations import open_db
from evidence.dedupe.cluster import Steps, dedupe
from evidence.dedupe.evaluate import load_labelled, measure

LABELLED = Path(__file__).parent / "fixtures" / "dedup" / "labelled_dev.csv"
NUMBERS = LABELLED.with_name("numbers.csv")


def without_dois(tmp_path: Path) -> Path:
    """The labelled set with every DOI blanked: the normal case for Idunn, Google Scholar
    and grey literature."""
    with open(LABELLED, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    path = tmp_path / "labelled_no_doi.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "doi": "NA"} for row in rows)
    return path


@pytest.mark.parametrize("dois", [True, False], ids=["with DOIs", "without DOIs"])
def test_accuracy_targets_on_labelled_set(db, tmp_path, dois):
    labels = load_labelled(db, LABELLED if dois else without_dois(tmp_path))
    result = dedupe(db, DedupeSettings())
    assert result.hits == 738
    accuracy = measure(db, labels)
    assert accuracy.sensitivity >= 0.99, accuracy
    assert accuracy.specificity >= 0.995, accuracy


def test_labelled_set_in_two_halves_gives_the_same_accuracy(db, tmp_path):
    """Incremental: the second half matched against the records of the first finds what one
    run over the whole set finds."""
    labels = load_labelled(db, LABELLED, "first", slice(0, 369))
    dedupe(db)
    labels.update(load_labelled(db, LABELLED, "second", slice(369, None)))
    result = dedupe(db)
    assert result.hits == 738 - 369
    halves = measure(db, labels)
    whole_db = open_db(tmp_path / "whole.db")
    whole_labels = load_labelled(whole_db, LABELLED)
    dedupe(whole_db)
    whole = measure(whole_db, whole_labels)
    assert (halves.duplicates, halves.uniques) == (whole.duplicates, whole.uniques)
    assert abs(halves.missed - whole.missed) <= 1, (halves, whole)
    assert abs(halves.false_merges - whole.false_merges) <= 1, (halves, whole)
    assert halves.sensitivity >= 0.99 and halves.specificity >= 0.995, halves


def test_numbered_titles_set(db):
    """Parts, waves, yearly editions, follow-ups and year ranges stay apart; one work with
    its number written two ways is one record (tests/fixtures/dedup/numbers.csv)."""
    labels = load_labelled(db, NUMBERS)
    dedupe(db, DedupeSettings())
    accuracy = measure(db, labels)
    assert (accuracy.missed, accuracy.false_merges) == (0, 0), accuracy


@pytest.mark.parametrize("idle", [False, True], ids=["busy", "idle"])
def test_labelled_set_deduplicated_in_steps_while_it_is_imported(db, tmp_path, monkeypatch,
                                                                 idle):
    """An import deduplicates in growing steps while it reads (cluster.Steps), keeping the
    fingerprints and blocks between passes: the same accuracy as one run over the whole set.
    An importer waiting for its file (``idle``) deduplicates in smaller steps still."""
    monkeypatch.setattr(Steps, "FIRST", 60)
    passes = []
    monkeypatch.setattr(Steps, "run", lambda self, run=Steps.run: (passes.append(1),
                                                                       run(self)))
    steps = Steps(db, DedupeSettings())
    labels: dict[str, str] = {}
    for start in range(0, 738, 50):
        part = load_labelled(db, LABELLED, "labelled", slice(start, start + 50))
        labels.update(part)
        steps.added(len(part))
        if idle:
            steps.idle()
    result = steps.finish()
    assert result.hits == 738 and len(passes) >= (14 if idle else 4)
    stepped = measure(db, labels)
    whole_db = open_db(tmp_path / "whole.db")
    whole_labels = load_labelled(whole_db, LABELLED)
    dedupe(whole_db)
    whole = measure(whole_db, whole_labels)
    assert abs(stepped.missed - whole.missed) <= 1, (stepped, whole)
    assert abs(stepped.false_merges - whole.false_merges) <= 1, (stepped, whole)
    assert stepped.sensitivity >= 0.99 and stepped.specificity >= 0.995, stepped
