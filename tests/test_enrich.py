"""`evidence enrich`: abstracts, DOIs and open-access links of records that lack them.

Against the OpenAlex and Crossref stand-ins (recorded works, re-keyed to the records' DOIs and
titles): DOIs in batches, title matches only when clearly the same work, provenance as hits,
idempotent, resumable.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.config import service_settings
from evidence.db.config_sync import ensure_search
from evidence.dedupe.cluster import dedupe
from evidence.harvest import store
from evidence.harvest.enrich import enrich
from evidence.harvest.webapi import PoliteClient
from tests.standins import crossref as cr
from tests.standins import openalex as oa

DAY = dt.date(2024, 3, 1)


class Killed(BaseException):
    pass


class DyingClient(PoliteClient):
    """Dies like kill -9 on its ``die_at``-th request, once ``stored()`` says the answers
    before it are in the database."""

    die_at = 0
    calls = 0
    stored = staticmethod(lambda: True)

    def get(self, path, params=None):
        self.calls += 1
        if self.calls == self.die_at:
            deadline = time.monotonic() + 20
            while not self.stored() and time.monotonic() < deadline:
                time.sleep(0.05)
            raise Killed()
        return super().get(path, params)


def clients(oa_url, cr_url, cls=PoliteClient):
    return {"openalex": cls(base_url=oa_url, label="OpenAlex", per_second=0, concurrency=3),
            "crossref": PoliteClient(base_url=cr_url, label="Crossref", per_second=0,
                                     concurrency=2)}


def title(n):
    return f"Kommunalt psykisk helsearbeid i distriktene: erfaringer fra studie {n}"


def add_records(db, rows):
    """Records as a Google Scholar export makes them: titles, authors, years, no abstract."""
    search_id = ensure_search(db, "google-scholar")
    run_id = store.start_run(db, search_id)
    store.save_hits(db, run_id, [{"external_id": f"gs{i}", **row} for i, row in
                                 enumerate(rows)])
    dedupe(db)
    return [r for (r,) in db.execute("select id from records order by id")]


def record(n, doi=True):
    return {"title": title(n), "authors": [f"Nordmann{n}, Kari", "Hansen, Ola"], "year": 2024,
            "doi": f"10.18261/sample.{n}" if doi else None}


def openalex_work(n, **fields):
    fields.setdefault("authorships", [{"author": {"display_name": f"Kari Nordmann{n}"}},
                                      {"author": {"display_name": "Ola Hansen"}}])
    return oa.work_like(n, DAY, title=title(n), **fields)


def records(db):
    return {r["id"]: r for r in db.query("select * from records")}


def test_by_doi_in_batches_of_50_fills_abstracts_and_oa_links(db):
    ids = add_records(db, [record(n) for n in range(120)])
    with oa.serve(oa.OpenAlexState([openalex_work(n) for n in range(120)])) as (oa_url, state), \
            cr.serve(cr.CrossrefState([])) as (cr_url, cr_state):
        result = enrich(db, None, service_settings({}), clients=clients(oa_url, cr_url))
    doi_requests = [p for path, p in state.requests if p.get("filter", "").startswith("doi:")]
    assert len(doi_requests) == 3 and max(len(p["filter"].split("|")) for p in doi_requests) == 50
    filled = records(db)
    with_abstract = [i for i in ids if filled[i]["abstract"]]
    expected = sum(1 for n in range(120) if openalex_work(n).get("abstract_inverted_index"))
    assert len(with_abstract) == expected > 0
    assert result.looked_up == 120 and result.abstracts == expected
    assert result.summary().startswith(f"120 looked up, {expected} abstracts filled, 0 DOIs "
                                       f"found, 0 not found")
    # the records still without an abstract were asked of Crossref: in batches, then one
    # by one for the DOIs the batch did not return (this Crossref knows none of them)
    batches = [p for path, p in cr_state.requests if path == "/works"]
    singles = [path for path, _ in cr_state.requests if path.startswith("/works/10.18261/")]
    assert sum(p["filter"].count("doi:") for p in batches) == len(singles) == 120 - expected
    # provenance: each found work is a hit of OpenAlex on its record
    assert db.execute("select count(*) from hits where source = 'openalex' and record_id is not"
                      " null").fetchone()[0] == 120
    assert db["searches"].get(2)["name"] == "enrich-openalex"
    assert any(r["oa_url"] for r in filled.values())


def test_crossref_fills_what_openalex_lacks(db):
    add_records(db, [record(0)])
    item = cr.work_like(0, DAY, DOI="10.18261/sample.0", title=[title(0)],
                        author=[{"family": "Nordmann0", "given": "Kari"}])
    assert item.get("abstract")
    with oa.serve(oa.OpenAlexState([])) as (oa_url, _), \
            cr.serve(cr.CrossrefState([item])) as (cr_url, _):
        result = enrich(db, None, service_settings({}), clients=clients(oa_url, cr_url))
    assert result.abstracts == 1 and result.not_found == 0
    (row,) = records(db).values()
    assert row["abstract"] and "<jats" not in row["abstract"]
    assert db.execute("select source from hits where record_id = ? and source != 'file'",
                      [row["id"]]).fetchone()[0] == "crossref"


def test_by_title_takes_a_clear_match_and_refuses_near_misses(db):
    add_records(db, [record(1, doi=False), record(2, doi=False), record(3, doi=False)])
    works = [
        openalex_work(1),                                            # the same work
        openalex_work(2, publication_year=2020, publication_date="2020-03-01"),  # other year
        openalex_work(3, authorships=[{"author": {"display_name": "Per Annen"}},
                                     {"author": {"display_name": "Eva Tredje"}}]),  # others'
    ]
    with oa.serve(oa.OpenAlexState(works)) as (oa_url, state), \
            cr.serve(cr.CrossrefState([])) as (cr_url, _):
        result = enrich(db, None, service_settings({}), clients=clients(oa_url, cr_url))
    by_title = {r["title"]: r for r in records(db).values()}
    taken = by_title[title(1)]
    assert taken["doi"] == "10.18261/sample.1" and taken["abstract"]
    for n in (2, 3):
        assert not by_title[title(n)]["abstract"] and not by_title[title(n)]["doi"]
    assert result.dois == 1 and result.refused == 2 and result.not_found == 2
    assert any("title.search:" in p.get("filter", "") for _, p in state.requests)


def test_a_wrong_doi_does_not_bring_another_works_abstract(db):
    add_records(db, [record(4)])
    stranger = oa.work_like(4, dt.date(2015, 1, 1),
                            title="A cohort study of something else entirely in mice",
                            authorships=[{"author": {"display_name": "Zed Other"}}])
    with oa.serve(oa.OpenAlexState([stranger])) as (oa_url, _), \
            cr.serve(cr.CrossrefState([])) as (cr_url, _):
        result = enrich(db, None, service_settings({}), clients=clients(oa_url, cr_url))
    assert not next(iter(records(db).values()))["abstract"]
    assert result.abstracts == 0 and result.not_found == 1


def test_idempotent_and_a_later_harvest_joins_the_record(db):
    add_records(db, [record(n) for n in range(5)])
    works = [openalex_work(n) for n in range(5)]
    with oa.serve(oa.OpenAlexState(works)) as (oa_url, state), \
            cr.serve(cr.CrossrefState([])) as (cr_url, _):
        enrich(db, None, service_settings({}), clients=clients(oa_url, cr_url))
        first = dict(records(db))
        state.requests.clear()
        again = enrich(db, None, service_settings({}), clients=clients(oa_url, cr_url))
        assert again.looked_up == 0 and state.requests == []
        assert records(db) == first
        # an OpenAlex search later finds the same works: they join the records
        from evidence.config import DateWindow, Search
        from evidence.harvest.runs import harvest_search

        search = Search(name="oa", source="openalex", query="x",
                        window=DateWindow(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31)),
                        settings={"filter": {}, "page_size": 50})
        harvest_search(db, search, None, service_settings({}),
                       client=clients(oa_url, cr_url)["openalex"])
    dedupe(db)
    assert db.execute("select count(*) from records").fetchone()[0] == 5


def test_killed_enrich_resumes_without_asking_twice(db, db_path):
    add_records(db, [record(n) for n in range(150)])
    works = [openalex_work(n) for n in range(150)]
    with oa.serve(oa.OpenAlexState(works)) as (oa_url, state), \
            cr.serve(cr.CrossrefState([])) as (cr_url, _):
        dying = clients(oa_url, cr_url, DyingClient)
        dying["openalex"].die_at = 3

        def stored():
            with sqlite3.connect(db_path) as conn:
                return conn.execute("select count(*) from enrich_lookups where source ="
                                    " 'openalex'").fetchone()[0] >= 100

        dying["openalex"].stored = stored
        dying["openalex"].concurrency = 1
        with pytest.raises(Killed):
            enrich(db, None, service_settings({}), clients=dying)
        done = db.execute("select count(*) from enrich_lookups where source = 'openalex'"
                          ).fetchone()[0]
        assert 0 < done < 150
        state.requests.clear()
        result = enrich(db, None, service_settings({}), clients=clients(oa_url, cr_url))
    asked = sum(len(p["filter"].split("|")) for _, p in state.requests
                if p.get("filter", "").startswith("doi:"))
    assert asked == 150 - done and result.looked_up >= asked
    assert db.execute("select count(*), count(distinct record_id) from enrich_lookups where "
                      "source = 'openalex'").fetchone() == (150, 150)
    assert db.execute("select count(*), count(distinct external_id) from hits where source ="
                      " 'openalex'").fetchone() == (150, 150)


def test_command_prints_the_summary(tmp_path, db_path):
    from evidence.db.migrations import open_db

    add_records(open_db(db_path), [record(1), record(9, doi=False)])
    with oa.serve(oa.OpenAlexState([openalex_work(1)])) as (oa_url, _), \
            cr.serve(cr.CrossrefState([])) as (cr_url, _):
        result = CliRunner(env={"OPENALEX_API_URL": oa_url, "CROSSREF_API_URL": cr_url}).invoke(
            cli, ["enrich", "--db", str(db_path), "--config", str(tmp_path / "none.yml"), "-s"],
            catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 looked up, 1 abstracts filled, 0 DOIs found, 1 not found" in result.output


def test_harvest_runs_enrich_on_new_records_when_configured(tmp_path):
    feed_works = [oa.work_like(n, DAY, abstract_inverted_index=None) for n in range(3)]
    config = tmp_path / "evidence.yml"
    config.write_text("""project: {title: T}
