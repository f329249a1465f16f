"""Harvesters against answers no real service gives (issue 25, hardening round 3): each ends
with a clear error in bounded time, never a traceback, a hang or a loop."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from evidence.config import ZoteroLibrary, service_settings
from evidence.harvest.pubmed.client import EUtils, PubMedError
from evidence.zotero_api import ZoteroError, connect, fetch_pages
from tests.standins.hostile import hostile


def _eutils(url: str, **kwargs) -> EUtils:
    return EUtils(url, per_second=0, sleep=lambda s: None, timeout=(2.0, 2.0), retries=1,
                  **kwargs)


def test_a_dripping_pubmed_answer_ends_at_its_deadline():
    with hostile("drip", drip_seconds=0.05) as (url, _):
        started = time.monotonic()
        with pytest.raises(PubMedError, match=r"took over 0.5 s \(still arriving\)"):
            _eutils(url, answer_seconds=0.5).esearch("x", "pdat", dt.date(2024, 1, 1),
                                                      dt.date(2024, 2, 1))
    assert time.monotonic() - started < 10


def test_an_oversized_pubmed_answer_is_refused_before_it_fills_memory():
    with hostile("big", size=3_000_000) as (url, _), pytest.raises(
            PubMedError, match="larger than 1 MB"):
        _eutils(url, max_bytes=2**20).esearch("x", "pdat", dt.date(2024, 1, 1),
                                              dt.date(2024, 2, 1))


def test_a_redirect_to_a_file_is_not_followed():
    with hostile("redirect-file") as (url, _), pytest.raises(PubMedError, match="only http"):
        _eutils(url).esearch("x", "pdat", dt.date(2024, 1, 1), dt.date(2024, 2, 1))


def test_a_count_that_is_not_a_number_is_named():
    with hostile("count") as (url, _), pytest.raises(PubMedError, match="Count: 'many'"):
        _eutils(url).esearch("x", "pdat", dt.date(2024, 1, 1), dt.date(2024, 2, 1))


def _zotero(url: str):
    library = ZoteroLibrary(name="lib", library_id="1", library_type="user")
    return connect(library, service_settings({"ZOTERO_API_URL": url, "ZOTERO_API_KEY": "k"}))


@pytest.mark.parametrize(("mode", "message"), [
    ("self-link", "points at a page already read"),
    ("not-json", "not Zotero's JSON"),
    ("nested", "not Zotero's JSON"),
    ("bad-version", "Last-Modified-Version: 'abc', not a number"),
    ("redirect-file", "Zotero items"),
])
def test_hostile_zotero_answers_end_with_a_clear_error(mode, message):
    with hostile(mode) as (url, server):
        with pytest.raises(ZoteroError, match=message):
            for _ in fetch_pages(_zotero(url), {}, sleep=lambda s: None):
                pass
    assert server.requests < 10
