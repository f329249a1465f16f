"""Deduplication: hard cases, incremental runs, overrides and the commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.config import DedupeSettings
from evidence.db.config_sync import sync_config
from evidence.db.values import now
from evidence.dedupe.cluster import (
    DedupeError,
    Memory,
    decide_pair,
    decide_records,
    dedupe,
    list_uncertain_pairs,
)
from evidence.dedupe.keys import fingerprint, journals_match, title_key
from evidence.dedupe.score import score
from evidence.harvest import store

ARTICLE = {
    "title": "Integrated care for people with severe mental illness in primary care: "
             "a systematic review",
    "authors": ["Hansen, Kari", "Olsen, Per", "Berg, Ida"], "year": 2023,
    "journal": "Scandinavian Journal of Public Health", "volume": "51", "pages": "123-129",
    "doi": "10.1177/14034948231234567",
}


def add(db, search: str, *hits: dict) -> list[int]:
    """Store hits for a search (one run); returns their hit ids."""
    run_id = store.start_run(db, store.ensure_search(db, search))
    rows = [{"external_id": f"{search}-{i}", **hit} for i, hit in enumerate(hits)]
    store.save_hits(db, run_id, rows)
    store.finish_run(db, run_id)
    return [r[0] for r in db.execute("SELECT id FROM hits WHERE run_id = ? ORDER BY id",
                                     [run_id])]


def record_of(db, hit_id: int) -> int:
    return db.execute("SELECT record_id FROM hits WHERE id = ?", [hit_id]).fetchone()[0]


def test_normalised_title_and_journal():
    expected = title_key("Integrated care in tromso")
    assert title_key("[Integrated <i>care</i> in Tromsø.]") == expected
    assert title_key("Integrated care &amp; Tromsø") == "integrated care tromso"
    assert journals_match(("curr", "opin", "lipidol"), ("current", "opinion", "lipidology"))
    assert not journals_match(("lancet",), ("bmj",))


def test_variants_of_one_work_become_one_record(db):
    (a,) = add(db, "pubmed", {**ARTICLE, "pmid": "38000001"})
    (b,) = add(db, "idunn", {**ARTICLE, "doi": None, "pages": "123-9",
                             "title": ARTICLE["title"].upper() + ".",
                             "journal": "Scand J Public Health",
                             "authors": "Hansen K; Olsen P; Berg I"})
    (c,) = add(db, "scholar", {**ARTICLE, "doi": "https://doi.org/10.1177/14034948231234567",
                               "title": "Integrated care for people with severe mental ilness "
                                        "in primary care - a systematic review", "year": 2024})
    result = dedupe(db, DedupeSettings())
    assert result.hits == 3 and result.new_records == 1 and result.merged == 2
    assert record_of(db, a) == record_of(db, b) == record_of(db, c)
    record = db["records"].get(record_of(db, a))
    assert record["pmid"] == "38000001" and record["doi"] == ARTICLE["doi"]


def test_same_doi_different_works_stay_apart(db):
    supplement = {"doi": "10.2337/db15-supplement", "journal": "Diabetes", "year": 2015,
                  "volume": "64"}
    hits = add(db, "embase",
               {**supplement, "title": "Linagliptin reduces vascular inflammation in mice",
                "authors": ["Kato, A"], "pages": "A101"},
               {**supplement, "title": "Empagliflozin prevents endothelial senescence",
                "authors": ["Ortega, B"], "pages": "A220"})
    dedupe(db)
    assert record_of(db, hits[0]) != record_of(db, hits[1])


def test_title_in_two_languages_with_same_doi_is_one_work(db):
    (a,) = add(db, "idunn", {**ARTICLE, "title": "Integrert behandling for personer med "
                                                 "alvorlig psykisk lidelse i primærhelsetjenesten"})
    (b,) = add(db, "pubmed", ARTICLE)
    dedupe(db)
    assert record_of(db, a) == record_of(db, b)


def test_translation_brackets(db):
    (a,) = add(db, "pubmed", {**ARTICLE, "doi": None, "title": f"[{ARTICLE['title']}]."})
    (b,) = add(db, "cinahl", {**ARTICLE, "doi": None})
    dedupe(db)
    assert record_of(db, a) == record_of(db, b)


PREPRINT = {**ARTICLE, "doi": "10.1101/2022.11.01.22281234", "journal": "medRxiv",
            "year": 2022, "pages": None, "volume": None}


@pytest.mark.parametrize("merge_preprints", [False, True])
def test_preprint_and_article(db, merge_preprints):
    (a,) = add(db, "scholar", PREPRINT)
    (b,) = add(db, "pubmed", ARTICLE)
    dedupe(db, DedupeSettings(merge_preprints=merge_preprints))
    assert (record_of(db, a) == record_of(db, b)) is merge_preprints


ERRATUM = {**ARTICLE, "title": "Erratum: " + ARTICLE["title"], "pages": "200",
           "doi": "10.1177/14034948231299999"}


@pytest.mark.parametrize("merge_errata", [False, True])
def test_erratum_and_article(db, merge_errata):
    (a,) = add(db, "pubmed", ARTICLE)
    (b,) = add(db, "pubmed-errata", {**ERRATUM, "title": ARTICLE["title"],
                                     "publication_types": ["Published Erratum"]})
    dedupe(db, DedupeSettings(merge_errata=merge_errata))
    assert (record_of(db, a) == record_of(db, b)) is merge_errata


def test_erratum_by_title_never_joins_article(db):
    a, b = add(db, "pubmed", ARTICLE, ERRATUM)
    dedupe(db)
    assert record_of(db, a) != record_of(db, b)


def test_transitive_chain_is_refused(db):
    """B looks like A and like C, but A and C are a preprint and an article."""
    (a,) = add(db, "scholar", PREPRINT)
    (c,) = add(db, "pubmed", ARTICLE)
    (b,) = add(db, "other", {**ARTICLE, "doi": None, "pages": None, "journal": None,
                             "volume": None, "year": 2023})
    dedupe(db, DedupeSettings())
    assert record_of(db, a) != record_of(db, c)
    assert record_of(db, b) == record_of(db, c)


def test_different_pmids_never_merge():
    a = fingerprint({"id": 1, **ARTICLE, "pmid": "1"})
    b = fingerprint({"id": 2, **ARTICLE, "pmid": "2"})
    assert score(a, b, DedupeSettings()) < 0


def test_best_fields_from_all_hits(db):
    short, long_ = "Short abstract.", "A much longer abstract. " * 10
    add(db, "scholar", {**ARTICLE, "abstract": short, "doi": None})
    add(db, "pubmed", {**ARTICLE, "abstract": long_, "pmid": "38000001"})
    dedupe(db)
    (record,) = db["records"].rows
    assert record["abstract"] == long_.strip() and record["pmid"] == "38000001"
    assert record["doi"] == ARTICLE["doi"]
    assert db.execute("SELECT count(*) FROM hits WHERE record_id = ?",
                      [record["id"]]).fetchone()[0] == 2


def test_every_hit_gets_exactly_one_record_and_reruns_change_nothing(db):
    add(db, "pubmed", ARTICLE, PREPRINT, ERRATUM, {"title": "Something else entirely"})
    dedupe(db)
    assert db.execute("SELECT count(*) FROM hits WHERE record_id IS NULL").fetchone()[0] == 0
    before = list(db.execute("SELECT id, record_id FROM hits"))
    assert dedupe(db).hits == 0
    assert list(db.execute("SELECT id, record_id FROM hits")) == before


def test_new_hit_inherits_decision_of_screened_record(db, config):
    sync_config(db, config)
    (a,) = add(db, "pubmed-2023", ARTICLE)
    dedupe(db)
    record_id = record_of(db, a)
    db["decisions"].insert({"record_id": record_id, "reviewer": "kari", "stage": "screening",
                            "decision": "include", "created_at": now()})
    (b,) = add(db, "scholar-2024", {**ARTICLE, "doi": None, "title": ARTICLE["title"].lower()})
    result = dedupe(db)
    assert result.merged == 1 and result.new_records == 0
    assert record_of(db, b) == record_id
    status = db.execute("SELECT decision FROM record_status WHERE record_id = ?",
                        [record_id]).fetchone()[0]
    assert status == "include"


def test_new_hit_of_screened_record_is_not_queued_and_status_says_already_screened(db):
    """Issue 5: a work screened last year, found again by a new run, is not screened twice."""
    from evidence.screening.queries import next_record_id
    from evidence.status import collect_status

    (a,) = add(db, "pubmed-2023", ARTICLE)
    dedupe(db)
    record_id = record_of(db, a)
    db["decisions"].insert({"record_id": record_id, "reviewer": "kari", "stage": "screening",
                            "decision": "exclude", "created_at": "2024-01-10T09:00:00+00:00"})
    (b,) = add(db, "embase-2025", {**ARTICLE, "doi": None, "journal": "Scand J Public Health",
                                   "title": ARTICLE["title"].upper() + "."})
    (c,) = add(db, "embase-2025-new", {**NEAR, "title": "A different work entirely",
                                       "authors": ["Dahl, Siv"]})
    assert dedupe(db).merged == 1
    assert record_of(db, b) == record_id
    runs = {row["search"]: row for row in collect_status(db)["runs"]}
    assert runs["embase-2025"]["already_screened"] == 1
    assert runs["embase-2025-new"]["already_screened"] == 0
    # the queue (any reviewer, one vote per record) offers only the new work
    assert next_record_id(db.conn, "ola") == record_of(db, c)
    assert next_record_id(db.conn, "ola", skip=[record_of(db, c)]) is None


def test_new_hit_joining_two_records_merges_them_keeping_decisions_and_themes(db, config):
    sync_config(db, config)
    (a,) = add(db, "pubmed", {**ARTICLE, "doi": None, "pmid": "38000001"})
    (b,) = add(db, "crossref", {**ARTICLE, "pmid": None, "title": "Integrert behandling i "
                                "primærhelsetjenesten: en systematisk oversikt"})
    dedupe(db)
    ra, rb = record_of(db, a), record_of(db, b)
    assert ra != rb
    theme_id = db.execute("SELECT id FROM themes LIMIT 1").fetchone()[0]
    db["decisions"].insert({"record_id": rb, "reviewer": "per", "stage": "screening",
                            "decision": "include", "created_at": now()})
    db["record_themes"].insert({"record_id": rb, "theme_id": theme_id, "reviewer": "per"})
    (c,) = add(db, "zotero", {**ARTICLE, "pmid": "38000001"})  # has both PMID and DOI
    dedupe(db)
    assert record_of(db, a) == record_of(db, b) == record_of(db, c) == rb
    assert not db["records"].count_where("id = ?", [ra])
    assert db["record_themes"].count_where("record_id = ?", [rb]) == 1
    assert db["decisions"].count_where("record_id = ?", [rb]) == 1


NEAR = {**ARTICLE, "doi": None, "pages": None, "volume": None,
        "title": "Integrated care for persons with serious mental illness in general practice: "
                 "a systematic review", "authors": ["Hansen, Kari", "Lie, Ola"]}


def uncertain_setup(db) -> tuple[int, int]:
    (a,) = add(db, "pubmed", ARTICLE)
    (b,) = add(db, "scholar", NEAR)
    result = dedupe(db, DedupeSettings())
    assert result.uncertain == 1, result
    return a, b


def test_uncertain_pair_is_listed_and_merge_persists(db):
    a, b = uncertain_setup(db)
    (pair,) = list_uncertain_pairs(db)
    assert {pair["record_a"]["id"], pair["record_b"]["id"]} == {record_of(db, a),
                                                                 record_of(db, b)}
    assert 0.75 <= pair["score"] < 0.92
    decide_pair(db, pair["pair_id"], "merge", "kari")
    assert record_of(db, a) == record_of(db, b)
    assert list_uncertain_pairs(db) == []
    add(db, "zotero", {**NEAR, "title": NEAR["title"].upper()})
    dedupe(db)
    assert record_of(db, a) == record_of(db, b)
    assert list_uncertain_pairs(db) == []


def test_split_pair_is_never_merged_again(db):
    a, b = uncertain_setup(db)
    decide_records(db, record_of(db, a), record_of(db, b), "split", "kari")
    assert list_uncertain_pairs(db) == []
    # a later hit that looks like both must not join them
    (c,) = add(db, "zotero", ARTICLE)
    (d,) = add(db, "cinahl", NEAR)
    dedupe(db)
    assert record_of(db, a) != record_of(db, b)
    assert record_of(db, c) == record_of(db, a) and record_of(db, d) == record_of(db, b)


def test_split_of_strong_pair_before_it_is_merged(db):
    """A person split two records that a later run would merge on score: it stays split."""
    (a,) = add(db, "pubmed", ARTICLE)
    (b,) = add(db, "scholar", NEAR)
    dedupe(db)
    decide_records(db, record_of(db, a), record_of(db, b), "split", "kari")
    (c,) = add(db, "zotero", {**NEAR, "title": ARTICLE["title"], "doi": ARTICLE["doi"]})
    dedupe(db)
    assert record_of(db, a) != record_of(db, b)
    assert record_of(db, c) in (record_of(db, a), record_of(db, b))


def test_decide_errors(db):
    a, b = uncertain_setup(db)
    with pytest.raises(DedupeError):
        decide_pair(db, 999, "merge", "kari")
    with pytest.raises(DedupeError):
        decide_records(db, record_of(db, a), record_of(db, a), "merge", "kari")
    with pytest.raises(DedupeError):
        decide_records(db, record_of(db, a), record_of(db, b), "maybe", "kari")


def test_cli_dedupe_and_duplicates(db_path, db):
    a, b = uncertain_setup(db)
    ra, rb = record_of(db, a), record_of(db, b)
    runner = CliRunner()
    listed = runner.invoke(cli, ["duplicates", "--db", str(db_path)])
    assert listed.exit_code == 0, listed.output
    assert f"A {ra}:" in listed.output and f"B {rb}:" in listed.output
    as_json = json.loads(runner.invoke(cli, ["duplicates", "--db", str(db_path),
                                             "--json"]).output)
    assert as_json[0]["record_a"]["id"] == ra
    merged = runner.invoke(cli, ["duplicates", "merge", str(ra), str(rb), "--db", str(db_path),
                                 "--reviewer", "kari"])
    assert merged.exit_code == 0, merged.output
    assert "merged" in merged.output
    pair = db.execute("SELECT status, decided_by FROM duplicate_pairs").fetchone()
    assert pair == ("merge", "kari") and record_of(db, a) == record_of(db, b)
    bad = runner.invoke(cli, ["duplicates", "--db", str(db_path), "split", "1", "1"])
    assert bad.exit_code == 1 and "Error:" in bad.output
    ran = runner.invoke(cli, ["dedupe", "--db", str(db_path), "--config", "missing.yml"])
    assert ran.exit_code == 0 and "0 hits" in ran.output


def test_records_made_before_fingerprints_were_stored(db):
    """Hits that got a record from an older version (no dedupe_keys row) still match."""
    (a,) = add(db, "pubmed", ARTICLE)
    dedupe(db)
    db.execute("DELETE FROM dedupe_keys")
    (b,) = add(db, "scholar", {**ARTICLE, "doi": None})
    result = dedupe(db)
    assert result.merged == 1 and record_of(db, a) == record_of(db, b)
    assert db["dedupe_keys"].count == 2


def test_shared_doi_with_different_first_pages_is_not_one_work(db):
    """A supplement's DOI on two abstracts with near-identical titles and one team."""
    supplement = {**ARTICLE, "doi": "10.1093/eurpub/ckad160", "journal": "Eur J Public Health",
                  "volume": "33"}
    a, b = add(db, "embase",
               {**supplement, "title": "Integrated care for severe mental illness in "
                                       "primary care: a register study", "pages": "S101"},
               {**supplement, "title": "Integrated care for severe mental illness in "
                                       "primary care: a cohort study", "pages": "S245"})
    dedupe(db)
    assert record_of(db, a) != record_of(db, b)


