"""Editors and the original-language title wherever a reviewer decides on a record: the
title/abstract and full-text record page, the lead's conflict cards, the duplicate pairs.

An edited Norwegian report or book has no authors, only editors (``records.creators``), and
often a Norwegian title beside the English one (``records.original_title``); the record page
showed neither. One helper names a work here and on the published site (``evidence.citation``).
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.citation import byline, editors_of, names, original_title
from evidence.db.decisions import save_decision
from evidence.screening.i18n import translator
from tests import test_screening as screening_tests
from tests.test_full_text import two_stages
from tests.test_hardening_screening import _pair
from tests.test_screening import as_user, post

make_app, fast_hashes = screening_tests.make_app, screening_tests.fast_hashes

EVIL_EDITOR = "Moe, <script>alert(1)</script>"
EVIL_ORIGINAL = "Rusmiddelbruk i <i>kommunene</i> <script>alert(2)</script>"
EDITORS = [
    {"role": "editor", "name": "Dahl, Ola"},
    {"role": "editor", "name": EVIL_EDITOR},
    {"role": "translator", "name": "Not, Shown"},
]


def edited(
    db_path,
    record_id: int,
    *,
    authors: list[str] | None = None,
    creators: list[dict] | None = None,
    original: str | None = EVIL_ORIGINAL,
) -> None:
    """Record ``record_id`` as an edited report: no authors, two editors, a Norwegian title."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE records SET authors = ?, creators = ?, original_title = ? WHERE id = ?",
            [
                json.dumps(authors or []),
                json.dumps(EDITORS if creators is None else creators),
                original,
                record_id,
            ],
        )


def original_line(text: str) -> str:
    """What the page shows after "Original title:"."""
    return text.split('<p class="original-title">', 1)[1].split("</p>", 1)[0]


def assert_escaped(text: str) -> None:
    assert "<script>" not in text.split("<body", 1)[1].replace(
        '<script src="', ""
    )  # the app's own script tag is the only one
    assert "Moe, &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in text


# --- the shared helper ----------------------------------------------------------------------


def test_byline_names_editors_only_where_there_are_no_authors():
    nb, en = translator("nb"), translator("en")
    assert byline({"authors": ["Berg, Bo"], "editors": ["Moe, Kari"]}, nb) == "Berg, Bo"
    assert byline({"authors": [], "editors": ["Moe, Kari"]}, nb) == "Moe, Kari (red.)"
    assert byline({"authors": [], "editors": ["Moe, Kari"]}, en) == "Moe, Kari (ed.)"
    assert byline({"authors": "", "editors": "Moe, Kari; Dahl, Ola"}, en) == (
        "Moe, Kari; Dahl, Ola (eds.)"
    )  # the published site's "; "-text
    assert byline({"authors": [], "editors": []}, nb) == ""
    assert byline({}, nb) == ""
    four = {"authors": [], "editors": ["A, A", "B, B", "C, C", "D, D"]}
    assert byline(four, nb, most=3) == "A, A; B, B; C, C … (red.)"
    assert byline({"authors": ["A, A", "B, B"]}, nb, most=3) == "A, A; B, B"


def test_editors_of_reads_creators_in_every_shape():
    assert editors_of({"creators": json.dumps(EDITORS)}) == ["Dahl, Ola", EVIL_EDITOR]
    assert editors_of({"creators": EDITORS}) == ["Dahl, Ola", EVIL_EDITOR]
    assert editors_of({"creators": None}) == [] and editors_of({}) == []
    assert editors_of({"creators": "not json"}) == []
    assert editors_of({"creators": '{"role": "editor"}'}) == []
    assert editors_of({"editors": "Moe, Kari; Dahl, Ola", "creators": "[]"}) == [
        "Moe, Kari",
        "Dahl, Ola",
    ]  # the published column wins
    assert names(["  A ", "", None, "B"]) == ["A", "B"]


