"""``evidence demo`` runs the whole flow offline and can be run again without adding anything."""

from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from evidence.cli import cli
from evidence.demo import DEMO_DECISIONS, sample_path


def counts(path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
                for table in ("hits", "records", "decisions", "users")}
    finally:
        conn.close()


def test_demo_screens_and_publishes(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "63 hits became 60 records" in result.output
    assert "evidence screen" in result.output and "evidence serve published.db" in result.output
    working = counts(tmp_path / "demo" / "evidence.db")
    sample_rows = sample_path(DEMO_DECISIONS).read_text(encoding="utf-8").count("\n") - 1
    assert working == {"hits": 63, "records": 60, "decisions": sample_rows, "users": 1}

    published = sqlite3.connect(tmp_path / "demo" / "published.db")
    included = published.execute("SELECT count(*) FROM records").fetchone()[0]
    published.close()
    assert included == 19

    # the demo is fed from files: doctor needs no Zotero key there (a note, exit 0)
    demo = tmp_path / "demo"
    unset = dict.fromkeys(("ZOTERO_API_KEY", "NCBI_API_KEY", "EVIDENCE_SECRET"))
    doctor = CliRunner().invoke(cli, ["doctor", "--db", str(demo / "evidence.db"),
                                      "--config", str(demo / "evidence.yml")], env=unset)
    assert doctor.exit_code == 0, doctor.output
    assert "note  ZOTERO_API_KEY is not set; Zotero needs it for zotero-included (never run"\
        in doctor.output

    runs = runs_of(tmp_path / "demo")
    again = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo")])
    assert again.exit_code == 0, again.output
    assert counts(tmp_path / "demo" / "evidence.db") == working
    # a re-run adds no runs: the public method page lists the four samples once
    assert runs_of(tmp_path / "demo") == runs == (4, 4)
    assert "imported by an earlier demo run" in again.output
    assert "delete" in again.output and "to start fresh" in again.output


def runs_of(directory) -> tuple[int, int]:
    """(runs in the working database, search runs on the published method page)."""
    working, published = (sqlite3.connect(directory / name)
                          for name in ("evidence.db", "published.db"))
    try:
        return (working.execute("SELECT count(*) FROM runs").fetchone()[0],
                published.execute("SELECT count(*) FROM search_runs").fetchone()[0])
    finally:
        working.close()
        published.close()


def test_evidence_table_round_trip_through_the_commands(tmp_path, monkeypatch):
    """An exported xlsx evidence table seeds a new database with its decisions."""
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", "--dir", str(tmp_path / "demo")]).exit_code == 0
    table = tmp_path / "table.xlsx"
    exported = runner.invoke(cli, ["export", "--format", "xlsx", "--out", str(table),
                                   "--db", str(tmp_path / "demo" / "evidence.db"),
                                   "--config", str(tmp_path / "demo" / "evidence.yml")])
    assert exported.exit_code == 0, exported.output
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["init"]).exit_code == 0
    imported = runner.invoke(cli, ["import", str(table)])
    assert imported.exit_code == 0, imported.output
    assert "25 decisions and 23 theme links imported" in imported.output