def test_shared_doi_with_different_authors_is_not_one_work(db):
    supplement = {**ARTICLE, "doi": "10.1093/eurpub/ckad160", "pages": None}
    a, b = add(db, "embase",
               {**supplement, "title": "Peer support workers in municipal mental health care",
                "authors": ["Lie, Anne", "Moe, Tor"]},
               {**supplement, "title": "Peer support work in municipal mental health care",
                "authors": ["Dahl, Eva", "Strand, Ola", "Lund, Siv"]})
    dedupe(db)
    assert record_of(db, a) != record_of(db, b)


@pytest.mark.parametrize("with_doi", [True, False])
def test_same_team_different_year_and_journal_is_two_presentations(db, with_doi):
    """Two conference abstracts of one study, a year apart in two journals' supplements."""
    abstract = {**ARTICLE, "pages": None, "volume": None,
                "doi": None, "title": "Integrated care for people with severe mental illness "
                                      "in primary care: preliminary results"}
    a, b = add(db, "embase",
               {**abstract, "year": 2022, "journal": "European Psychiatry",
                "doi": "10.1192/j.eurpsy.2022.1" if with_doi else None},
               {**abstract, "year": 2023, "journal": "European Journal of Public Health",
                "doi": "10.1093/eurpub/ckad.2" if with_doi else None})
    dedupe(db)
    assert record_of(db, a) != record_of(db, b)
    assert list_uncertain_pairs(db) or with_doi


