"""harvest/files/reading.py: an export read and normalised in a second process, stored here."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from evidence.errors import EvidenceError
from evidence.harvest.files import reading
from evidence.harvest.files.importing import import_file
from tests.test_import import EXPORTS, counts
from tests.test_import import (
    test_failed_import_leaves_the_database_unchanged as failed_import_leaves_database_unchanged,
)


@pytest.fixture
def child_reader(monkeypatch):
    """Every file read in a child process, however small."""
    monkeypatch.setattr(reading, "MIN_BYTES", 0)
    monkeypatch.setattr(reading, "BATCH", 2)


def test_child_reader_gives_the_same_rows_in_order(child_reader, monkeypatch):
    path = EXPORTS / "asysd/test_export.ris"
    piped = [row for batch in reading.read_normalised(path, "ris") for row in batch]
    monkeypatch.setattr(reading, "MIN_BYTES", 10**12)
    direct = [row for batch in reading.read_normalised(path, "ris") for row in batch]
    assert piped == direct and len(piped) > 2


def test_importer_is_told_when_it_would_wait_for_the_child(child_reader, monkeypatch):
    """``idle`` runs while the next batch is still being read (the importer deduplicates
    then); the rows are the same."""
    path = EXPORTS / "asysd/test_export.ris"
    normalise = reading.store.normalise_hit

    def slowly(entry):  # a slow reading process, so the importer waits on a busy machine too
        time.sleep(0.05)
        return normalise(entry)

    monkeypatch.setattr(reading.store, "normalise_hit", slowly)
    waits = []
    piped = [row for batch in reading.read_normalised(
        path, "ris", annotate=lambda row: time.sleep(0.002), idle=lambda: waits.append(1))
        for row in batch]
    direct = [row for batch in reading._batches(path, "ris") for row in batch]
    assert [r["external_id"] for r in piped] == [r["external_id"] for r in direct]
    assert waits


@pytest.mark.parametrize("child", [True, False], ids=["child-annotates", "importer-annotates"])
def test_every_row_is_annotated_once_by_one_side_or_the_other(child_reader, monkeypatch, child):
    """The child annotates unless the importer waits for it, else the importer does:
    either way each row reaches the importer annotated, exactly once."""
    monkeypatch.setattr(reading, "child_annotates", lambda waits: child)
    path = EXPORTS / "asysd/test_export.ris"

    def count(row):
        row["annotated"] = row.get("annotated", 0) + 1

    rows = [row for batch in reading.read_normalised(path, "ris", annotate=count)
            for row in batch]
    direct = [row for batch in reading._batches(path, "ris", count) for row in batch]
    assert rows == direct and {row["annotated"] for row in rows} == {1}


def test_import_through_the_child_counts_exactly_and_reimport_adds_nothing(db, child_reader):
    path = EXPORTS / "asysd/test_export.ris"
    first = import_file(db, path, source="idunn")
    entries = sum(len(b) for b in reading._batches(path, "ris"))
    assert (first.entries, first.new_hits, first.already_stored) == (entries, entries, 0)
    before = counts(db)
    again = import_file(db, path, source="idunn")
    assert (again.new_hits, again.already_stored) == (0, entries)
    assert counts(db)["hits"] == before["hits"]


def test_error_in_the_child_reaches_the_importer_and_stores_nothing(db, tmp_path,
                                                                     child_reader):
    """The failed-import test of tests/test_import.py, with the file read in a child."""
    failed_import_leaves_database_unchanged(db, tmp_path)


def test_keys_computed_while_reading_equal_keys_of_the_stored_hits(db, child_reader,
                                                                   monkeypatch):
    """The reading process fingerprints each row before it is stored: the deduplication
    must get the same keys as if it fingerprinted the stored hit (every format, every field)."""
    from evidence.dedupe import cluster
    from evidence.dedupe.cluster import _KEY_COLUMNS, _rows
    from evidence.dedupe.keys import STORED, fingerprint, stored_values

    paths = [p for p in sorted(EXPORTS.rglob("*")) if p.suffix in
             (".ris", ".nbib", ".bib", ".txt", ".xml", ".csv", ".enw")]
    imported = 0

    def not_again(row):
        raise AssertionError(f"hit {row['id']} was fingerprinted again by the deduplication")

    monkeypatch.setattr(cluster, "fingerprint", not_again)
    for number, path in enumerate(paths):
        try:
            import_file(db, path, source=f"s{number}")
        except EvidenceError:  # files refused on purpose are not the point here
            continue
        imported += 1
    assert imported >= 10
    stored = {hit_id: tuple(values) for hit_id, *values in db.execute(
        f"SELECT hit_id, {', '.join(STORED)} FROM dedupe_keys")}
    hits = list(_rows(db, f"SELECT {', '.join(_KEY_COLUMNS)} FROM hits"))
    assert len(stored) == len(hits) > 100
    for hit in hits:
        assert stored[hit["id"]] == stored_values(fingerprint(hit)), hit


def test_first_batches_are_small_then_double(monkeypatch):
    """The importer waits for the first batch, so it is small; later ones double up to
    ``BATCH`` (fewer, larger messages); every row comes once, in order."""
    monkeypatch.setattr(reading, "MIN_BYTES", 10**12)
    monkeypatch.setattr(reading, "BATCH", 8)
    monkeypatch.setattr(reading, "FIRST_BATCH", 2)
    path = EXPORTS / "asreview/baseline_zotero.ris"
    batches = list(reading.read_normalised(path, "ris"))
    sizes = [len(batch) for batch in batches]
    assert sizes[:3] == [2, 4, 8] and set(sizes[3:-1]) == {8} and 0 < sizes[-1] <= 8
    monkeypatch.setattr(reading, "FIRST_BATCH", 10**6)
    assert [row for batch in batches for row in batch] == [
        row for batch in reading.read_normalised(path, "ris") for row in batch]


def test_bulk_writes_restore_the_connections_settings(db):
    """An import relaxes the flush and enlarges the cache; every later write (a reviewer's
    decision) gets SQLite's defaults back, also after a failed import."""
    from evidence.db.migrations import bulk_writes

    before = [db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("synchronous", "cache_size")]
    with pytest.raises(RuntimeError), bulk_writes(db):
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        raise RuntimeError
    after = [db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("synchronous", "cache_size")]
    assert after == before and before[0] == 2  # FULL


