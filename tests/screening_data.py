"""Records for the screening tests, the browser tests and the benchmark (not collected by pytest).

Rows go straight into ``records``/``hits`` (as dedupe would leave them) so that 100,000 of them
take seconds, not minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

from evidence.config import load_config
from evidence.db.config_sync import ensure_search, sync_config
from evidence.db.migrations import open_db
from evidence.db.values import now
from evidence.harvest.store import start_run
from evidence.screening.auth import add_user

ABSTRACT = ("BACKGROUND: Community mental health services in primary care are changing.\n\n"
            "METHODS: A systematic review of studies on addiction and substance use.\n\n"
            "RESULTS: Interdisciplinary teams improved outcomes.\n\n"
            "CONCLUSIONS: More research is needed.")


def seed(db_path: str | Path, config_path: str | Path, n: int = 20, *,
         titles: dict[int, str] | None = None, batch: int = 5_000) -> None:
    """``n`` records with ids 1..n (year falls as the id grows), each found by one search."""
    config = load_config(config_path)
    db = open_db(db_path)
    sync_config(db, config)
    search_ids = [ensure_search(db, config.search(name))
                  for name in ("pubmed-mental-health", "pubmed-substance-use")]
    runs = [start_run(db, search_id, source="pubmed", status="complete")
            for search_id in search_ids]
    titles = titles or {}
    stamp = now()
    for start in range(1, n + 1, batch):
        ids = range(start, min(start + batch, n + 1))
        records = [{
            "id": i, "title": titles.get(i, f"Record {i}: community mental health review"),
            "abstract": ABSTRACT, "authors": json.dumps([f"Author{i}, Ann", "Berg, Bo"]),
            "year": 2024 - i // 1000, "journal": "Journal of Testing", "doi": f"10.1000/t{i}",
            "pmid": str(10_000_000 + i), "publication_types": json.dumps(["Systematic Review"]),
            "created_at": stamp, "updated_at": stamp} for i in ids]
        hits = [{"run_id": runs[i % 2], "search_id": search_ids[i % 2], "source": "pubmed",
                 "external_id": str(10_000_000 + i), "record_id": i, "title": titles.get(i),
                 "deleted": 0, "created_at": stamp} for i in ids]
        with db.atomic():
            db["records"].insert_all(records)
            db["hits"].insert_all(hits)
    db.close()


def add_users(db_path: str | Path, users: dict[str, str], password: str = "correct horse") -> None:
    """Accounts ``{name: role}``, all with the same password (hashing is slow: keep it few)."""
    db = open_db(db_path)
    for name, role in users.items():
        add_user(db, name, password, role)
    db.close()
