"""The PubMed harvester against the E-utilities stand-in: records, windows, faults, resume."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.config import DateWindow, Search, service_settings
from evidence.db.migrations import open_db
from evidence.harvest import store
from evidence.harvest.pubmed import client as pubmed
from evidence.harvest.pubmed.client import EUtils, PubMedError, parse_articles
from evidence.harvest.pubmed.convert import to_hit
from evidence.harvest.runs import harvest_search
from tests.standins.eutils import FIRST_PMID, EutilsState, article_xml, book_xml, serve

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pubmed"
START, END = dt.date(2023, 10, 21), dt.date(2024, 10, 21)
SEARCH = Search(name="pm-test", source="pubmed", query='"mental health"[tiab]',
                window=DateWindow(start=START, end=END))


class Killed(BaseException):
    """Stands for kill -9: nothing in the harvester may catch it."""


class FlakyClient(EUtils):
    """Raises ``error`` on the ``fail_at``-th EFetch call (counting from 1)."""

    fail_at: int = 0
    error: type[BaseException] = Killed
    calls: int = 0

    def efetch_xml(self, history, retstart, retmax):
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.error()
        return super().efetch_xml(history, retstart, retmax)


@pytest.fixture
def eutils():
    with serve(EutilsState.generated(300, START, END)) as (url, state):
        yield url, state


@pytest.fixture
def sleeps():
    return []


def make_client(url, sleeps, cls=EUtils, timeout=(2.0, 0.5), **kwargs):
    return cls(url, api_key="KEY", email="team@example.org", per_second=0, sleep=sleeps.append,
               timeout=timeout, retries=3, **kwargs)


def run(db, url, sleeps, client=None, **kwargs):
    client = client or make_client(url, sleeps)
    services = service_settings({"NCBI_EUTILS_URL": url})
    return harvest_search(db, SEARCH, None, services, client=client, batch_size=100, **kwargs)


def hit_ids(db):
    return [r["external_id"] for r in db.query("select external_id from hits order by id")]


def requests_to(state, endpoint):
    return [params for name, params in state.requests if name == endpoint]


# --- record conversion ------------------------------------------------------------------------

def test_to_hit_real_pubmed_record():
    (article,) = parse_articles((FIXTURES / "pubmed5_excerpt.xml").read_bytes())
    hit = to_hit(article)
    assert hit["external_id"] == hit["pmid"] == "28775130"
    assert hit["doi"] == "10.1136/oemed-2017-104431" and hit["pmcid"] == "PMC5771820"
    assert hit["authors"] == ["Lerro, Catherine C", "Beane Freeman, Laura E", "Ward, Mary H"]
    assert hit["journal"] == "Occupational and environmental medicine"
    assert hit["journal_abbrev"] == "Occup Environ Med"
    assert (hit["volume"], hit["issue"], hit["pages"]) == ("75", "2", "79-89")
    assert hit["pub_date"] == "2018-02"
    sections = hit["abstract"].split("\n\n")
    assert [s.split(":")[0] for s in sections] == ["OBJECTIVES", "METHODS", "RESULTS",
                                                   "CONCLUSIONS"]
    assert "(TSH >4.5 mIU/L)" in sections[1]
    # Inline markup is kept as the safe tags the apps render, not flattened ("ptrend").
    assert "(p<sub>trend</sub>=0.02)" in sections[2]
    assert "thyroid disease" in hit["keywords"]
    row = store.normalise_hit(hit)
    assert row["year"] == 2018
    assert json.loads(row["raw"])["MedlineCitation"]["PMID"] == "28775130"


def _parse_one(xml: str) -> dict:
    (article,) = parse_articles(
        (pubmed_head() + xml + "</PubmedArticleSet>\n").encode())
    return article


def pubmed_head() -> str:
    from tests.standins.eutils import EFETCH_HEAD
    return EFETCH_HEAD


def test_to_hit_medline_date_collective_author_and_missing_abstract():
    medline = to_hit(_parse_one(article_xml(13, FIRST_PMID + 13, dt.date(2024, 1, 5))))
    assert medline["pub_date"] == "2024 Jan-Feb"
    assert store.normalise_hit(medline)["year"] == 2024
    collective = to_hit(_parse_one(article_xml(15, FIRST_PMID + 15, dt.date(2024, 1, 5))))
    assert collective["authors"][-1] == "PRISMA Group"
    assert collective["abstract"].startswith("Plain abstract for record 15")
    empty = to_hit(_parse_one(article_xml(3, FIRST_PMID + 3, dt.date(2024, 1, 5))))
    assert empty["abstract"] is None
    assert empty["title"].startswith("Record 3: community care for <i>substance use</i> &")


def test_to_hit_book_chapter():
    hit = to_hit(_parse_one(book_xml(49, FIRST_PMID + 49, dt.date(2024, 3, 1))))
    assert hit["item_type"] == "bookSection"
    assert hit["title"] == "Record 49: chapter on municipal services"
    assert hit["journal"] == "Community Mental Health Handbook"
    assert hit["authors"] == ["Chapterauthor49, Ingrid"]
    assert hit["abstract"] == "INTRODUCTION: Chapter 49 introduction."
    assert hit["pub_date"] == "2024-03" and hit["isbn"] == "978-82-8082-049-1"
    json.dumps(hit["raw"])


def test_esearch_real_answer_without_history():
    history = pubmed._parse_esearch((FIXTURES / "esearch1.xml").read_bytes())
    assert history.count == 63


# --- harvesting -------------------------------------------------------------------------------

def test_harvest_fetches_every_record_once(db, eutils, sleeps):
    url, state = eutils
    summary = run(db, url, sleeps)
    assert (summary.status, summary.reported, summary.fetched, summary.new) == (
        "complete", 300, 300, 300)
    assert len(set(hit_ids(db))) == 300
    search = requests_to(state, "esearch")[0]
    assert search["usehistory"] == "y" and search["datetype"] == "pdat"
    assert (search["mindate"], search["maxdate"]) == ("2023/10/21", "2024/10/21")
    assert (search["tool"], search["email"], search["api_key"]) == (
        "evidence-tracker", "team@example.org", "KEY")
    fetches = requests_to(state, "efetch")
    # two batches are fetched at once, so requests may arrive out of order
    assert sorted(int(f["retstart"]) for f in fetches) == [0, 100, 200]
    assert all(f["retmode"] == "xml" and f["WebEnv"].startswith("MCID_") for f in fetches)
    run_row = db["runs"].get(summary.run_id)
    assert run_row["status"] == "complete" and run_row["reported_count"] == 300
    raw = json.loads(db.execute("select raw from hits order by id limit 1").fetchone()[0])
    assert raw["MedlineCitation"]["PMID"] == str(FIRST_PMID)
    assert db["searches"].get(run_row["search_id"])["last_run_at"]


def test_second_run_starts_at_last_window_end_and_adds_nothing(db, eutils, sleeps):
    url, state = eutils
    run(db, url, sleeps)
    state.requests.clear()
    second = run(db, url, sleeps)
    assert second.new == 0
    assert requests_to(state, "esearch")[0]["mindate"] == "2024/10/21"
    third = run(db, url, sleeps, since=dt.date(2024, 10, 1))
    assert third.new == 0 and third.fetched > 0
    assert db["runs"].get(third.run_id)["window_start"] == "2024-10-01"
    assert db.execute("select count(*) from hits").fetchone()[0] == 300


def test_window_start_after_end_is_an_error(db, eutils, sleeps):
    url, _ = eutils
    with pytest.raises(PubMedError, match="after it ends"):
        run(db, url, sleeps, since=dt.date(2025, 1, 1))


@pytest.mark.parametrize("kind", ["429", "500", "slow", "truncate"])
def test_transient_faults_are_retried(db, eutils, sleeps, kind):
    """One fault at each endpoint, each retried once: exactly two waits. No timing margins
    (a loaded machine broke a 0.5 s timeout against a 1.5 s answer both ways: an unfaulted
    answer past the timeout was one retry too many, a client run too late to see its timeout
    before the slow answer one too few): the slow answer comes only after the client hung up,
    and the other answers have 2 s."""
    url, state = eutils
    state.slow_seconds = None  # answered once the client has given up waiting
    state.faults += [{"endpoint": "efetch", "kind": kind}, {"endpoint": "esearch", "kind": kind}]
    summary = run(db, url, sleeps, client=make_client(url, sleeps, timeout=(2.0, 2.0)))
    assert summary.new == 300 and len(set(hit_ids(db))) == 300
    assert len(sleeps) == 2
    if kind == "429":
        assert sleeps == [1.0, 1.0]  # Retry-After
    else:
        assert all(1.0 <= s <= 2.0 for s in sleeps)  # backoff 1 s + jitter


def test_retries_give_up_with_a_clear_error(db, eutils, sleeps):
    url, state = eutils
    state.faults += [{"endpoint": "efetch", "kind": "500"}] * 20
    with pytest.raises(PubMedError, match=r"gave up after 4 attempts in \d+ s: HTTP 500"):
        run(db, url, sleeps)
    assert min(sleeps) >= 1.0 and max(sleeps) >= 4.0  # exponential: 1, 2, 4 s (+ jitter)
    assert db.execute("select status from runs").fetchone()[0] == "failed"


def test_ncbi_error_inside_200_fails_the_run_with_ncbis_message(db, eutils, sleeps):
    url, state = eutils
    state.faults.append({"endpoint": "efetch", "kind": "error"})
    with pytest.raises(PubMedError, match=r"pm-test.*Search Backend failed"):
        run(db, url, sleeps)
    row = db.execute("select status, error from runs").fetchone()
    assert row[0] == "failed" and "Search Backend failed" in row[1]


@pytest.mark.parametrize("kind,message", [("error", "Invalid query: unbalanced"),
                                          ("field-error", "FieldNotFound: badfield")])
def test_esearch_errors(db, eutils, sleeps, kind, message):
    url, state = eutils
    state.faults.append({"endpoint": "esearch", "kind": kind})
    with pytest.raises(PubMedError, match=message):
        run(db, url, sleeps)


def test_phrase_not_found_is_an_empty_result_not_an_error(db, eutils, sleeps):
    url, state = eutils
    state.faults.append({"endpoint": "esearch", "kind": "phrase-not-found"})
    summary = run(db, url, sleeps)
    assert (summary.status, summary.reported, summary.new) == ("complete", 0, 0)
    assert requests_to(state, "efetch") == []


def test_history_expiry_reruns_the_search_and_continues(db, eutils, sleeps):
    url, state = eutils
    state.faults += [{"endpoint": "efetch", "kind": "ok"}, {"endpoint": "efetch", "kind": "expire"}]
    summary = run(db, url, sleeps)
    assert summary.new == 300 and len(set(hit_ids(db))) == 300
    assert len(requests_to(state, "esearch")) == 3  # plan, slice, renewal


def test_large_counts_split_the_window_by_days(db, eutils, sleeps):
    url, state = eutils
    state.reported_per_day = 25_000 // 367 + 1  # about 25,000 over the year
    # The stand-in reports 25,000 but holds 300: the run is not complete, and says so.
    with pytest.raises(PubMedError, match="reported 2[0-9]+ records but EFetch returned 300"):
        run(db, url, sleeps)
    summary = db["runs"].get(1)
    searches = [(s["mindate"], s["maxdate"]) for s in requests_to(state, "esearch")]
    assert searches[:3] == [("2023/10/21", "2024/10/21"), ("2023/10/21", "2024/04/21"),
                            ("2023/10/21", "2024/01/20")]
    slices = json.loads(summary["checkpoint"])["slices"]
    assert len(slices) == 4 and all(count <= 9_999 for _, _, count in slices)
    assert slices[0][0] == "2023-10-21" and slices[-1][1] == "2024-10-21"
    assert all(dt.date.fromisoformat(a[1]) + dt.timedelta(days=1)
               == dt.date.fromisoformat(b[0]) for a, b in zip(slices[:-1], slices[1:], strict=True))
    assert summary["reported_count"] == sum(c for _, _, c in slices) > 25_000
    assert summary["status"] == "failed" and len(set(hit_ids(db))) == 300


def test_one_day_over_the_cap_is_noted(db, eutils, sleeps):
    url, state = eutils
    state.reported_per_day = 12_000
    with pytest.raises(PubMedError, match="EFetch returned"):
        run(db, url, sleeps, since=dt.date(2024, 10, 21))
    notes = json.loads(db["runs"].get(1)["checkpoint"])["notes"]
    assert "2024-10-21 alone has 12000 records" in notes[0]


def kill_on_third_batch(db, url, sleeps) -> None:
    """Die like ``kill -9`` while the third batch is being fetched."""
    flaky = make_client(url, sleeps, FlakyClient)
    flaky.fail_at = 3
    with pytest.raises(Killed):
        run(db, url, sleeps, client=flaky)


def test_kill_mid_run_then_resume_without_duplicates(db, eutils, sleeps):
    url, state = eutils
    kill_on_third_batch(db, url, sleeps)
    run_row = db.execute("select id, status, checkpoint from runs").fetchone()
    assert run_row[1] == "running"  # what kill -9 leaves behind
    assert json.loads(run_row[2])["retstart"] == 200 and len(hit_ids(db)) == 200
    state.requests.clear()
    summary = run(db, url, sleeps)
    assert summary.run_id == run_row[0] and summary.message.startswith("resumed run")
    assert [f["retstart"] for f in requests_to(state, "efetch")] == ["200"]
    assert sorted(hit_ids(db)) == [str(FIRST_PMID + i) for i in range(300)]
    assert (summary.fetched, summary.new) == (300, 300)


def test_ctrl_c_marks_the_run_interrupted_and_the_next_run_resumes(db, eutils, sleeps):
    url, _ = eutils
    flaky = make_client(url, sleeps, FlakyClient)
    flaky.fail_at, flaky.error = 2, KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run(db, url, sleeps, client=flaky)
    assert db.execute("select status from runs").fetchone()[0] == "interrupted"
    summary = run(db, url, sleeps)
    assert summary.status == "complete" and len(set(hit_ids(db))) == len(hit_ids(db)) == 300
    assert db.execute("select count(*) from runs").fetchone()[0] == 1


def test_rate_limiter_spaces_requests():
    waits = []
    limiter = pubmed.RateLimiter()
    for _ in range(4):
        limiter.wait(3, waits.append)
    assert len(waits) == 3 and waits[-1] == pytest.approx(1.0, abs=0.05)
    limiter.wait(0, waits.append)
    assert len(waits) == 3


def test_efetch_ids_posts(eutils, sleeps):
    url, state = eutils
    articles = make_client(url, sleeps).efetch_ids([str(FIRST_PMID + i) for i in (1, 2)])
    assert [to_hit(a)["pmid"] for a in articles] == [str(FIRST_PMID + 1), str(FIRST_PMID + 2)]


# --- command line ------------------------------------------------------------------------------

def test_cli_harvest_example_searches_from_the_stand_in(tmp_path, config_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pubmed.RateLimiter, "wait", lambda self, per_second, sleep=None: None)
    with serve(EutilsState.generated(120, START, END)) as (url, state):
        monkeypatch.setenv("NCBI_EUTILS_URL", url)
        args = ["harvest", "--config", str(config_path), "--db", str(tmp_path / "e.db"),
                "--search", "pubmed-mental-health", "--search", "pubmed-substance-use", "-s"]
        first = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert first.exit_code == 0, first.output
        assert "pubmed-mental-health: complete, 120 reported, 120 fetched, 120 new" in first.output
        assert "pubmed-substance-use: complete, 120 reported, 120 fetched, 120 new" in first.output
        second = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert second.exit_code == 0, second.output
        assert "pubmed-mental-health: complete" in second.output and " 0 new" in second.output
        assert second.output.count(", 0 new") == 2
        assert {p["maxdate"] for n, p in state.requests if n == "esearch"} == {"2024/10/21"}


def test_one_failing_search_does_not_stop_the_others(tmp_path, config_path, monkeypatch):
    """Every search runs; each one's outcome is reported, and the command exits non-zero."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pubmed.RateLimiter, "wait", lambda self, per_second, sleep=None: None)
    with serve(EutilsState.generated(40, START, END)) as (url, state):
        state.faults.append({"endpoint": "esearch", "kind": "error"})
        monkeypatch.setenv("NCBI_EUTILS_URL", url)
        args = ["harvest", "--config", str(config_path), "--db", str(tmp_path / "e.db"),
                "--search", "pubmed-mental-health", "--search", "pubmed-substance-use", "-s"]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "pubmed-mental-health: failed: " in result.output
    assert "unbalanced parentheses" in result.output
    assert "pubmed-substance-use: complete, 40 reported, 40 fetched, 40 new" in result.output
    assert "Error: 1 of 2 searches failed: pubmed-mental-health" in result.output
    db = open_db(tmp_path / "e.db")
    assert [r["status"] for r in db.query("select status from runs order by id")] == [
        "failed", "complete"]


