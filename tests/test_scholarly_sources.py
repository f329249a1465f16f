"""Crossref and OpenAlex as sources: configuration, conversion, paging, faults, resuming, folding.

All against stand-ins on 127.0.0.1 that replay real recorded answers (tests/standins/crossref.py,
tests/standins/openalex.py; fixtures and their origin in tests/fixtures/{crossref,openalex}/).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.config import ConfigError, DateWindow, Search, parse_config, service_settings
from evidence.harvest.crossref.convert import jats_to_text
from evidence.harvest.crossref.convert import to_hit as crossref_hit
from evidence.harvest.cursors import split
from evidence.harvest.openalex.convert import abstract_text
from evidence.harvest.openalex.convert import to_hit as openalex_hit
from evidence.harvest.runs import harvest_search
from evidence.harvest.webapi import PoliteClient
from tests.standins import crossref as cr
from tests.standins import openalex as oa
from tests.standins.eutils import FIRST_PMID, EutilsState
from tests.standins.eutils import serve as serve_eutils

START, END = dt.date(2023, 10, 21), dt.date(2024, 10, 21)
WINDOW = DateWindow(start=START, end=END)


class Killed(BaseException):
    """Stands for kill -9: nothing in the harvester may catch it."""


class DyingClient(PoliteClient):
    """Dies like kill -9 on its ``die_at``-th request (counting from 1)."""

    die_at = 0
    calls = 0

    def get(self, path, params=None):
        self.calls += 1
        if self.calls == self.die_at:
            raise Killed()
        return super().get(path, params)


def settle(state, quiet: float = 0.3) -> None:
    """Wait until the stand-in has had no request in flight for ``quiet`` seconds."""
    import time

    deadline, calm_since = time.monotonic() + 10, None
    while time.monotonic() < deadline:
        busy = state.in_flight or len(state.requests) != getattr(state, "_seen", -1)
        state._seen = len(state.requests)
        if busy:
            calm_since = None
        elif calm_since is None:
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since >= quiet:
            return
        time.sleep(0.05)


def crossref_search(**settings):
    return Search(name="idunn", source="crossref", query="psykisk helse kommune",
                  window=WINDOW, settings={"filter": {"prefix": "10.18261"},
                                           "page_size": 50, **settings})


def openalex_search(**settings):
    return Search(name="norsk", source="openalex", query="psykisk helse kommune",
                  window=WINDOW, settings={"filter": {}, "page_size": 50, **settings})


def client(kind, url, cls=PoliteClient, **kwargs):
    label = "Crossref" if kind == "crossref" else "OpenAlex"
    return cls(base_url=url, label=label, per_second=0, concurrency=3,
               sleep=kwargs.pop("sleep", lambda s: None), **kwargs)


def hits(db, source):
    return [r[0] for r in db.execute("select external_id from hits where source = ?",
                                     [source])]


# configuration ----------------------------------------------------------------------------

CONFIG = """project: {title: T}
searches:
  - name: idunn
    source: crossref
    query: psykisk helse kommune
    filter: {prefix: "10.18261", type: [journal-article, book-chapter]}
    window: {from: 2023-10-21, to: 2024-10-21}
  - name: norsk-forskning
    source: openalex
    query: psykisk helse kommune
    filter: {language: no, is_oa: true}
