"""Relevance order, stopping figures and theme suggestions in the screening app."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.db.decisions import save_decision
from evidence.db.migrations import open_db
from evidence.models import relevance
from evidence.models.relevance import RelevanceQueue, training_labels
from evidence.models.stopping import stopping_figures
from evidence.screening import auth
from evidence.screening.app import make_datasette
from tests.screening_data import add_users, seed
from tests.test_screening import as_user, post

#: Records 1-20: odd ids are about loneliness in older people, even ids about football.
TITLES = {i: ("Loneliness and social isolation among older people living alone"
              if i % 2 else f"Football injuries in professional league players, season {i}")
          for i in range(1, 21)}


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(auth, "ITERATIONS", 1_000)
    monkeypatch.setattr(relevance, "MIN_SECONDS", 0.0)


def relevance_config(config_path, extra: str = "") -> None:
    text = config_path.read_text(encoding="utf-8")
    text = text.replace("order: newest", "order: relevance\n  relevance_fallback: oldest" + extra)
    config_path.write_text(text, encoding="utf-8")


@pytest.fixture
def app(db_path, config_path):
    relevance_config(config_path, "\n  stopping:\n    rule: safe\n    consecutive_exclusions: 3")
    seed(db_path, config_path, 20, titles=TITLES)
    add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"})
    return make_datasette(db_path, config_path, secret="test-secret")


def _record_on(page) -> int:
    return int(page.text.split('data-record-id="', 1)[1].split('"', 1)[0])


@pytest.mark.asyncio
async def test_relevance_order_moves_inclusions_up(app):
    bo = as_user(app, "bo")
    # no model yet: the fallback order (oldest = highest id first, as years fall with id)
    first = _record_on(await app.client.get("/-/screen", cookies=bo))
    await post(app, f"/-/screen/record/{first}", bo, {"decision": "include"})
    second = _record_on(await app.client.get("/-/screen", cookies=bo))
    await post(app, f"/-/screen/record/{second}", bo,
               {"decision": "exclude", "reason": "wrong-topic"})
    assert TITLES[first] != TITLES[second]  # one of each topic, so the model can learn
    queue = app._evidence_relevance
    assert queue.wait()
    await app.client.get("/-/screen", cookies=bo)  # asks for a ranking if none was made
    assert queue.wait()
    shown = []
    for _ in range(5):
        page = await app.client.get("/-/screen", cookies=bo)
        record_id = _record_on(page)
        assert "Predicted relevance" in page.text or "Forventet relevans" in page.text
        shown.append(record_id)
        await post(app, f"/-/screen/record/{record_id}", bo, {"decision": "include"})
        queue.wait()
    like_first = first % 2
    assert all(r % 2 == like_first for r in shown), shown


def test_training_labels_stay_blind(db_path, config_path):
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("reviewers_per_record: 1", "reviewers_per_record: 2"),
                           encoding="utf-8")
    seed(db_path, config_path, 6, titles=TITLES)
    make_datasette(db_path, config_path, secret="s")  # stores the dual rule
    db = open_db(db_path)
    save_decision(db.conn, 1, "bo", "include")          # bo's own vote
    save_decision(db.conn, 2, "cy", "exclude")          # cy's, not final: bo must not learn it
    save_decision(db.conn, 3, "bo", "exclude")
    save_decision(db.conn, 3, "cy", "exclude")          # agreed: final, both learn it
    assert training_labels(db.conn, "bo") == {1: 1, 3: 0}
    assert training_labels(db.conn, "cy") == {2: 0, 3: 0}
    db.close()


def test_relevance_queue_waits_for_both_classes(db_path, config_path):
    seed(db_path, config_path, 10, titles=TITLES)
    db = open_db(db_path)
    queue = RelevanceQueue(str(db_path))
    assert queue.candidates("bo") is None
    save_decision(db.conn, 1, "bo", "include")
    queue.decided("bo", True)
    assert queue.wait() and queue.candidates("bo") is None  # one class only: no model
    save_decision(db.conn, 2, "bo", "exclude", reason="wrong-topic")
    queue.decided("bo", False)
    assert queue.wait()
    ranked = queue.candidates("bo")
    assert ranked[:4] and all(r % 2 == 1 for r in ranked[:4])
    assert 1 not in ranked and 2 not in ranked
    assert queue.relevance("bo", ranked[0]) == 100
    db.close()


@pytest.mark.asyncio
async def test_stopping_figures_in_the_header_and_status(app, db_path, config_path):
    db = open_db(db_path)
    save_decision(db.conn, 1, "bo", "include")
    for i in (2, 4, 6, 8):
        save_decision(db.conn, i, "bo", "exclude", reason="wrong-topic")
    figures = stopping_figures(db.conn, rule="safe", min_share=0.1, run_needed=3)
    db.close()
    assert (figures.screened, figures.inclusions, figures.run) == (5, 1, 4)
    assert figures.estimated_remaining == round(0.2 * 15)
    assert figures.criteria == {"min_share": True, "twice_estimate": False, "run": True}
    assert not figures.met
    page = await app.client.get("/-/screen", cookies=as_user(app, "bo"))
    assert 'id="stopping"' in page.text
    assert "5 av 20 vurdert" in page.text and "4 ekskluderte på rad" in page.text
    result = CliRunner().invoke(cli, ["status", "--db", str(db_path), "--config",
                                      str(config_path)])
    assert result.exit_code == 0, result.output
    assert "5 of 20 screened | 1 inclusions found | 4 exclusions in a row" in result.output
    assert ("SAFE: active learning; not met yet: at least twice as many screened as the"
            " inclusions found and estimated") in result.output
    assert "twice_estimate" not in result.output
    data = json.loads(CliRunner().invoke(cli, ["status", "--json", "--db", str(db_path),
                                               "--config", str(config_path)]).output)
    assert data["stopping"]["run"] == 4


@pytest.mark.asyncio
async def test_theme_suggestions_learn_from_themed_records(app, db_path):
    db = open_db(db_path)
    save_decision(db.conn, 1, "ana", "include", theme_slugs=["loneliness"])
    save_decision(db.conn, 2, "ana", "include", theme_slugs=["workforce"])
    db.close()
    response = await app.client.get("/-/screen/suggest/3", cookies=as_user(app, "bo"))
    assert response.status_code == 200
    suggestions = response.json()["suggestions"]
    assert suggestions[0]["slug"] == "loneliness"
    assert len(suggestions) <= 3 and 0 < suggestions[0]["confidence"] <= 1
    anonymous = await app.client.get("/-/screen/suggest/3")
    assert anonymous.status_code == 302


def stopped_and_published(db_path, config_path, out, *, full_text: bool = False):
    """Ten records, three decided (include, exclude, maybe), screening stopped by SAFE,
    published to ``out``: an open connection to the published database."""
    from tests.test_full_text import two_stages

    relevance_config(config_path, "\n  stopping:\n    rule: safe\n    stopped: true")
    if full_text:
        two_stages(config_path)
    seed(db_path, config_path, 10, titles=TITLES)
    db = open_db(db_path)
    save_decision(db.conn, 1, "bo", "include")
    save_decision(db.conn, 2, "bo", "exclude", reason="wrong-topic")
    save_decision(db.conn, 3, "bo", "maybe")
    db.close()
    result = CliRunner().invoke(cli, ["publish", "--db", str(db_path), "--config",
                                      str(config_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return sqlite3.connect(out)


def test_stopped_screening_is_counted_honestly_in_prisma_and_the_method(db_path, config_path,
                                                                         tmp_path):
    pub = stopped_and_published(db_path, config_path, tmp_path / "published.db")
    steps = dict(pub.execute("SELECT step, count FROM prisma WHERE step IN"
                             " ('not_screened_stopping_rule', 'awaiting', 'included')"))
    assert steps == {"not_screened_stopping_rule": 7, "awaiting": 1, "included": 1}
    method = pub.execute("SELECT value FROM site WHERE key = 'screening_method'").fetchone()[0]
    pub.close()
    assert "SAFE" in method and "7 " in method
    assert "relevans" in method or "relevance" in method


def test_stopped_screening_before_a_full_text_stage_is_counted_in_prisma(db_path, config_path,
                                                                           tmp_path):
    """With a full-text stage the records left unscreened by the stopping rule are their own
    PRISMA row too, not part of the title/abstract stage's "awaiting"."""
    pub = stopped_and_published(db_path, config_path, tmp_path / "published.db",
                                full_text=True)
    steps = dict(pub.execute("SELECT step, count FROM prisma"))
    pub.close()
    assert steps["not_screened_stopping_rule"] == 7 and steps["awaiting"] == 1, steps
    assert steps["excluded"] == 1 and steps["sought"] == 1, steps