def test_original_title_only_where_it_differs():
    assert original_title("Rus i kommunene", "Substance use in municipalities") == (
        "Rus i kommunene"
    )
    assert (
        original_title("SUBSTANCE use <i>in</i> municipalities ", "Substance use in municipalities")
        is None
    )
    assert original_title("", "x") is None and original_title(None, "x") is None
    assert original_title("<i></i>", "x") is None


# --- the record page ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_record_page_names_the_editors_and_the_original_title_escaped(make_app, db_path):
    ds = make_app()
    edited(db_path, 1)
    bo = as_user(ds, "bo")
    page = await ds.client.get("/-/screen/record/1", cookies=bo)
    assert page.status_code == 200
    assert "<dt>Redaktører</dt>" in page.text and "<dt>Forfattere</dt>" not in page.text
    assert '<dd class="editors">Dahl, Ola; Moe, &lt;script&gt;' in page.text
    assert "Not, Shown" not in page.text  # a translator is no editor
    line = original_line(page.text)
    assert line.startswith('<span class="label">Originaltittel:</span> ')
    # marked as the title is ("rus" is a highlight word), inline markup kept, the rest escaped
    assert '<mark class="hl-include">Rusmiddelbruk</mark> i <i><mark' in line
    assert line.endswith(" &lt;script&gt;alert(2)&lt;/script&gt;")
    assert_escaped(page.text)
    switched = await post(ds, "/-/screen/language", bo, [("lang", "en"), ("next", "/")])
    assert switched.status_code == 302
    page = await ds.client.get("/-/screen/record/1", cookies=bo)
    assert "<dt>Editors</dt>" in page.text and "Original title:</span>" in page.text


@pytest.mark.asyncio
async def test_original_title_is_marked_like_the_title(make_app, db_path):
    ds = make_app()
    edited(db_path, 1, original="Psykisk helse og rus i kommunene")
    page = await ds.client.get("/-/screen/record/1", cookies=as_user(ds, "bo"))
    assert '<mark class="hl-include">Psykisk helse</mark>' in original_line(page.text)


@pytest.mark.asyncio
async def test_a_work_with_authors_and_editors_shows_both_and_no_repeated_title(make_app, db_path):
    ds = make_app()
    title = rows_one(db_path, "SELECT title FROM records WHERE id = 2")
    edited(db_path, 2, authors=["Berg, Bo"], original=title.upper())
    page = await ds.client.get("/-/screen/record/2", cookies=as_user(ds, "bo"))
    assert "<dt>Forfattere</dt><dd>Berg, Bo</dd>" in page.text
    assert "<dt>Redaktører</dt>" in page.text  # the chapter's book
    assert 'class="original-title"' not in page.text  # it only repeats the title
    plain = await ds.client.get("/-/screen/record/4", cookies=as_user(ds, "bo"))
    assert "<dt>Redaktører</dt>" not in plain.text
    assert 'class="original-title"' not in plain.text


def rows_one(db_path, sql: str):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.mark.asyncio
async def test_full_text_record_page_names_them_too(make_app, db_path, config_path):
    two_stages(config_path)
    ds = make_app()
    edited(db_path, 1)
    with sqlite3.connect(db_path) as conn:
        save_decision(conn, 1, "bo", "include")
    page = await ds.client.get("/-/screen/full-text/record/1", cookies=as_user(ds, "bo"))
    assert page.status_code == 200 and 'class="full-text"' in page.text
    assert "<dt>Redaktører</dt>" in page.text and "Originaltittel:</span>" in page.text
    assert_escaped(page.text)


