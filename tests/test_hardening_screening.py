"""The screening app under hostile reviewers and visitors (issue 13): logins, sessions, votes,
duplicate pairs, secrets, malformed requests, headers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from evidence.db.migrations import open_db
from evidence.dedupe.cluster import decide_records
from evidence.screening import auth, sessions
from evidence.screening import throttle as login_limits
from evidence.screening.app import make_datasette
from evidence.web import secure_cookies_wanted
from tests import test_screening as screening_tests
from tests.test_screening import PASSWORD, as_user, post, rows

#: The screening tests' fixtures: an app with 12 records and three accounts, fast hashes.
make_app, fast_hashes = screening_tests.make_app, screening_tests.fast_hashes


async def login(ds, username: str, password: str = PASSWORD, address: str = "10.0.0.1"):
    page = await ds.client.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    return await ds.client.post(
        "/-/login", data={"username": username, "password": password, "csrftoken": token},
        cookies={"ds_csrftoken": token})


def cookie_of(response) -> dict[str, str]:
    return {"ds_actor": response.cookies["ds_actor"]}


# --- logins ---------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_failed_logins_are_throttled_per_account(make_app):
    ds = make_app()
    for _ in range(login_limits.MAX_PER_ACCOUNT):
        assert (await login(ds, "ana", "wrong")).status_code == 401
    refused = await login(ds, "ana", PASSWORD)  # even the right password waits now
    assert refused.status_code == 429
    assert "ds_actor" not in refused.cookies
    assert "igjen om" in refused.text
    assert (await login(ds, "bo")).status_code == 302  # other accounts are not locked out


def test_throttle_counts_per_address_and_forgets_after_the_window():
    now = [1000.0]
    throttle = login_limits.LoginThrottle(clock=lambda: now[0])
    for i in range(login_limits.MAX_PER_ADDRESS):
        keys = login_limits.login_keys(f"user{i}", "10.0.0.9")
        assert throttle.wait_seconds(keys) == 0
        throttle.failed(k for k, _ in keys)
    assert throttle.wait_seconds(login_limits.login_keys("someone", "10.0.0.9")) > 0
    assert throttle.wait_seconds(login_limits.login_keys("someone", "10.0.0.8")) == 0
    now[0] += login_limits.WINDOW_SECONDS + 1
    assert throttle.wait_seconds(login_limits.login_keys("someone", "10.0.0.9")) == 0


@pytest.mark.asyncio
async def test_password_hashing_runs_in_its_own_thread(make_app, monkeypatch):
    """Not on the event loop, nor on Datasette's SQL threads, which pages need: a flood of
    logins once took every page from 3 ms to 11 s (timings: bench/security_bench.py)."""
    threads = []
    real = auth.verify_password

    def spy(password, stored):
        threads.append(threading.current_thread().name)
        return real(password, stored)

    monkeypatch.setattr(auth, "verify_password", spy)
    ds = make_app()
    await asyncio.gather(*(login(ds, name) for name in ("bo", "nobody", "cy")))
    assert len(threads) == 3
    assert all(name.startswith("pbkdf2") for name in threads), threads


@pytest.mark.asyncio
async def test_a_flood_of_logins_is_turned_away_when_the_hashing_queue_is_full(
        make_app, monkeypatch):
    real = auth.verify_password

    def slow(password, stored):
        time.sleep(0.3)  # a login the hashing thread is busy with
        return real(password, stored)

    monkeypatch.setattr(auth, "verify_password", slow)
    monkeypatch.setattr(login_limits, "MAX_WAITING", 1)
    monkeypatch.setattr(login_limits, "MAX_PER_ADDRESS", 10**6)
    ds = make_app()
    answers = await asyncio.gather(*(login(ds, f"nobody{i}", "x" * 12) for i in range(6)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {401, 429} and statuses.count(429) >= 1, statuses


# --- sessions -------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_logout_ends_the_session_cookie(make_app):
    ds = make_app()
    cookie = cookie_of(await login(ds, "bo"))
    assert (await ds.client.get("/-/screen", cookies=cookie)).status_code == 200
    assert (await post(ds, "/-/screen/logout", cookie, {})).status_code == 302
    stolen = await ds.client.get("/-/screen", cookies=cookie)  # the old cookie, replayed
    assert stolen.status_code == 302 and "/-/login" in stolen.headers["location"]


@pytest.mark.asyncio
async def test_a_new_password_ends_old_sessions(make_app, db_path):
    ds = make_app()
    cookie = cookie_of(await login(ds, "ana"))
    assert (await ds.client.get("/evidence/records", cookies=cookie)).status_code == 200
    db = open_db(db_path)
    auth.add_user(db, "ana", "a brand new password", "lead")
    db.close()
    assert (await ds.client.get("/-/screen", cookies=cookie)).status_code == 302
    assert (await ds.client.get("/evidence/records", cookies=cookie)).status_code == 403


@pytest.mark.asyncio
async def test_sessions_expire(make_app):
    ds = make_app()
    old = {"ds_actor": sessions.cookie_value(
        ds, {"id": "bo", "role": "reviewer"}, 0,
        issued=time.time() - sessions.SESSION_SECONDS - 1)}
    assert (await ds.client.get("/-/screen", cookies=old)).status_code == 302
    forever = {"ds_actor": ds.sign({"a": {"id": "bo", "role": "reviewer"}}, "actor")}
    assert (await ds.client.get("/-/screen", cookies=forever)).status_code == 302
    response = await login(ds, "bo")
    assert f"Max-Age={sessions.SESSION_SECONDS}" in response.headers["set-cookie"]


# --- votes ----------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_third_reviewer_cannot_vote_in_dual_mode(make_app, db_path):
    ds = make_app(reviewers=2)
    for name in ("bo", "cy"):
        response = await post(ds, "/-/screen/record/1", as_user(ds, name),
                              {"decision": "include"})
        assert response.status_code == 302
    third = await post(ds, "/-/screen/record/1", as_user(ds, "ana", "lead"),
                       {"decision": "exclude", "reason": "wrong-topic"})
    assert third.status_code == 409
    assert rows(db_path, "SELECT count(*) FROM decisions WHERE record_id = 1") == [(2,)]
    # a reviewer may still change their own vote
    again = await post(ds, "/-/screen/record/1", as_user(ds, "bo"), {"decision": "maybe"})
    assert again.status_code == 302


@pytest.mark.asyncio
async def test_concurrent_reviewers_get_different_records(make_app):
    ds = make_app()
    pages = await asyncio.gather(*(ds.client.get("/-/screen", cookies=as_user(ds, name))
                                   for name in ("bo", "cy", "ana")))
    shown = [p.text.split('data-record-id="', 1)[1].split('"', 1)[0] for p in pages]
    assert len(set(shown)) == 3, shown


@pytest.mark.asyncio
async def test_single_screening_disagreement_reaches_the_lead(make_app):
    ds = make_app()
    assert (await post(ds, "/-/screen/record/2", as_user(ds, "bo"),
                       {"decision": "include"})).status_code == 302
    assert (await post(ds, "/-/screen/record/2", as_user(ds, "cy"),
                       {"decision": "exclude", "reason": "wrong-topic"})).status_code == 302
    lead = as_user(ds, "ana", "lead")
    home = await ds.client.get("/-/screen", cookies=lead)
    assert 'href="/-/screen/conflicts"' in home.text
    conflicts = await ds.client.get("/-/screen/conflicts", cookies=lead)
    assert "Record 2:" in conflicts.text


# --- duplicate pairs ------------------------------------------------------------------------

def _pair(db_path, a: int, b: int) -> int:
    db = open_db(db_path)
    hit_a = db.execute("SELECT min(id) FROM hits WHERE record_id = ?", [a]).fetchone()[0]
    hit_b = db.execute("SELECT min(id) FROM hits WHERE record_id = ?", [b]).fetchone()[0]
    pair_id = db["duplicate_pairs"].insert({"hit_a": hit_a, "hit_b": hit_b, "score": 0.8,
                                            "status": "uncertain", "created_at": "now"}).last_pk
    db.close()
    return pair_id


@pytest.mark.asyncio
async def test_a_reviewer_cannot_overturn_a_decided_pair(make_app, db_path):
    ds = make_app()
    pair_id = _pair(db_path, 5, 6)
    lead, bo = as_user(ds, "ana", "lead"), as_user(ds, "bo")
    assert (await post(ds, f"/-/screen/duplicates/{pair_id}", lead,
                       {"action": "split"})).status_code == 302
    refused = await post(ds, f"/-/screen/duplicates/{pair_id}", bo, {"action": "merge"})
    assert refused.status_code == 403
    assert rows(db_path, "SELECT status FROM duplicate_pairs WHERE id = ?", [pair_id]) == [
        ("split",)]
    assert rows(db_path, "SELECT count(*) FROM records WHERE id IN (5, 6)") == [(2,)]


@pytest.mark.asyncio
async def test_a_lead_can_undo_a_merge(make_app, db_path):
    ds = make_app()
    pair_id = _pair(db_path, 7, 8)
    lead = as_user(ds, "ana", "lead")
    assert (await post(ds, f"/-/screen/duplicates/{pair_id}", as_user(ds, "bo"),
                       {"action": "merge"})).status_code == 302
    assert rows(db_path, "SELECT count(*) FROM records WHERE id IN (7, 8)") == [(1,)]
    page = await ds.client.get("/-/screen/duplicates", cookies=lead)
    assert 'value="undo"' in page.text
    assert (await post(ds, f"/-/screen/duplicates/{pair_id}", as_user(ds, "bo"),
                       {"action": "undo"})).status_code == 403
    assert (await post(ds, f"/-/screen/duplicates/{pair_id}", lead,
                       {"action": "undo"})).status_code == 302
    assert rows(db_path, "SELECT id FROM records WHERE id IN (7, 8) ORDER BY id") == [(7,), (8,)]
    assert rows(db_path, "SELECT title FROM records WHERE id = 8") == [
        ("Record 8: community mental health review",)]
    assert rows(db_path, "SELECT count(*) FROM hits WHERE record_id = 8") == [(1,)]
    assert rows(db_path, "SELECT status FROM duplicate_pairs WHERE id = ?", [pair_id]) == [
        ("split",)]


def test_cli_merge_can_be_undone_too(db_path, config_path):
    from evidence.dedupe.cluster import undo_merge
    from tests.screening_data import seed

    seed(db_path, config_path, 4)
    db = open_db(db_path)
    decide_records(db, 1, 2, "merge", "owner")
    pair_id = db.execute("SELECT id FROM duplicate_pairs WHERE status = 'merge'").fetchone()[0]
    assert undo_merge(db, pair_id, "owner") == 2
    assert db.execute("SELECT count(*) FROM hits WHERE record_id = 2").fetchone()[0] == 1


# --- secrets, malformed requests, headers ----------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/evidence/users", "/evidence/users.json",
                                  "/evidence/users/1", "/evidence/users.csv"])
async def test_password_hashes_are_hidden_from_every_role(make_app, path):
    ds = make_app()
    response = await ds.client.get(path, cookies=as_user(ds, "ana", "lead"))
    assert response.status_code in (403, 404)
    assert "pbkdf2" not in response.text
    listing = await ds.client.get("/evidence.json", cookies=as_user(ds, "ana", "lead"))
    assert listing.status_code == 200 and "pbkdf2" not in listing.text
    assert "users" not in [t["name"] for t in listing.json()["tables"] if not t["hidden"]]


@pytest.mark.asyncio
@pytest.mark.parametrize("method,path,body", [
    ("GET", "/-/screen/mine?page=%C2%B2", None),  # a superscript two: isdigit() but not int()
    ("GET", "/-/screen/mine?page=99999999999999999999999999", None),
    ("GET", "/-/screen?skip=%D9%A3,99999999999999999999999", None),
    ("GET", "/-/screen/record/99999999999999999999999", None),
    ("POST", "/-/screen/record/99999999999999999999999", {"decision": "include"}),
    ("POST", "/-/screen/duplicates", {"action": "merge"}),  # no pair id
    ("POST", "/-/screen/duplicates/424242", {"action": "merge"}),
    ("POST", "/-/screen/resolve/99999999999999999999999", {"decision": "include"}),
    ("GET", "/-/screen/suggest/99999999999999999999999", None),
    ("POST", "/-/screen/skip/99999999999999999999999", {"stage": "screening"}),
    ("POST", "/-/screen/skip/1", {"stage": "full_text"}),  # no full-text stage configured
])
async def test_malformed_parameters_are_400_or_404(make_app, method, path, body):
    ds = make_app()
    lead = as_user(ds, "ana", "lead")
    if method == "GET":
        response = await ds.client.get(path, cookies=lead)
    else:
        response = await post(ds, path, lead, body)
    assert response.status_code in (200, 400, 404), (path, response.status_code)


@pytest.mark.asyncio
async def test_non_utf8_body_is_400(make_app):
    ds = make_app()
    page = await ds.client.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    response = await ds.client.post(
        "/-/screen/record/1", content=b"decision=include&note=\xff\xfe&csrftoken=" + token.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
        cookies={**as_user(ds, "bo"), "ds_csrftoken": token})
    assert response.status_code == 400


@pytest.mark.asyncio
async def test_request_bodies_are_limited(make_app, db_path):
    ds = make_app()
    response = await post(ds, "/-/screen/record/1", as_user(ds, "bo"),
                          {"decision": "include", "note": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert rows(db_path, "SELECT count(*) FROM decisions") == [(0,)]


@pytest.mark.asyncio
async def test_pages_send_security_headers_and_cookies_can_be_secure(
        make_app, db_path, config_path, monkeypatch):
    ds = make_app()
    page = await ds.client.get("/-/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] in ("same-origin", "no-referrer")
    assert "secure" not in page.headers["set-cookie"].lower()
    monkeypatch.setenv("EVIDENCE_SECURE_COOKIES", "1")
    assert secure_cookies_wanted()
    secure = make_datasette(db_path, config_path, secret="test-secret")
    response = await login(secure, "bo")
    assert response.status_code == 302
    cookies = response.headers.get_list("set-cookie")
    assert cookies and all("; Secure" in c for c in cookies), cookies


@pytest.mark.asyncio
async def test_a_skipped_record_is_free_for_the_others_at_once(make_app):
    ds = make_app()
    first = await ds.client.get("/-/screen", cookies=as_user(ds, "bo"))
    assert 'data-record-id="1"' in first.text
    assert (await post(ds, "/-/screen/skip/1", as_user(ds, "bo"),
                       {"stage": "screening"})).status_code == 302
    other = await ds.client.get("/-/screen", cookies=as_user(ds, "cy"))
    assert 'data-record-id="1"' in other.text


# --- issue 25: blind theme suggestions, a kept decision, 500s -------------------------------

def test_suggestions_do_not_learn_from_another_reviewers_pending_vote(make_app, db_path):
    """Blind dual screening: bo's themes on a record waiting for its second vote are not
    cy's examples (they would show how bo voted); bo's own are, and everyone's once the
    record is settled, and an earlier year's imported themes always are."""
    from evidence.db.decisions import save_decision
    from evidence.db.migrations import open_db
    from evidence.screening.suggest_view import themed_examples

    make_app(reviewers=2)
    db = open_db(db_path)
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["stigma"])
    save_decision(db.conn, 2, "lastyear", "include", theme_slugs=["loneliness"],
                  origin="import")

    def learned(reviewer: str) -> set[str]:
        return {t for e in themed_examples(db.conn, 5, reviewer) if e.title.startswith(
            "Record") for t in e.themes}

    assert learned("cy") == {"loneliness"}
    assert learned("bo") == {"stigma", "loneliness"}
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["stigma"])
    assert learned("ana") == {"stigma", "loneliness"}  # settled: both agreed
    db.close()