def test_common_surname_block_keeps_every_candidate(db):
    """200 works by a Wang in 2020, then a copy of the first whose title differs at both ends:
    only the first author + year block finds it, and it must not be cut off."""
    first = {"title": "Effects of community mental health services on readmission among "
                      "older adults in urban China", "authors": ["Wang, Li", "Zhang, Wei"],
             "year": 2020, "journal": "BMC Psychiatry", "volume": "20", "pages": "311"}
    others = [{**first, "title": f"Study {k} of a different topic in health services number "
                                 f"{k} with its own words", "pages": str(400 + k),
               "authors": ["Wang, Li", f"Author{k}, A"]} for k in range(200)]
    (a, *_rest) = add(db, "pubmed", first, *others)
    dedupe(db)
    (b,) = add(db, "scholar", {**first, "title": "The effects of community mental health "
                               "services on readmission among older adults in urban China: "
                               "a cohort study"})
    dedupe(db)
    assert record_of(db, a) == record_of(db, b)


def test_cold_spring_harbor_doi_is_not_a_preprint(db):
    """10.1101 is bioRxiv's and medRxiv's prefix, and Genome Research's."""
    article = {**ARTICLE, "doi": "10.1101/gr.277891.123", "journal": "Genome Research"}
    a, b = add(db, "pubmed", article, {**article, "doi": None, "journal": "Genome Res"})
    dedupe(db)
    assert record_of(db, a) == record_of(db, b)
    assert fingerprint({"id": 1, **article}).kind == "article"
    assert fingerprint({"id": 1, **PREPRINT}).kind == "preprint"