# --- the lead's cards -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_conflict_card_names_the_editors_and_the_original_title(make_app, db_path):
    ds = make_app(reviewers=2)
    edited(db_path, 1)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE records SET title = 'Rus i <i>kommunene</i> <img src=x>' WHERE id = 1")
    with sqlite3.connect(db_path) as conn:
        save_decision(conn, 1, "bo", "include", theme_slugs=["stigma"])
        save_decision(conn, 1, "cy", "exclude", reason="wrong-topic")
    page = await ds.client.get("/-/screen/conflicts", cookies=as_user(ds, "ana", "lead"))
    card = page.text.split('data-record-id="1"', 1)[1].split("</section>", 1)[0]
    assert (
        '<p class="meta-line">Dahl, Ola; Moe, &lt;script&gt;alert(1)&lt;/script&gt; (red.) ·'
        in card
    )
    assert "Originaltittel:</span> Rusmiddelbruk i <i>kommunene</i> &lt;script&gt;" in card
    # the card's title keeps its inline markup as safely as the record page's
    assert ">Rus i <i>kommunene</i> &lt;img src=x&gt;</a></h2>" in card
    assert_escaped(page.text)


@pytest.mark.asyncio
async def test_conflict_card_keeps_three_authors_at_most(make_app, db_path):
    ds = make_app(reviewers=2)
    edited(db_path, 1, authors=["A, A", "B, B", "C, C", "D, D"], original=None)
    with sqlite3.connect(db_path) as conn:
        save_decision(conn, 1, "bo", "include", theme_slugs=["stigma"])
        save_decision(conn, 1, "cy", "exclude", reason="wrong-topic")
    page = await ds.client.get("/-/screen/conflicts", cookies=as_user(ds, "ana", "lead"))
    assert '<p class="meta-line">A, A; B, B; C, C … ·' in page.text
    assert "(red.)" not in page.text and 'class="original-title"' not in page.text


@pytest.mark.asyncio
async def test_duplicate_pair_names_the_editors_and_the_original_title(make_app, db_path):
    ds = make_app()
    edited(db_path, 5)
    _pair(db_path, 5, 6)
    page = await ds.client.get("/-/screen/duplicates", cookies=as_user(ds, "bo"))
    assert "<p>Dahl, Ola; Moe, &lt;script&gt;alert(1)&lt;/script&gt; (red.)</p>" in page.text
    assert "<p>Author6, Ann; Berg, Bo</p>" in page.text
    assert "Originaltittel:</span> Rusmiddelbruk i <i>kommunene</i>" in page.text
    assert_escaped(page.text)


# --- finding a work by them: the Find page and My decisions --------------------------------

NORWEGIAN = "Særlig sårbare brukere: økonomi og møte med kommunene <script>alert(2)</script>"


def found(text: str) -> list[int]:
    """The record ids a Find page lists, in order."""
    import re

    return [int(i) for i in re.findall(r'<li class="result" data-record-id="(\d+)"', text)]


def test_find_records_reads_the_original_title_and_the_editors(db_path, config_path):
    from evidence.screening import finding
    from tests.screening_data import seed

    seed(db_path, config_path, 4)
    edited(db_path, 2, original=NORWEGIAN)

    def ids(words: str) -> list[int]:
        with sqlite3.connect(db_path) as conn:
            rows, _ = finding.find_records(
                conn, finding.Filters(words=words), viewer="bo", lead=False
            )
        return [r["id"] for r in rows]

    assert ids("særlig") == [2] and ids("SÅRBARE Økonomi") == [2]  # case and å folded
    assert ids("sarbare") == [2]  # as the title's search does: å is a with a ring
    assert ids("kommunenes") == [2]  # an inflected form, as for titles
    assert ids("Dahl") == [2] and ids("moe script") == [2]  # the editors
    assert ids("Shown") == [] and ids("editor") == [] and ids("role") == []  # not a name
    assert ids("Author3") == [3]  # and the authors
    with sqlite3.connect(db_path) as conn:  # a list stored with its letters escaped (\u00d8)
        conn.execute(
            "UPDATE records SET authors = ? WHERE id = 4",
            [json.dumps(["Ødegård, Åse", "Berg, Bo"])],
        )
    assert ids("ødegård") == [4] and ids("Ødegård åse") == [4]
    assert ids("'; DROP TABLE records; --") == []  # bound, never spliced into the SQL
    assert ids("særlig Author3") == []  # words are ANDed across the record's fields