@pytest.mark.asyncio
async def test_suggest_view_is_blind_too(make_app, db_path):
    from evidence.db.decisions import save_decision
    from evidence.db.migrations import open_db

    ds = make_app(reviewers=2)
    db = open_db(db_path)
    for record in (1, 2, 3, 4):  # bo's votes only: nothing is settled
        save_decision(db.conn, record, "bo", "include", theme_slugs=["health-economics"])
    db.close()
    seen = await ds.client.get("/-/screen/suggest/5", cookies=as_user(ds, "cy"))
    assert seen.status_code == 200
    bo = await ds.client.get("/-/screen/suggest/5", cookies=as_user(ds, "bo"))
    assert bo.json()["suggestions"][0]["slug"] == "health-economics"
    assert "health-economics" not in [s["slug"] for s in seen.json()["suggestions"]][:1]


async def _kept_decision(ds, db_path, who: str = "bo") -> str:
    """``who`` posts a decision with a private note after their session was ended: the
    signed cookie the app keeps it in."""
    cookie = as_user(ds, who)
    with open_db(db_path) as db:
        auth.end_sessions(db.conn, who)
    response = await post(ds, "/-/screen/record/2", cookie, {
        "decision": "exclude", "reason": "", "note": "PRIVATE-NOTE-OF-BO", "next": "/-/screen"})
    assert response.status_code == 401
    return response.cookies["evidence_pending"]


