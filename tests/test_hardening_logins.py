"""Third hardening round (issue 25) on logins: the per-account limit holds for guesses sent
at once, a flood of failed guesses does not turn real reviewers away, X-Forwarded-For is
believed only from configured proxies, and Datasette's own Log out ends the session."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from evidence.screening import auth
from evidence.screening import throttle as login_limits
from evidence.screening.remote import client_address
from tests import test_screening as screening_tests
from tests.test_screening import PASSWORD, post

make_app, fast_hashes = screening_tests.make_app, screening_tests.fast_hashes


def with_auth(config_path, block: str) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("\ndedupe:", f"  auth:\n{block}\ndedupe:"),
                           encoding="utf-8")


def client(ds, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client whose requests come from ``address`` (Datasette's own comes from 127.0.0.1)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=ds.app(), client=(address, 4000)),
                             base_url="http://localhost")


async def login(ds, address: str, username: str, password: str = PASSWORD,
                headers: dict | None = None, cookies: dict | None = None) -> httpx.Response:
    """One login from a fresh browser at ``address`` (plus ``cookies`` it already holds)."""
    async with client(ds, address) as http:
        page = await http.get("/-/login")
        token = page.cookies["ds_csrftoken"]
        http.cookies.clear()
        http.cookies.update({"ds_csrftoken": token, **(cookies or {})})
        return await http.post("/-/login", data={"username": username, "password": password,
                                                 "csrftoken": token}, headers=headers or {})


def slow_checks(monkeypatch, seconds: float = 0.05) -> list[str]:
    """Password checks take ``seconds`` (so logins overlap); returns the names checked."""
    checked, real = [], auth.check_login

    def slow(row, password):
        checked.append(row[0] if row else None)
        time.sleep(seconds)
        return real(row, password)

    monkeypatch.setattr(auth, "check_login", slow)
    return checked


@pytest.mark.asyncio
async def test_twelve_guesses_at_once_check_only_the_limit(make_app, monkeypatch):
    checked = slow_checks(monkeypatch)
    ds = make_app()
    answers = await asyncio.gather(*(login(ds, "127.0.0.1", "ana", f"guess-{i}")
                                     for i in range(12)))
    assert len(checked) == login_limits.MAX_PER_ACCOUNT
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [401] * 5 + [429] * 7


@pytest.mark.asyncio
async def test_a_flood_of_failed_guesses_does_not_turn_a_reviewer_away(make_app, monkeypatch):
    slow_checks(monkeypatch, 0.03)
    monkeypatch.setattr(login_limits, "MAX_PER_ADDRESS", 10**6)
    ds = make_app()
    flood = [asyncio.create_task(login(ds, "203.0.113.66", f"user{i}", "wrong-guess"))
             for i in range(40)]
    await asyncio.sleep(0.05)  # the queue is full of the attacker's guesses now
    answer = await login(ds, "198.51.100.7", "bo")
    results = await asyncio.gather(*flood)
    assert answer.status_code == 302, answer.text[:300]
    assert any(r.status_code == 429 for r in results)  # the flood itself is turned away


@pytest.mark.asyncio
async def test_a_known_browser_logs_in_past_a_locked_account_and_a_full_queue(
        make_app, monkeypatch):
    ds = make_app()
    first = await login(ds, "192.0.2.10", "bo")
    device = {login_limits.DEVICE_COOKIE: first.cookies[login_limits.DEVICE_COOKIE]}
    slow_checks(monkeypatch, 0.03)
    for _ in range(login_limits.MAX_PER_ACCOUNT):
        await login(ds, "203.0.113.66", "bo", "wrong-guess")
    assert (await login(ds, "192.0.2.10", "bo")).status_code == 429  # a new browser waits
    flood = [asyncio.create_task(login(ds, "192.0.2.10", f"user{i}", "wrong-guess"))
             for i in range(20)]  # even from the reviewer's own office address
    await asyncio.sleep(0.05)
    answer = await login(ds, "192.0.2.10", "bo", cookies=device)
    await asyncio.gather(*flood)
    assert answer.status_code == 302
    # the device cookie is bound to its account: it does not help guessing another one
    assert login_limits.trusted_device(ds, device[login_limits.DEVICE_COOKIE], "ana") is None


@pytest.mark.asyncio
async def test_forwarded_for_from_an_untrusted_client_is_ignored(make_app, monkeypatch):
    monkeypatch.setattr(login_limits, "MAX_PER_ADDRESS", 3)
    ds = make_app()
    for i in range(3):
        await login(ds, "127.0.0.1", f"nobody{i}", "wrong-guess",
                    headers={"x-forwarded-for": f"10.0.0.{i}"})
    answer = await login(ds, "127.0.0.1", "bo", headers={"x-forwarded-for": "10.0.0.99"})
    assert answer.status_code == 429  # one client, whatever it claims


@pytest.mark.asyncio
async def test_forwarded_for_from_a_configured_proxy_names_the_client(make_app, config_path,
                                                                      monkeypatch):
    monkeypatch.setattr(login_limits, "MAX_PER_ADDRESS", 3)
    with_auth(config_path, "    trusted_proxies: [127.0.0.1]\n")
    ds = make_app()
    for i in range(3):  # a client behind the proxy, lying about itself on the left
        await login(ds, "127.0.0.1", f"nobody{i}", "wrong-guess",
                    headers={"x-forwarded-for": f"1.1.1.{i}, 198.51.100.9"})
    blocked = await login(ds, "127.0.0.1", "bo", headers={"x-forwarded-for": "198.51.100.9"})
    other = await login(ds, "127.0.0.1", "bo", headers={"x-forwarded-for": "198.51.100.10"})
    assert blocked.status_code == 429 and other.status_code == 302


@pytest.mark.parametrize("peer,forwarded,trusted,expected", [
    ("127.0.0.1", "1.2.3.4", (), "127.0.0.1"),
    ("10.0.0.5", "1.2.3.4", ("127.0.0.1",), "10.0.0.5"),
    ("127.0.0.1", "6.6.6.6, 1.2.3.4", ("127.0.0.1",), "1.2.3.4"),
    ("10.1.2.3", "1.2.3.4, 10.9.9.9", ("10.0.0.0/8",), "1.2.3.4"),
    ("::1", "2001:db8::7", ("::1",), "2001:db8::7"),
    ("127.0.0.1", "not-an-address", ("127.0.0.1",), "127.0.0.1"),
    ("127.0.0.1", None, ("127.0.0.1",), "127.0.0.1"),
])
def test_client_address(peer, forwarded, trusted, expected):
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {"client": (peer, 1), "headers": headers}
    assert client_address(scope, trusted) == expected


@pytest.mark.asyncio
async def test_datasettes_own_log_out_ends_the_session_on_the_server(make_app):
    ds = make_app()
    cookie = {"ds_actor": (await login(ds, "127.0.0.1", "ana")).cookies["ds_actor"]}
    async with client(ds) as http:
        assert (await http.get("/evidence/records", cookies=cookie)).status_code == 200
        assert (await post(ds, "/-/logout", cookie, {})).status_code == 302
        replayed = await http.get("/evidence/records", cookies=cookie)
        assert replayed.status_code == 403
        assert (await http.get("/-/screen", cookies=cookie)).status_code == 302