@pytest.mark.asyncio
async def test_find_page_shows_why_an_edited_norwegian_report_matched(make_app, db_path):
    ds = make_app()
    edited(db_path, 2, original=NORWEGIAN)
    bo = as_user(ds, "bo")
    page = (await ds.client.get("/-/screen/find", params={"words": "økonomi"}, cookies=bo)).text
    assert found(page) == [2]
    item = page.split('data-record-id="2"', 1)[1].split("</li>", 1)[0]
    assert (
        '<span class="original-title"><span class="label">Originaltittel:</span> Særlig sårbare'
        " brukere: <mark>økonomi</mark> og møte med kommunene &lt;script&gt;alert(2)&lt;/script&gt;"
        in item
    )
    by_editor = (await ds.client.get("/-/screen/find?words=dahl", cookies=bo)).text
    assert found(by_editor) == [2]
    assert (
        '<span class="meta-line"><mark>Dahl</mark>, Ola; Moe, &lt;script&gt;alert(1)&lt;/script&gt;'
        " (red.) · " in by_editor
    )
    assert_escaped(by_editor)
    # the queue narrowed by the same words screens that work
    queue = await ds.client.get("/-/screen?words=Dahl", cookies=bo)
    assert queue.status_code == 200 and 'data-record-id="2"' in queue.text


@pytest.mark.asyncio
async def test_my_decisions_finds_by_original_title_and_editors(make_app, db_path):
    ds = make_app()
    edited(db_path, 2, original=NORWEGIAN)
    with sqlite3.connect(db_path) as conn:
        for record_id in (1, 2, 3):
            save_decision(conn, record_id, "bo", "include")
    bo = as_user(ds, "bo")

    async def listed(q: str) -> list[int]:
        import re

        page = (await ds.client.get("/-/screen/mine", params={"q": q}, cookies=bo)).text
        return [int(i) for i in re.findall(r"/-/screen/record/(\d+)\?next=", page)]

    assert await listed("sårbare brukere") == [2]  # the original title, as written
    assert await listed("ØKONOMI") == [2]  # Ø and ø are one letter here (SQL LIKE missed it)
    assert await listed("Dahl, Ola") == [2] and await listed("moe") == [2]  # the editors
    assert await listed("Not, Shown") == [] and await listed("editor") == []
    assert await listed("Author3") == [3]  # authors, as before
    assert await listed("%") == []  # a LIKE wildcard is now just a character
    page = (await ds.client.get("/-/screen/mine?q=dahl", cookies=bo)).text
    assert "Originaltittel:</span> Særlig sårbare brukere: økonomi og møte med kommunene" in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "<script>alert" not in page


@pytest.mark.asyncio
async def test_my_decisions_names_the_work_as_the_conflict_cards_do(make_app, db_path):
    ds = make_app()
    edited(db_path, 2)  # editors only, one of them hostile
    edited(db_path, 3, authors=["A, A", "B, B", "C, C", "Ødegård, Åse"], original=None)
    with sqlite3.connect(db_path) as conn:
        for record_id in (1, 2, 3):
            save_decision(conn, record_id, "bo", "include")
    bo = as_user(ds, "bo")

    def row_of(page: str, record_id: int) -> str:
        """The table row of the record: the cells before its link."""
        return page.split(f"/-/screen/record/{record_id}?next=", 1)[0].rsplit("<tr", 1)[1]

    page = (await ds.client.get("/-/screen/mine", cookies=bo)).text
    edited_row = row_of(page, 2)
    assert (
        '<span class="meta-line">Dahl, Ola; Moe, &lt;script&gt;alert(1)&lt;/script&gt; (red.)'
        "</span>" in edited_row
    )
    assert "Not, Shown" not in edited_row  # a translator is no editor
    assert "Originaltittel:</span> Rusmiddelbruk i <i>kommunene</i> &lt;script&gt;" in edited_row
    assert '<span class="meta-line">A, A; B, B; C, C …</span>' in row_of(page, 3)
    assert '<span class="meta-line">Author1, Ann; Berg, Bo</span>' in row_of(page, 1)
    assert_escaped(page)
    # a search matching a later name shows everyone, so the match is in view
    found = (await ds.client.get("/-/screen/mine", params={"q": "ØDEGÅRD"}, cookies=bo)).text
    assert '<span class="meta-line">A, A; B, B; C, C; Ødegård, Åse</span>' in found
    switched = await post(ds, "/-/screen/language", bo, [("lang", "en"), ("next", "/")])
    assert switched.status_code == 302
    english = (await ds.client.get("/-/screen/mine", cookies=bo)).text
    assert "Moe, &lt;script&gt;alert(1)&lt;/script&gt; (eds.)</span>" in english