@pytest.mark.asyncio
async def test_a_kept_decision_is_shown_only_to_its_reviewer(make_app, db_path):
    ds = make_app()
    kept = await _kept_decision(ds, db_path)
    other = await ds.client.get("/-/screen/record/2", cookies={
        **as_user(ds, "cy"), "evidence_pending": kept})
    assert other.status_code == 200
    assert "PRIVATE-NOTE-OF-BO" not in other.text
    assert other.cookies.get("evidence_pending", "") == ""  # and it is gone
    bo = await ds.client.get("/-/screen/record/2", cookies={
        **cookie_of(await login(ds, "bo")), "evidence_pending": kept})
    assert "PRIVATE-NOTE-OF-BO" in bo.text


@pytest.mark.asyncio
async def test_login_of_another_account_and_logout_drop_a_kept_decision(make_app, db_path):
    ds = make_app()
    kept = await _kept_decision(ds, db_path)
    page = await ds.client.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    cy = await ds.client.post("/-/login", data={
        "username": "cy", "password": PASSWORD, "csrftoken": token},
        cookies={"ds_csrftoken": token, "evidence_pending": kept})
    assert cy.status_code == 302 and cy.cookies.get("evidence_pending", "") == ""
    out = await post(ds, "/-/screen/logout", {**as_user(ds, "bo"), "evidence_pending": kept},
                     {})
    assert out.status_code == 302 and out.cookies.get("evidence_pending", "") == ""


