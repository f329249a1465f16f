"""Accuracy on the labelled development set (ASySD, see tests/fixtures/dedup/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

from evidence.config import DedupeSettings
from evidence.db.migrations import open_db
from evidence.dedupe.cluster import dedupe
from evidence.dedupe.evaluate import load_labelled, measure

LABELLED = Path(__file__).parent / "fixtures" / "dedup" / "labelled_dev.csv"


def test_accuracy_targets_on_labelled_set(db):
    labels = load_labelled(db, LABELLED)
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