@pytest.mark.asyncio
async def test_my_resolutions_name_the_work_as_my_decisions_do(make_app, db_path):
    from evidence.db.decisions import RESOLUTION

    ds = make_app(reviewers=2)
    edited(db_path, 1)  # editors only, one of them hostile
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE records SET title = 'Rus i <i>kommunene</i> <img src=x>' WHERE id = 1")
    with sqlite3.connect(db_path) as conn:
        save_decision(conn, 1, "bo", "include", theme_slugs=["stigma"])
        save_decision(conn, 1, "cy", "exclude", reason="wrong-topic")
        save_decision(conn, 1, "ana", "exclude", reason="wrong-topic", stage=RESOLUTION)
    page = (await ds.client.get("/-/screen/mine", cookies=as_user(ds, "ana", "lead"))).text
    table = page.split('<table class="list resolutions">', 1)[1].split("</table>", 1)[0]
    assert (
        '<span class="meta-line">Dahl, Ola; Moe, &lt;script&gt;alert(1)&lt;/script&gt; (red.)'
        "</span>" in table
    )
    assert "Not, Shown" not in table  # a translator is no editor
    assert "Originaltittel:</span> Rusmiddelbruk i <i>kommunene</i> &lt;script&gt;" in table
    # the title keeps its inline markup as safely as on My decisions and the conflict cards
    assert '<td class="title-cell">Rus i <i>kommunene</i> &lt;img src=x&gt;' in table
    assert_escaped(page)
    # the conflicts page's list of resolutions keeps the title's markup safely too
    conflicts = await ds.client.get("/-/screen/conflicts", cookies=as_user(ds, "ana", "lead"))
    resolved = conflicts.text.split('<ul class="resolved-list">', 1)[1].split("</ul>", 1)[0]
    assert '/-/screen/record/1">Rus i <i>kommunene</i> &lt;img src=x&gt;</a>' in resolved


def test_editor_suffixes_have_one_owner():
    from evidence.citation import EDITOR_SUFFIXES, editor_suffix
    from evidence.publish.exports import reference
    from evidence.publish.site.i18n import translator as site_translator

    for language, (one, many) in EDITOR_SUFFIXES.items():
        for t in (translator(language), site_translator(language)):
            assert (t("editor_suffix"), t("editors_suffix")) == (one, many)
    assert editor_suffix("de", 2) == "(eds.)"  # English where the language has none
    record = {"authors": [], "creators": json.dumps(EDITORS[:2]), "year": 2024}
    assert reference(record, "nb") == "Dahl & Moe (red.) (2024)"


@given(st.text())
def test_fold_skips_the_translation_only_where_it_changes_nothing(text):
    from evidence.terms import _accents, fold

    assert fold(text) == text.lower().translate(_accents())
    assert fold("Ødegård \u212a") == "ødegard k"  # the Kelvin sign lower-cases to ASCII
