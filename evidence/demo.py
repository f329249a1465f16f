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
    again = False
    for filename, search in SAMPLES:
        if _imported_before(db, search):  # a re-run adds no runs, so the method page stays
            again = True
            yield f"  {search}: imported by an earlier demo run (kept as it was)"
            continue
        result = import_file(db, sample_path(filename), source=search, config=config)
        yield (f"  {search}: {result.entries} hits ({result.new_hits} new), "
               f"{result.dedupe.merged} joined records found by another search")
    if again:
        yield (f"  (the demo runs once per folder: delete {directory} to start fresh,"
               " or use --dir for another)")
    yield from _screen_and_publish(db, config, directory)


def _imported_before(db, search: str) -> bool:
    """Whether a run of ``search`` is stored already (by an earlier ``evidence demo``)."""
    return db.execute("SELECT 1 FROM runs r JOIN searches s ON s.id = r.search_id"
                      " WHERE s.name = ? LIMIT 1", [search]).fetchone() is not None


#: The demo's accounts: for trying the screening app on this machine only.
DEMO_USERS = (("demo", "demo-password", "lead"),)
DEMO_DECISIONS = "demo-decisions.csv"
#: The bundled samples are the 2024 report's: its edition, whatever today's year is.
DEMO_EDITION = "2024"


def _screen_and_publish(db, config, directory: Path) -> Iterator[str]:
    """Add a demo account, record the bundled sample decisions and publish the included records."""
    from evidence.publish.build import publish
    from evidence.screening.auth import add_user

    records = db.execute("SELECT count(*) FROM records").fetchone()[0]
    hits = db.execute("SELECT count(*) FROM hits").fetchone()[0]
    yield f"{hits} hits became {records} records after deduplication."
    for username, password, role in DEMO_USERS:
        if not db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            add_user(db, username, password, role)  # (again would end its open sessions)
    decided = _record_sample_decisions(db, reviewer=DEMO_USERS[0][0])
    yield (f"Screened {decided} records as the demo reviewer (bundled sample decisions)."
           if decided is not None else
           "The sample decisions were recorded by an earlier demo run (kept as they are).")
    result = publish(db, directory / "published.db", config, config.edition or DEMO_EDITION)
    yield (f"Published {result.records} included records in {result.themes} themes"
           f" (edition {result.edition}, {result.new_records} new): {result.path}")
    user, password, _ = DEMO_USERS[0]
    yield ""
    yield "Next:"
    yield f"  cd {directory}"
    yield "  evidence status                      # counts per search, source and run"
    yield f"  evidence screen                      # screen the rest; log in as {user} / {password}"
    yield "  evidence serve published.db          # the published evidence tables"


def _record_sample_decisions(db, reviewer: str) -> int | None:
    """Append the decisions of ``demo-decisions.csv`` once (a re-run of the demo adds none:
    None)."""
    from evidence.db.decisions import save_decision

    if db.execute("SELECT 1 FROM decisions WHERE origin = 'demo' LIMIT 1").fetchone():
        return None
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
