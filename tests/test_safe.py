"""SAFE's phases (models/safe.py): the check with a second model, remembered once it has
started, and a lead's stop in the app, counted by publish as ``stopped: true`` is."""

from __future__ import annotations

import re
import sqlite3

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.config import ScreeningSettings
from evidence.db.decisions import save_decision
from evidence.db.migrations import open_db
from evidence.models import relevance, safe
from evidence.models.relevance import RelevanceQueue
from evidence.models.stopping import describe_method, stopping_figures
from evidence.screening import auth
from evidence.screening.app import make_datasette
from tests.screening_data import add_users, seed
from tests.test_relevance import TITLES, relevance_config
from tests.test_screening import as_user, post

RULE = "\n  stopping:\n    rule: safe\n    consecutive_exclusions: 3"


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(auth, "ITERATIONS", 1_000)
    monkeypatch.setattr(relevance, "MIN_SECONDS", 0.0)


@pytest.fixture
def db(db_path, config_path):
    relevance_config(config_path, RULE)
    seed(db_path, config_path, 20, titles=TITLES)
    database = open_db(db_path)
    yield database
    database.close()


def figures(conn) -> dict:
    return stopping_figures(conn, rule="safe", min_share=0.1, run_needed=3).as_dict()


def screen_until_heuristic_met(conn, record: int = 2) -> int:
    """One inclusion (record 1), then exclusions from ``record`` on until SAFE's heuristic is
    met; the next record id."""
    save_decision(conn, 1, "bo", "include")
    while not figures(conn)["met"]:
        save_decision(conn, record, "bo", "exclude", reason="wrong-topic")
        record += 1
    return record


def test_the_check_starts_once_and_does_not_flip_back(db):
    conn = db.conn
    save_decision(conn, 1, "bo", "include")
    assert figures(conn)["phase"] == "active_learning"
    assert not safe.start_check_if_met(conn, figures(conn), "relevance")  # not met: nothing
    record = screen_until_heuristic_met(conn)
    last = conn.execute("SELECT max(id) FROM decisions").fetchone()[0]
    assert not safe.start_check_if_met(conn, figures(conn), "newest")  # no model to switch
    assert safe.start_check_if_met(conn, figures(conn), "relevance")
    assert not safe.start_check_if_met(conn, figures(conn), "relevance")  # stored once
    start = safe.check_start(conn)
    assert start["decision_id"] == last and start["figures"]["phase"] == "active_learning"
    now = figures(conn)
    assert (now["phase"], now["check_run"], now["check_needed"]) == ("checking", 0, 3)
    # an inclusion in the check: the heuristic is no longer met, the phase stays the check
    save_decision(conn, record, "bo", "include")
    now = figures(conn)
    assert not now["met"] and now["phase"] == "checking" and now["check_run"] == 0
    for offset in (1, 2):
        save_decision(conn, record + offset, "bo", "exclude", reason="wrong-topic")
    assert figures(conn)["phase"] == "checking" and figures(conn)["check_run"] == 2
    save_decision(conn, record + 3, "bo", "exclude", reason="wrong-topic")
    assert figures(conn)["phase"] == "met" and figures(conn)["check_run"] == 3
    assert safe.check_start(conn)["id"] == start["id"]  # the start point never moved


def test_a_stop_is_kept_with_who_and_the_figures_and_can_be_undone(db):
    conn = db.conn
    save_decision(conn, 1, "bo", "include")
    assert safe.current_stop(conn) is None
    assert safe.stop_screening(conn, "ana", figures(conn))
    assert not safe.stop_screening(conn, "ana", figures(conn))  # already stopped
    stop = safe.current_stop(conn)
    assert stop["actor"] == "ana" and stop["figures"]["screened"] == 1
    assert figures(conn)["stopped"]["actor"] == "ana"
    assert safe.undo_stop(conn, "ana") and safe.current_stop(conn) is None
    assert not safe.undo_stop(conn, "ana")
    kept = conn.execute("SELECT actor, undone_by FROM stopping_events").fetchall()
    assert kept == [("ana", "ana")]  # undone, not deleted


def test_the_queue_ranks_with_the_second_model_once_the_check_started(db, db_path):
    conn = db.conn
    queue = RelevanceQueue(str(db_path))
    queue.check_enabled = True
    save_decision(conn, 1, "bo", "include")
    save_decision(conn, 2, "bo", "exclude", reason="wrong-topic")
    queue.decided("bo", False)
    assert queue.wait() and queue.model("bo") == "first"
    screen_until_heuristic_met(conn, record=3)
    assert safe.start_check_if_met(conn, figures(conn), "relevance")
    queue.phase_changed()
    assert queue.wait() and queue.model("bo") == "check"
    ranked = queue.candidates("bo")
    assert ranked[:3] and all(r % 2 == 1 for r in ranked[:3])  # still learns the topic
    queue.check_enabled = False  # rule changed in the configuration: the first model again
    queue.phase_changed()
    assert queue.wait() and queue.model("bo") == "first"


@pytest.fixture
def app(db_path, config_path):
    relevance_config(config_path, RULE)
    seed(db_path, config_path, 20, titles=TITLES)
    add_users(db_path, {"ana": "lead", "bo": "reviewer"})
    return make_datasette(db_path, config_path, secret="test-secret")