searches:
  - {name: oa, source: openalex, query: x, window: {from: 2024-01-01, to: 2024-12-31}}
enrich: {after_harvest: true, sources: [crossref]}
""")
    items = [cr.work_like(n, DAY, DOI=f"10.18261/sample.{n}", title=[feed_works[n]["title"]])
             for n in range(3)]
    for item, work in zip(items, feed_works, strict=True):
        item["author"] = [{"family": a["author"]["display_name"].split()[-1],
                           "given": " ".join(a["author"]["display_name"].split()[:-1])}
                          for a in work["authorships"]]
    with oa.serve(oa.OpenAlexState(feed_works)) as (oa_url, _), \
            cr.serve(cr.CrossrefState(items)) as (cr_url, cr_state):
        result = CliRunner(env={"OPENALEX_API_URL": oa_url, "CROSSREF_API_URL": cr_url}).invoke(
            cli, ["harvest", "--db", str(tmp_path / "e.db"), "--config", str(config), "-s"],
            catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "enrich: 3 looked up" in result.output
    (batch,) = [p["filter"] for path, p in cr_state.requests if path == "/works"]
    assert batch.count("doi:10.18261/sample.") == 3


def test_lookups_are_not_counted_as_identified(db, tmp_path):
    """Enrichment hits join records a search found: PRISMA's identified and duplicates, the
    method page's searches and "found by" leave them out."""
    import sqlite_utils

    from evidence.config import parse_config
    from evidence.db.decisions import append_decision
    from evidence.publish.build import publish
    from evidence.status import collect_status

    add_records(db, [record(n) for n in range(5)])
    with oa.serve(oa.OpenAlexState([openalex_work(n) for n in range(5)])) as (oa_url, _), \
            cr.serve(cr.CrossrefState([])) as (cr_url, _):
        enrich(db, None, service_settings({}), clients=clients(oa_url, cr_url))
    assert db.execute("select count(*) from hits").fetchone()[0] == 10
    totals = collect_status(db)["totals"]
    assert (totals["identified"], totals["duplicates_removed"]) == (5, 0)
    for rid in [r for (r,) in db.execute("select id from records")]:
        append_decision(db.conn, rid, "rita", "include")
    out = tmp_path / "published.db"
    publish(db, out, parse_config("project: {title: T}\n"))
    pub = sqlite_utils.Database(out)
    prisma = {r["step"]: r["count"] for r in pub["prisma"].rows if not r["key"]}
    assert prisma["identified_total"] == 5 and prisma["duplicates_removed"] == 0
    assert [r["name"] for r in pub["searches"].rows] == ["google-scholar"]
    assert all("enrich" not in r["searches"] for r in pub["records"].rows)
