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
from evidence.harvest import files
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


def test_hostile_pubmed_xml_is_a_clear_error():
    doctype = '<!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    with pytest.raises(PubMedError, match="the answer is not PubMed XML"):
        parse_articles((PUBMED_HEAD + doctype + ARTICLE).encode())


@pytest.mark.parametrize("doctype", [
    "",  # no DTD at all
    '<!DOCTYPE PubmedArticleSet SYSTEM "http://127.0.0.1:9/evil.dtd">',
])
def test_a_pubmed_dtd_line_is_never_fetched(doctype):
    """Any DOCTYPE line (or none) is replaced by a DTD Biopython bundles: nothing is fetched,
    and the articles are read."""
    (article,) = parse_articles((PUBMED_HEAD + doctype + ARTICLE).encode())
    assert str(article["MedlineCitation"]["PMID"]) == "1"


def _xlsx_with_big_cell(path, size: int) -> None:
    """A workbook whose one cell holds ``size`` characters (openpyxl itself would cut it at
    Excel's 32,767, so the sheet part is rewritten inside the zip)."""
    _xlsx_rewritten(path, lambda data: data.replace(b"PLACEHOLDER", b"x" * size))


def _xlsx_rewritten(path, rewrite) -> None:
    """A small workbook whose sheet part is passed through ``rewrite`` (bytes -> bytes)."""
    book = Workbook()
    book.active.append(["title", "abstract"])
    book.active.append(["A title", "PLACEHOLDER"])
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = rewrite(data)
            out.writestr(info, data, zipfile.ZIP_DEFLATED)


def test_xlsx_that_unzips_too_large_fails_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence_table, "MAX_UNZIPPED", 1_000_000)
    path = tmp_path / "bomb.xlsx"
    _xlsx_with_big_cell(path, 2_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(EvidenceTableError, match="unzips to 2 MB, more than the 1 MB"):
        list(read_evidence_table(path))


@pytest.mark.parametrize("declaration", [
    b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
])
def test_xlsx_with_an_entity_bomb_or_xxe_is_refused_by_name(tmp_path, declaration):
    path = tmp_path / "entities.xlsx"
    _xlsx_rewritten(path, lambda data: b'<?xml version="1.0"?>' + declaration + data)
    for read in (read_evidence_table, lambda p: files.read_file(p, "xlsx")):
        with pytest.raises(EvidenceTableError, match="sheet1.xml declares a DTD or entities"):
            list(read(path))


def test_xlsx_with_a_huge_xml_comment_is_refused_in_linear_time(tmp_path):
    """A comment the size of the unzip cap made openpyxl take quadratic time (40 minutes)."""
    path = tmp_path / "comment.xlsx"
    comment = b"<!--" + b"c" * (3 * evidence_table.MAX_COMMENT) + b"-->"
    _xlsx_rewritten(path, lambda data: data.replace(b"<sheetData>", comment + b"<sheetData>"))
    with pytest.raises(EvidenceTableError, match="holds an XML comment over 1 MB"):
        list(read_evidence_table(path))


def test_a_giant_field_or_deep_braces_is_refused_naming_the_entry(tmp_path):
    big = tmp_path / "big.ris"
    big.write_text("TY  - JOUR\nTI  - Fine\nER  - \n\nTY  - JOUR\nTI  - " + "a" * 20_000
                   + "\nER  - \n", encoding="utf-8")
    from evidence.harvest.files import reading
    with pytest.raises(files.FileFormatError, match="big.ris: entry 2: title is 20,000"):
        list(reading.read_normalised(big, "ris"))
    nested = tmp_path / "nested.bib"
    nested.write_text("@article{k1,\n title = {" + "{" * 5000 + "x" + "}" * 5000 + "}\n}\n",
                      encoding="utf-8")
    with pytest.raises(files.FileFormatError, match="entry 1 'k1' .line 1.: braces nested"):
        list(files.read_file(nested, "bibtex"))
