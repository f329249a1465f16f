"""Every reviewer's themes and summary are kept (issue 24): two includers who disagree make a
theme conflict for the lead instead of the second overwriting the first; ``status`` and
``publish`` report the unresolved ones, and the published themes follow the final decision."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
import sqlite_utils

from evidence.config import load_config
from evidence.db.config_sync import save_screening_rule
from evidence.db.decisions import RESOLUTION, save_decision
from evidence.db.migrations import migrations, open_db
from evidence.db.outcomes import outcomes, theme_conflicts
from evidence.publish.build import publish
from evidence.status import collect_status
from tests.screening_data import seed


def dual(config_path):
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("reviewers_per_record: 1", "reviewers_per_record: 2"),
                           encoding="utf-8")
    return load_config(config_path)


@pytest.fixture
def team(db_path, config_path):
    config = dual(config_path)
    seed(db_path, config_path, 6)
    db = open_db(db_path)
    yield db, config
    db.close()


def record_themes(db, record_id: int) -> set[str]:
    return {row[0] for row in db.execute(
        "SELECT t.slug FROM record_themes rt JOIN themes t ON t.id = rt.theme_id"
        " WHERE rt.record_id = ?", [record_id])}


def test_second_includer_does_not_overwrite_the_first(team):
    db, _ = team
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["health-economics"],
                  summary="Costs of services.")
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["comorbidity"])
    assert record_themes(db, 1) == {"health-economics", "comorbidity"}
    found = theme_conflicts(db.conn)
    assert list(found) == [1]
    assert [v["themes"] for v in found[1].votes] == [["health-economics"], ["comorbidity"]]
    # every vote is still in the history
    assert [json.loads(t) for (t,) in db.execute(
        "SELECT themes FROM decisions WHERE record_id = 1 ORDER BY id")] == [
        ["health-economics"], ["comorbidity"]]


def test_different_summaries_are_a_conflict_too_and_agreement_is_not(team):
    db, _ = team
    save_decision(db.conn, 2, "bo", "include", theme_slugs=["stigma"], summary="One.")
    save_decision(db.conn, 2, "cy", "include", theme_slugs=["stigma"], summary="Two.")
    save_decision(db.conn, 3, "bo", "include", theme_slugs=["stigma"], summary="Same.")
    save_decision(db.conn, 3, "cy", "include", theme_slugs=["stigma"], summary=" Same. ")
    save_decision(db.conn, 4, "bo", "include", theme_slugs=["stigma"], summary="Only one.")
    save_decision(db.conn, 4, "cy", "include", theme_slugs=["stigma"])
    assert set(theme_conflicts(db.conn)) == {2}
    assert outcomes(db.conn)[4].summary == "Only one."


def test_a_resolution_settles_it_and_its_undo_brings_it_back(team):
    db, _ = team
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["health-economics"])
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["comorbidity"])
    row = save_decision(db.conn, 1, "ana", "include", stage=RESOLUTION,
                        theme_slugs=["comorbidity"], summary="Lead's line.")
    assert theme_conflicts(db.conn) == {}
    assert record_themes(db, 1) == {"comorbidity"}
    assert outcomes(db.conn)[1].summary == "Lead's line."
    save_decision(db.conn, 1, "ana", None, stage=RESOLUTION, undoes=row)
    assert list(theme_conflicts(db.conn)) == [1]
    assert record_themes(db, 1) == {"health-economics", "comorbidity"}


def test_single_screening_has_no_theme_conflicts(db_path, config_path):
    seed(db_path, config_path, 3)
    db = open_db(db_path)
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["stigma"])
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["loneliness"])
    assert theme_conflicts(db.conn) == {}
    data = collect_status(db, load_config(config_path))
    assert data["totals"]["theme_conflicts"] == 0


def test_status_and_publish_report_unresolved_ones(team, tmp_path):
    db, config = team
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["health-economics"],
                  summary="First.")
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["comorbidity"], summary="Second.")
    save_decision(db.conn, 2, "bo", "include", theme_slugs=["stigma"])
    save_decision(db.conn, 2, "cy", "include", theme_slugs=["loneliness"])
    save_decision(db.conn, 2, "ana", "include", stage=RESOLUTION, theme_slugs=["loneliness"])
    assert collect_status(db, config)["totals"]["theme_conflicts"] == 1
    result = publish(db, tmp_path / "published.db", config)
    assert result.theme_conflicts == 1
    pub = sqlite_utils.Database(tmp_path / "published.db")
    rows = {r["id"]: r for r in pub.query("SELECT id, theme_slugs, summary FROM records")}
    # unresolved: the union of the includers' themes and the first summary
    assert json.loads(rows[1]["theme_slugs"]) == ["health-economics", "comorbidity"]
    assert rows[1]["summary"] == "First."
    # resolved: the resolution's themes only
    assert json.loads(rows[2]["theme_slugs"]) == ["loneliness"]


def test_published_summary_is_the_final_decisions(team, tmp_path):
    db, config = team
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["stigma"], summary="Kept.")
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["stigma"])
    save_decision(db.conn, 3, "bo", "exclude", summary="An excluder's words.")
    save_decision(db.conn, 3, "cy", "include", summary="Included.")
    save_decision(db.conn, 3, "ana", "include", stage=RESOLUTION, summary="")
    publish(db, tmp_path / "published.db", config)
    pub = sqlite_utils.Database(tmp_path / "published.db")
    rows = dict(pub.execute("SELECT id, summary FROM records").fetchall())
    assert rows == {1: "Kept.", 3: None}


def test_migration_rebuilds_themes_lost_to_the_overwrite(team):
    db, _ = team
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["health-economics"])
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["comorbidity"])
    db.execute("DELETE FROM record_themes WHERE reviewer = 'bo'")  # as the old writer left it
    db.conn.commit()
    from evidence.db.migrations import m510_record_themes_from_outcomes

    m510_record_themes_from_outcomes(db)
    assert record_themes(db, 1) == {"health-economics", "comorbidity"}
    assert "m510_record_themes_from_outcomes" in [m.name for m in migrations.applied(db)]


def test_two_reviewers_saving_at_once_both_keep_their_decisions(team, db_path):
    db, _ = team
    save_screening_rule(db, 2, ("title_abstract",))
    errors = []

    def vote(name: str, themes: list[str]) -> None:
        conn = sqlite3.connect(db_path, timeout=10)
        try:
            for record_id in range(1, 7):
                save_decision(conn, record_id, name, "include", theme_slugs=themes)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=vote, args=(name, themes))
               for name, themes in (("bo", ["stigma"]), ("cy", ["loneliness"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.execute("SELECT count(*) FROM current_decisions").fetchone()[0] == 12
    assert all(record_themes(db, i) == {"stigma", "loneliness"} for i in range(1, 7))
    assert set(theme_conflicts(db.conn)) == set(range(1, 7))


# --- the app: conflict cards, resolution, undo, a record's final state and history ----------

@pytest.fixture
def app(team, db_path, config_path, monkeypatch):
    from evidence.screening import auth
    from evidence.screening.app import make_datasette
    from tests.screening_data import add_users

    monkeypatch.setattr(auth, "ITERATIONS", 1_000)
    add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"})
    return make_datasette(db_path, config_path, secret="test-secret")


@pytest.mark.asyncio
async def test_theme_conflict_card_resolution_shown_and_undone(app, team):
    from tests.test_screening import as_user, post

    db, _ = team
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["health-economics"],
                  summary="Costs <b>here</b>.")
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["comorbidity"])
    ana = as_user(app, "ana", "lead")
    page = await app.client.get("/-/screen/conflicts", cookies=ana)
    assert "Åpne uenigheter: 1" in page.text and "temauenigheter: 1" in page.text
    assert "Temaene til bo" in page.text and "Begge (alle temaer" in page.text
    assert "Costs &lt;b&gt;here&lt;/b&gt;." in page.text  # escaped
    # a reviewer may not see it, nor post a resolution or an undo
    bo = as_user(app, "bo")
    assert (await app.client.get("/-/screen/conflicts", cookies=bo)).status_code == 403
    assert (await post(app, "/-/screen/resolve/1/undo", bo, {"stage": "screening"})
            ).status_code == 403
    saved = await post(app, "/-/screen/resolve/1", ana,
                       {"decision": "include", "themes": "health-economics",
                        "summary": "Costs <b>here</b>."})
    assert saved.status_code == 302
    page = await app.client.get("/-/screen/conflicts",
                                cookies={**ana, **dict(saved.cookies.items())})
    assert "Avgjort: Inkludert, temaene til bo." in page.text  # the message
    assert "Åpne uenigheter: 0" in page.text
    assert "Inkludert, temaene til bo" in page.text or "temaene til bo" in page.text
    assert record_themes(db, 1) == {"health-economics"}
    # the record opens with its final state and history, not a blank form
    record = await app.client.get("/-/screen/record/1", cookies=ana)
    assert 'id="record-state"' in record.text and "data-keys-form" not in record.text
    assert record.text.count('class="history-row') == 3
    mine = await app.client.get("/-/screen/mine", cookies=ana)
    assert "temaene til bo" in mine.text
    # a CSRF-less undo is refused; with the token it reopens the card
    refused = await app.client.post("/-/screen/resolve/1/undo", content="stage=screening",
                                    headers={"content-type": "application/x-www-form-urlencoded"},
                                    cookies=ana)
    assert refused.status_code == 403
    undone = await post(app, "/-/screen/resolve/1/undo", ana, {"stage": "screening"})
    assert undone.status_code == 302
    assert list(theme_conflicts(db.conn)) == [1]
    record = await app.client.get("/-/screen/record/1", cookies=ana)
    assert record.text.count('class="history-row') == 4 and "is-undo" in record.text


# --- progress, kappa with its interval, numbers as the language writes them -----------------

def test_kappa_interval_and_too_few_records(team):
    from evidence.screening import queries as q

    db, _ = team
    assert q.kappa_interval([("include", "include"), ("exclude", "exclude")] * 5
                            + [("include", "exclude")] * 2)[0] == pytest.approx(50 / 74)
    kappa, low, high = q.kappa_interval([("include", "include"), ("exclude", "exclude")] * 5
                                        + [("include", "exclude")] * 2)
    assert -1 <= low < kappa < high <= 1
    save_decision(db.conn, 1, "bo", "include")
    save_decision(db.conn, 1, "cy", "include")
    [row] = q.kappas(db.conn)
    assert row["overlap"] == 1 and row["kappa"] is None


def test_team_progress_counts_waiting_conflicts_and_done(team):
    from evidence.screening import queries as q

    db, _ = team
    save_decision(db.conn, 1, "bo", "include")                       # waits for a second vote
    save_decision(db.conn, 2, "bo", "include")                       # decision conflict
    save_decision(db.conn, 2, "cy", "exclude", reason="wrong-topic")
    save_decision(db.conn, 3, "bo", "include", theme_slugs=["stigma"])  # theme conflict
    save_decision(db.conn, 3, "cy", "include", theme_slugs=["loneliness"])
    save_decision(db.conn, 4, "bo", "exclude", reason="wrong-topic")  # done
    save_decision(db.conn, 4, "cy", "exclude", reason="wrong-topic")
    progress = q.team_progress(db.conn, "screening", 2)
    assert {k: progress[k] for k in ("reaching", "not_started", "one_vote", "conflicts",
                                     "theme_conflicts", "done")} == {
        "reaching": 6, "not_started": 2, "one_vote": 1, "conflicts": 2, "theme_conflicts": 1,
        "done": 1}
    assert progress["reviewers"] == [
        {"reviewer": "bo", "votes": 4, "waiting": 1, "conflicts": 2},
        {"reviewer": "cy", "votes": 3, "waiting": 0, "conflicts": 2}]


def test_numbers_in_norwegian_have_a_decimal_comma():
    from evidence.screening.i18n import format_number

    assert format_number(0.456, 2, "nb") == "0,46"
    assert format_number(-0.1, 2, "nb") == "\u22120,10"
    assert format_number(0.456, 2, "en") == "0.46"


@pytest.mark.asyncio
async def test_after_a_stop_reviewers_see_it_and_only_what_is_left_for_them(app, team):
    from evidence.models import safe
    from tests.test_screening import as_user

    db, _ = team
    save_decision(db.conn, 2, "cy", "include")  # begun by cy: waits for bo's vote
    save_decision(db.conn, 3, "bo", "include")
    save_decision(db.conn, 3, "cy", "exclude", reason="wrong-topic")  # a conflict
    bo = as_user(app, "bo")
    before = await app.client.get("/-/screen", cookies=bo)
    assert 'id="stopped-notice"' not in before.text
    safe.stop_screening(db.conn, "ana", {"screened": 2, "total": 6})
    db.conn.commit()
    page = await app.client.get("/-/screen", cookies=bo)
    assert 'id="stopped-notice"' in page.text and "stoppet" in page.text and "ana" in page.text
    assert "Igjen for deg å vurdere: 1" in page.text
    assert 'data-record-id="2"' in page.text  # the begun one, nothing new
    save_decision(db.conn, 2, "bo", "include")
    page = await app.client.get("/-/screen", cookies=bo)
    assert "ingenting igjen for deg" in page.text and "data-record-id" not in page.text
    assert "Uenigheter som venter på lederen: 1" in page.text


def test_with_full_text_theme_conflicts_are_raised_at_full_text(db_path, config_path):
    from evidence.db.decisions import FULL_TEXT
    from evidence.screening import queries as q
    from tests.test_full_text import two_stages

    two_stages(config_path, reviewers=2)
    seed(db_path, config_path, 3)
    db = open_db(db_path)
    save_decision(db.conn, 1, "bo", "include", theme_slugs=["stigma"])
    save_decision(db.conn, 1, "cy", "include", theme_slugs=["loneliness"])
    assert theme_conflicts(db.conn) == {} and q.conflicts(db.conn) == []  # chosen again later
    save_decision(db.conn, 1, "bo", "include", stage=FULL_TEXT, theme_slugs=["stigma"])
    save_decision(db.conn, 1, "cy", "include", stage=FULL_TEXT, theme_slugs=["workforce"],
                  summary="Full text says so.")
    assert list(theme_conflicts(db.conn)) == [1]
    [card] = q.conflicts(db.conn, FULL_TEXT)
    assert card["kind"] == "themes"
    assert record_themes(db, 1) == {"stigma", "workforce"}
    assert outcomes(db.conn)[1].summary == "Full text says so."
    db.close()


def test_a_resolution_is_described_by_what_it_took():
    from evidence.screening import queries as q
    from evidence.screening.i18n import translator

    votes = [{"reviewer": "ann", "decision": "include", "themes": ["a"]},
             {"reviewer": "ben", "decision": "include", "themes": ["b"]}]
    en = translator("en")

    def text(decision, themes):
        return q.resolution_text(en, q.describe_resolution(
            {"decision": decision, "themes": themes}, votes))

    assert text("include", ["a"]) == "Included, themes of ann"
    assert text("include", ["b", "a"]) == "Included, themes of both"
    assert text("include", ["c"]) == "Included, the lead's own themes"
    assert text("exclude", []) == "Excluded"
    assert q.resolution_text(translator("nb"), q.describe_resolution(
        {"decision": "include", "themes": ["b"]}, votes)) == "Inkludert, temaene til ben"