@pytest.mark.asyncio
async def test_a_kept_decision_without_a_known_account_goes_only_to_a_prompt_login(
        make_app, db_path, monkeypatch):
    """The login cookie had expired in the browser: the person who was typing logs in at
    once and gets it back; someone logging in later does not."""
    from evidence.screening import pages

    ds = make_app()
    response = await post(ds, "/-/screen/record/2", {}, {
        "decision": "exclude", "note": "PRIVATE-NOTE-OF-BO", "next": "/-/screen"})
    kept = response.cookies["evidence_pending"]
    later = ds.client
    monkeypatch.setattr(pages, "UNOWNED_PENDING_SECONDS", -1)
    page = await later.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    cy = await later.post("/-/login", data={
        "username": "cy", "password": PASSWORD, "csrftoken": token},
        cookies={"ds_csrftoken": token, "evidence_pending": kept})
    assert cy.cookies.get("evidence_pending", "") == ""
    monkeypatch.setattr(pages, "UNOWNED_PENDING_SECONDS", 600)
    bo = await later.post("/-/login", data={
        "username": "bo", "password": PASSWORD, "csrftoken": token},
        cookies={"ds_csrftoken": token, "evidence_pending": kept})
    rebound = bo.cookies["evidence_pending"]
    assert ds.unsign(rebound, "pending")["user"] == "bo"