def test_short_titles_need_more_than_the_title(db):
    """The same editor's "Editorial" in two issues of one journal is two works."""
    editorial = {"title": "Editorial", "authors": ["Berg, Ida"], "year": 2023,
                 "journal": "Scandinavian Journal of Public Health", "volume": "51"}
    a, b, c = add(db, "pubmed", {**editorial, "pages": "1-2"}, {**editorial, "pages": "301-302"},
                  {**editorial, "pages": "1-2", "journal": "Scand J Public Health"})
    dedupe(db)
    assert record_of(db, a) != record_of(db, b)
    assert record_of(db, a) == record_of(db, c)


def test_passes_in_steps_see_a_hit_changed_between_them(db):
    """A hit corrected between two passes of one import (a later row of the file with the
    same id) is compared by its new fields in the next pass, not by the remembered ones."""
    memory = Memory()
    (old,) = add(db, "scholar", {**ARTICLE, "title": "A first draft title about nothing much",
                                 "doi": None})
    dedupe(db, memory=memory)
    run_id = store.start_run(db, store.ensure_search(db, "scholar"))
    store.save_hits(db, run_id, [{"external_id": "scholar-0", "title": ARTICLE["title"]}])
    (new,) = add(db, "pubmed", {**ARTICLE, "pmid": "38000001"})
    dedupe(db, memory=memory)
    assert record_of(db, new) == record_of(db, old)
    assert [fp.title for fp in memory.fps if fp.hit_id == old] == [title_key(ARTICLE["title"])]


