"""The optional full-text stage: configuration, queue, decisions, dual screening and conflicts
per stage, the local PDF, and the PRISMA counts per stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.config import ConfigError, load_config
from evidence.db.decisions import save_decision
from evidence.db.migrations import open_db
from evidence.db.stages import stage_counts
from evidence.screening import auth
from evidence.screening.app import make_datasette
from evidence.screening.full_text import find_pdf, full_text_links, pdf_names
from tests.screening_data import add_users, seed
from tests.test_screening import as_user, post, rows


def two_stages(config_path: Path, *, reviewers: int = 1, folder: str | None = None) -> Path:
    """The example configuration (which lists full-text exclusion reasons) with
    ``screening.stages: [title_abstract, full_text]``."""
    text = config_path.read_text(encoding="utf-8")
    extra = "  stages: [title_abstract, full_text]\n"
    if folder:
        extra += f"  full_text_folder: {folder}\n"
    text = text.replace("screening:\n", "screening:\n" + extra, 1)
    text = text.replace("reviewers_per_record: 1", f"reviewers_per_record: {reviewers}")
    config_path.write_text(text, encoding="utf-8")
    return config_path


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(auth, "ITERATIONS", 1_000)


@pytest.fixture
def app(db_path, config_path):
    def make(*, reviewers: int = 1, folder: str | None = None, stages: bool = True):
        if stages:
            two_stages(config_path, reviewers=reviewers, folder=folder)
        seed(db_path, config_path, 6)
        add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"})
        return make_datasette(db_path, config_path, secret="test-secret")

    return make


# --- configuration ---------------------------------------------------------------------------

def test_one_stage_is_the_default(config_path):
    config = load_config(config_path)
    assert config.screening.stages == ("title_abstract",) and not config.screening.full_text


def test_two_stages_with_their_own_reasons_and_folder(config_path):
    config = load_config(two_stages(config_path, folder="pdfs"))
    assert config.screening.full_text
    assert [r.id for r in config.full_text_exclusion_reasons] == [
        "wrong-population", "wrong-intervention", "wrong-outcome", "wrong-design"]
    assert config.screening.full_text_folder == str((config_path.parent / "pdfs").resolve())


@pytest.mark.parametrize("stages", ["[full_text]", "[full_text, title_abstract]",
                                    "[title_abstract, title_abstract]", "[abstract]"])
def test_stage_lists_other_than_the_two_are_refused(config_path, stages):
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("screening:\n", f"screening:\n  stages: {stages}\n", 1),
                           encoding="utf-8")
    with pytest.raises(ConfigError, match="screening.stages"):
        load_config(config_path)


def test_not_retrieved_is_built_in_not_configured(config_path):
    two_stages(config_path)
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace(
        "full_text_exclusion_reasons:\n",
        "full_text_exclusion_reasons:\n  - {id: not-retrieved, nb: x, en: y}\n"),
        encoding="utf-8")
    with pytest.raises(ConfigError, match="built in"):
        load_config(config_path)


def test_reasons_are_stored_per_stage(db_path, config_path):
    two_stages(config_path)
    seed(db_path, config_path, 1)
    full_text = rows(db_path, "SELECT slug FROM exclusion_reasons WHERE stage = 'full_text'"
                              " ORDER BY position")
    assert full_text == [("wrong-population",), ("wrong-intervention",), ("wrong-outcome",),
                         ("wrong-design",), ("not-retrieved",)]
    assert ("wrong-topic",) in rows(db_path, "SELECT slug FROM exclusion_reasons"
                                             " WHERE stage = 'screening'")


# --- links and the local PDF -----------------------------------------------------------------

def test_links_from_doi_pmc_pubmed_and_web_address():
    links = full_text_links({"id": 1, "doi": "10.1000/x y", "pmcid": "123", "pmid": "42",
                             "url": "https://example.org/report.pdf"})
    assert [link["href"] for link in links] == [
        "https://doi.org/10.1000/x%20y", "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC123/",
        "https://pubmed.ncbi.nlm.nih.gov/42/", "https://example.org/report.pdf"]
    assert full_text_links({"id": 1, "url": "javascript:alert(1)", "pmcid": "x/../y"}) == []


def test_pdf_is_found_by_record_id_pmid_or_doi_inside_the_folder_only(tmp_path):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    record = {"id": 7, "pmid": "42", "doi": "10.1000/AB.c"}
    assert pdf_names(record) == ["7.pdf", "42.pdf", "10.1000_ab.c.pdf"]
    assert find_pdf(str(folder), record) is None
    (folder / "10.1000_ab.c.pdf").write_bytes(b"%PDF-1.4")
    assert find_pdf(str(folder), record).name == "10.1000_ab.c.pdf"
    assert find_pdf(None, record) is None
    assert find_pdf(str(folder), {"id": 8, "doi": "../../etc/passwd"}) is None


# --- the app ---------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_full_text_pages_are_absent_with_one_stage(app):
    ds = app(stages=False)
    cookies = as_user(ds, "bo")
    assert (await ds.client.get("/-/screen/full-text", cookies=cookies)).status_code == 404
    page = await ds.client.get("/-/screen", cookies=cookies)
    assert "/-/screen/full-text" not in page.text


@pytest.mark.asyncio
async def test_included_records_move_to_the_full_text_queue(app, db_path):
    ds = app()
    bo = as_user(ds, "bo")
    empty = await ds.client.get("/-/screen/full-text", cookies=bo)
    assert empty.status_code == 200 and "data-record-id" not in empty.text
    await post(ds, "/-/screen/record/2", bo, {"decision": "include", "themes": "stigma"})
    await post(ds, "/-/screen/record/3", bo, {"decision": "exclude", "reason": "wrong-topic"})
    page = await ds.client.get("/-/screen/full-text", cookies=bo)
    assert 'data-record-id="2"' in page.text and "1 av 1" in page.text
    assert "https://doi.org/10.1000/t2" in page.text  # the seeded DOI
    assert 'value="wrong-outcome"' in page.text and 'value="wrong-topic"' not in page.text
    assert 'value="stigma" data-number' in page.text and "checked" in page.text  # themes kept
    # a record excluded at title/abstract has no full-text page
    assert (await ds.client.get("/-/screen/full-text/record/3", cookies=bo)).status_code == 404
    saved = await post(ds, "/-/screen/full-text/record/2", bo,
                       {"decision": "exclude", "reason": "wrong-outcome"})
    assert saved.status_code == 302 and saved.headers["location"] == "/-/screen/full-text"
    assert rows(db_path, "SELECT stage, decision, reason FROM decisions WHERE record_id = 2"
                         " ORDER BY id") == [("screening", "include", None),
                                             ("full_text", "exclude", "wrong-outcome")]
    assert rows(db_path, "SELECT decision, stage FROM record_status WHERE record_id = 2") \
        == [("exclude", "full_text")]


@pytest.mark.asyncio
async def test_full_text_reasons_are_checked_against_their_stage(app):
    ds = app()
    bo = as_user(ds, "bo")
    await post(ds, "/-/screen/record/2", bo, {"decision": "include"})
    refused = await post(ds, "/-/screen/full-text/record/2", bo,
                         {"decision": "exclude", "reason": "wrong-topic", "note": "kept text"})
    assert refused.status_code == 400 and "kept text" in refused.text
    missing = await post(ds, "/-/screen/full-text/record/2", bo, {"decision": "exclude"})
    assert missing.status_code == 400


@pytest.mark.asyncio
async def test_not_retrievable_is_an_exclusion_with_its_reason(app, db_path):
    ds = app()
    bo = as_user(ds, "bo")
    await post(ds, "/-/screen/record/2", bo, {"decision": "include"})
    page = await ds.client.get("/-/screen/full-text/record/2", cookies=bo)
    assert 'name="not_retrievable"' in page.text
    saved = await post(ds, "/-/screen/full-text/record/2", bo, {"not_retrievable": "1"})
    assert saved.status_code == 302
    assert rows(db_path, "SELECT decision, reason FROM decisions WHERE stage = 'full_text'") \
        == [("exclude", "not-retrieved")]
    # at title/abstract the button's field means nothing: no reason of that name there
    refused = await post(ds, "/-/screen/record/3", bo, {"not_retrievable": "1"})
    assert refused.status_code == 400


@pytest.mark.asyncio
async def test_dual_screening_and_conflicts_per_stage(app, db_path):
    ds = app(reviewers=2)
    bo, cy, ana = as_user(ds, "bo"), as_user(ds, "cy"), as_user(ds, "ana", "lead")
    for who in (bo, cy):
        await post(ds, "/-/screen/record/2", who, {"decision": "include"})
    # one vote is not enough: bo's vote waits for cy's, only then does record 2 move on
    await post(ds, "/-/screen/record/3", bo, {"decision": "include"})
    page = await ds.client.get("/-/screen/full-text", cookies=bo)
    assert 'data-record-id="2"' in page.text and "1 av 1" in page.text
    await post(ds, "/-/screen/full-text/record/2", bo, {"decision": "include"})
    await post(ds, "/-/screen/full-text/record/2", cy,
               {"decision": "exclude", "reason": "wrong-population"})
    title_abstract = await ds.client.get("/-/screen/conflicts", cookies=ana)
    assert 'data-record-id="2"' not in title_abstract.text
    full_text = await ds.client.get("/-/screen/conflicts?stage=full_text", cookies=ana)
    assert 'data-record-id="2"' in full_text.text
    assert "/-/screen/full-text/resolve/2" in full_text.text
    resolved = await post(ds, "/-/screen/full-text/resolve/2", ana, {"decision": "include"})
    assert resolved.status_code == 302
    assert resolved.headers["location"] == "/-/screen/conflicts?stage=full_text"
    assert rows(db_path, "SELECT decision, stage FROM record_status WHERE record_id = 2") \
        == [("include", "full_text")]
    summary = await ds.client.get("/-/screen/summary?stage=full_text", cookies=ana)
    assert summary.status_code == 200 and "bo / cy" in summary.text
    # a reviewer cannot resolve, and an unknown stage is not a page
    assert (await post(ds, "/-/screen/full-text/resolve/2", bo,
                       {"decision": "include"})).status_code == 403
    assert (await ds.client.get("/-/screen/conflicts?stage=x", cookies=ana)).status_code == 404


@pytest.mark.asyncio
async def test_undo_of_a_full_text_decision_returns_to_its_page(app, db_path):
    ds = app()
    bo = as_user(ds, "bo")
    await post(ds, "/-/screen/record/2", bo, {"decision": "include"})
    await post(ds, "/-/screen/full-text/record/2", bo, {"decision": "include"})
    undone = await post(ds, "/-/screen/undo", bo, {})
    assert undone.headers["location"] == "/-/screen/full-text/record/2"
    assert rows(db_path, "SELECT decision, stage FROM record_status WHERE record_id = 2") \
        == [(None, "full_text")]


@pytest.mark.asyncio
async def test_local_pdf_is_served_to_logged_in_users_only(app, tmp_path):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    (folder / "2.pdf").write_bytes(b"%PDF-1.4 test")
    ds = app(folder=str(folder))
    bo = as_user(ds, "bo")
    await post(ds, "/-/screen/record/2", bo, {"decision": "include"})
    page = await ds.client.get("/-/screen/full-text/record/2", cookies=bo)
    assert "/-/screen/full-text/pdf/2" in page.text
    pdf = await ds.client.get("/-/screen/full-text/pdf/2", cookies=bo)
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.4 test"
    assert pdf.headers["content-type"] == "application/pdf"
    assert (await ds.client.get("/-/screen/full-text/pdf/3", cookies=bo)).status_code == 404
    anonymous = await ds.client.get("/-/screen/full-text/pdf/2")
    assert anonymous.status_code == 302 and "/-/login" in anonymous.headers["location"]


# --- PRISMA counts per stage -----------------------------------------------------------------

def test_prisma_counts_follow_the_stages(db_path, config_path):
    two_stages(config_path)
    seed(db_path, config_path, 8)
    db = open_db(db_path)
    for record_id in (1, 2, 3, 4, 5):
        save_decision(db.conn, record_id, "bo", "include")
    save_decision(db.conn, 6, "bo", "exclude", reason="wrong-topic")
    save_decision(db.conn, 1, "bo", "include", stage="full_text")
    save_decision(db.conn, 2, "bo", "exclude", stage="full_text", reason="not-retrieved")
    save_decision(db.conn, 3, "bo", "exclude", stage="full_text", reason="wrong-outcome")
    save_decision(db.conn, 4, "bo", "maybe", stage="full_text")
    counts = stage_counts(db.conn)
    assert counts["stages"] == ["title_abstract", "full_text"]
    assert counts["title_abstract"] == {
        "records": 8, "screened": 6, "included": 5, "excluded": 1, "maybe": 0, "awaiting": 2,
        "conflicts": 0, "reasons": [("wrong-topic", 1)]}
    assert counts["full_text"] == {
        "sought": 5, "not_retrieved": 1, "assessed": 2, "included": 1, "excluded": 1,
        "maybe": 1, "awaiting": 2, "conflicts": 0, "reasons": [("wrong-outcome", 1)]}
    final = dict(db.execute("SELECT record_id, decision FROM record_status").fetchall())
    assert final == {1: "include", 2: "exclude", 3: "exclude", 4: "maybe", 5: None,
                     6: "exclude", 7: None, 8: None}
    db.close()


def _two_stage_db(db_path, config_path):
    """Eight records: five included at title/abstract, their full-text fates all different."""
    two_stages(config_path)
    seed(db_path, config_path, 8)
    db = open_db(db_path)
    for record_id in (1, 2, 3, 4, 5):
        save_decision(db.conn, record_id, "bo", "include", theme_slugs=["stigma"])
    save_decision(db.conn, 6, "bo", "exclude", reason="wrong-topic")
    save_decision(db.conn, 1, "bo", "include", stage="full_text", theme_slugs=["stigma"])
    save_decision(db.conn, 2, "bo", "exclude", stage="full_text", reason="not-retrieved")
    save_decision(db.conn, 3, "bo", "exclude", stage="full_text", reason="wrong-outcome")
    return db


def test_published_prisma_rows_follow_the_stages(db_path, config_path):
    from evidence.publish.build import prisma_rows
    from evidence.publish.site.i18n import translator
    from evidence.publish.site.prisma import flow

    db = _two_stage_db(db_path, config_path)
    steps = [(r["step"], r["key"], r["count"]) for r in prisma_rows(db, "en")
             if r["step"] != "identified"]
    assert steps[3:] == [
        ("awaiting", "", 2), ("excluded", "", 1), ("excluded_reason", "wrong-topic", 1),
        ("sought", "", 5), ("not_retrieved", "", 1), ("assessed", "", 2),
        ("full_text_awaiting", "", 2), ("full_text_excluded", "", 1),
        ("full_text_excluded_reason", "wrong-outcome", 1), ("included", "", 1)]
    boxes = flow(prisma_rows(db, "en"), translator("en"))
    # screened: the works with a title/abstract decision (8 found, 2 not decided yet)
    assert boxes[1][0] == ["Unique works screened (n = 6)"]
    assert "Not decided yet (n = 2)" in boxes[0][1]
    assert boxes[2] == (["Reports sought for retrieval (n = 5)"],
                        ["Reports not retrieved (n = 1)"])
    assert boxes[3][1] == ["Reports excluded (n = 1)", "Wrong outcomes: 1"]
    assert boxes[-1] == (["Included (n = 1)"], [])
    db.close()


def test_status_shows_counts_per_stage(db_path, config_path):
    from click.testing import CliRunner

    from evidence.cli import cli

    _two_stage_db(db_path, config_path).close()
    result = CliRunner().invoke(cli, ["status", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert ("Title/abstract: records: 8 | screened: 6 | included: 5 | excluded: 1"
            in result.output)
    assert ("Full text: reports sought: 5 | not retrieved: 1 | assessed for eligibility: 2"
            " | included: 1 | excluded: 1" in result.output)
    assert "  excluded, wrong-outcome: 1" in result.output
    as_json = CliRunner().invoke(cli, ["status", "--db", str(db_path), "--json"])
    assert '"sought": 5' in as_json.output


@pytest.mark.asyncio
async def test_lead_sees_the_full_text_reasons_on_the_lists_page(app):
    ds = app()
    page = await ds.client.get("/-/screen/lists", cookies=as_user(ds, "ana", "lead"))
    assert page.status_code == 200
    assert "<code>wrong-outcome</code>" in page.text and "<code>not-retrieved</code>" in page.text


@pytest.mark.asyncio
async def test_full_text_turned_on_in_a_running_app_comes_with_its_reasons(app, config_path,
                                                                          db_path):
    """Issue 24: stages, reasons and themes reach a running app together, no restart."""
    ds = app(stages=False)
    bo = as_user(ds, "bo")
    await post(ds, "/-/screen/record/2", bo, {"decision": "include", "themes": "stigma"})
    assert (await ds.client.get("/-/screen/full-text", cookies=bo)).status_code == 404
    two_stages(config_path)
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace(
        "      - {id: technology, nb: Teknologi, en: Technology}\n",
        "      - {id: technology, nb: Teknologi, en: Technology}\n"
        "      - {id: peer-work, nb: Likepersonsarbeid, en: Peer work}\n"), encoding="utf-8")
    page = await ds.client.get("/-/screen/full-text", cookies=bo)
    assert 'data-record-id="2"' in page.text
    assert 'value="wrong-outcome"' in page.text and 'value="peer-work"' in page.text
    saved = await post(ds, "/-/screen/full-text/record/2", bo,
                       {"decision": "exclude", "reason": "wrong-outcome"})
    assert saved.status_code == 302
    assert rows(db_path, "SELECT stage, reason FROM decisions WHERE record_id = 2"
                         " ORDER BY id")[-1] == ("full_text", "wrong-outcome")
