"""Hostile or concurrent input: two imports at once, PubMed XML without a DTD, an xlsx bomb
(issue 13)."""

from __future__ import annotations

import sqlite3
import threading
import zipfile

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from evidence.cli import cli
from evidence.db.migrations import open_db
from evidence.harvest.files import evidence_table
from evidence.harvest.files.evidence_table import EvidenceTableError, read_evidence_table
from evidence.harvest.pubmed.client import PubMedError, parse_articles


def test_a_second_writer_waits_instead_of_dying_with_database_is_locked(db_path):
    """Both transactions read first and write later, as ``sync_config`` and an import do.

    With a plain BEGIN the second one's stale snapshot could not be upgraded and SQLite said
    "database is locked" at once, although the first had long finished.
    """
    first, second = open_db(db_path), open_db(db_path)
    first_read, second_wrote = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer_two():
        try:
            first_read.wait(5)
            with second.atomic():
                second.execute("SELECT count(*) FROM searches").fetchone()
                second.execute("INSERT INTO sync_state (key, value) VALUES ('two', '2')")
            second_wrote.set()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            second_wrote.set()

    thread = threading.Thread(target=writer_two)
    thread.start()
    with first.atomic():
        first.execute("SELECT count(*) FROM searches").fetchone()
        first_read.set()
        second_wrote.wait(0.5)  # the second commits here, unless it must wait for us
        first.execute("INSERT INTO sync_state (key, value) VALUES ('one', '1')")
    thread.join(15)
    assert not errors, errors
    keys = {row[0] for row in first.execute("SELECT key FROM sync_state")}
    assert {"one", "two"} <= keys


def test_locked_database_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    holder = sqlite3.connect("evidence.db", timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    monkeypatch.setattr("evidence.db.migrations.BUSY_TIMEOUT_MS", 100)
    try:
        result = CliRunner().invoke(cli, ["init"])
    finally:
        holder.rollback()
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1].startswith("Error: the database is busy"), result.output


PUBMED_HEAD = '<?xml version="1.0"?>'
ARTICLE = ("<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>"
           "</MedlineCitation></PubmedArticle></PubmedArticleSet>")


@pytest.mark.parametrize("doctype", [
    "",  # no DTD at all
    '<!DOCTYPE PubmedArticleSet SYSTEM "http://127.0.0.1:9/evil.dtd">',
    '<!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
])
def test_hostile_pubmed_xml_is_a_clear_error(doctype):
    with pytest.raises(PubMedError, match="the answer is not PubMed XML"):
        parse_articles((PUBMED_HEAD + doctype + ARTICLE).encode())


def _xlsx_with_big_cell(path, size: int) -> None:
    """A workbook whose one cell holds ``size`` characters (openpyxl itself would cut it at
    Excel's 32,767, so the sheet part is rewritten inside the zip)."""
    book = Workbook()
    book.active.append(["title", "abstract"])
    book.active.append(["A title", "PLACEHOLDER"])
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"PLACEHOLDER", b"x" * size)
            out.writestr(info, data, zipfile.ZIP_DEFLATED)


def test_xlsx_that_unzips_too_large_fails_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence_table, "MAX_UNZIPPED", 1_000_000)
    path = tmp_path / "bomb.xlsx"
    _xlsx_with_big_cell(path, 2_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(EvidenceTableError, match="unzips to 2 MB, more than the 1 MB"):
        list(read_evidence_table(path))