def _remembered_records(db, memory) -> dict[int, int]:
    stored = dict(db.execute("SELECT id, record_id FROM hits").fetchall())
    return {fp.hit_id: fp.record_id for fp in memory.fps}, stored


def test_passes_in_steps_remember_the_records_they_gave_and_see_other_writers(db, db_path):
    """A pass leaves its records in the memory, so the next need not re-read every hit; a
    merge committed by another connection in between (the screening app) is read back."""
    from evidence.db.migrations import open_db
    from evidence.dedupe.cluster import merge_records

    memory = Memory()
    first = add(db, "scholar", {**ARTICLE, "doi": None},
                {"title": "Loneliness among older adults in rural municipalities",
                 "authors": ["Berg, Ida"], "year": 2021})
    dedupe(db, memory=memory)
    add(db, "pubmed", {**ARTICLE, "pmid": "38000001"})
    dedupe(db, memory=memory)
    remembered, stored = _remembered_records(db, memory)
    assert remembered == stored and len(set(stored.values())) == 2
    other = open_db(db_path)
    with other.atomic():
        merge_records(other, record_of(other, first[0]), record_of(other, first[1]))
    other.conn.close()
    add(db, "idunn", {"title": "Something else entirely about workforce planning",
                      "authors": ["Olsen, Per"], "year": 2020})
    dedupe(db, memory=memory)
    remembered, stored = _remembered_records(db, memory)
    assert remembered == stored and len(set(stored.values())) == 2


def test_hits_with_different_pmids_are_not_compared_so_a_harvest_stays_linear(db, monkeypatch):
    """A year of PubMed systematic reviews shares title endings, so its hits share blocks;
    hits with different PMIDs are two works (a veto), so they are not scored against each
    other at all, while a hit without a PMID (another database's copy) still is."""
    from evidence.dedupe import cluster

    calls = []
    monkeypatch.setattr(cluster, "score", lambda a, b, s, real=cluster.score: (
        calls.append(1), real(a, b, s))[1])
    titles = [f"Record {n}: community care for substance use and mental health" for n in range(300)]
    pubmed = add(db, "pubmed", *[{"title": t, "pmid": str(38000000 + n), "year": 2024,
                                  "authors": [f"Author{n}, A"]} for n, t in enumerate(titles)])
    dedupe(db)
    assert len(calls) < 300, len(calls)  # every pair scored would be about 45,000
    (copy,) = add(db, "idunn", {"title": titles[7], "year": 2024, "authors": ["Author7, A"]})
    dedupe(db)
    assert record_of(db, copy) == record_of(db, pubmed[7])
    assert len({record_of(db, h) for h in pubmed}) == 300
