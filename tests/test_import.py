"""import_file and `evidence import`: one transaction, idempotent, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.harvest import store
from evidence.harvest.files import FileFormatError
from evidence.harvest.files.importing import import_file

EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"
TABLES = ("searches", "runs", "hits", "records")


def counts(db) -> dict[str, int]:
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def test_import_stores_hits_with_values(db):
    result = import_file(db, EXPORTS / "asreview/pubmed_zotero.ris", source="pubmed-zotero")
    assert (result.entries, result.new_hits, result.already_stored) == (6, 6, 0)
    assert result.format == "ris"
    hit = next(db["hits"].rows_where("doi = ?", ["10.5114/pg.2018.81081"]))
    assert hit["year"] == 2019
    assert json.loads(hit["authors"])[0] == "Rudnik, Agata"
    assert hit["source"] == "file"
    run = db["runs"].get(result.run_id)
    assert (run["status"], run["hit_count"], run["new_hit_count"]) == ("complete", 6, 6)
    assert run["file_sha256"]


def test_same_file_twice_adds_no_hits(db):
    path = EXPORTS / "asysd/zotero_export_first25.xml"
    first = import_file(db, path, source="zotero")
    before = counts(db)
    again = import_file(db, path, source="zotero")
    assert (first.new_hits, again.new_hits, again.already_stored) == (25, 0, 25)
    after = counts(db)
    assert after["hits"] == before["hits"] == 25
    assert after["records"] == before["records"]
    assert after["runs"] == before["runs"] + 1


def test_failed_import_leaves_the_database_unchanged(db, tmp_path):
    import_file(db, EXPORTS / "asysd/test_export.ris", source="idunn")
    before = counts(db)
    bad = tmp_path / "idunn.ris"
    good = (EXPORTS / "asreview/pubmed_zotero.ris").read_text(encoding="utf-8")
    bad.write_text(good + "TY  - JOUR\nTI  - Cut off here\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"idunn.ris: entry 7 \(line \d+\) has no end tag"):
        import_file(db, bad, source="idunn")
    assert counts(db) == before


def test_import_of_latin1_csv_stores_nothing(db, tmp_path):
    path = tmp_path / "kudos.csv"
    path.write_bytes("title,year\nRusarbeid i Bodø,2024\n".encode("latin-1"))
    with pytest.raises(FileFormatError, match="kudos.csv: line 2 is not UTF-8"):
        import_file(db, path)
    assert counts(db) == {"searches": 0, "runs": 0, "hits": 0, "records": 0}


def test_xlsx_is_detected_and_read_through_evidence_table(db, tmp_path):
    path = tmp_path / "evidenstabell.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["title", "authors", "year", "doi", "journal"])
    sheet.append(["Ensomhet blant eldre", "Hansen, Kari; Berg, Ola", 2024,
                  "https://doi.org/10.1234/ABC.1", "Tidsskrift for psykisk helsearbeid"])
    workbook.save(path)
    result = import_file(db, path)
    assert (result.format, result.new_hits) == ("xlsx", 1)
    hit = next(db["hits"].rows)
    assert (hit["title"], hit["year"], hit["doi"]) == ("Ensomhet blant eldre", 2024,
                                                       "10.1234/abc.1")


def test_xlsx_rows_left_out_are_named(db, tmp_path):
    """Entries read equal the rows, or the import says which it left out and why."""
    path = tmp_path / "evidenstabell.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Ark1"
    sheet.append(["title", "year", "doi"])
    sheet.append(["Ensomhet blant eldre", 2024, "10.1234/abc.1"])
    sheet.append([None, 2024, "10.1234/abc.2"])
    sheet.append(["Ensomhet blant eldre (kopi)", 2024, "10.1234/ABC.1"])
    workbook.save(path)
    result = import_file(db, path)
    assert result.entries == 1
    assert result.warnings == [
        f"{path}: sheet 'Ark1' row 3: no title (row skipped)",
        f"{path}: sheet 'Ark1' row 4: the same work as an earlier row (same DOI, PMID or "
        "title and year), read as one hit"]


def test_save_hits_update_existing_refreshes_fields(db):
    search_id = store.ensure_search(db, "zotero-lib", source="zotero")
    run = store.start_run(db, search_id)
    assert store.save_hits(db, run, [{"external_id": "K1", "title": "Old"},
                                     {"external_id": "K2", "title": "Two"}]) == (2, 0)
    run2 = store.start_run(db, search_id)
    assert store.save_hits(db, run2, [{"external_id": "K1", "title": "New"}],
                           update_existing=True) == (0, 1)
    assert store.save_hits(db, run2, [{"external_id": "K2", "title": None}]) == (0, 1)
    titles = {r["external_id"]: (r["title"], r["run_id"]) for r in db["hits"].rows}
    assert titles == {"K1": ("New", run), "K2": ("Two", run)}  # an empty field blanks nothing
    assert db["runs"].get(run2)["hit_count"] == 2


def test_save_hits_counts_a_repeat_within_one_batch_as_stored(db):
    run = store.start_run(db, store.ensure_search(db, "x"))
    hits = [{"external_id": str(i % 700), "title": f"T{i}"} for i in range(1200)]
    assert store.save_hits(db, run, hits) == (700, 500)


# -- CLI ------------------------------------------------------------------------------------


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_cli_import_reports_counts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXPORTS / "asysd/test_export.bib", tmp_path / "refs.bib")
    result = invoke(["import", "refs.bib", "--source", "scholar", "--new-search"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("refs.bib: 3 entries read as bibtex, 3 new hits, "
                                    "0 already stored (search 'scholar', run 1)")
    again = invoke(["import", "refs.bib", "--source", "scholar"])
    assert "0 new hits, 3 already stored" in again.output


def test_cli_import_truncated_file_gives_error_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cut.ris").write_text("TY  - JOUR\nTI  - A\nER  - \n\nTY  - JOUR\nTI  - B\n",
                                      encoding="utf-8")
    result = invoke(["import", "cut.ris"])
    assert result.exit_code == 1
    assert result.output == ("Error: cut.ris: entry 2 (line 5) has no end tag 'ER  -'; the "
                             "file looks truncated: export it again\n")


def test_cli_import_wrong_format_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXPORTS / "asysd/test_export.csv", tmp_path / "refs.csv")
    result = invoke(["import", "refs.csv", "--format", "nbib"])
    assert result.exit_code == 1
    assert result.output == ("Error: refs.csv: no MEDLINE records found (no 'PMID- ' or "
                             "'TI  - ' lines)\n")
