"""``evidence status`` speaks a screener's words and its counts agree (issue 24): the totals'
"screened" is the title/abstract stage's, and final decisions with the records waiting for
their full text add up to it."""

from __future__ import annotations

from click.testing import CliRunner

from evidence.cli import cli
from evidence.db.decisions import FULL_TEXT, save_decision
from evidence.db.migrations import open_db
from tests.screening_data import seed


def status(db_path, config_path) -> str:
    result = CliRunner().invoke(cli, ["status", "--db", str(db_path), "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_screened_agrees_between_totals_and_stages_with_a_full_text_stage(db_path, config_path):
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text.replace(
            "  # stages: [title_abstract, full_text]", "  stages: [title_abstract, full_text]"
        ),
        encoding="utf-8",
    )
    seed(db_path, config_path, 12)
    db = open_db(db_path)
    for record in range(1, 10):
        save_decision(
            db.conn,
            record,
            "bo",
            "include" if record <= 6 else "exclude",
            reason=None if record <= 6 else "wrong-topic",
        )
    save_decision(db.conn, 1, "bo", "include", stage=FULL_TEXT)
    save_decision(db.conn, 2, "bo", "exclude", stage=FULL_TEXT, reason="wrong-design")
    db.close()
    output = status(db_path, config_path)
    overall = output.splitlines()[1]
    assert overall.startswith("Overall: ")
    assert "screened: 9 |" in overall and "unscreened: 3" in overall
    assert "included: 1 |" in overall and "excluded: 4 |" in overall
    assert "awaiting full text: 4" in overall
    assert "Title/abstract: records: 12 | screened: 9 |" in output


def test_status_names_safe_criteria_in_words(db_path, config_path):
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text.replace(
            "order: newest",
            "order: newest\n  stopping:\n    rule: safe\n    consecutive_exclusions: 5",
        ),
        encoding="utf-8",
    )
    seed(db_path, config_path, 40)
    db = open_db(db_path)
    save_decision(db.conn, 1, "bo", "include")
    db.close()
    output = status(db_path, config_path)
    assert "not met yet: at least 10% of the records screened" in output
    assert "5 exclusions in a row" in output
    for internal in ("twice_estimate", "min_share", "run_needed", "(run)"):
        assert internal not in output, internal
