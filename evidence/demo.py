"""``evidence demo``: the whole flow on bundled sample data, offline.

The sample files stand in for what the harvesters would fetch (PubMed, Idunn, Kudos), so the
demo needs no network and no keys. Each step calls the same library functions as the
commands, so the demo is also a smoke test of the real flow.
"""

from __future__ import annotations

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
    from db.migrations import open_db
    from evidence.cli import starter_config_text
    from harvest.importing import import_file
    from harvest.store import sync_config

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


def _screen_and_publish(db, config, directory: Path) -> Iterator[str]:
    """Screening and publishing steps; filled in as those parts land."""
    records = db.execute("SELECT count(*) FROM records").fetchone()[0]
    hits = db.execute("SELECT count(*) FROM hits").fetchone()[0]
    yield f"{hits} hits became {records} records after deduplication."
    yield "Next: cd " + str(directory) + " && evidence status"
