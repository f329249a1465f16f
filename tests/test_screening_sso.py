"""Sign-in through the institution (issue 26): ``screening.auth`` with a header set by a
trusted reverse proxy; requests from inside and outside the trusted list."""

from __future__ import annotations

import pytest

from evidence.config import ConfigError, load_config
from evidence.screening import auth
from tests import test_screening as screening_tests
from tests.test_hardening_logins import client, login, with_auth
from tests.test_screening import PASSWORD, as_user, rows

make_app, fast_hashes = screening_tests.make_app, screening_tests.fast_hashes
SSO = "    header: X-Remote-User\n    trusted_proxies: [127.0.0.1, 10.20.0.0/16]\n"


async def get(ds, path: str, address: str, user: str | None = None, cookies=None):
    headers = {"x-remote-user": user} if user is not None else {}
    async with client(ds, address) as http:
        return await http.get(path, headers=headers, cookies=cookies or {})


@pytest.mark.asyncio
@pytest.mark.parametrize("address", ["127.0.0.1", "10.20.3.4"])
async def test_a_trusted_proxy_with_the_header_is_that_user(make_app, config_path, address):
    with_auth(config_path, SSO)
    ds = make_app()
    page = await get(ds, "/-/screen", address, "bo")
    assert page.status_code == 200
    assert "bo" in page.text and "data-record-id" in page.text
    lead_page = await get(ds, "/-/screen/summary", address, "ana")
    assert lead_page.status_code == 200  # roles stay in users
    assert (await get(ds, "/-/screen/summary", address, "bo")).status_code == 403
    assert (await get(ds, "/-/login", address, "bo")).status_code == 302  # already in


@pytest.mark.asyncio
@pytest.mark.parametrize("address", ["10.21.0.1", "192.0.2.1", "::1"])
async def test_the_header_from_any_other_address_is_ignored(make_app, config_path, address):
    with_auth(config_path, SSO)
    ds = make_app()
    page = await get(ds, "/-/screen", address, "ana")
    assert page.status_code == 302 and "/-/login" in page.headers["location"]
    lead = await get(ds, "/evidence/records", address, "ana")
    assert lead.status_code == 403  # Datasette's own pages do not believe it either
    login_page = await get(ds, "/-/login", address, "ana")
    assert login_page.status_code == 200
    assert "through your institution" in login_page.text or "via institusjonen" in login_page.text
    # password login keeps working beside it
    assert (await login(ds, address, "bo")).status_code == 302


@pytest.mark.asyncio
async def test_a_name_without_an_account_is_refused(make_app, config_path, db_path):
    with_auth(config_path, SSO)
    ds = make_app()
    page = await get(ds, "/-/screen", "127.0.0.1", "zed")
    assert page.status_code == 302
    refused = await get(ds, "/-/login", "127.0.0.1", "zed")
    assert refused.status_code == 403 and "zed" in refused.text
    assert 'name="password"' not in refused.text
    # a cookie of another account does not win over the proxy's word
    stolen = await get(ds, "/-/screen", "127.0.0.1", "zed", cookies=as_user(ds, "ana", "lead"))
    assert stolen.status_code == 302
    assert rows(db_path, "SELECT count(*) FROM users WHERE username = 'zed'") == [(0,)]


@pytest.mark.asyncio
async def test_create_users_makes_newcomers_reviewers_without_a_password(make_app, config_path,
                                                                        db_path):
    with_auth(config_path, SSO + "    create_users: true\n")
    ds = make_app()
    page = await get(ds, "/-/screen", "127.0.0.1", "zed@uni.no")
    assert page.status_code == 200
    assert rows(db_path, "SELECT role, password_hash FROM users WHERE username = 'zed@uni.no'"
                ) == [("reviewer", auth.NO_PASSWORD)]
    assert (await get(ds, "/-/screen/summary", "127.0.0.1", "zed@uni.no")).status_code == 403
    assert (await login(ds, "192.0.2.1", "zed@uni.no", "!")).status_code == 401
    assert (await get(ds, "/-/screen", "192.0.2.1", "newbie")).status_code == 302
    assert rows(db_path, "SELECT count(*) FROM users WHERE username = 'newbie'") == [(0,)]


