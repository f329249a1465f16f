"""The screening app through Datasette's test client: login, queue, decisions, undo, safety."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from datasette.app import Datasette

from evidence.db.decisions import save_decision
from evidence.screening import auth, sessions
from evidence.screening import queries as q
from evidence.screening.app import make_datasette
from tests.screening_data import add_users, seed

EVIL = '<script>alert(1)</script> "><img src=x onerror=alert(1)>'
PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    """Real PBKDF2, fewer rounds: the iteration count itself is tested in test_screening_auth."""
    monkeypatch.setattr(auth, "ITERATIONS", 1_000)


def dual(config_path: Path) -> Path:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("reviewers_per_record: 1", "reviewers_per_record: 2"),
                           encoding="utf-8")
    return config_path


@pytest.fixture
def make_app(db_path, config_path):
    def make(*, reviewers: int = 1, n: int = 12) -> Datasette:
        if reviewers == 2:
            dual(config_path)
        seed(db_path, config_path, n, titles={3: EVIL})
        add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"}, PASSWORD)
        return make_datasette(db_path, config_path, secret="test-secret")

    return make


def as_user(ds: Datasette, name: str, role: str = "reviewer") -> dict[str, str]:
    """A fresh session cookie of an account that never logged out (generation 0)."""
    return {"ds_actor": sessions.cookie_value(ds, {"id": name, "role": role}, 0)}


async def post(ds: Datasette, path: str, cookies: dict, data: dict | list) -> object:
    """POST a form the way a browser does: csrftoken cookie plus the same token in the form."""
    page = await ds.client.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    items = list(data.items()) if isinstance(data, dict) else list(data)
    return await ds.client.post(
        path, content=urlencode([*items, ("csrftoken", token)]),
        headers={"content-type": "application/x-www-form-urlencoded"},
        cookies={**cookies, "ds_csrftoken": token})


def rows(db_path: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.mark.asyncio
async def test_plugin_is_listed_in_plugins_json(make_app):
    ds = make_app()
    response = await ds.client.get("/-/plugins.json", cookies=as_user(ds, "ana", "lead"))
    assert response.status_code == 200
    ours = [p for p in response.json() if p["name"] in ("evidence.screening", "evidence-tracker")]
    assert ours, response.json()
    # actor_from_request is a hook only the screening plugin implements (the published-site
    # plugin does not, and Datasette's own default plugins are not listed here)
    assert any({"actor_from_request", "register_routes"} <= set(p["hooks"]) for p in ours), ours
    login = await ds.client.get("/-/login")
    assert login.status_code == 200 and 'name="username"' in login.text


@pytest.mark.asyncio
async def test_login_sets_a_signed_actor_cookie(make_app):
    ds = make_app()
    page = await ds.client.get("/-/login")
    assert page.status_code == 200
    token = page.cookies["ds_csrftoken"]
    response = await ds.client.post(
        "/-/login", data={"username": "ana", "password": PASSWORD, "csrftoken": token},
        cookies={"ds_csrftoken": token})
    assert response.status_code == 302
    assert response.headers["location"] == "/-/screen"
    actor = ds.unsign(response.cookies["ds_actor"], "actor")["a"]
    assert actor == {"id": "ana", "role": "lead"}


@pytest.mark.asyncio
async def test_wrong_password_is_refused(make_app):
    ds = make_app()
    page = await ds.client.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    response = await ds.client.post(
        "/-/login", data={"username": "ana", "password": "wrong", "csrftoken": token},
        cookies={"ds_csrftoken": token})
    assert response.status_code == 401
    assert "ds_actor" not in response.cookies


@pytest.mark.asyncio
async def test_every_page_needs_a_login(make_app):
    ds = make_app()
    for path in ("/-/screen", "/-/screen/record/1", "/-/screen/mine", "/-/screen/summary",
                 "/-/screen/conflicts", "/-/screen/duplicates", "/-/screen/lists"):
        response = await ds.client.get(path)
        assert response.status_code == 302, path
        assert response.headers["location"].startswith("/-/login?next=")
    for path in ("/evidence", "/evidence/users", "/evidence/decisions", "/-/metadata.json"):
        assert (await ds.client.get(path)).status_code == 403, path


@pytest.mark.asyncio
async def test_post_without_csrf_token_is_rejected(make_app, db_path):
    ds = make_app()
    response = await ds.client.post("/-/screen/record/1", data={"decision": "include"},
                                    cookies={**as_user(ds, "bo"), "ds_csrftoken": "x"})
    assert response.status_code == 403
    assert rows(db_path, "SELECT count(*) FROM decisions") == [(0,)]


@pytest.mark.asyncio
async def test_include_with_themes_is_appended_and_the_queue_moves_on(make_app, db_path):
    ds = make_app()
    bo = as_user(ds, "bo")
    first = await ds.client.get("/-/screen", cookies=bo)
    assert 'data-record-id="1"' in first.text
    assert "12 av 12 igjen" in first.text
    response = await post(ds, "/-/screen/record/1", bo, [
        ("decision", "include"), ("themes", "stigma"), ("themes", "loneliness"),
        ("summary", "A review of stigma."), ("note", "private")])
    assert response.status_code == 302
    assert response.headers["location"] == "/-/screen"
    assert rows(db_path, "SELECT record_id, reviewer, stage, decision, themes, summary, origin"
                " FROM decisions") == [(1, "bo", "screening", "include",
                                        '["stigma", "loneliness"]', "A review of stigma.", "web")]
    assert rows(db_path, "SELECT t.slug FROM record_themes rt JOIN themes t ON t.id ="
                " rt.theme_id WHERE record_id = 1 ORDER BY t.slug") == [
                    ("loneliness",), ("stigma",)]
    following = await ds.client.get("/-/screen", cookies=bo)
    assert 'data-record-id="2"' in following.text
    assert "11 av 12 igjen" in following.text
    # With one reviewer per record, another reviewer does not get record 1 either, nor
    # record 2, which bo has open now (issue 13: concurrent reviewers get different records).
    other = await ds.client.get("/-/screen", cookies=as_user(ds, "cy"))
    assert 'data-record-id="3"' in other.text


@pytest.mark.asyncio
async def test_exclude_needs_a_known_reason(make_app, db_path):
    ds = make_app()
    bo = as_user(ds, "bo")
    missing = await post(ds, "/-/screen/record/2", bo, {"decision": "exclude"})
    assert missing.status_code == 400
    assert "Velg en eksklusjonsgrunn" in missing.text
    unknown = await post(ds, "/-/screen/record/2", bo, {"decision": "exclude",
                                                         "reason": "nonsense"})
    assert unknown.status_code == 400
    bad = await post(ds, "/-/screen/record/2", bo, {"decision": "delete"})
    assert bad.status_code == 400
    ok = await post(ds, "/-/screen/record/2", bo, {"decision": "exclude",
                                                    "reason": "wrong-topic"})
    assert ok.status_code == 302
    assert rows(db_path, "SELECT decision, reason FROM decisions") == [("exclude", "wrong-topic")]


@pytest.mark.asyncio
async def test_undo_appends_the_previous_value(make_app, db_path):
    ds = make_app()
    bo = as_user(ds, "bo")
    await post(ds, "/-/screen/record/1", bo, {"decision": "maybe"})
    await post(ds, "/-/screen/record/1", bo, {"decision": "include", "themes": "stigma"})
    response = await post(ds, "/-/screen/undo", bo, {})
    assert response.headers["location"] == "/-/screen/record/1"
    response = await post(ds, "/-/screen/undo", bo, {})
    assert rows(db_path, "SELECT id, decision, undoes FROM decisions ORDER BY id") == [
        (1, "maybe", None), (2, "include", None), (3, "maybe", 2), (4, None, 1)]
    assert rows(db_path, "SELECT count(*) FROM record_themes") == [(0,)]
    page = await ds.client.get("/-/screen", cookies=bo)
    assert 'data-record-id="1"' in page.text
    nothing = await post(ds, "/-/screen/undo", bo, {})
    assert nothing.headers["location"] == "/-/screen"
    assert rows(db_path, "SELECT count(*) FROM decisions") == [(4,)]


@pytest.mark.asyncio
async def test_record_view_escapes_markup_and_highlights_terms(make_app):
    ds = make_app()
    page = await ds.client.get("/-/screen/record/3", cookies=as_user(ds, "bo"))
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<mark>substance use</mark>" in page.text or "<mark>primary care</mark>" in page.text
    assert "https://pubmed.ncbi.nlm.nih.gov/10000003/" in page.text
    assert "https://doi.org/10.1000/t3" in page.text
    assert '<strong class="label">METHODS</strong>' in page.text


@pytest.mark.asyncio
async def test_my_decisions_lists_filters_and_escapes(make_app):
    ds = make_app()
    bo = as_user(ds, "bo")
    await post(ds, "/-/screen/record/3", bo, {"decision": "exclude", "reason": "wrong-topic"})
    await post(ds, "/-/screen/record/4", bo, {"decision": "include"})
    await post(ds, "/-/screen/record/5", as_user(ds, "cy"), {"decision": "maybe"})
    page = await ds.client.get("/-/screen/mine", cookies=bo)
    assert "Record 4:" in page.text and "Record 5:" not in page.text
    assert "<script>alert" not in page.text
    filtered = await ds.client.get("/-/screen/mine?decision=include", cookies=bo)
    assert "Record 4:" in filtered.text and "&lt;script&gt;" not in filtered.text
    searched = await ds.client.get("/-/screen/mine?q=script", cookies=bo)
    assert "&lt;script&gt;" in searched.text and "Record 4:" not in searched.text
    # Changing a decision from the list: open the record, post again.
    change = await post(ds, "/-/screen/record/4", bo, {"decision": "exclude",
                                                        "reason": "duplicate",
                                                        "next": "/-/screen/mine"})
    assert change.headers["location"] == "/-/screen/mine"
    reasons = await ds.client.get("/-/screen/mine?reason=duplicate", cookies=bo)
    assert "Record 4:" in reasons.text


@pytest.mark.asyncio
async def test_blind_mode_hides_the_other_reviewers_decision(make_app, db_path):
    ds = make_app(reviewers=2)
    bo, cy = as_user(ds, "bo"), as_user(ds, "cy")
    await post(ds, "/-/screen/record/1", bo, {"decision": "exclude", "reason": "wrong-topic",
                                               "note": "bo-secret-note",
                                               "summary": "bo-summary"})
    # cy still gets record 1 in the queue and sees nothing of bo's vote, even by direct URL.
    for path in ("/-/screen", "/-/screen/record/1", "/-/screen/mine",
                 "/-/screen/mine?reviewer=bo", "/-/screen/record/1?reviewer=bo"):
        page = await ds.client.get(path, cookies=cy)
        assert page.status_code == 200, path
        assert "bo-secret-note" not in page.text and "bo-summary" not in page.text, path
        assert "checked" not in page.text, path
    assert 'data-record-id="1"' in (await ds.client.get("/-/screen", cookies=cy)).text
    for path in ("/-/screen/conflicts", "/-/screen/summary", "/-/screen/lists"):
        assert (await ds.client.get(path, cookies=cy)).status_code == 403, path
    for path in ("/evidence/decisions", "/evidence/users", "/evidence.json?sql=select+1",
                 "/evidence/decisions.json"):
        assert (await ds.client.get(path, cookies=cy)).status_code == 403, path
    # Leads see Datasette's tables, but nobody runs arbitrary SQL on the working database.
    lead = as_user(ds, "ana", "lead")
    assert (await ds.client.get("/evidence/records", cookies=lead)).status_code == 200
    assert (await ds.client.get("/evidence.json?sql=select+1",
                                cookies=lead)).status_code == 403


@pytest.mark.asyncio
async def test_conflict_is_listed_resolved_and_counted_in_kappa(make_app, db_path):
    ds = make_app(reviewers=2)
    bo, cy, lead = as_user(ds, "bo"), as_user(ds, "cy"), as_user(ds, "ana", "lead")
    await post(ds, "/-/screen/record/1", bo, {"decision": "include", "themes": "stigma"})
    await post(ds, "/-/screen/record/1", cy, {"decision": "exclude", "reason": "wrong-topic"})
    await post(ds, "/-/screen/record/2", bo, {"decision": "include"})
    await post(ds, "/-/screen/record/2", cy, {"decision": "include"})
    assert rows(db_path, "SELECT record_id, decision, conflict FROM record_status"
                " WHERE record_id IN (1, 2) ORDER BY record_id") == [(1, None, 1),
                                                                     (2, "include", 0)]
    page = await ds.client.get("/-/screen/conflicts", cookies=lead)
    assert 'data-record-id="1"' in page.text and 'data-record-id="2"' not in page.text
    response = await post(ds, "/-/screen/resolve/1", lead, [
        ("decision", "include"), ("themes", "technology")])
    assert response.status_code == 302
    assert rows(db_path, "SELECT decision, conflict FROM record_status WHERE record_id = 1") == [
        ("include", 0)]
    assert rows(db_path, "SELECT stage, reviewer FROM decisions WHERE record_id = 1"
                " ORDER BY id DESC LIMIT 1") == [("resolution", "ana")]
    assert 'data-record-id="1"' not in (await ds.client.get("/-/screen/conflicts",
                                                            cookies=lead)).text
    summary = await ds.client.get("/-/screen/summary", cookies=lead)
    assert "bo / cy" in summary.text
    # two shared records: too few for a kappa (issue 24: it said 0.00)
    assert "for få poster (2 felles; minst 10 trengs)" in summary.text
    # A reviewer cannot resolve.
    assert (await post(ds, "/-/screen/resolve/2", bo, {"decision": "exclude"})).status_code == 403


@pytest.mark.asyncio
async def test_dual_queue_skips_records_that_have_two_votes(make_app):
    ds = make_app(reviewers=2)
    await post(ds, "/-/screen/record/1", as_user(ds, "bo"), {"decision": "maybe"})
    await post(ds, "/-/screen/record/1", as_user(ds, "cy"), {"decision": "maybe"})
    page = await ds.client.get("/-/screen", cookies=as_user(ds, "ana", "lead"))
    assert 'data-record-id="2"' in page.text
    assert "11 av 12 igjen" in page.text


@pytest.mark.asyncio
async def test_duplicates_page_lists_uncertain_pairs(make_app):
    ds = make_app()
    page = await ds.client.get("/-/screen/duplicates", cookies=as_user(ds, "bo"))
    assert page.status_code == 200
    assert "Ingen usikre par" in page.text


@pytest.mark.asyncio
async def test_lead_reloads_lists_from_the_configuration(make_app, config_path, db_path):
    ds = make_app()
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("{id: duplicate, nb: Duplikat, en: Duplicate}",
                                        "{id: duplicate, nb: Dobbel, en: Duplicate}"))
    lead = as_user(ds, "ana", "lead")
    response = await post(ds, "/-/screen/lists", lead, {})
    assert response.status_code == 302
    assert rows(db_path, "SELECT name_nb FROM exclusion_reasons WHERE slug = 'duplicate'") == [
        ("Dobbel",)]
    assert "Dobbel" in (await ds.client.get("/-/screen/lists", cookies=lead)).text


@pytest.mark.asyncio
async def test_two_reviewers_posting_at_once_both_keep_their_decisions(make_app, db_path):
    import asyncio

    ds = make_app(reviewers=2)
    results = await asyncio.gather(*[
        post(ds, f"/-/screen/record/{i}", as_user(ds, name), {"decision": "maybe"})
        for i in range(1, 6) for name in ("bo", "cy")])
    assert all(r.status_code == 302 for r in results)
    assert rows(db_path, "SELECT count(*) FROM decisions") == [(10,)]


def test_concurrent_writers_from_threads_all_land(make_app, db_path):
    """Separate connections (as two servers or a harvest would have) writing at the same moment."""
    make_app(reviewers=2)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        conn = sqlite3.connect(db_path, timeout=0.01, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 1")  # force SQLITE_BUSY: the retry must cope
        try:
            barrier.wait()
            for record_id in range(1, 13):
                save_decision(conn, record_id, name, "include", theme_slugs=["stigma"])
        except BaseException as e:  # collected and re-raised in the test thread
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("bo", "cy")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert rows(db_path, "SELECT reviewer, count(*) FROM decisions GROUP BY reviewer") == [
        ("bo", 12), ("cy", 12)]


def test_queue_orders(make_app, db_path):
    make_app(n=2_500)
    conn = sqlite3.connect(db_path)
    assert q.next_record_id(conn, "bo", order="newest") == 1
    assert q.next_record_id(conn, "bo", order="oldest") == 2000
    assert q.next_record_id(conn, "bo", order="search") == 2  # even ids: the first search
    first = q.next_record_id(conn, "bo", order="random")
    assert first == q.next_record_id(conn, "bo", order="random")
    assert q.next_record_id(conn, "bo", order="newest", skip=[1, 2]) == 3
    assert q.queue_counts(conn, "bo") == (2_500, 2_500)


def test_cohen_kappa_known_values():
    pairs = [("include", "include")] * 20 + [("include", "exclude")] * 5 + \
            [("exclude", "include")] * 10 + [("exclude", "exclude")] * 15
    assert q.cohen_kappa(pairs) == pytest.approx(0.4)
    assert q.cohen_kappa([("include", "include")] * 3) == 1.0


def test_published_style_server_has_no_login(db_path, config_path):
    seed(db_path, config_path, 1)
    ds = Datasette([str(db_path)])

    async def fetch():
        return await ds.client.get("/-/login")

    import asyncio

    assert asyncio.run(fetch()).status_code == 404


def test_decision_themes_are_stored_as_json(make_app, db_path):
    make_app()
    conn = sqlite3.connect(db_path)
    save_decision(conn, 1, "bo", "include", theme_slugs=["stigma", "technology"])
    assert json.loads(rows(db_path, "SELECT themes FROM decisions")[0][0]) == [
        "stigma", "technology"]
    assert q.current_decision(conn, 1, "bo")["themes"] == ["stigma", "technology"]


@pytest.mark.asyncio
async def test_uncertain_pair_side_by_side_and_split(make_app, db_path):
    ds = make_app()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO duplicate_pairs (hit_a, hit_b, score, status, created_at)"
                     " VALUES (1, 2, 0.8, 'uncertain', '2024-01-01')")
    bo = as_user(ds, "bo")
    page = await ds.client.get("/-/screen/duplicates", cookies=bo)
    assert "Record 1:" in page.text and "Record 2:" in page.text
    assert "Author1, Ann; Berg, Bo" in page.text
    pair_id = rows(db_path, "SELECT id FROM duplicate_pairs")[0][0]
    response = await post(ds, f"/-/screen/duplicates/{pair_id}", bo, {"action": "split"})
    assert response.status_code == 302
    assert "Record 1:" not in (await ds.client.get("/-/screen/duplicates", cookies=bo)).text
    assert rows(db_path, "SELECT status, decided_by FROM duplicate_pairs") == [("split", "bo")]


@pytest.mark.asyncio
async def test_role_change_and_disabling_count_at_once_on_datasette_pages(make_app, db_path):
    """The cookie says lead; the users table decides, on Datasette's pages as on ours."""
    ds = make_app()
    lead = as_user(ds, "ana", "lead")
    assert (await ds.client.get("/evidence/records", cookies=lead)).status_code == 200
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE users SET role = 'reviewer' WHERE username = 'ana'")
    assert (await ds.client.get("/evidence/records", cookies=lead)).status_code == 403
    assert (await ds.client.get("/-/screen/summary", cookies=lead)).status_code == 403
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE users SET role = 'lead', disabled = 1 WHERE username = 'ana'")
    assert (await ds.client.get("/evidence/records", cookies=lead)).status_code == 403
    assert (await ds.client.get("/-/screen", cookies=lead)).status_code == 302
    # A cookie for a name with no account, or a forged one, admits nobody either.
    ghost = as_user(ds, "ghost", "lead")
    assert (await ds.client.get("/evidence/records", cookies=ghost)).status_code == 403
    forged = {"ds_actor": "not-signed"}
    assert (await ds.client.get("/evidence/records", cookies=forged)).status_code == 403
