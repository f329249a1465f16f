"""Editions (issue 23 §1): `evidence publish --edition NAME`, `first_edition`, what is new,
re-publishing one edition, the edition feed and the method page's list of editions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from evidence.cli import cli as main
from evidence.publish.build import publish
from evidence.publish.editions import EditionError, edition_name
from evidence.publish.site.app import make_datasette
from tests.publishing_data import seed_reader_records, seed_working_db

ATOM = "{http://www.w3.org/2005/Atom}"


def _first(path) -> dict[int, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT id, first_edition FROM records"))
    finally:
        conn.close()


@pytest.fixture
def two_editions(db, config, tmp_path):
    """Edition 2023 publishes records 1, 2, 6; then two more are included and 2024 publishes
    all five."""
    seed_working_db(db, config)
    publish(db, tmp_path / "p2023.db", config, "2023")
    seed_reader_records(db)
    publish(db, tmp_path / "p2024.db", config, "2024")
    return tmp_path / "p2024.db"


def test_edition_name_defaults_and_checks():
    assert edition_name("2024", "2023") == "2024"
    assert edition_name(None, "2023") == "2023"
    assert edition_name("", "", today=dt.date(2025, 3, 1)) == "2025"
    for bad in ("x" * 41, "a\nb", "../x", "<b>"):
        with pytest.raises(EditionError, match="edition"):
            edition_name(bad)


def test_first_edition_marks_what_is_new(db, config, two_editions, tmp_path):
    assert _first(tmp_path / "p2023.db") == {1: "2023", 2: "2023", 6: "2023"}
    assert _first(two_editions) == {1: "2023", 2: "2023", 6: "2023", 7: "2024", 8: "2024"}
    stored = {r["name"]: r for r in db["editions"].rows}
    assert stored["2023"]["records"] == 3 and stored["2023"]["new_records"] == 3
    assert stored["2024"]["records"] == 5 and stored["2024"]["new_records"] == 2
    assert {r["record_id"] for r in db["edition_records"].rows_where("edition = '2024'")} == {
        1,
        2,
        6,
        7,
        8,
    }
    prisma = json.loads(stored["2024"]["prisma"])
    assert prisma["included"] == 5 and prisma["identified_total"] > 0


def test_republishing_an_edition_replaces_that_edition_only(db, config, two_editions, tmp_path):
    before = {r["name"]: dict(r) for r in db["editions"].rows}
    # record 7 is excluded after all; 2024 is published again
    db["decisions"].insert(
        {
            "record_id": 7,
            "reviewer": "lead",
            "stage": "resolution",
            "decision": "exclude",
            "reason": "wrong-topic",
            "created_at": "2024-11-01T10:00:00+00:00",
            "origin": "test",
        }
    )
    result = publish(db, tmp_path / "again.db", config, "2024")
    assert result.edition == "2024" and result.new_records == 1
    after = {r["name"]: dict(r) for r in db["editions"].rows}
    assert after["2023"] == before["2023"]
    assert after["2024"]["created_at"] == before["2024"]["created_at"]  # keeps its place
    assert after["2024"]["records"] == 4
    assert {r["record_id"] for r in db["edition_records"].rows_where("edition = '2023'")} == {
        1,
        2,
        6,
    }
    assert _first(tmp_path / "again.db") == {1: "2023", 2: "2023", 6: "2023", 8: "2024"}
    # re-publishing the older edition leaves the later one and its new works alone
    result = publish(db, tmp_path / "old.db", config, "2023")
    # it publishes what is included now, but record 8 stays new in 2024, which published it
    assert _first(tmp_path / "old.db") == {1: "2023", 2: "2023", 6: "2023", 8: "2024"}
    assert result.new_records == 3
    final = {r["name"]: dict(r) for r in db["editions"].rows}
    assert final["2024"] == after["2024"]
    conn = sqlite3.connect(tmp_path / "old.db")
    names = [r[0] for r in conn.execute("SELECT name FROM editions ORDER BY position")]
    conn.close()
    assert names == ["2023", "2024"]


def test_default_edition_from_config_then_year(db, config, tmp_path):
    seed_working_db(db, config)
    result = publish(db, tmp_path / "a.db", dataclasses.replace(config, edition="2024-høst"))
    assert result.edition == "2024-høst"
    result = publish(db, tmp_path / "b.db", config)
    assert result.edition == str(dt.date.today().year)
    assert set(_first(tmp_path / "b.db").values()) == {"2024-høst"}


def test_cli_publish_edition(db, config, config_path, db_path, tmp_path):
    seed_working_db(db, config)
    db.conn.commit()
    out = tmp_path / "site.db"
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "publish",
            "--db",
            str(db_path),
            "--config",
            str(config_path),
            "--out",
            str(out),
            "--edition",
            "2024",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Edition 2024: 3 of the 3 works are new" in result.output
    result = runner.invoke(
        main,
        [
            "publish",
            "--db",
            str(db_path),
            "--config",
            str(config_path),
            "--out",
            str(out),
            "--edition",
            "a/../\x01",
        ],
    )
    assert result.exit_code == 1 and "--edition" in result.output


def test_config_reads_project_edition(config_path):
    from evidence.config import load_config

    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text.replace("  language: nb\n", "  language: nb\n  edition: 2024\n", 1), encoding="utf-8"
    )
    assert load_config(config_path).edition == "2024"


@pytest.mark.asyncio
async def test_home_method_facet_and_filter(two_editions):
    ds = make_datasette(two_editions)
    html = (await ds.client.get("/")).text
    assert "Nytt i 2024-utgaven: 2</a>" in html
    assert 'href="/p2024/records?first_edition=2024"' in html
    listed = (await ds.client.get("/p2024/records.json?first_edition=2024&_shape=objects")).json()
    assert sorted(r["id"] for r in listed["rows"]) == [7, 8]
    page = (await ds.client.get("/p2024/records.json")).json()  # a default facet
    facet = {f["value"]: f["count"] for f in page["facet_results"]["first_edition"]["results"]}
    assert facet == {"2023": 3, "2024": 2}
    method = (await ds.client.get("/-/method")).text
    assert "Utgaver" in method and "<strong>2023</strong>" in method
    assert "<strong>2024</strong> <span" in method and "(denne utgaven)" in method
    assert "Inkludert: 5" in method and "Inkludert: 3" in method
    assert "pubmed-mental-health (" in method


@pytest.mark.asyncio
async def test_edition_feed_ids_do_not_follow_the_host(two_editions):
    ds = make_datasette(two_editions)
    one = await ds.client.get("/-/feed.atom?edition=2024", headers={"host": "a.example"})
    two = await ds.client.get("/-/feed.atom?edition=2024", headers={"host": "b.example"})
    assert one.status_code == 200
    ids = [e.find(f"{ATOM}id").text for e in ET.fromstring(one.text).iter(f"{ATOM}entry")]
    assert len(ids) == 2 and all(i.startswith("urn:uuid:") for i in ids)
    assert ids == [e.find(f"{ATOM}id").text for e in ET.fromstring(two.text).iter(f"{ATOM}entry")]
    assert ET.fromstring(one.text).find(f"{ATOM}id").text.startswith("urn:uuid:")
    assert (await ds.client.get("/-/feed.atom?edition=1999")).status_code == 404


@pytest.mark.asyncio
async def test_feed_survives_control_characters(db, config, tmp_path):
    seed_working_db(db, config)
    db["records"].update(
        1,
        {
            "title": "Bell\x07 and\x0b form\x0cfeed\x00 in a title",
            "authors": json.dumps(["Null\x1f, Per"]),
        },
    )
    publish(db, tmp_path / "c.db", config, "2024")
    ds = make_datasette(tmp_path / "c.db")
    for path in ("/-/feed.atom", "/-/feed.atom?edition=2024", "/-/feed.atom?theme=loneliness"):
        response = await ds.client.get(path)
        assert response.status_code == 200, path
        titles = [
            e.find(f"{ATOM}title").text for e in ET.fromstring(response.text).iter(f"{ATOM}entry")
        ]
        assert "Bell and formfeed in a title" in titles


def test_a_merge_keeps_the_edition_that_first_published_the_work(db, config, tmp_path):
    from evidence.dedupe.cluster import merge_records

    seed_working_db(db, config)
    publish(db, tmp_path / "a.db", config, "2023")
    seed_reader_records(db)  # record 7 is new, and turns out to be record 6's duplicate
    with db.atomic():
        merge_records(db, survivor=7, loser=6)
    publish(db, tmp_path / "b.db", config, "2024")
    assert _first(tmp_path / "b.db") == {1: "2023", 2: "2023", 7: "2023", 8: "2024"}


@pytest.mark.asyncio
async def test_an_edition_with_nothing_new_links_no_empty_list(db, config, tmp_path):
    seed_working_db(db, config)
    publish(db, tmp_path / "a.db", config, "2023")
    publish(db, tmp_path / "b.db", config, "2024")
    html = (await make_datasette(tmp_path / "b.db").client.get("/")).text
    assert "Nytt i 2024-utgaven: 0" in html and "first_edition=2024" not in html


def test_config_refuses_an_unusable_edition_with_its_line(config_path):
    from evidence.config import ConfigError, load_config

    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text.replace("  language: nb\n", "  language: nb\n  edition: '<b>'\n", 1), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"evidence.yml:\d+: project.edition: '<b>' is not"):
        load_config(config_path)


def include(db, record_id: int) -> None:
    db["decisions"].insert({"record_id": record_id, "reviewer": "lead", "stage": "resolution",
                            "decision": "include", "themes": '["stigma"]', "origin": "test",
                            "created_at": "2025-01-10T10:00:00+00:00"})


def test_a_later_work_is_not_new_in_an_older_edition_published_again(
        db, config, two_editions, tmp_path, db_path, config_path):
    """Record 5 is included after the 2024 edition; publishing 2023 again (a correction, or
    project.edition left at last year) must not make it, nor 2024's works, new in 2023: it
    has no first edition until the next edition publishes it, and then it is new there."""
    include(db, 5)
    old = publish(db, tmp_path / "old.db", config, "2023")
    assert old.records == 6 and old.new_records == 3 and old.awaiting_edition == 1
    assert _first(tmp_path / "old.db") == {1: "2023", 2: "2023", 6: "2023", 7: "2024",
                                           8: "2024", 5: None}
    db.conn.commit()
    again = CliRunner().invoke(main, [  # once more: still not new in it
        "publish", "--db", str(db_path), "--config", str(config_path),
        "--out", str(tmp_path / "old-again.db"), "--edition", "2023"])
    assert again.exit_code == 0, again.output
    assert "Edition 2023: 3 of the 6 works are new in it" in again.output
    assert "1 work was included after a later edition than 2023" in again.output
    assert _first(tmp_path / "old-again.db")[5] is None
    later = publish(db, tmp_path / "p2025.db", config, "2025")
    assert later.new_records == 1
    assert _first(tmp_path / "p2025.db") == {1: "2023", 2: "2023", 6: "2023", 7: "2024",
                                             8: "2024", 5: "2025"}
    stored = {r["name"]: r["new_records"] for r in db["editions"].rows}
    assert stored == {"2023": 3, "2024": 2, "2025": 1}  # each work new in one edition


@pytest.mark.asyncio
async def test_the_site_of_an_older_edition_published_again(db, config, two_editions, tmp_path):
    include(db, 5)
    publish(db, tmp_path / "old.db", config, "2023")
    ds = make_datasette(tmp_path / "old.db")
    assert "Nytt i 2023-utgaven: 3</a>" in (await ds.client.get("/")).text
    listed = (await ds.client.get("/old/records.json?first_edition=2023&_shape=objects")).json()
    assert sorted(r["id"] for r in listed["rows"]) == [1, 2, 6]
    names = [r["name"] for r in (await ds.client.get(
        "/old/editions.json?_shape=objects&_sort=position")).json()["rows"]]
    assert names == ["2023", "2024"]


def test_editions_are_a_series_by_year_not_by_the_order_they_were_published(db, config,
                                                                              tmp_path):
    """2025 is published before 2024 is (an edition named for its year, or backfilled): 2024
    still comes first in the series. What 2024 publishes after 2025 existed is not new in it
    (it is not last year's content, but today's), so 2025 keeps its works."""
    from evidence.publish.editions import series_key, stored_editions

    seed_working_db(db, config)
    first = publish(db, tmp_path / "p2025.db", config, "2025")
    assert first.new_records == 3
    late = publish(db, tmp_path / "p2024.db", config, "2024")
    assert late.new_records == 0
    assert set(_first(tmp_path / "p2024.db").values()) == {"2025"}
    assert [e["name"] for e in stored_editions(db)] == ["2024", "2025"]
    conn = sqlite3.connect(tmp_path / "p2024.db")
    assert [r[0] for r in conn.execute("SELECT name FROM editions ORDER BY position")] == [
        "2024", "2025"]
    conn.close()
    # names: the year in them, else the year first published; then when first published
    t1, t2 = "2024-03-01T00:00:00.000+00:00", "2024-11-01T00:00:00.000+00:00"
    assert sorted(["2024-høst", "2025", "2024-vår", "Rapport 2023", "utkast"],
                  key=lambda n: series_key(n, t2 if n in ("2024-høst", "utkast") else t1)) == [
        "Rapport 2023", "2024-vår", "2024-høst", "utkast", "2025"]


def test_rows_stored_before_the_first_published_times_count_as_before(db_path):
    """m530: a working database with editions from before keeps what each edition's rows
    counted (their edition's first publishing)."""
    import sqlite_utils

    from evidence.db.migrations import migrations, open_db

    old = sqlite_utils.Database(db_path)
    migrations.apply(old, stop_before="m530_edition_records_first_published")
    old["records"].insert({"id": 1, "title": "T"})
    old["editions"].insert({"name": "2023", "created_at": "2023-11-01T00:00:00.000+00:00",
                            "published_at": "2023-12-01T00:00:00.000+00:00"})
    old["edition_records"].insert({"edition": "2023", "record_id": 1})
    old.close()
    db = open_db(db_path)
    assert db.execute("SELECT first_published_at FROM edition_records").fetchall() == [
        ("2023-11-01T00:00:00.000+00:00",)]
    db.close()
