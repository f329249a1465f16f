"""``screening.reviewers_per_record`` is read from the configuration by every command that
depends on it (issue 17, section 3): ``status``, ``publish`` and the running screening app,
never from a copy an earlier command left in the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.db.migrations import open_db
from evidence.screening import auth, sessions
from evidence.screening import queries as q
from evidence.screening.app import make_datasette
from tests.screening_data import add_users, seed


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(auth, "ITERATIONS", 1_000)


def set_reviewers(config_path: Path, n: int) -> None:
    text = config_path.read_text(encoding="utf-8")
    for old in ("reviewers_per_record: 1", "reviewers_per_record: 2"):
        text = text.replace(old, f"reviewers_per_record: {n}")
    config_path.write_text(text, encoding="utf-8")


@pytest.fixture
def project(db_path, config_path):
    """Four records: 1 and 2 included by one reviewer, 3 by two, 4 included and excluded."""
    seed(db_path, config_path, 4)
    db = open_db(db_path)
    for record_id, votes in {1: ["include"], 2: ["include"], 3: ["include", "include"],
                             4: ["include", "exclude"]}.items():
        for reviewer, decision in zip(("bo", "cy"), votes, strict=False):
            q.save_decision(db.conn, record_id, reviewer, decision,
                            reason="wrong-topic" if decision == "exclude" else None)
    db.close()
    return db_path, config_path


def cli_run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_status_follows_the_file_without_any_other_command(project):
    db_path, config_path = project
    options = ["--db", str(db_path), "--config", str(config_path)]
    single = json.loads(cli_run("status", "--json", *options).stdout)
    assert single["rule"]["reviewers_per_record"] == 1
    assert single["totals"]["included"] == 3  # 1, 2, 3; 4 is a conflict
    set_reviewers(config_path, 2)
    dual = json.loads(cli_run("status", "--json", *options).stdout)
    assert dual["rule"]["reviewers_per_record"] == 2
    assert dual["totals"]["included"] == 1  # only 3 has two votes
    text = cli_run("status", *options).output
    assert text.splitlines()[0].startswith("Rule: dual screening (2 reviewers must agree")


def test_publish_names_the_rule_and_warns_when_it_changed(project, tmp_path):
    db_path, config_path = project
    options = ["--db", str(db_path), "--config", str(config_path),
               "--out", str(tmp_path / "site.db")]
    first = cli_run("publish", *options)
    assert first.exit_code == 0, first.output
    assert "Rule: single screening (one reviewer's decision counts)" in first.output
    assert "3 included records" in first.output
    assert "Warning" not in first.stderr
    set_reviewers(config_path, 2)
    second = cli_run("publish", *options)
    assert "Rule: dual screening (2 reviewers must agree" in second.output
    assert "1 included records" in second.output
    assert "Not published: 2 records included by fewer than 2 reviewers so far." in second.output
    assert ("the rule changed since the last publish" in second.stderr
            and "reviewers_per_record 1 -> 2, included records 3 -> 1" in second.stderr)


@pytest.mark.asyncio
async def test_running_screening_app_rereads_the_rule(project):
    db_path, config_path = project
    add_users(db_path, {"dee": "reviewer"})
    ds = make_datasette(db_path, config_path, secret="s")
    cookies = {"ds_actor": sessions.cookie_value(ds, {"id": "dee", "role": "reviewer"}, 0)}
    page = await ds.client.get("/-/screen", cookies=cookies)
    assert "0 av 4 igjen" in page.text  # single: every record has its one vote
    set_reviewers(config_path, 2)
    page = await ds.client.get("/-/screen", cookies=cookies)
    assert "2 av 4 igjen" in page.text  # dual: 1 and 2 wait for a second vote
    # ... and the database's record_status (what publish and exports read) follows at once.
    db = open_db(db_path)
    included = db.execute("SELECT count(*) FROM record_status WHERE decision = 'include'")
    assert included.fetchone()[0] == 1


def test_export_of_included_records_follows_the_file(project):
    db_path, config_path = project
    options = ["--db", str(db_path), "--config", str(config_path), "--format", "csv",
               "--decision", "include"]
    cli_run("status", "--db", str(db_path), "--config", str(config_path))  # stores rule 1
    set_reviewers(config_path, 2)
    dual = cli_run("export", *options)
    assert "1 records exported" in dual.stderr
