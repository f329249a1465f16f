"""Building the published database: tables, views, FTS, PRISMA counts, privacy, atomicity."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from evidence.cli import cli
from evidence.publish import build as publish_module
from evidence.publish.build import publish, view_name
from evidence.publish.search import expand_sync, match_expression, parse_query
from tests.publishing_data import ABSTRACT_WORD, NOTE, PASSWORD_HASH, RAW, REVIEWER, seed_working_db


@pytest.fixture
def working(db, config):
    seed_working_db(db, config)
    return db


@pytest.fixture
def published(working, config, tmp_path) -> sqlite_utils.Database:
    publish(working, tmp_path / "published.db", config)
    return sqlite_utils.Database(tmp_path / "published.db")


def test_publishes_only_included_records_with_public_fields(published):
    rows = {r["id"]: r for r in published["records"].rows}
    assert sorted(rows) == [1, 2, 6]
    first = rows[1]
    assert first["authors"] == "Smith, Jane; Doe, Anna"
    assert first["doi_url"] == "https://doi.org/10.1186/peer.2024.1"
    assert first["pubmed_url"] == "https://pubmed.ncbi.nlm.nih.gov/38000001/"
    assert first["summary"] == "Public summary of record 1."
    assert json.loads(first["themes"]) == ["Psykososiale intervensjoner",
                                           "Sosial isolasjon og ensomhet"]
    assert json.loads(first["searches"]) == ["pubmed-mental-health", "pubmed-substance-use"]
    assert first["screened_at"] == "2024-10-21"
    assert json.loads(rows[2]["searches"]) == ["pubmed-mental-health", "pubmed-substance-use"]


def test_one_view_per_theme_group_and_theme(published, config):
    views = set(published.view_names())
    for group in config.theme_groups:
        assert view_name("group", group.id) in views
        for theme in group.themes:
            assert view_name("theme", theme.id) in views
    ids = [r["id"] for r in published.query("SELECT id FROM theme_loneliness")]
    assert ids == [1]
    group_ids = sorted(r["id"] for r in published.query(
        "SELECT id FROM group_mental_health_reviews"))
    assert group_ids == [1, 2]
    counts = {r["slug"]: r["records"] for r in published["themes"].rows}
    assert counts["stigma"] == 1 and counts["technology"] == 0
    groups = {r["slug"]: r["records"] for r in published["theme_groups"].rows}
    assert groups == {"mental-health-reviews": 2, "substance-use-reviews": 1,
                      "norwegian-research": 1}


def test_full_text_search_covers_title_abstract_authors_keywords(published):
    # Datasette must not find the index on its own: ?_search= is the site's filter
    assert published["records"].detect_fts() is None
    for word, expected in ((ABSTRACT_WORD, [1]), ("Nguyen", [2]), ("opioids", [2]),
                           ("community", [1, 2, 6])):
        assert search_ids(published, word) == expected


def search_ids(published, text: str) -> list[int]:
    expression = match_expression(parse_query(text), expand_sync(published.conn))
    return sorted(r[0] for r in published.execute(
        "SELECT rowid FROM search_index WHERE search_index MATCH ?", [expression]))


def test_prisma_counts(published):
    rows = list(published["prisma"].rows)
    counts = {(r["step"], r["key"]): r["count"] for r in rows}
    assert counts[("identified", "pubmed-mental-health")] == 5
    assert counts[("identified", "pubmed-substance-use")] == 2
    assert counts[("identified", "idunn")] == 1
    assert counts[("identified_total", "")] == 8
    assert counts[("duplicates_removed", "")] == 2
    assert counts[("records", "")] == 6
    assert counts[("excluded", "")] == 2
    assert counts[("excluded_reason", "wrong-topic")] == 1
    assert counts[("excluded_reason", "outside-window")] == 1
    assert counts[("awaiting", "")] == 1
    assert counts[("included", "")] == 3
    labels = {r["key"]: r["label"] for r in rows if r["step"] == "excluded_reason"}
    assert labels["wrong-topic"] == "Feil tema"


def test_searches_table_is_the_method_section(published):
    rows = {r["name"]: r for r in published["searches"].rows}
    mental = rows["pubmed-mental-health"]
    assert "systematic[sb]" in mental["query"]
    assert (mental["source"], mental["window_start"], mental["window_end"]) == (
        "pubmed", "2023-10-21", "2024-10-21")
    assert (mental["hits"], mental["records"], mental["included"]) == (5, 5, 2)
    assert mental["last_run_at"].startswith("2024-10-21")


def test_site_table_carries_language_and_metadata(published, config):
    site = {r["key"]: r["value"] for r in published["site"].rows}
    assert site["language"] == "nb"
    meta = json.loads(site["metadata"])
    assert meta["title"] == config.title
    assert meta["license"] == "CC-BY-4.0"
    tables = meta["databases"]["__db__"]["tables"]
    assert tables["records"]["title"] == "Inkluderte arbeider"
    assert {"tags": "themes"} in tables["records"]["facets"]
    assert tables["theme_loneliness"]["title"] == "Sosial isolasjon og ensomhet"
    assert "8 treff" in meta["about"] and "3 inkludert" in meta["about"]


def test_english_labels_when_configured(working, config, tmp_path):
    english = dataclasses.replace(config, language="en")
    publish(working, tmp_path / "en.db", english)
    pub = sqlite_utils.Database(tmp_path / "en.db")
    meta = json.loads(pub["site"].get("metadata")["value"])
    assert meta["databases"]["__db__"]["tables"]["records"]["title"] == "Included works"
    assert json.loads(pub["records"].get(1)["themes"])[0] == "Psychosocial interventions"


def _all_text(path: Path) -> str:
    """Every value of every table and column, as one string (the privacy grep)."""
    conn = sqlite3.connect(path)
    parts = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN"
                                         " ('table', 'view')")]
    for table in tables:
        cursor = conn.execute(f"SELECT * FROM [{table}]")
        parts.append(" ".join(d[0] for d in cursor.description))
        for row in cursor:
            parts.extend(str(v) for v in row if v is not None)
    parts.extend(r[0] or "" for r in conn.execute("SELECT sql FROM sqlite_master"))
    conn.close()
    return "\n".join(parts)


def test_privacy_no_reviewer_note_password_or_raw_payload(published, tmp_path):
    text = _all_text(tmp_path / "published.db")
    for secret in (REVIEWER, NOTE, PASSWORD_HASH, RAW, "password_hash", "users"):
        assert secret not in text, secret
    raw_bytes = (tmp_path / "published.db").read_bytes()
    for secret in (REVIEWER, NOTE, PASSWORD_HASH, RAW):
        assert secret.encode() not in raw_bytes, secret


def test_public_fields_publish_the_note_when_configured(working, config, tmp_path):
    screening = dataclasses.replace(config.screening, public_fields=("note",))
    publish(working, tmp_path / "p.db", dataclasses.replace(config, screening=screening))
    pub = sqlite_utils.Database(tmp_path / "p.db")
    assert pub["records"].get(1)["note"] == f"{NOTE} 1"
    assert REVIEWER not in _all_text(tmp_path / "p.db")


def test_rebuild_is_atomic_old_file_kept_on_failure(working, config, tmp_path, monkeypatch):
    out = tmp_path / "published.db"
    publish(working, out, config)
    before = out.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(publish_module, "prisma_rows", broken)
    with pytest.raises(RuntimeError):
        publish(working, out, config)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "published" in p.name) == [
        "published.db"]


def test_publish_command(working, config_path, db_path, tmp_path):
    working.close()
    out = tmp_path / "site.db"
    result = CliRunner().invoke(cli, ["publish", "--db", str(db_path), "--config",
                                      str(config_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 included records" in result.output
    assert sqlite_utils.Database(out)["records"].count == 3


def test_publish_command_reports_missing_folder(working, config_path, db_path, tmp_path):
    result = CliRunner().invoke(cli, ["publish", "--db", str(db_path), "--config",
                                      str(config_path), "--out", str(tmp_path / "no" / "x.db")])
    assert result.exit_code == 1
    assert "Error: " in result.output and "does not exist" in result.output


def test_serve_reports_a_missing_file(tmp_path):
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "missing.db")])
    assert result.exit_code == 1
    assert "run `evidence publish" in result.output


def test_publishing_before_anything_is_included(working, config, tmp_path):
    """Early in a year nothing is included yet: the site still builds, with the columns and
    the search index of a full one (a records table of three columns broke its index)."""
    working.execute("DELETE FROM decisions")
    full = tmp_path / "full.db"
    publish(seed_again(tmp_path, config), full, config)
    publish(working, tmp_path / "empty.db", config)
    empty = sqlite_utils.Database(tmp_path / "empty.db")
    assert empty["records"].count == 0
    assert empty["records"].columns_dict == sqlite_utils.Database(full)["records"].columns_dict
    assert search_ids(empty, "community") == []


def seed_again(tmp_path: Path, config) -> sqlite_utils.Database:
    from evidence.db.migrations import open_db

    db = open_db(tmp_path / "again.db")
    seed_working_db(db, config)
    return db