@pytest.mark.asyncio
async def test_a_page_number_beyond_sqlite_integers_is_an_empty_page(make_app):
    ds = make_app()
    for page in ("999999999999999999", "9" * 5000, "²", "-1"):
        response = await ds.client.get(f"/-/screen/find?page={page}",
                                       cookies=as_user(ds, "bo"))
        assert response.status_code == 200, page
        mine = await ds.client.get(f"/-/screen/mine?page={page}", cookies=as_user(ds, "bo"))
        assert mine.status_code == 200, page


@pytest.mark.asyncio
@pytest.mark.parametrize("bad", ["/-/screen\r\nSet-Cookie: x=1", "/-/screen\x00",
                                 "/-/screen\n", "/-/screen?words=\tx", "/-/screen/\x7f"])
async def test_control_characters_in_next_fall_back_to_the_queue(make_app, bad):
    ds = make_app()
    skip = await post(ds, "/-/screen/skip/1", as_user(ds, "bo"), {"next": bad})
    assert skip.status_code == 302 and skip.headers["location"] == "/-/screen"
    page = await ds.client.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    logged = await ds.client.post("/-/login", data={
        "username": "bo", "password": PASSWORD, "csrftoken": token, "next": bad},
        cookies={"ds_csrftoken": token})
    assert logged.status_code == 302 and logged.headers["location"] == "/-/screen"
    shown = await ds.client.get("/-/screen/record/1", params={"next": bad},
                                cookies=as_user(ds, "bo"))
    assert shown.status_code == 200


