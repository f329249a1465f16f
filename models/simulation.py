"""Screening simulations on labelled files: ``evidence simulate`` and ``evidence simulate-themes``.

They read the files, check them (an error names the file, line and column), run the app's own
ranking (:mod:`models.ranking`) or theme suggester (:mod:`models.theme_suggestions`)
exactly as the screening app does, and write the order or the suggestions.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evidence.errors import EvidenceError
from evidence.models import ranking, theme_suggestions


@dataclass(frozen=True)
class Row:
    record_id: str
    title: str
    abstract: str
    value: str  # the label (0/1) or the ';'-separated themes
    journal: str = ""


def _rows(path: str | Path, value_column: str) -> Iterator[tuple[int, Row]]:
    """(line, row) of a CSV with ``record_id,title,abstract`` and ``value_column``."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise EvidenceError(f"{path}: cannot read ({e.strerror})") from e
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("record_id", "title", "abstract", value_column)
                   if c not in (reader.fieldnames or [])]
        if missing:
            raise EvidenceError(f"{path}:1: missing column(s) {', '.join(missing)}")
        seen: set[str] = set()
        for row in reader:
            line = reader.line_num
            record_id = (row["record_id"] or "").strip()
            if not record_id:
                raise EvidenceError(f"{path}:{line}: record_id: empty")
            if record_id in seen:
                raise EvidenceError(f"{path}:{line}: record_id: {record_id} appears twice")
            seen.add(record_id)
            yield line, Row(record_id, row["title"] or "", row["abstract"] or "",
                            (row[value_column] or "").strip(), (row.get("journal") or ""))


def read_labelled(path: str | Path) -> list[Row]:
    """Rows of a labelled set; ``label_included`` must be 0 or 1 on every line."""
    rows = []
    for line, row in _rows(path, "label_included"):
        if row.value not in ("0", "1"):
            raise EvidenceError(f"{path}:{line}: label_included: {row.value!r} is not 0 or 1")
        rows.append(row)
    if not rows:
        raise EvidenceError(f"{path}: no records")
    return rows


def read_themed(path: str | Path) -> list[Row]:
    """Rows with ``themes`` (theme ids, ``;``-separated; may be empty)."""
    return [row for _, row in _rows(path, "themes")]


@dataclass(frozen=True)
class Legend:
    """Theme headings and groups (``--themes``): what the app knows from its configuration."""

    names: list[theme_suggestions.Example]
    groups: dict[str, str]


def read_legend(path: str | Path) -> Legend:
    """A theme legend CSV: ``theme_id,heading`` and optionally ``group``, one theme a line."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise EvidenceError(f"{path}: cannot read ({e.strerror})") from e
    names, groups = [], {}
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("theme_id", "heading") if c not in (reader.fieldnames or [])]
        if missing:
            raise EvidenceError(f"{path}:1: missing column(s) {', '.join(missing)}")
        for row in reader:
            theme, heading = (row["theme_id"] or "").strip(), (row["heading"] or "").strip()
            group = (row.get("group") or "").strip()
            for column, value in (("theme_id", theme), ("heading", heading)):
                if not value:
                    raise EvidenceError(f"{path}:{reader.line_num}: {column}: empty")
            names.append(theme_suggestions.name_example(theme, [heading, group]))
            if group:
                groups[theme] = group
    if not names:
        raise EvidenceError(f"{path}: no themes")
    return Legend(names, groups)


def simulate_order(rows: list[Row], prior_included: list[str],
                   prior_excluded: list[str]) -> list[tuple[str, int]]:
    """(record_id, label) in the order the app's ranking shows them, priors first."""
    index = {row.record_id: i for i, row in enumerate(rows)}
    labels = [int(row.value) for row in rows]
    priors = []
    for record_id, wanted in [(r, 1) for r in prior_included] + [(r, 0) for r in prior_excluded]:
        if record_id not in index:
            raise EvidenceError(f"prior record {record_id} is not in the file")
        if labels[index[record_id]] != wanted:
            kind = "included" if wanted else "excluded"
            raise EvidenceError(f"prior record {record_id} is not labelled {kind} in the file")
        priors.append(index[record_id])
    if len(set(priors)) != len(priors):
        raise EvidenceError("a prior record is given twice")
    n_inc = len(prior_included)
    order = ranking.simulate([(row.title, row.abstract) for row in rows], labels,
                             priors[:n_inc], priors[n_inc:])
    return [(rows[i].record_id, labels[i]) for i in order]


def simulate_themes(train: list[Row], test: list[Row], legend: Legend | None = None,
                    settings: theme_suggestions.Settings = theme_suggestions.DEFAULTS,
                    ) -> list[tuple[str, list[str]]]:
    """For each test row in order: up to three theme ids, learned from the training rows and
    the test rows before it (their themes revealed once suggested, as a reviewer sets them),
    and from the legend's headings and groups when given (as the app uses its configured
    themes)."""
    known = [theme_suggestions.Example(r.title, r.abstract, r.journal, _themes(r))
             for r in train if _themes(r)] + (legend.names if legend else [])
    groups = legend.groups if legend else None
    result = []
    for row in test:
        suggestions = theme_suggestions.suggest(known, row.title, row.abstract, row.journal,
                                                groups=groups, settings=settings)
        result.append((row.record_id, [s.theme for s in suggestions]))
        if _themes(row):
            known.append(theme_suggestions.Example(row.title, row.abstract, row.journal,
                                                   _themes(row)))
    return result


def _themes(row: Row) -> tuple[str, ...]:
    return tuple(t.strip() for t in row.value.split(";") if t.strip())


def write_csv(path: str | Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