@pytest.mark.asyncio
async def test_a_disabled_account_stays_out(make_app, config_path, db_path):
    with_auth(config_path, SSO + "    create_users: true\n")
    ds = make_app()
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE users SET disabled = 1 WHERE username = 'bo'")
    conn.commit()
    conn.close()
    assert (await get(ds, "/-/screen", "127.0.0.1", "bo")).status_code == 302
    assert rows(db_path, "SELECT disabled FROM users WHERE username = 'bo'") == [(1,)]


@pytest.mark.asyncio
@pytest.mark.parametrize("value", ["", "  ", "a b", "x" * 300, "bo\x01"])
async def test_odd_header_values_are_no_name(make_app, config_path, value):
    with_auth(config_path, SSO)
    ds = make_app()
    assert (await get(ds, "/-/screen", "127.0.0.1", value)).status_code == 302


@pytest.mark.asyncio
async def test_a_proxy_user_posts_decisions_with_the_csrf_token(make_app, config_path, db_path):
    with_auth(config_path, SSO)
    ds = make_app()
    async with client(ds) as http:
        http.headers["x-remote-user"] = "bo"
        page = await http.get("/-/screen")
        record_id = page.text.split('data-record-id="', 1)[1].split('"', 1)[0]
        token = http.cookies["ds_csrftoken"]
        refused = await http.post(f"/-/screen/record/{record_id}", data={"decision": "include"})
        assert refused.status_code == 403
        done = await http.post(f"/-/screen/record/{record_id}",
                               data={"decision": "include", "csrftoken": token})
        assert done.status_code == 302
    assert rows(db_path, "SELECT reviewer, decision FROM decisions") == [("bo", "include")]


@pytest.mark.asyncio
async def test_without_the_header_configured_password_login_is_unchanged(make_app):
    ds = make_app()
    page = await get(ds, "/-/screen", "127.0.0.1", "ana")
    assert page.status_code == 302  # a header means nothing when not configured
    answer = await login(ds, "127.0.0.1", "ana", PASSWORD)
    assert answer.status_code == 302 and "ds_actor" in answer.cookies
    login_page = await get(ds, "/-/login", "127.0.0.1")
    assert "institution" not in login_page.text and "institusjon" not in login_page.text


@pytest.mark.parametrize("block,message", [
    ("    header: X-Remote-User\n", "trusted_proxies: required with header"),
    ("    header: X Remote\n    trusted_proxies: [127.0.0.1]\n", "is not an HTTP header name"),
    ("    header: X-Remote-User\n    trusted_proxies: [proxy.local]\n",
     "trusted_proxies[0]: not an IP address or network"),
    ("    create_users: true\n", "create_users: needs screening.auth.header"),
    ("    header: X-Remote-User\n    trusted_proxies: [127.0.0.1]\n    roles: x\n",
     "unknown key"),
])
def test_auth_configuration_errors_name_file_line_and_key(config_path, block, message):
    with_auth(config_path, block)
    with pytest.raises(ConfigError, match=r"evidence\.yml:\d+: screening\.auth") as error:
        load_config(config_path)
    assert message in str(error.value)


def test_users_add_no_password_sets_roles_for_proxy_accounts(db_path, monkeypatch):
    from click.testing import CliRunner

    from evidence.cli import cli
    from evidence.db.migrations import open_db

    monkeypatch.setattr(auth, "ITERATIONS", 1_000)
    open_db(db_path).close()
    runner = CliRunner()
    made = runner.invoke(cli, ["users", "add", "kari@uni.no", "--role", "lead", "--no-password",
                               "--db", str(db_path)])
    assert made.exit_code == 0, made.output
    assert rows(db_path, "SELECT role, password_hash FROM users") == [("lead", auth.NO_PASSWORD)]
    runner.invoke(cli, ["users", "add", "bo", "--password-stdin", "--db", str(db_path)],
                  input="long enough\n")
    runner.invoke(cli, ["users", "add", "bo", "--role", "lead", "--no-password",
                        "--db", str(db_path)])
    conn = open_db(db_path).conn
    assert auth.authenticate(conn, "bo", "long enough") == {"id": "bo", "role": "lead"}
    assert auth.authenticate(conn, "kari@uni.no", "!") is None
