"""A small working database for the publishing and export tests, written row by row.

Rows are written directly with sqlite-utils (not through the screening package), so these
tests depend only on the schema. Private values are distinctive strings that the privacy
test greps for in every table and column of the published database.
"""

from __future__ import annotations

import json

import sqlite_utils

from evidence.db.config_sync import sync_config

REVIEWER = "reviewer-ana-private"
NOTE = "private-note-do-not-publish"
PASSWORD_HASH = "pbkdf2_sha256$480000$privatesalt$privatehashvalue"
RAW = "raw-payload-private-marker"
ABSTRACT_WORD = "befriending"

RECORDS = [
    # id, title, abstract, authors, year, journal, doi, pmid, decision, reason, themes, searches
    (1, "Peer support and befriending in community mental health: a systematic review",
     f"BACKGROUND: Loneliness is common.\n\nRESULTS: {ABSTRACT_WORD} reduced loneliness.",
     ["Smith, Jane", "Doe, Anna"], 2024, "BMC Psychiatry", "10.1186/peer.2024.1", "38000001",
     "include", None, ["psychosocial-interventions", "loneliness"],
     ["pubmed-mental-health", "pubmed-substance-use"]),
    (2, "Stigma towards people who use opioids in primary care",
     "Stigma by health personnel is a barrier to treatment.",
     ["Nguyen, Minh"], 2023, "Addiction", "10.1111/add.2023.2", "38000002",
     "include", None, ["stigma", "comorbidity"], ["pubmed-substance-use"]),
    (3, "Hip fracture surgery outcomes", "Orthopaedic outcomes.", ["Berg, Ola"], 2024,
     "Injury", None, "38000003", "exclude", "wrong-topic", [], ["pubmed-mental-health"]),
    (4, "Old community psychiatry review", "Older work.", ["Hansen, Kari"], 2019,
     "Nordic Journal of Psychiatry", None, "38000004", "exclude", "outside-window", [],
     ["pubmed-mental-health"]),
    (5, "Undecided review of nurse-led care", "Nurse-led care.", ["Olsen, Per"], 2024,
     "J Adv Nurs", None, "38000005", None, None, [], ["pubmed-mental-health"]),
    (6, "Kunst og kultur i psykisk helsearbeid", "Kulturtilbud i kommunene.",
     ["Lie, Siri"], 2024, "Tidsskrift for psykisk helsearbeid", "10.18261/tph.2024.6", None,
     "include", None, ["arts-culture"], ["idunn"]),
]


def seed_working_db(db: sqlite_utils.Database, config) -> None:
    """Searches, runs, hits, records, themes, decisions and a user, as a finished year."""
    sync_config(db, config)
    search_ids = {r["name"]: r["id"] for r in db["searches"].rows}
    runs = {}
    for name, search_id in search_ids.items():
        runs[name] = db["runs"].insert({
            "search_id": search_id, "source": db["searches"].get(search_id)["source"],
            "started_at": "2024-10-21T08:00:00+00:00", "finished_at": "2024-10-21T08:01:00+00:00",
            "status": "complete", "window_start": "2023-10-21", "window_end": "2024-10-21",
            "hit_count": 0, "new_hit_count": 0}).last_pk
        db["searches"].update(search_id, {"last_run_at": "2024-10-21T08:01:00+00:00"})
    theme_ids = {r["slug"]: r["id"] for r in db["themes"].rows}
    db["users"].insert({"username": REVIEWER, "password_hash": PASSWORD_HASH,
                        "role": "reviewer", "created_at": "2024-10-01"})
    for row in RECORDS:
        _insert_record(db, row, runs, search_ids, theme_ids)
    # a duplicate hit of record 2 from the mental-health search (two searches found it)
    db["hits"].insert({
        "run_id": runs["pubmed-mental-health"], "search_id": search_ids["pubmed-mental-health"],
        "source": "pubmed", "external_id": "dup-2", "record_id": 2, "title": RECORDS[1][1],
        "raw": RAW, "deleted": 0})


def _insert_record(db: sqlite_utils.Database, row: tuple, runs: dict, search_ids: dict,
                   theme_ids: dict) -> None:
    (rid, title, abstract, authors, year, journal, doi, pmid, decision, reason, themes,
     searches) = row
    summary = f"Public summary of record {rid}." if decision == "include" else None
    if isinstance(abstract, tuple):  # (abstract, summary)
        abstract, summary = abstract
    db["records"].insert({
        "id": rid, "title": title, "abstract": abstract, "authors": json.dumps(authors),
        "year": year, "journal": journal, "doi": doi, "pmid": pmid,
        "publication_types": json.dumps(["Systematic Review"]),
        "keywords": json.dumps(["community care"]), "item_type": "journalArticle"})
    for name in searches:
        db["hits"].insert({
            "run_id": runs[name], "search_id": search_ids[name],
            "source": db["searches"].get(search_ids[name])["source"],
            "external_id": f"{name}-{rid}", "record_id": rid, "title": title,
            "raw": json.dumps({"marker": RAW}), "deleted": 0})
    if decision:
        db["decisions"].insert({
            "record_id": rid, "reviewer": REVIEWER, "stage": "screening",
            "decision": decision, "reason": reason, "note": f"{NOTE} {rid}",
            "summary": summary,
            "themes": json.dumps(themes), "origin": "test",
            "created_at": f"2024-10-2{rid % 10}T10:00:00+00:00"})
    for slug in themes:
        db["record_themes"].insert({"record_id": rid, "theme_id": theme_ids[slug],
                                    "reviewer": REVIEWER})


#: Reader-facing records (issue 15): Norwegian compounds, inline markup, a summary to find.
READER_RECORDS = [
    (7, "Rusmiddelproblemer blant eldre i kommunene",
     ("Studien ser på rusmiddelbruk og rusmiddelproblemer hos eldre.\n\n"
      "Kommunalt rusarbeid trenger mer kompetanse.",
      "Kommunene mangler kompetanse om eldre med rusmiddelproblemer."),
     ["Hansen, Kari"], 2024, "Tidsskrift for psykisk helsearbeid", "10.18261/tph.2024.7", None,
     "include", None, ["substance-addiction"], ["idunn"]),
    (8, "Effects of <i>Lactobacillus</i> on CO<sub>2</sub> and mood<sup>1</sup>",
     ("Probiotic <i>Lactobacillus</i> and depression: a systematic review of helseproblemer.",
      "Tarmbakterier kan gi problemer med humøret."),
     ["Berg, Ola"], 2024, "Nutrients", "10.3390/nu.2024.8", "38000008",
     "include", None, ["specific-populations"], ["pubmed-mental-health"]),
]


def seed_reader_records(db: sqlite_utils.Database) -> None:
    """Add READER_RECORDS to a database already seeded by :func:`seed_working_db`."""
    search_ids = {r["name"]: r["id"] for r in db["searches"].rows}
    runs = {name: db.execute("SELECT max(id) FROM runs WHERE search_id = ?", [sid]).fetchone()[0]
            for name, sid in search_ids.items()}
    theme_ids = {r["slug"]: r["id"] for r in db["themes"].rows}
    for row in READER_RECORDS:
        _insert_record(db, row, runs, search_ids, theme_ids)