@pytest.mark.asyncio
async def test_non_ascii_in_next_is_percent_encoded(make_app):
    ds = make_app()
    skip = await post(ds, "/-/screen/skip/1", as_user(ds, "bo"),
                      {"next": "/-/screen?words=rusmiddel€"})
    assert skip.status_code == 302
    assert skip.headers["location"] == "/-/screen?words=rusmiddel%E2%82%AC"


YAML_INDICATORS = ["*rus", "!tag", "%pct", "@home", "&anchor", "|pipe", ">fold", "`tick",
                   "-dash", "? what", "{brace}", "[list]", "#hash", "yes", "null", "a: b",
                   "'quote", '"dq', ",comma"]


@pytest.mark.asyncio
async def test_highlight_words_starting_with_yaml_indicators_are_saved_as_given(
        make_app, config_path):
    from evidence.config import load_config

    ds = make_app()
    words = [w for w in YAML_INDICATORS if "," not in w]
    response = await post(ds, "/-/screen/lists", as_user(ds, "ana", "lead"), {
        "action": "words", "include": "\n".join(words), "exclude": "@work\n*"})
    assert response.status_code == 302
    config = load_config(config_path)
    assert list(config.screening.highlight_include) == words
    assert list(config.screening.highlight_exclude) == ["@work", "*"]
    record = await ds.client.get("/-/screen/record/1", cookies=as_user(ds, "bo"))
    assert record.status_code == 200


def test_highlight_words_with_yaml_indicators_in_the_file_are_a_clear_error(config_path):
    from evidence.config import ConfigError, load_config

    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("screening:\n", "screening:\n  highlight:\n"
                                        "    include: [*rus, @home]\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(config_path)
    assert f"{config_path.name}:" in str(error.value) and "YAML" in str(error.value)
    assert "put it in quotes" in str(error.value)