def test_an_import_inside_a_callers_transaction_keeps_its_flush(db, tmp_path):
    """SQLite refuses to change ``synchronous`` inside a transaction: an import run inside
    one (a caller's ``db.atomic()``) works, and the caller's commit keeps the default."""
    with db.atomic():
        import_file(db, EXPORTS / "asysd/test_export.ris", source="inside")
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM hits").fetchone()[0] == 3


def test_the_pipe_is_widened_where_the_system_allows(monkeypatch):
    """A batch is megabytes: a wider pipe moves it in fewer pieces. A size above the
    system's limit (or a system without the call) leaves the default pipe, which works."""
    import fcntl
    import multiprocessing

    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    try:
        reading._widen(sender)
        if hasattr(fcntl, "F_GETPIPE_SZ"):
            assert fcntl.fcntl(sender.fileno(), fcntl.F_GETPIPE_SZ) >= min(
                reading.PIPE_BYTES, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
        monkeypatch.setattr(reading, "PIPE_BYTES", 1 << 40)
        reading._widen(sender)  # refused by the system: no error
        sender.send(["row"] * 3)
        assert receiver.recv() == ["row"] * 3
    finally:
        receiver.close()
        sender.close()


def test_lines_read_in_chunks_equal_the_whole_texts_lines(monkeypatch, tmp_path):
    """read_lines cuts the file after a newline every LINES_CHUNK bytes: the lines must be
    those of read_text, whatever the line ends, BOM or letters (cut small to cut everywhere)."""
    from evidence.harvest import files

    samples = [p for p in Path("tests/fixtures").rglob("*")
               if p.is_file() and p.suffix in (".ris", ".txt", ".nbib", ".enw", ".csv")]
    made = {"crlf.ris": "TY  - JOUR\r\nTI  - Ærlig\r\nER  - \r\n".encode(),
            "cr.ris": b"TY  - JOUR\rTI  - x\rER  - \r",
            "bom.ris": "\ufeffTY  - JOUR\nTI  - Ø\u2028y\nER  - \n".encode(),
            "utf16.ris": "TY  - JOUR\r\nTI  - å\r\nER  - \r\n".encode("utf-16")}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
        samples.append(tmp_path / name)
    assert len(samples) > 20
    for size in (1, 5, 64, files.LINES_CHUNK):
        monkeypatch.setattr(files, "LINES_CHUNK", size)
        for path in samples:
            assert list(files.read_lines(path)) == files.read_text(path).splitlines(), path


def test_a_bad_byte_late_in_the_file_is_named_by_its_line(monkeypatch, tmp_path):
    from evidence.harvest import files

    monkeypatch.setattr(files, "LINES_CHUNK", 8)
    path = tmp_path / "latin1.ris"
    path.write_bytes(b"TY  - JOUR\nTI  - a\nER  - \n" * 3 + "TI  - \u00e6\n".encode("latin-1"))
    with pytest.raises(files.FileFormatError, match="line 10 is not UTF-8"):
        list(files.read_lines(path))