"""


def test_filters_pass_through_as_written():
    config = parse_config(CONFIG)
    assert config.search("idunn").settings["filter"] == {
        "prefix": "10.18261", "type": ["journal-article", "book-chapter"]}
    # `no` stays the language code (plain YAML would read false), true stays "true"
    assert config.search("norsk-forskning").settings["filter"] == {"language": "no",
                                                                   "is_oa": "true"}
    assert config.search("idunn").window.start == START


@pytest.mark.parametrize("line, message", [
    ("    filter: {from-pub-date: 2020-01-01}", r"evidence.yml:5: searches\[0\].filter"
     r".from-pub-date: set publication dates with window"),
    ("    filter: prefix", r"evidence.yml:5: searches\[0\].filter: must be a mapping"),
    ("    page_size: 5000", r"evidence.yml:5: searches\[0\].page_size: must be between 1 "
     r"and 1000"),
    ("    date_field: pdat", r"evidence.yml:5: searches\[0\].date_field: unknown key"),
])
def test_bad_settings_name_file_line_and_key(line, message):
    text = f"project: {{title: T}}\nsearches:\n  - name: idunn\n    source: crossref\n{line}\n"
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


@pytest.mark.parametrize("source", ["crossref", "openalex"])
@pytest.mark.parametrize("lines", [
    [],
    ["    window: {from: 2023-10-21, to: 2024-10-21}"],
    ["    query: '  '", "    filter: {}"],
])
def test_a_search_with_neither_query_nor_filter_is_refused(source, lines):
    """Without either it would page through the whole index (millions of works a year)."""
    text = "\n".join(["project: {title: T}", "searches:", "  - name: everything",
                      f"    source: {source}", *lines, ""])
    label = "Crossref" if source == "crossref" else "OpenAlex"
    with pytest.raises(ConfigError, match=(
            r"^evidence.yml:3: searches\[0\].query: search 'everything' has neither query nor "
            rf"filter: without one it would ask {label} for every work it holds")):
        parse_config(text)


@pytest.mark.parametrize("line", ["    query: psykisk helse", "    filter: {prefix: '10.18261'}"])
def test_a_query_or_a_filter_alone_is_enough(line):
    for source in ("crossref", "openalex"):
        parse_config(f"project: {{title: T}}\nsearches:\n  - name: s\n    source: {source}\n"
                     f"{line}\n")


def test_environment_addresses_and_polite_pool():
    services = service_settings({"EVIDENCE_MAILTO": "a@b.no", "OPENALEX_API_KEY": "k",
                                 "CROSSREF_API_URL": "http://x", "OPENALEX_API_URL": "http://y"})
    assert (services.crossref_url, services.openalex_url) == ("http://x", "http://y")
    assert (services.mailto, services.openalex_api_key) == ("a@b.no", "k")
    defaults = service_settings({})
    assert defaults.crossref_url == "https://api.crossref.org"
    assert defaults.openalex_url == "https://api.openalex.org"


# conversion of real recorded answers --------------------------------------------------------

def test_jats_abstract_keeps_sections_labels_and_inline_markup():
    item = cr.fixture("peerj_ecology.json")["message"]["items"][0]
    text = crossref_hit(item)["abstract"]
    paragraphs = text.split("\n\n")
    assert paragraphs[0].startswith("Background: Terrestrial biomes in South America")
    assert [p.split(":")[0] for p in paragraphs] == ["Background", "Methods", "Results"]
    assert "<jats" not in text
    cicada = next(i for i in cr.fixture("peerj_ecology.json")["message"]["items"]
                  if "Cicadellidae" in i["abstract"])
    assert "includes >2,600 valid genera" in crossref_hit(cicada)["abstract"]  # &gt; decoded
    assert "<i>Eupteryx</i> (<i>Eupteryx</i>)" in crossref_hit(cicada)["abstract"]
    assert jats_to_text("<jats:title>Abstract</jats:title><jats:sec><jats:title>Aims"
                        "</jats:title><jats:p>To <jats:bold>see</jats:bold> x<jats:xref>1"
                        "</jats:xref>.</jats:p></jats:sec><jats:p>Last.</jats:p>") == (
        "Aims: To <b>see</b> x1.\n\nLast.")


def test_jats_markup_is_shown_safely():
    from evidence.markup import sanitise

    text = jats_to_text("<jats:p>&lt;script&gt;alert(1)&lt;/script&gt; and "
                        "<jats:italic>fine</jats:italic><img src=x onerror=y></jats:p>")
    shown = str(sanitise(text))
    assert "<script>" not in shown and "<img" not in shown and "<i>fine</i>" in shown


def test_crossref_work_fields():
    hit = crossref_hit(cr.fixture("work_pone_0033693.json")["message"])
    assert hit["external_id"] == hit["doi"].lower() == "10.1371/journal.pone.0033693"
    assert hit["title"] and hit["authors"][0].count(",") == 1
    assert hit["pub_date"].startswith("2012") and hit["journal"] == "PLoS ONE"
    assert hit["oa_url"]  # PLOS: a Creative Commons licence


def test_inverted_index_rebuilds_the_exact_abstract():
    work = oa.fixture("keypaper_page_1.json")["results"][1]
    text = abstract_text(work["abstract_inverted_index"])
    assert text.startswith("Despite growing interest in Open Access (OA) to scholarly "
                           "literature, there is an unmet need")
    # exact: inverting the text again gives OpenAlex's index back, word for word
    again: dict[str, list[int]] = {}
    for i, word in enumerate(text.split(" ")):
        again.setdefault(word, []).append(i)
    assert again == work["abstract_inverted_index"]
    assert abstract_text({"b": [1], "a": [0, 2]}) == "a b a"


def test_openalex_work_fields():
    hit = openalex_hit(oa.fixture("keypaper_page_1.json")["results"][1])
    assert hit["external_id"] == "W2741809807"
    assert hit["doi"] == "https://doi.org/10.7717/peerj.4375"
    assert hit["pmid"] == "https://pubmed.ncbi.nlm.nih.gov/29456894"
    assert hit["oa_url"] == "https://peerj.com/articles/4375.pdf"
    assert hit["year"] == 2018 and hit["journal"] == "PeerJ"


# paging, faults, resuming -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["crossref", "openalex"])
def test_paging_by_cursor_in_slices_to_the_end(db, kind):
    state = (cr.CrossrefState if kind == "crossref" else oa.OpenAlexState).generated(
        337, START, END)
    search = crossref_search() if kind == "crossref" else openalex_search()
    with cr.serve(state) as (url, _):
        summary = harvest_search(db, search, None, service_settings({}),
                                 client=client(kind, url))
    assert (summary.reported, summary.fetched, summary.new) == (337, 337, 337)
    assert len(set(hits(db, kind))) == 337
    slices = 3  # one slice per request in flight (the test client allows 3 at a time)
    cursors = [p["cursor"] for _, p in state.requests]
    assert cursors.count("*") == slices  # one cursor per date slice, then the returned ones
    assert all(c in state.cursors for c in cursors if c != "*")
    run = db["runs"].get(summary.run_id)
    assert (run["window_start"], run["window_end"]) == ("2023-10-21", "2024-10-21")
    date_key = "from-pub-date" if kind == "crossref" else "from_publication_date"
    assert {p["filter"].split(date_key + ":")[1][:10] for _, p in state.requests} == {
        start for start, _ in split(START, END, slices)}
    assert max(state.in_flight_max, 1) <= 3
    # a slice ends with its short last page (it completes the total reported), or, when its
    # last page is full, with the empty page after it
    totals = [part["total"] for part in json.loads(run["checkpoint"])["slices"]]
    assert sum(totals) == 337
    assert len(state.requests) == sum(n // 50 + 1 if n % 50 == 0 else -(-n // 50)
                                      for n in totals)


def test_polite_pool_and_key_are_sent(db):
    with oa.serve(oa.OpenAlexState.generated(10)) as (url, state):
        harvest_search(db, openalex_search(), None, service_settings(
            {"OPENALEX_API_URL": url, "EVIDENCE_MAILTO": "team@example.org",
             "OPENALEX_API_KEY": "secret"}))
    assert all(p["mailto"] == "team@example.org" and p["api_key"] == "secret"
               for _, p in state.requests)
    assert "language:no" not in state.requests[0][1]["filter"]


def test_429_with_retry_after_and_500_are_retried(db):
    sleeps: list[float] = []
    with cr.serve(cr.CrossrefState.generated(120)) as (url, state):
        state.faults = [(429, {"Retry-After": "7"}), (500, {}), (503, {"Retry-After": "2"})]
        summary = harvest_search(db, crossref_search(), None, service_settings({}),
                                 client=client("crossref", url, sleep=sleeps.append))
    assert summary.new == 120
    assert 7.0 in sleeps and 2.0 in sleeps and len(sleeps) == 3


def test_bounded_retries_end_with_a_clear_error(db):
    with cr.serve(cr.CrossrefState.generated(10)) as (url, state):
        state.faults = [(500, {})] * 50
        with pytest.raises(Exception, match=r"Crossref search 'idunn' \(run 1\): works: gave "
                                            r"up after 3 attempts.*run the command again"):
            harvest_search(db, crossref_search(), None, service_settings({}),
                           client=client("crossref", url, retries=2))
    assert db.execute("select status from runs").fetchone()[0] == "failed"


def test_a_lower_limit_the_service_announces_is_followed():
    """Crossref's public pool (no mailto) announces 1 request at a time and 5 a second."""
    import threading

    with cr.serve(cr.CrossrefState.generated(30)) as (url, state):
        api = PoliteClient(base_url=url, label="Crossref", per_second=50, concurrency=3)
        api.get("works", {"rows": 1})
        assert (api.limiter.per_second, api._slots.limit) == (5, 1)
        state.latency, state.in_flight_max = 0.05, 0
        threads = [threading.Thread(target=api.get, args=("works", {"rows": 1}))
                   for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert state.in_flight_max == 1


def test_a_refusal_names_the_service_and_its_words(db):
    with oa.serve(oa.OpenAlexState.generated(10)) as (url, state):
        with pytest.raises(Exception, match=r"OpenAlex answered HTTP 404 .*is not a route"):
            PoliteClient(base_url=url, label="OpenAlex").get("nowhere")


@pytest.mark.parametrize("kind", ["crossref", "openalex"])
def test_killed_between_pages_resumes_without_duplicates(db, kind):
    state = (cr.CrossrefState if kind == "crossref" else oa.OpenAlexState).generated(
        400, START, END)
    search = crossref_search() if kind == "crossref" else openalex_search()
    with cr.serve(state) as (url, _):
        dying = client(kind, url, DyingClient)
        dying.die_at = 5
        with pytest.raises(Killed):
            harvest_search(db, search, None, service_settings({}), client=dying)
        row = db.execute("select id, status, checkpoint from runs").fetchone()
        assert row[1] == "running"  # what kill -9 leaves behind
        stored = len(hits(db, kind))
        saved = [s["cursor"] for s in json.loads(row[2])["slices"]]
        assert 0 < stored < 400 and any(c != "*" for c in saved)
        settle(state)  # the killed run's requests still in flight are not the new run's
        state.requests.clear()
        summary = harvest_search(db, search, None, service_settings({}),
                                 client=client(kind, url))
    assert summary.run_id == row[0] and summary.message.startswith("resumed run")
    # each unfinished slice goes on from its saved cursor (none starts again from "*")
    resumed = [p["cursor"] for _, p in state.requests]
    assert set(saved) <= set(resumed) and resumed.count("*") == saved.count("*")
    assert db.execute("select count(*), count(distinct external_id) from hits").fetchone() == (
        400, 400)


def test_crossref_forgotten_cursor_pages_the_slice_again_without_duplicates(db):
    with cr.serve(cr.CrossrefState.generated(200)) as (url, state):
        dying = client("crossref", url, DyingClient)
        dying.die_at = 5
        with pytest.raises(Killed):
            harvest_search(db, crossref_search(), None, service_settings({}), client=dying)
        state.cursors.clear()  # Crossref forgot them
        summary = harvest_search(db, crossref_search(), None, service_settings({}),
                                 client=client("crossref", url))
    assert summary.status == "complete" and "paged again from the start" in summary.message
    assert db.execute("select count(*), count(distinct external_id) from hits").fetchone() == (
        200, 200)


@pytest.mark.parametrize("kind", ["crossref", "openalex"])
def test_a_rerun_asks_from_the_last_window_end_and_adds_nothing(db, kind):
    state = (cr.CrossrefState if kind == "crossref" else oa.OpenAlexState).generated(
        150, START, END)
    search = Search(name="s", source=kind, query="x",
                    window=DateWindow(last_months=12, cutoff=None),
                    settings={"filter": {}, "page_size": 50})
    with cr.serve(state) as (url, _):
        first = harvest_search(db, search, None, service_settings({}),
                               client=client(kind, url), today=END)
        state.requests.clear()
        again = harvest_search(db, search, None, service_settings({}),
                               client=client(kind, url), today=END)
    assert first.new == 150 and again.new == 0
    key = "from-pub-date" if kind == "crossref" else "from_publication_date"
    assert all(f"{key}:2024-10-21" in p["filter"] for _, p in state.requests)


# the same work from PubMed, Crossref and OpenAlex is one record -----------------------------

def test_same_work_from_pubmed_crossref_and_openalex_is_one_record(tmp_path):
    """Works the PubMed stand-in generates, as Crossref and OpenAlex describe them (their
    recorded shapes, re-keyed to the same DOI, PMID, title, authors, journal and pages)."""
    works, days = 6, (END - START).days + 1
    title = "Record {n}: community care for <i>substance use</i> & mental health."

    def day(n):
        return START + dt.timedelta(days=n * days // works)

    def journal(n):
        return f"Journal of Community Mental Health {n % 17}"

    crossref_works = [cr.work_like(
        n, day(n), DOI=f"10.5555/ev.{n}", title=[title.format(n=n)],
        author=[{"family": f"Author{n}x{i}", "given": f"Kari {chr(65 + i)}"}
                for i in range(1 + n % 4)], **{"container-title": [journal(n)]},
        volume=str(10 + n % 40), issue=str(1 + n % 12), page=f"{100 + n}-{110 + n}")
        for n in range(works)]
    openalex_works = [oa.work_like(
        n, day(n), doi=f"https://doi.org/10.5555/ev.{n}", title=title.format(n=n),
        ids={"openalex": f"https://openalex.org/W{9_000_000_000 + n}",
             "pmid": f"https://pubmed.ncbi.nlm.nih.gov/{FIRST_PMID + n}"},
        authorships=[{"author": {"display_name": f"Kari {chr(65 + i)} Author{n}x{i}"}}
                     for i in range(1 + n % 4)],
        primary_location={"source": {"display_name": journal(n)}},
        biblio={"volume": str(10 + n % 40), "issue": str(1 + n % 12),
                "first_page": str(100 + n), "last_page": str(110 + n)})
        for n in range(works)]
    config = tmp_path / "evidence.yml"
    config.write_text("""project: {title: T}
searches:
  - {name: pm, source: pubmed, query: x, window: {from: 2023-10-21, to: 2024-10-21}}
  - {name: idunn, source: crossref, query: x, window: {from: 2023-10-21, to: 2024-10-21}}
  - {name: oa, source: openalex, query: x, window: {from: 2023-10-21, to: 2024-10-21}}
""")
    with serve_eutils(EutilsState.generated(works, START, END)) as (eutils, _), \
            cr.serve(cr.CrossrefState(crossref_works)) as (crossref, _), \
            oa.serve(oa.OpenAlexState(openalex_works)) as (openalex, _):
        env = {"NCBI_EUTILS_URL": eutils, "CROSSREF_API_URL": crossref,
               "OPENALEX_API_URL": openalex}
        result = CliRunner(env=env).invoke(cli, ["harvest", "--config", str(config), "--db",
                                                 str(tmp_path / "e.db"), "-s"],
                                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"idunn: complete, {works} reported, {works} fetched, {works} new" in result.output
    from evidence.db.migrations import open_db

    db = open_db(tmp_path / "e.db")
    assert db.execute("select count(distinct source) from hits").fetchone()[0] == 3
    assert db.execute("select count(*) from records").fetchone()[0] == works
    assert {r for (r,) in db.execute(
        "select count(distinct record_id) from hits group by doi")} == {1}
    assert db.execute("select count(*) from records where oa_url is not null").fetchone()[0]
