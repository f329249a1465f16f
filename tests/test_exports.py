"""Exports of the working database (RIS, CSV, BibTeX, xlsx) and the xlsx evidence table import."""

from __future__ import annotations

import csv
import io

import bibtexparser
import pytest
import rispy
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from evidence.cli import cli
from evidence.db.config_sync import sync_config
from evidence.db.migrations import open_db
from evidence.harvest.files.evidence_table import EvidenceTableError, import_evidence_table
from evidence.publish.exports import XLSX_COLUMNS, ExportError, export_records, select_records
from tests.publishing_data import NOTE, REVIEWER, seed_working_db


@pytest.fixture
def working(db, config):
    seed_working_db(db, config)
    return db


def test_select_records_carries_decision_reason_and_themes(working):
    rows = {r["id"]: r for r in select_records(working)}
    assert rows[1]["decision"] == "include" and rows[1]["summary"] == "Public summary of record 1."
    assert [t["slug"] for t in rows[1]["themes"]] == ["psychosocial-interventions", "loneliness"]
    assert rows[3]["decision"] == "exclude" and rows[3]["reason"] == "wrong-topic"
    assert rows[5]["decision"] is None
    assert rows[2]["searches"] == ["pubmed-mental-health", "pubmed-substance-use"]
    assert [r["id"] for r in select_records(working, decision="include")] == [1, 2, 6]
    assert [r["id"] for r in select_records(working, decision="undecided")] == [5]
    assert [r["id"] for r in select_records(working, theme="stigma")] == [2]


def test_theme_by_slug_or_name(working):
    by_slug = [r["id"] for r in select_records(working, theme="stigma")]
    assert by_slug and by_slug == [r["id"] for r in select_records(
        working, theme="stigma og diskriminering")]


def test_unknown_theme_is_an_error_naming_the_known_ones(working):
    with pytest.raises(ExportError, match="--theme 'nope': no such theme .*stigma"):
        list(select_records(working, theme="nope"))


def test_ris_export_reimports_with_rispy(working, tmp_path):
    out = tmp_path / "included.ris"
    count, _ = export_records(working, "ris", out, decision="include")
    assert count == 3
    entries = rispy.load(out.open(encoding="utf-8"))
    assert [e["title"] for e in entries][0].startswith("Peer support")
    first = entries[0]
    assert first["authors"] == ["Smith, Jane", "Doe, Anna"]
    assert first["year"] == "2024" and first["doi"] == "10.1186/peer.2024.1"
    assert first["abstract"].endswith("befriending reduced loneliness.")
    assert first["accession_number"] == "38000001"


def test_bibtex_export_parses(working):
    count, text = export_records(working, "bibtex", None, decision="include")
    entries = bibtexparser.loads(text).entries
    assert count == len(entries) == 3
    keys = {e["ID"] for e in entries}
    assert "smith2024" in keys
    smith = next(e for e in entries if e["ID"] == "smith2024")
    assert smith["author"] == "Smith, Jane and Doe, Anna"
    assert smith["journal"] == "BMC Psychiatry"


def test_csv_export_has_decisions(working):
    count, text = export_records(working, "csv", None)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert count == len(rows) == 6
    by_id = {r["id"]: r for r in rows}
    assert by_id["3"]["decision"] == "exclude" and by_id["3"]["reason"] == "wrong-topic"
    assert by_id["1"]["themes"] == "psychosocial-interventions; loneliness"


def test_xlsx_has_one_sheet_per_theme_group(working, tmp_path):
    out = tmp_path / "table.xlsx"
    assert export_records(working, "xlsx", out)[0] == 6
    book = load_workbook(out)
    # cut between words, unique (Excel allows 31 characters)
    assert book.sheetnames == ["Systematiske oversikter om", "Systematiske … om rusmiddelbruk",
                               "Uten tema eller ekskludert", "Norsk forskning"]
    sheet = book["Systematiske oversikter om"]
    header = [c.value for c in sheet[1]]
    assert header == list(XLSX_COLUMNS)
    first = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert first["reference"] == "Smith & Doe (2024)"
    assert first["decision"] == "include" and first["reviewer"] == REVIEWER
    assert first["note"] == f"{NOTE} 1"
    other = [[c.value for c in row]
             for row in book["Uten tema eller ekskludert"].iter_rows(min_row=2)]
    assert {row[header.index("record_id")] for row in other} == {3, 4, 5}


def test_xlsx_round_trip_keeps_decisions(working, config, tmp_path):
    out = tmp_path / "table.xlsx"
    export_records(working, "xlsx", out)
    fresh = open_db(tmp_path / "fresh.db")
    sync_config(fresh, config)
    result = import_evidence_table(fresh, out, config=config)
    assert result.entries == 6 and result.new_hits == 6 and result.decisions == 5
    assert result.warnings == []
    rows = {r["title"]: r for r in select_records(fresh)}
    original = {r["title"]: r for r in select_records(working)}
    for title, row in original.items():
        got = rows[title]
        assert got["decision"] == row["decision"], title
        assert got["reason"] == row["reason"], title
        assert got["summary"] == row["summary"], title
        assert got["note"] == row["note"], title
        assert [t["slug"] for t in got["themes"]] == [t["slug"] for t in row["themes"]], title
        assert got["authors"] == row["authors"] and got["year"] == row["year"]
    origins = {r["origin"] for r in fresh["decisions"].rows}
    assert origins == {"import"}
    assert {r["reviewer"] for r in fresh["decisions"].rows} == {REVIEWER}
    again = import_evidence_table(fresh, out, config=config)
    assert (again.new_hits, again.decisions, again.themes) == (0, 0, 0)


