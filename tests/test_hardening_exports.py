"""Exports that cannot be turned against their readers (issue 13): no live formulas in CSV or
xlsx, and RIS / BibTeX that re-import to exactly the records exported."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from evidence.harvest.files import read_file
from evidence.publish.exports import bibtex_text, bibtex_value, export_records, ris_text
from tests.publishing_data import seed_working_db

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(1)",
            "\t=1", "cmd|' /C calc'!A0"]


@pytest.fixture
def hostile_db(db, config):
    seed_working_db(db, config)
    db["records"].update(1, {"title": FORMULAS[0], "journal": "@SUM(A1:A2)"})
    db["records"].update(2, {"title": "=cmd|' /C calc'!A0\x07"})
    return db


def test_csv_export_neutralises_formulas(hostile_db):
    _count, text = export_records(hostile_db, "csv", None)
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text))}
    assert rows["1"]["title"] == "'" + FORMULAS[0]
    assert rows["1"]["journal"] == "'@SUM(A1:A2)"
    assert rows["2"]["title"].startswith("'=cmd|")
    for row in rows.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_xlsx_export_has_no_formula_cells_and_keeps_the_text(hostile_db, tmp_path):
    out = tmp_path / "table.xlsx"
    export_records(hostile_db, "xlsx", out)
    book = load_workbook(out)
    titles = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(("=", "@")):
                    assert cell.quotePrefix
            titles.append(row[2].value)
    assert FORMULAS[0] in titles  # the text itself is unchanged
    assert "=cmd|' /C calc'!A0" in titles  # the control character xlsx cannot hold is gone


HOSTILE = [
    {"id": 1, "title": "A } , author = {Evil} , x = {", "authors": ["Smith, Jane"],
     "year": 2024, "summary": "one\nER  - \nTY  - JOUR\nTI  - Injected record",
     "abstract": "BACKGROUND: x\n\n@article{forged, title={pwned}}"},
    {"id": 2, "title": "\n@article{evil,\n title={pwned}\n}\n", "authors": ["Doe, A"],
     "year": 2023, "note": "x\r\nER  - "},
    {"id": 3, "title": "Ends in a backslash \\", "authors": ["O'Brien, {X"], "year": 2022},
    {"id": 4, "title": "Balanced {COVID}-19 braces", "authors": ["Lie, Siri"], "year": 2021},
]


@pytest.mark.parametrize("fmt", ["ris", "bibtex"])
def test_export_reimports_to_exactly_the_records_exported(fmt, tmp_path):
    path = tmp_path / f"export.{fmt}"
    path.write_text((ris_text if fmt == "ris" else bibtex_text)(HOSTILE), encoding="utf-8")
    hits = list(read_file(path, fmt))
    assert len(hits) == len(HOSTILE)

    def plain(text: str) -> str:
        if fmt == "bibtex":  # the reader drops braces, as BibTeX readers do
            text = bibtex_value(text).replace("{", "").replace("}", "")
        return " ".join(text.split())

    assert [h["title"] for h in hits] == [plain(r["title"]) for r in HOSTILE]
    assert [h["authors"] for h in hits] == [[plain(a) for a in r["authors"]] for r in HOSTILE]
    assert [int(h["year"]) for h in hits] == [r["year"] for r in HOSTILE]