@pytest.mark.asyncio
async def test_header_shows_the_phases_and_a_lead_stops_and_undoes(app, db_path,
                                                                    config_path, tmp_path):
    bo, ana = as_user(app, "bo"), as_user(app, "ana")
    db = open_db(db_path)
    page = await app.client.get("/-/screen", cookies=bo)
    assert "SAFE fase 1, aktiv læring" in page.text and "stop-form" not in page.text
    record = screen_until_heuristic_met(db.conn)
    page = await app.client.get("/-/screen", cookies=bo)  # the app starts the check
    assert "SAFE fase 2, kontroll med en annen modell: 0 av 3" in page.text
    assert safe.check_start(db.conn) is not None
    for offset in range(3):
        save_decision(db.conn, record + offset, "bo", "exclude", reason="wrong-topic")
    page = await app.client.get("/-/screen", cookies=bo)
    assert "SAFE-regelen er oppfylt: dere kan stoppe" in page.text
    assert 'id="stop-button"' not in page.text  # a reviewer never sees the button
    refused = await post(app, "/-/screen/stop", bo, {"action": "stop"})
    assert refused.status_code == 403 and safe.current_stop(db.conn) is None
    page = await app.client.get("/-/screen", cookies=ana)
    assert 'id="stop-button"' in page.text and "confirm" not in page.text  # rule met
    done = await post(app, "/-/screen/stop", ana, {"action": "stop", "next": "/-/screen"})
    assert done.status_code == 302 and safe.current_stop(db.conn)["actor"] == "ana"
    page = await app.client.get("/-/screen", cookies=bo)
    assert "Gjennomgangen ble stoppet" in page.text and "av ana" in page.text
    out = tmp_path / "published.db"
    result = CliRunner().invoke(cli, ["publish", "--db", str(db_path), "--config",
                                      str(config_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    pub = sqlite3.connect(out)
    steps = dict(pub.execute("SELECT step, count FROM prisma"))
    never = 20 - db.conn.execute("SELECT count(DISTINCT record_id) FROM decisions").fetchone()[0]
    assert steps["not_screened_stopping_rule"] == never > 0
    method = pub.execute("SELECT value FROM site WHERE key = 'screening_method'").fetchone()[0]
    assert "SAFE" in method and "annen modell" in method, method
    assert not [t for (t,) in pub.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if "stopping_events" in t]
    dump = "\n".join(pub.iterdump())
    pub.close()
    assert not re.search(r"\bana\b", dump)  # who stopped stays private
    undone = await post(app, "/-/screen/stop", ana, {"action": "undo"})
    assert undone.status_code == 302 and safe.current_stop(db.conn) is None
    db.close()


@pytest.mark.asyncio
async def test_an_early_stop_needs_the_confirmation(app, db_path):
    ana = as_user(app, "ana")
    page = await app.client.get("/-/screen", cookies=ana)
    assert 'name="confirm"' in page.text  # before the rule is met: behind a confirmation
    refused = await post(app, "/-/screen/stop", ana, {"action": "stop"})
    assert refused.status_code == 400
    db = open_db(db_path)
    assert safe.current_stop(db.conn) is None
    done = await post(app, "/-/screen/stop", ana, {"action": "stop", "confirm": "yes"})
    assert done.status_code == 302
    stop = safe.current_stop(db.conn)
    db.close()
    assert stop["figures"]["phase"] == "active_learning"
    settings = ScreeningSettings(order="relevance", stopping_rule="safe")
    text = describe_method(settings, "en", 20, stop=stop)
    assert "stopped before the stopping rule was met; 20 records" in text


def test_status_names_the_phase_and_the_stop(db, db_path, config_path):
    screen_until_heuristic_met(db.conn)
    result = CliRunner().invoke(cli, ["status", "--db", str(db_path), "--config",
                                      str(config_path)])
    assert result.exit_code == 0, result.output
    assert "SAFE: checking with a second model: 0 of 3 exclusions in a row" in result.output
    assert safe.check_start(db.conn) is not None  # stored by the command too
    safe.stop_screening(db.conn, "ana", figures(db.conn))
    result = CliRunner().invoke(cli, ["status", "--db", str(db_path), "--config",
                                      str(config_path)])
    assert "by ana" in result.output and "not screened: stopping rule" in result.output


def test_imported_and_undone_decisions_do_not_count_towards_stopping(db):
    """An earlier year's evidence table read in (origin ``import``) trains the ranking but is
    not screening done here: it neither meets SAFE's minimum share nor starts the run of
    exclusions; an undone exclusion leaves the run too."""
    from evidence.db.decisions import append_decision
    from evidence.screening import queries as q

    conn = db.conn
    with conn:
        for record_id in range(1, 11):
            append_decision(conn, record_id, "import", "exclude", reason="wrong-topic",
                            origin="import")
    now = figures(conn)
    assert (now["total"], now["screened"], now["inclusions"], now["run"]) == (10, 0, 0, 0)
    assert not now["criteria"]["min_share"]
    save_decision(conn, 11, "bo", "include")
    save_decision(conn, 12, "bo", "exclude", reason="wrong-topic")
    save_decision(conn, 13, "bo", "exclude", reason="wrong-topic")
    assert figures(conn)["run"] == 2
    q.undo_last(conn, "bo")
    now = figures(conn)
    assert (now["screened"], now["run"]) == (2, 1)