def test_hand_kept_norwegian_table(db, config, tmp_path):
    sync_config(db, config)
    book = Workbook()
    sheet = book.active
    sheet.append(["Referanse", "År", "Tittel", "Oppsummering", "Beslutning", "Årsak", "Tema"])
    sheet.append(["Berg 2024", 2024, "Ensomhet blant eldre", "Kort.", "Inkludert", None,
                  "Sosial isolasjon og ensomhet"])
    sheet.append(["Lie 2023", 2023, "Hoftebrudd", None, "ekskluder", "Feil tema", "Ukjent tema"])
    sheet.append([None, None, None, None, None, None, None])
    path = tmp_path / "evidenstabell.xlsx"
    book.save(path)
    result = import_evidence_table(db, path, config=config)
    assert result.entries == 2 and result.decisions == 2 and result.themes == 1
    assert len(result.warnings) == 1 and "Ukjent tema" in result.warnings[0]
    rows = {r["title"]: r for r in select_records(db)}
    assert rows["Ensomhet blant eldre"]["decision"] == "include"
    assert rows["Hoftebrudd"]["reason"] == "wrong-topic"
    assert {r["reviewer"] for r in db["decisions"].rows} == {"import"}


def test_bad_decision_names_sheet_and_row_and_leaves_db_unchanged(db, config, tmp_path):
    sync_config(db, config)
    book = Workbook()
    book.active.append(["title", "decision"])
    book.active.append(["A title", "perhaps"])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    with pytest.raises(EvidenceTableError, match=r"bad.xlsx: sheet 'Sheet' row 2: decision"):
        import_evidence_table(db, path, config=config)
    assert db["hits"].count == 0 and db["runs"].count == 0


def test_not_a_workbook(db, tmp_path):
    path = tmp_path / "junk.xlsx"
    path.write_bytes(b"\x00\x01 not a zip")
    with pytest.raises(EvidenceTableError, match="junk.xlsx: not a readable xlsx"):
        import_evidence_table(db, path)


def test_export_command(working, db_path, config_path, tmp_path):
    working.close()
    runner = CliRunner()
    base = ["--db", str(db_path), "--config", str(config_path)]
    result = runner.invoke(cli, ["export", "--format", "ris", "--decision", "include", *base])
    assert result.exit_code == 0, result.output
    assert len(rispy.loads(result.stdout)) == 3
    out = tmp_path / "t.xlsx"
    result = runner.invoke(cli, ["export", "--format", "xlsx", "--theme", "stigma",
                                 "--out", str(out), *base])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames == ["Systematiske oversikter om",
                                             "Systematiske … om rusmiddelbruk"]
    result = runner.invoke(cli, ["export", "--format", "xlsx", *base])
    assert result.exit_code == 1
    assert "Error: --format xlsx needs --out FILE.xlsx" in result.output


def test_evidence_import_command_reads_the_xlsx_with_its_decisions(working, config_path,
                                                                   tmp_path):
    """`evidence import table.xlsx` (format detected) goes through import_evidence_table."""
    out = tmp_path / "table.xlsx"
    export_records(working, "xlsx", out)
    fresh_path = tmp_path / "fresh.db"
    result = CliRunner().invoke(cli, ["import", str(out), "--db", str(fresh_path),
                                      "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    assert "6 entries read as xlsx, 6 new hits" in result.output
    fresh = open_db(fresh_path)
    decisions = {r["title"]: r["decision"] for r in select_records(fresh)}
    assert decisions == {r["title"]: r["decision"] for r in select_records(working)}
    assert {r["origin"] for r in fresh["decisions"].rows} == {"import"}


def test_ris_keeps_the_url_without_a_rispy_warning(recwarn):
    from evidence.publish.exports import ris_text

    text = ris_text([{"id": 1, "title": "T", "url": "https://example.org/a", "authors": []}])
    assert rispy.loads(text)[0]["urls"] == ["https://example.org/a"]
    assert not [w for w in recwarn if "not exported" in str(w.message)]


def test_editors_are_cited_where_a_work_has_no_author():
    from evidence.publish.exports import bibtex_entry, ris_text

    record = {"id": 1, "title": "Handbook of municipal mental health", "item_type": "book",
              "authors": "[]", "year": 2024,
              "creators": '[{"role": "editor", "name": "Adam, Margaret P"},'
                          ' {"role": "contributor", "name": "Other, A"}]'}
    assert "A2  - Adam, Margaret P" in ris_text([record])
    assert "Other, A" not in ris_text([record])
    assert bibtex_entry(record)["editor"] == "Adam, Margaret P"


def test_ris_has_no_numbered_line_before_a_record():
    from evidence.publish.exports import ris_text

    text = ris_text([{"id": 1, "title": "A"}, {"id": 2, "title": "B"}])
    assert text.startswith("TY  - ") and "\n\nTY  - " in text
    assert not any(line.rstrip(".").isdigit() for line in text.splitlines())


def test_a_work_without_authors_is_referenced_by_its_editors():
    from evidence.publish.exports import reference

    editors = '[{"role": "editor", "name": "Moe, Kari"}, {"role": "editor", "name": "Dahl, Ola"}]'
    assert reference({"authors": [], "creators": editors, "year": 2024}) == \
        "Moe & Dahl (red.) (2024)"
    assert reference({"authors": [], "editors": "Moe, Kari", "year": 2024}, "en") == \
        "Moe (ed.) (2024)"
    assert reference({"authors": ["Smith, Jane"], "creators": editors, "year": 2024}) == \
        "Smith (2024)"
    assert reference({"authors": [], "year": None}) == "- (n.d.)"
