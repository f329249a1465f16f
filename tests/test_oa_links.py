"""``records.oa_url`` (from `evidence enrich` or an OpenAlex/Crossref hit) is shown where a
reader goes for the full text: the screening app's full-text stage and the published page."""

from __future__ import annotations

import pytest

from evidence.publish.build import publish
from evidence.publish.site.app import make_datasette
from evidence.screening.full_text import full_text_links
from tests.publishing_data import seed_working_db


def test_full_text_stage_offers_the_open_access_copy_first():
    links = full_text_links({"oa_url": "https://peerj.com/articles/4375.pdf",
                             "doi": "10.7717/peerj.4375"})
    assert [link["kind"] for link in links] == ["oa", "doi"]
    assert links[0]["href"] == "https://peerj.com/articles/4375.pdf"
    for bad in ("javascript:alert(1)", "https://x.org/a b", "ftp://x"):
        assert full_text_links({"oa_url": bad}) == []


@pytest.mark.asyncio
async def test_published_record_page_links_the_open_access_copy(db, config, tmp_path):
    seed_working_db(db, config)
    included = db.execute("select record_id from record_status where decision = 'include'"
                          " order by record_id").fetchone()[0]
    db.execute("update records set oa_url = ? where id = ?",
               ["https://peerj.com/articles/4375.pdf", included])
    db.execute("update records set oa_url = 'javascript:alert(1)' where id != ?", [included])
    publish(db, tmp_path / "p.db", config)
    ds = make_datasette(tmp_path / "p.db")
    html = (await ds.client.get(f"/-/records/{included}")).text
    assert '<a class="pub-oa" href="https://peerj.com/articles/4375.pdf">' in html
    assert "Fulltekst (åpen tilgang)" in html
    others = [r for (r,) in db.execute("select record_id from record_status where decision ="
                                       " 'include' and record_id != ?", [included])]
    for other in others:
        assert "javascript:" not in (await ds.client.get(f"/-/records/{other}")).text
