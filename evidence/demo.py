"""``evidence demo``: the whole flow on bundled sample data, offline.

The sample files stand in for what the harvesters would fetch (PubMed, Idunn, Kudos), so the
demo needs no network and no keys. Each step calls the same library functions as the
commands, so the demo is also a smoke test of the real flow.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from evidence.config import load_config

#: (sample file, search it stands in for)
SAMPLES = (
    ("pubmed-mental-health.nbib", "pubmed-mental-health"),
    ("pubmed-substance-use.nbib", "pubmed-substance-use"),
    ("idunn.ris", "idunn"),
    ("kudos.csv", "kudos"),
)


def sample_path(name: str) -> Path:
    return Path(str(resources.files("evidence").joinpath("samples", name)))


def run_demo(directory: Path) -> Iterator[str]:
    """Build ``directory`` with a configuration, a working database and a published site."""
    from evidence.config import starter_config_text
    from evidence.db.config_sync import sync_config
    from evidence.db.migrations import open_db
    from evidence.harvest.files.importing import import_file

    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "evidence.yml"
    if not config_path.exists():
        config_path.write_text(starter_config_text(), encoding="utf-8")
    config = load_config(config_path)
    db = open_db(directory / "evidence.db")
    sync_config(db, config)
    yield f"Working database: {directory / 'evidence.db'}"
    for filename, search in SAMPLES:
        result = import_file(db, sample_path(filename), source=search, config=config)
        yield (f"  {search}: {result.entries} hits ({result.new_hits} new), "
               f"{result.dedupe.merged} joined records found by another search")
    yield from _screen_and_publish(db, config, directory)


#: The demo's accounts: for trying the screening app on this machine only.
DEMO_USERS = (("demo", "demo-password", "lead"),)
DEMO_DECISIONS = "demo-decisions.csv"


def _screen_and_publish(db, config, directory: Path) -> Iterator[str]:
    """Add a demo account, record the bundled sample decisions and publish the included records."""
    from evidence.publish.build import publish
    from evidence.screening.auth import add_user

    records = db.execute("SELECT count(*) FROM records").fetchone()[0]
    hits = db.execute("SELECT count(*) FROM hits").fetchone()[0]
    yield f"{hits} hits became {records} records after deduplication."
    for username, password, role in DEMO_USERS:
        add_user(db, username, password, role)
    decided = _record_sample_decisions(db, reviewer=DEMO_USERS[0][0])
    yield f"Screened {decided} records as the demo reviewer (bundled sample decisions)."
    result = publish(db, directory / "published.db", config)
    yield f"Published {result.records} included records in {result.themes} themes: {result.path}"
    user, password, _ = DEMO_USERS[0]
    yield ""
    yield "Next:"
    yield f"  cd {directory}"
    yield "  evidence status                      # counts per search, source and run"
    yield f"  evidence screen                      # screen the rest; log in as {user} / {password}"
    yield "  evidence serve published.db          # the published evidence tables"


def _record_sample_decisions(db, reviewer: str) -> int:
    """Append the decisions of ``demo-decisions.csv`` once (a re-run of the demo adds none)."""
    from evidence.db.decisions import save_decision

    if db.execute("SELECT 1 FROM decisions WHERE origin = 'demo' LIMIT 1").fetchone():
        return 0
    with sample_path(DEMO_DECISIONS).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    decided = 0
    for row in rows:
        found = db.execute(
            "SELECT id FROM records WHERE (? != '' AND doi = ?) OR (? != '' AND title = ?)",
            [row["doi"], row["doi"], row["title"], row["title"]]).fetchone()
        if found is None:
            continue
        themes = [slug for slug in row["themes"].split(";") if slug]
        save_decision(db.conn, found[0], reviewer, row["decision"], reason=row["reason"],
                      summary=row["summary"], theme_slugs=themes, origin="demo")
        decided += 1
    return decided
