"""The evidence map (issue 23 §2): `/-/map.json` counts equal the published records' theme x
column counts and every cell's url lists exactly those records; the HTML map is a real table;
the theme page's trend; the home and method pages' reader fixes (§4)."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections import Counter
from urllib.parse import urlsplit

import pytest

from evidence.publish.build import publish
from evidence.publish.kinds import work_kind
from evidence.publish.site.app import make_datasette
from tests.publishing_data import seed_reader_records, seed_working_db


@pytest.fixture
def published(db, config, tmp_path):
    seed_working_db(db, config)
    seed_reader_records(db)
    db["records"].update(6, {"year": None})  # a work without a year gets its own column
    path = tmp_path / "published.db"
    publish(db, path, config, "2024")
    return path


def _expected(path, by: str) -> Counter:
    conn = sqlite3.connect(path)
    try:
        return Counter(
            {
                (slug, "none" if value is None else str(value)): n
                for slug, value, n in conn.execute(
                    f"SELECT rt.theme_slug, r.{by}, count(*) FROM record_themes rt"
                    f" JOIN records r ON r.id = rt.record_id GROUP BY 1, 2"
                )
            }
        )
    finally:
        conn.close()


async def _listed(ds, url: str) -> int:
    parts = urlsplit(url)
    response = await ds.client.get(f"{parts.path}.json?{parts.query}&_nofacet=1")
    assert response.status_code == 200, url
    return response.json()["filtered_table_rows_count"]


@pytest.mark.asyncio
@pytest.mark.parametrize("by", ["year", "kind"])
async def test_map_json_counts_and_urls_agree_with_the_records(published, by):
    ds = make_datasette(published)
    data = (await ds.client.get(f"/-/map.json?by={by}")).json()
    assert data["by"] == by
    expected = _expected(published, by)
    seen = Counter()
    themes = {r["theme"] for r in data["rows"]}
    conn = sqlite3.connect(published)
    assert themes == {r[0] for r in conn.execute("SELECT slug FROM themes")}
    conn.close()
    for row in data["rows"]:
        assert set(row) >= {"theme", "name", "group", "cells"}
        assert list(row["cells"]) == data["columns"]
        for column, cell in row["cells"].items():
            assert cell["count"] == expected.get((row["theme"], column), 0)
            assert await _listed(ds, cell["url"]) == cell["count"], cell["url"]
            seen[(row["theme"], column)] += cell["count"]
        assert await _listed(ds, row["total"]["url"]) == row["total"]["count"]
    assert +seen == expected
    for cell in data["totals"]["columns"].values():
        assert await _listed(ds, cell["url"]) == cell["count"]
    if by == "year":
        assert data["columns"] == ["2023", "2024", "none"]
        assert data["labels"]["none"] == "Uten år"
    else:
        assert set(data["columns"]) <= {"review", "nordic", "book", "other"}


@pytest.mark.asyncio
async def test_map_page_is_an_accessible_table(published):
    ds = make_datasette(published)
    html = (await ds.client.get("/-/map")).text
    assert '<table class="pub-map">' in html and "<caption" in html
    assert 'scope="col"' in html and 'scope="row"' in html and 'scope="rowgroup"' in html
    assert 'role="region"' in html and 'tabindex="0"' in html
    assert 'aria-label="Stigma og diskriminering, 2023: 1 arbeid"' in html
    assert 'href="/published/records?_theme=stigma&amp;year=2023"' in html
    assert "<tfoot>" in html and "Alle arbeider" in html
    assert 'aria-current="page">publiseringsår' in html
    kind = (await ds.client.get("/-/map?by=kind")).text
    assert "Systematiske oversikter" in kind and 'href="/-/map?by=year"' in kind
    assert (await ds.client.get("/-/map.json?by=journal")).status_code == 400
    assert (await ds.client.get("/-/map?by=journal")).status_code == 200  # falls back to year


@pytest.mark.asyncio
async def test_map_in_english(db, config, tmp_path):
    seed_working_db(db, config)
    publish(db, tmp_path / "en.db", dataclasses.replace(config, language="en"), "2024")
    ds = make_datasette(tmp_path / "en.db")
    html = (await ds.client.get("/-/map?by=kind")).text
    assert "Evidence map" in html and "Systematic reviews" in html and "All works" in html
    home = (await ds.client.get("/")).text
    assert "New in the 2024 edition: 3" in home and 'href="/-/map"' in home


@pytest.mark.asyncio
async def test_theme_page_shows_works_per_year(published):
    ds = make_datasette(published)
    html = (await ds.client.get("/-/themes/mental-health-reviews")).text
    assert 'class="pub-trend"' in html and "Arbeider per publiseringsår" in html
    assert 'aria-label="2023: 1 arbeid"' in html and 'aria-label="2024: 2 arbeider"' in html
    assert re.search(r'href="/published/group_mental_health_reviews\?year=2024"', html)


@pytest.mark.asyncio
async def test_home_does_not_link_themes_without_works(published):
    ds = make_datasette(published)
    html = (await ds.client.get("/")).text
    assert 'href="/-/themes/loneliness"' in html
    assert 'href="/-/themes/workforce"' not in html and "Helsepersonell og arbeidsmiljø" in html


@pytest.mark.asyncio
async def test_method_page_speaks_the_readers_language(published):
    ds = make_datasette(published)
    html = (await ds.client.get("/-/method")).text
    assert "Kilde: importert fil" in html and "Kilde: file" not in html
    assert "nyeste først" in html and "(newest)" not in html
    assert not re.search(r">\s*–\s*<", html)  # no bare dash for a window
    assert "months before" not in html and "run date" not in html


def test_work_kind():
    assert work_kind("A systematic review of x", "", "BMC") == "review"
    assert work_kind("Trial", "", "Lancet", publication_types='["Meta-Analysis"]') == "review"
    assert work_kind("Psykisk helse i kommunen", "", "Tidsskrift") == "nordic"
    assert work_kind("Recovery", "", "Universitetsforlaget") == "book"
    assert work_kind("Recovery", "", "", item_type="bookSection") == "book"
    assert work_kind("A cohort study", "", "Lancet") == "other"


@pytest.mark.asyncio
async def test_a_file_published_before_map_counts_is_counted_alike(published, tmp_path):
    older = tmp_path / "older.db"
    older.write_bytes(published.read_bytes())
    conn = sqlite3.connect(older)
    conn.execute("DROP TABLE map_counts")
    conn.commit()
    conn.close()
    for by in ("year", "kind"):
        new = (await make_datasette(published).client.get(f"/-/map.json?by={by}")).json()
        old = (await make_datasette(older).client.get(f"/-/map.json?by={by}")).json()
        old_text = json.dumps(old).replace("/older/", "/published/")
        assert json.loads(old_text) == new


@pytest.mark.asyncio
async def test_trend_counts_equal_the_views(published):
    """The theme pages' bars (from map_counts) count what their views hold, for a theme and
    for a group whose works may carry two of its themes."""
    ds = make_datasette(published)
    conn = sqlite3.connect(published)
    for slug, view in conn.execute(
        "SELECT slug, view FROM themes UNION ALL SELECT slug, view FROM theme_groups"
    ):
        html = (await ds.client.get(f"/-/themes/{slug}")).text
        for year, n in conn.execute(
            f"SELECT year, count(*) FROM [{view}] WHERE year IS NOT NULL GROUP BY year"
        ):
            words = "1 arbeid" if n == 1 else f"{n} arbeider"
            assert f'aria-label="{year}: {words}"' in html, (slug, year)
    conn.close()


@pytest.mark.asyncio
async def test_a_file_without_kinds_maps_by_year_only(published, tmp_path):
    older = tmp_path / "nokind.db"
    older.write_bytes(published.read_bytes())
    conn = sqlite3.connect(older)
    conn.execute("DROP TABLE map_counts")
    conn.execute("DROP INDEX IF EXISTS idx_records_kind")
    conn.execute("ALTER TABLE records DROP COLUMN kind")
    conn.commit()
    conn.close()
    ds = make_datasette(older)
    assert (await ds.client.get("/-/map.json?by=kind")).status_code == 400
    page = await ds.client.get("/-/map?by=kind")
    assert page.status_code == 200 and "Inkluderte arbeider per tema og publiseringsår" in page.text
