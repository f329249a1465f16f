"""Reviewer ergonomics (issue 24): the Find page renders inline markup, a chosen word inside a
search phrase leaves both marked, error pages speak the app's language with its navigation,
roles are translated, and *Mine beslutninger* has labelled filters."""

from __future__ import annotations

import sqlite3

import pytest

from evidence.screening.text import highlight
from tests import test_screening as screening_tests
from tests.test_screening import as_user, post

make_app, fast_hashes = screening_tests.make_app, screening_tests.fast_hashes


def nb(ds, db_path, *names: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "UPDATE users SET language = 'nb' WHERE username = ?", [(n,) for n in names]
        )


# --- highlighting ---------------------------------------------------------------------------


def test_a_chosen_word_inside_a_search_phrase_leaves_both_marked():
    html = str(
        highlight(
            "Peer support in community mental health services",
            ["community mental health"],
            include=["community"],
        )
    )
    assert '<mark><mark class="hl-include">community</mark> mental health</mark>' in html


def test_a_chosen_word_holding_a_search_term_holds_its_mark():
    html = str(highlight("Rusmiddelbruk og rusen", ["rus"], include=["rusmiddel"]))
    assert html.startswith('<mark class="hl-include"><mark>Rus</mark>middelbruk</mark>')


def test_marks_stay_well_nested_where_a_word_crosses_a_phrase_edge():
    html = str(
        highlight(
            "mental healthcare in towns", ["mental health"], include=["healthc"], exclude=["town"]
        )
    )
    assert html.count("<mark") == html.count("</mark>")
    assert '<mark>mental <mark class="hl-include">health</mark></mark>' in html
    assert '<mark class="hl-include">care</mark>' in html
    assert '<mark class="hl-exclude">towns</mark>' in html


def test_nested_marks_keep_markup_and_escaping():
    html = str(
        highlight(
            "Peer support &amp; <i>recovery colleges</i> <script>x</script>",
            ["recovery colleges"],
            include=["recovery"],
        )
    )
    assert '<i><mark><mark class="hl-include">recovery</mark> colleges</mark></i>' in html
    assert "&lt;script&gt;" in html


# --- the Find page --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_find_renders_inline_markup_safely_and_marks_the_words(make_app, db_path):
    ds = make_app()
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE records SET title = ? WHERE id = 5",
            ["Peer support & <i>recovery colleges</i> <script>alert(1)</script>"],
        )
    page = await ds.client.get("/-/screen/find?words=recovery", cookies=as_user(ds, "bo"))
    assert page.status_code == 200
    assert "Peer support &amp; <i><mark>recovery</mark> colleges</i>" in page.text
    assert "&lt;i&gt;" not in page.text and "<script>alert" not in page.text


# --- error pages ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_reviewers_403_on_a_page_is_no_access_in_nb_with_navigation(make_app, db_path):
    ds = make_app()
    nb(ds, db_path, "bo")
    for path in ("/-/screen/lists", "/-/screen/conflicts"):
        page = await ds.client.get(path, cookies=as_user(ds, "bo"))
        assert page.status_code == 403
        assert "<title>Ingen tilgang</title>" in page.text and "Ikke lagret" not in page.text
        assert 'href="/-/screen/find"' in page.text  # the app's navigation
    table = await ds.client.get("/evidence/decisions", cookies=as_user(ds, "bo"))
    assert table.status_code == 403
    assert "Ingen tilgang" in table.text and "Tilbake til gjennomgangen" in table.text


@pytest.mark.asyncio
async def test_a_refused_form_is_still_not_saved(make_app):
    ds = make_app()
    refused = await post(ds, "/-/screen/lists", as_user(ds, "bo"), {"action": "reload"})
    assert refused.status_code == 403 and "<title>Ikke lagret</title>" in refused.text


@pytest.mark.asyncio
async def test_unknown_addresses_are_pages_of_the_app(make_app, db_path):
    ds = make_app()
    nb(ds, db_path, "bo")
    for path in ("/nope", "/-/screen/record/abc", "/-/screen/nothing-here"):
        page = await ds.client.get(path, cookies=as_user(ds, "bo"))
        assert page.status_code == 404, path
        assert "Fant ikke siden" in page.text and "Database not found" not in page.text
        assert 'href="/-/screen/mine"' in page.text
    anonymous = await ds.client.get("/nope")
    assert anonymous.status_code == 404 and "Fant ikke siden" in anonymous.text
    assert (
        (await ds.client.get("/nope.json")).headers["content-type"].startswith("application/json")
    )


@pytest.mark.asyncio
async def test_roles_are_translated(make_app, db_path):
    ds = make_app()
    nb(ds, db_path, "bo", "ana")
    page = await ds.client.get("/-/screen/mine", cookies=as_user(ds, "bo"))
    assert "bo (vurderer)" in page.text and "(reviewer)" not in page.text
    lead = await ds.client.get("/-/screen/summary", cookies=as_user(ds, "ana", "lead"))
    assert "ana (leder)" in lead.text


# --- Mine beslutninger ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_my_decisions_have_labelled_filters_and_rendered_titles(make_app, db_path):
    from evidence.db.decisions import save_decision
    from evidence.db.migrations import open_db

    ds = make_app()
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE records SET title = ? WHERE id = 5", ["Peer support & <i>recovery colleges</i>"]
        )
    db = open_db(db_path)
    save_decision(db.conn, 5, "bo", "exclude", reason="wrong-topic")
    db.close()
    page = await ds.client.get("/-/screen/mine", cookies=as_user(ds, "bo"))
    for field in ("q", "decision", "reason"):
        assert f'<label for="mine-{field}">' in page.text, field
        assert f'id="mine-{field}"' in page.text
    assert "Peer support &amp; <i>recovery colleges</i>" in page.text


@pytest.mark.asyncio
async def test_duplicate_pairs_render_inline_markup_safely(make_app, db_path):
    from tests.test_hardening_screening import _pair

    ds = make_app()
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE records SET title = ? WHERE id = 5",
            ["CO<sub>2</sub> & <i>recovery</i> <script>x</script>"],
        )
    _pair(db_path, 5, 6)
    page = await ds.client.get("/-/screen/duplicates", cookies=as_user(ds, "ana", "lead"))
    assert page.status_code == 200
    assert (
        "<h2>CO<sub>2</sub> &amp; <i>recovery</i> &lt;script&gt;x&lt;/script&gt;</h2>" in page.text
    )
