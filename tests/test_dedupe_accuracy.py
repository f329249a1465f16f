"""Accuracy on the labelled development set (ASySD, see tests/fixtures/dedup/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

from evidence.config import DedupeSettings
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


def test_labelled_set_in_two_halves_gives_the_same_accuracy(db):
    """Incremental: the second half is matched against the records of the first."""
    labels = load_labelled(db, LABELLED, "first", slice(0, 369))
    dedupe(db)
    labels.update(load_labelled(db, LABELLED, "second", slice(369, None)))
    result = dedupe(db)
    assert result.hits == 738 - 369
    accuracy = measure(db, labels)
    assert accuracy.sensitivity >= 0.99, accuracy
    assert accuracy.specificity >= 0.995, accuracy
