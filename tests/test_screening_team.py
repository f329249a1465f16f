"""Screening as a team (issue 16), without a browser: highlight words written into the YAML,
two-colour compound-aware highlighting, the record search and its blindness, refusals as the
app's own pages (CSRF included), each user's language, skipped records at the queue's end."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlencode

import pytest

from evidence.config import ConfigError, load_config, parse_config
from evidence.db.decisions import save_decision
from evidence.db.migrations import open_db
from evidence.screening import auth, sessions
from evidence.screening import queries as q
from evidence.screening.app import make_datasette
from evidence.screening.finding import Filters, find_records, fold, word_key
from evidence.screening.highlights import highlight_text, parse_words, save_highlight_words
from evidence.screening.text import highlight
from tests.screening_data import add_users, seed

TITLES = {2: "Rusmiddelbruk blant unge i Øvre kommuner", 3: "Protocol for a cancer trial"}


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(auth, "ITERATIONS", 1_000)


@pytest.fixture
def project(db_path, config_path):
    seed(db_path, config_path, 6, titles=TITLES)
    add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"})
    return db_path, config_path


def cookies(ds, name: str, role: str = "reviewer") -> dict[str, str]:
    return {"ds_actor": sessions.cookie_value(ds, {"id": name, "role": role}, 0)}


async def token(ds) -> str:
    return (await ds.client.get("/-/login")).cookies["ds_csrftoken"]


async def post(ds, path: str, jar: dict, data: list, csrf: str | None = None):
    good = await token(ds)
    return await ds.client.post(
        path, content=urlencode([*data, ("csrftoken", good if csrf is None else csrf)]),
        headers={"content-type": "application/x-www-form-urlencoded"},
        cookies={**jar, "ds_csrftoken": good})


# --- highlight words in the configuration -------------------------------------------------

def test_highlight_words_replace_only_their_lists_and_keep_comments(config_path):
    before = config_path.read_text(encoding="utf-8")
    config = save_highlight_words(config_path, ["rus", "a: b"], ["kreft"])
    after = config_path.read_text(encoding="utf-8")
    assert config.screening.highlight_include == ("rus", "a: b")
    assert config.screening.highlight_exclude == ("kreft",)
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
               if a != b]
    assert changed == [
        ("    include: [psykisk helse, rus, kommune, primary care, community, integrated care]",
         '    include: [rus, "a: b"]'),
        ("    exclude: [protocol, cancer, animal, randomised trial]", "    exclude: [kreft]")]


def test_highlight_block_is_added_where_missing_and_block_lists_are_replaced():
    text = "project:\n  title: x\nscreening:\n  order: oldest  # comment\n"
    added = parse_config(highlight_text(text, {"include": ["rus"], "exclude": []}))
    assert added.screening.highlight_include == ("rus",) and added.screening.order == "oldest"
    block = ("project:\n  title: x\nscreening:\n  highlight:\n    include:\n      - a\n"
             "      - b   # kept\n    exclude: [c]\n")
    replaced = highlight_text(block, {"include": ["x"], "exclude": ["y"]})
    assert "# kept" in replaced
    assert parse_config(replaced).screening.highlight_include == ("x",)
    empty = parse_config(highlight_text("project:\n  title: x\n",
                                        {"include": ["z"], "exclude": ["w"]}))
    assert empty.screening.highlight_exclude == ("w",)


def test_a_broken_file_is_not_overwritten(config_path):
    config_path.write_text(config_path.read_text(encoding="utf-8") + "\nunknown_key: 1\n",
                           encoding="utf-8")
    before = config_path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError):
        save_highlight_words(config_path, ["rus"], [])
    assert config_path.read_text(encoding="utf-8") == before


def test_words_one_per_line_or_comma_without_repeats():
    assert parse_words("rus, psykisk  helse\n\nRUS\nkommune") == [
        "rus", "psykisk helse", "kommune"]


# --- two colours, inside Norwegian compounds and inflections -------------------------------

def test_highlight_marks_compounds_and_inflections_in_two_colours():
    html = str(highlight("Rusmiddelbruk og rusen i kommunene; virus, folkehelse & <script>", [],
                         include=["rus", "kommune", "helse"], exclude=["virus"]))
    assert '<mark class="hl-include">Rusmiddelbruk</mark>' in html
    assert '<mark class="hl-include">rusen</mark>' in html
    assert '<mark class="hl-include">kommunene</mark>' in html
    assert 'folke<mark class="hl-include">helse</mark>' in html
    assert '<mark class="hl-exclude">virus</mark>' in html  # "rus" is not marked inside it
    assert "&amp; &lt;script&gt;" in html  # escaped, entities untouched


def test_word_keys_fold_accents_and_reach_plurals():
    assert fold("Øvre Ålesund café") == "øvre alesund cafe"
    assert word_key("rusmidler") == "rusmid"
    assert word_key("rus") == "rus"


# --- finding records ------------------------------------------------------------------------

def test_find_by_words_year_and_own_decisions_stays_blind(project):
    db_path, _ = project
    db = open_db(db_path)
    save_decision(db.conn, 2, "bo", "include", theme_slugs=["stigma"])
    save_decision(db.conn, 3, "cy", "exclude", reason="wrong-topic")
    save_decision(db.conn, 3, "bo", "include")

    def ids(lead=False, viewer="bo", **args):
        rows, _ = find_records(db.conn, Filters.from_args(args, lead=lead), viewer=viewer,
                               lead=lead)
        return [r["id"] for r in rows], rows

    assert ids(words="rusmidler øvre")[0] == [2]
    assert ids(words="RUSMIDDEL", year="2020-2024")[0] == [2]
    assert ids(year="1999")[0] == []
    assert ids(decision="exclude")[0] == []  # cy's exclude is not bo's to see
    assert ids(reviewer="cy", decision="exclude")[0] == []  # a reviewer cannot pick reviewers
    found, rows = ids(decision="include")
    assert found == [2, 3] and all(r["final"] is None and r["votes"] is None for r in rows)
    assert ids(theme="stigma")[0] == [2]
    assert ids(lead=True, viewer="ana", reviewer="cy", reason="wrong-topic")[0] == [3]
    assert ids(lead=True, viewer="ana", decision="conflict")[0] == [3]
    assert len(ids(state="queue")[0]) == 4


# --- pages: refusals, CSRF, language, skip -----------------------------------------------

@pytest.mark.asyncio
async def test_refusals_are_app_pages_in_the_users_language(project):
    db_path, config_path = project
    ds = make_datasette(db_path, config_path, secret="s")
    bo = cookies(ds, "bo")
    page = await ds.client.get("/-/screen/conflicts", cookies=bo)
    assert page.status_code == 403 and "Bare en leder" in page.text
    assert 'class="refused"' in page.text
    bad = await post(ds, "/-/screen/record/1", bo, [("decision", "include")], csrf="forged")
    assert bad.status_code == 403 and "Skjemaet var utløpt" in bad.text
    missing = await ds.client.get("/-/screen/record/999", cookies=bo)
    assert missing.status_code == 404 and "Fant ikke posten" in missing.text
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM decisions").fetchone() == (0,)
    # Datasette's own pages keep Datasette's CSRF check.
    other = await ds.client.post("/-/messages", content="message=x&csrftoken=forged",
                                 headers={"content-type": "application/x-www-form-urlencoded"},
                                 cookies={**bo, "ds_csrftoken": await token(ds)})
    assert other.status_code == 403 and "refused" not in other.text
    # English after the switch, remembered in the users table.
    switched = await post(ds, "/-/screen/language", bo, [("lang", "en"), ("next", "/-/screen")])
    assert switched.status_code == 302 and switched.cookies.get("evidence_lang") == "en"
    assert q.user_language(sqlite3.connect(db_path), "bo") == "en"
    page = await ds.client.get("/-/screen/conflicts", cookies=bo)
    assert "Only a lead can see this page." in page.text and '<html lang="en">' in page.text


@pytest.mark.asyncio
async def test_missing_reason_on_resolution_keeps_the_card_and_the_text(project):
    db_path, config_path = project
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("reviewers_per_record: 1", "reviewers_per_record: 2"),
                           encoding="utf-8")
    db = open_db(db_path)
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["stigma"])
    save_decision(db.conn, 1, "cy", "exclude", reason="wrong-topic")
    ds = make_datasette(db_path, config_path, secret="s")
    ana = cookies(ds, "ana", "lead")
    page = await ds.client.get("/-/screen/conflicts", cookies=ana)
    assert page.text.count('data-agree="a"') == 1 and "Enig med cy" in page.text
    refused = await post(ds, "/-/screen/resolve/1", ana,
                         [("decision", "exclude"), ("note", "my words")])
    assert refused.status_code == 400
    assert "Velg en eksklusjonsgrunn." in refused.text and "my words" in refused.text


@pytest.mark.asyncio
async def test_skipped_record_waits_until_the_rest_is_done(project):
    db_path, config_path = project
    ds = make_datasette(db_path, config_path, secret="s")
    bo = cookies(ds, "bo")
    first = await ds.client.get("/-/screen", cookies=bo)
    assert 'data-record-id="1"' in first.text
    assert (await post(ds, "/-/screen/skip/1", bo, [])).status_code == 302
    assert 'data-record-id="2"' in (await ds.client.get("/-/screen", cookies=bo)).text
    db = open_db(db_path)
    for record_id in range(2, 7):
        save_decision(db.conn, record_id, "bo", "maybe")
    again = await ds.client.get("/-/screen", cookies=bo)
    assert 'data-record-id="1"' in again.text
    assert q.skipped_records(db.conn, "bo") == []


def test_example_configuration_has_highlight_words(config_path):
    screening = load_config(config_path).screening
    assert "rus" in screening.highlight_include and "protocol" in screening.highlight_exclude


@pytest.mark.asyncio
async def test_queue_narrowed_by_a_search(project):
    db_path, config_path = project
    ds = make_datasette(db_path, config_path, secret="s")
    bo = cookies(ds, "bo")
    page = await ds.client.get("/-/screen?words=rusmidler", cookies=bo)
    assert 'data-record-id="2"' in page.text and "1 av 1 igjen" in page.text
    assert 'name="next" value="/-/screen?words=rusmidler"' in page.text
    found = await ds.client.get("/-/screen/find?words=rusmidler", cookies=bo)
    assert 'href="/-/screen?words=rusmidler"' in found.text


@pytest.mark.asyncio
async def test_reviewers_on_one_narrowed_queue_get_different_records(project):
    """The Find page's narrowed queue honours claims as the plain queue does: two reviewers
    opening ``/-/screen?year=...`` at once are not given the same record."""
    db_path, config_path = project
    ds = make_datasette(db_path, config_path, secret="s")
    with sqlite3.connect(db_path) as conn:
        year = conn.execute("SELECT min(year) || '-' || max(year) FROM records").fetchone()[0]
    shown = []
    for name in ("bo", "cy"):
        page = await ds.client.get(f"/-/screen?year={year}", cookies=cookies(ds, name))
        shown.append(re.search(r'data-record-id="(\d+)"', page.text).group(1))
    assert shown[0] != shown[1], shown


@pytest.mark.asyncio
async def test_a_stop_ends_the_narrowed_queue(project):
    """After a lead stops screening, the whole queue holds only records others have begun;
    a queue narrowed on the Find page (``/-/screen?words=``) served unbegun records from the
    narrowed set all the same. The stop ends the narrowing: the reviewer is sent to the whole
    queue with a word why, and the Find page offers no narrowed queue."""
    from evidence.models import safe

    db_path, config_path = project
    ds = make_datasette(db_path, config_path, secret="s")
    bo = cookies(ds, "bo")
    before = await ds.client.get("/-/screen?words=rusmidler", cookies=bo)
    assert 'data-record-id="2"' in before.text
    db = open_db(db_path)
    safe.stop_screening(db.conn, "ana", {"phase": "met"})
    db.conn.commit()
    after = await ds.client.get("/-/screen?words=rusmidler", cookies=bo)
    assert after.status_code == 302 and after.headers["location"] == "/-/screen"
    queue = await ds.client.get("/-/screen", cookies={**bo, **dict(after.cookies)})
    assert "søket ditt avgrenser ikke køen lenger" in queue.text
    assert "data-record-id" not in queue.text and 'class="filtered"' not in queue.text
    found = await ds.client.get("/-/screen/find?words=rusmidler", cookies=bo)
    assert "screen-these" not in found.text and "/-/screen/record/2" in found.text
    safe.undo_stop(db.conn, "ana")
    db.conn.commit()
    db.close()
    again = await ds.client.get("/-/screen?words=rusmidler", cookies=bo)
    assert 'data-record-id="2"' in again.text
