"""Deduplication: folds hits into one record per work.

Exact keys and blocked fuzzy scoring (``keys``, ``score``), clustering and pair decisions
(``cluster``), and accuracy on labelled sets (``evaluate``).
"""