def test_a_count_the_fetch_does_not_meet_is_not_a_complete_run(db, sleeps):
    """ESearch says N, EFetch gives fewer: said, and the run is not stored as complete."""
    with serve(EutilsState.generated(1, START, END)) as (url, state):
        state.faults.append({"endpoint": "efetch", "kind": "empty"})
        with pytest.raises(PubMedError, match="ESearch reported 1 records but EFetch returned 0"):
            run(db, url, sleeps)
    assert db.execute("select status from runs").fetchone()[0] == "failed"


def test_mathml_in_abstract_becomes_text():
    xml = article_xml(1, FIRST_PMID + 1, dt.date(2024, 1, 5)).replace(
        "community mental", 'inhaled <mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML">\n'
        "    <mml:mrow>\n      <mml:mi>He</mml:mi>\n      <mml:mprescripts/>\n    </mml:mrow>\n"
        "  </mml:math> MRI and community mental")
    abstract = to_hit(_parse_one(xml))["abstract"]
    assert "inhaled He MRI and community mental health" in abstract and "\n" not in abstract


def test_resume_after_pubmed_changed_refetches_the_slice(db, eutils, sleeps):
    url, state = eutils
    kill_on_third_batch(db, url, sleeps)
    # ten records indexed meanwhile: result positions may have moved, so start the slice over
    state.records += [(FIRST_PMID + 300 + i, dt.date(2024, 5, 1)) for i in range(10)]
    state.requests.clear()
    summary = run(db, url, sleeps)
    assert sorted(int(f["retstart"]) for f in requests_to(state, "efetch")) == [0, 100, 200, 300]
    assert sorted(hit_ids(db)) == [str(FIRST_PMID + i) for i in range(310)]
    assert (summary.reported, summary.new) == (310, 310)


