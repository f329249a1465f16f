"""The institution's sign-in and Datasette's own Log out in Chromium, on a real
``evidence screen`` behind no proxy: the browser itself plays the trusted proxy at 127.0.0.1."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import EXAMPLE_CONFIG
from tests.screening_data import add_users, seed
from tests.test_browser_screening import PASSWORD, start_server, stop_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sso")
    config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
    shutil.copy(EXAMPLE_CONFIG, config_path)
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("\ndedupe:", "  auth:\n    header: X-Remote-User\n"
                                        "    trusted_proxies: [127.0.0.1]\n\ndedupe:"),
                           encoding="utf-8")
    seed(db_path, config_path, 6)
    add_users(db_path, {"ana": "lead", "bo": "reviewer"}, PASSWORD)
    process, url = start_server(directory)
    yield url
    stop_server(process)


def test_the_proxys_user_screens_without_a_password(server, browser: Browser):
    context = browser.new_context(extra_http_headers={"X-Remote-User": "bo"})
    page = context.new_page()
    page.goto(server + "/-/screen")
    expect(page.locator("article[data-record-id]")).to_be_visible()
    context.close()
    stranger = browser.new_context(extra_http_headers={"X-Remote-User": "zed"})
    page = stranger.new_page()
    response = page.goto(server + "/-/screen")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Ingen konto her")
    expect(page.locator("#password")).to_have_count(0)
    stranger.close()


def test_password_login_page_says_how_to_sign_in(server, browser: Browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(server + "/-/login")
    expect(page.locator(".sso-note")).to_be_visible()
    expect(page.locator("#password")).to_be_visible()
    context.close()


def test_datasettes_log_out_button_ends_the_session(server, browser: Browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(server + "/-/login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page).to_have_url(server + "/-/screen")
    page.goto(server + "/evidence/records")
    session = next(c for c in context.cookies() if c["name"] == "ds_actor")
    page.locator("details.nav-menu summary").click()
    page.locator("form[action$='/-/logout'] button").click()
    context.add_cookies([session])  # the cookie of before, replayed
    response = page.goto(server + "/evidence/records")
    assert response.status == 403
    context.close()