KILLED_CHILD = """
import datetime as dt, sys
from evidence.db.migrations import open_db
from evidence.config import DateWindow, Search, service_settings
from evidence.harvest.pubmed.client import EUtils
from evidence.harvest.runs import harvest_search
url, path = sys.argv[1:]
search = Search(name="pm-test", source="pubmed", query="x",
                window=DateWindow(start=dt.date(2023, 10, 21), end=dt.date(2024, 10, 21)))
harvest_search(open_db(path), search, None, service_settings({}), batch_size=100,
               client=EUtils(url, per_second=0))
"""


def _parser_processes_exit(session: int, wait: float = 5.0) -> bool:
    """True once no process of the killed harvester's session is left (no orphan parsers)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        left = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[3]) == session and fields[0] != "Z":
                        left.append(int(proc.name))
        if not left:
            return True
        time.sleep(0.1)
    for pid in left:  # do not leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    return False


def test_kill_9_of_a_real_process_then_resume(tmp_path, db_path, sleeps):
    """SIGKILL a harvesting process mid-run; the next run resumes it with no hit twice."""
    root = Path(__file__).resolve().parent.parent
    with serve(EutilsState.generated(1000, START, END)) as (url, state):
        state.slow_seconds = 0.3  # keeps the child busy until it is killed
        state.faults += [{"endpoint": "efetch", "kind": "slow"}] * 10
        child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, url, str(db_path)],
                                 cwd=root, start_new_session=True)
        db = open_db(db_path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and child.poll() is None:
            if "hits" in db.table_names() and db.execute(
                    "select count(*) from hits").fetchone()[0] >= 100:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        assert _parser_processes_exit(child.pid)
        stored = db.execute("select count(*) from hits").fetchone()[0]
        assert 0 < stored < 1000
        assert db.execute("select status from runs").fetchone()[0] == "running"
        state.faults.clear()
        summary = run(db, url, sleeps)
    assert summary.message.startswith("resumed run") and summary.new == 1000
    assert db.execute("select count(*), count(distinct external_id) from hits").fetchone() == (
        1000, 1000)


def test_server_that_never_answers_is_named_and_given_up_on(db, eutils, sleeps, caplog):
    """Accepts the connection, never answers: each wait is logged, the run fails in time."""
    url, state = eutils
    state.faults += [{"endpoint": "efetch", "kind": "hang"}] * 40
    started = time.monotonic()
    try:
        with caplog.at_level("WARNING", logger="evidence.harvest.pubmed"), pytest.raises(
                PubMedError, match=r"pm-test.*efetch.fcgi: gave up after 4 attempts in \d+ s:"
                                   r" no answer from http://127.0.0.1:\d+/entrez/eutils within"
                                   r" 0.5 s \(the server accepted the connection\)"):
            run(db, url, sleeps)
    finally:
        state.release.set()
    assert time.monotonic() - started < 15
    waits = [r.getMessage() for r in caplog.records]  # three batches were in flight
    assert all(w.startswith("PubMed efetch.fcgi: no answer from http://127.0.0.1:")
               for w in waits) and len(waits) >= 3
    assert re.search(r"within 0.5 s \(the server accepted the connection\) \(attempt 1 of 4\);"
                     r" trying again in [12] s$", waits[0])
    assert db.execute("select status from runs").fetchone()[0] == "failed"


def test_patience_bounds_one_call_whatever_the_retries(eutils, sleeps):
    url, state = eutils
    state.faults += [{"endpoint": "esearch", "kind": "hang"}] * 20
    client = EUtils(url, per_second=0, sleep=sleeps.append, timeout=(2.0, 0.5), retries=50,
                    patience=1.2)
    started = time.monotonic()
    try:
        with pytest.raises(PubMedError, match=r"gave up after \d attempts in \d s: no answer"):
            client.esearch("x", "pdat", START, END)
    finally:
        state.release.set()
    assert time.monotonic() - started < 3


def test_harvest_deduplicates_while_waiting_for_pubmed(tmp_path, monkeypatch):
    """The harvest command folds stored hits into records while EFetch answers are on the way."""
    from evidence.config import parse_config
    from evidence.dedupe.cluster import Steps
    from evidence.harvest.runs import harvest

    passes = []
    original = Steps.run

    def run_and_release(self):
        passes.append(self.db.execute("select count(*) from hits").fetchone()[0])
        original(self)
        state.release.set()  # the held EFetch answers only after a dedupe pass

    monkeypatch.setattr(Steps, "run", run_and_release)
    monkeypatch.setattr(pubmed.RateLimiter, "wait", lambda self, per_second, sleep=None: None)
    config = parse_config(f"project: {{title: T}}\nsearches:\n  - {{name: pm, source: pubmed,"
                          f" query: x, window: {{from: {START}, to: {END}}}}}\n")
    db = open_db(tmp_path / "e.db")
    with serve(EutilsState.generated(2500, START, END)) as (url, state):
        # answers from hit 1,200 on wait until a dedupe pass has run: the harvester is
        # waiting for the network with 1,200 hits stored, more than a pass needs (1,000)
        state.hold_from = 1200
        result = harvest(db, config, service_settings({"NCBI_EUTILS_URL": url,
                                                       "NCBI_API_KEY": "KEY"}))
    assert result.runs[0].new == 2500
    assert len(passes) >= 2 and passes[0] < 2500  # one pass before the last page arrived
    assert (result.dedupe.hits, result.dedupe.new_records) == (2500, 2500)
    assert db.execute("select count(*) from hits where record_id is null").fetchone()[0] == 0
