"""Benchmark: sync a Zotero library of N items from the stand-in, then 10 changes, then push.

Figures: items per second for the first sync (100 items per request, JSON parsing, mapping,
storing), the time and request count of an incremental sync after 10 edits, and records per
second for pushing M included records as new items (batches of 50). The stand-in runs in a
thread of this process, so its JSON writing shares the GIL: real figures are network-bound.

Usage::

    python bench/zotero_bench.py --items 5000 --push 500
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence.config import load_config, service_settings  # noqa: E402
from evidence.db.config_sync import sync_config  # noqa: E402
from evidence.db.migrations import open_db  # noqa: E402
from evidence.db.values import now  # noqa: E402
from evidence.harvest.runs import harvest_search  # noqa: E402
from evidence.publish import zotero_push as zp  # noqa: E402
from tests.standins.zotero import ZoteroState, make_key, serve  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "evidence" / "templates" / \
    "evidence.example.yml"


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.processor() or platform.machine()}, nproc={os.cpu_count()}, "
            f"RAM={mem:.1f} GiB, Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--push", type=int, default=500)
    args = parser.parse_args()
    config = load_config(EXAMPLE)
    search = config.search("zotero-included")
    with tempfile.TemporaryDirectory() as tmp, \
            serve(ZoteroState.generated(args.items, notes_every=10)) as (url, state):
        db = open_db(Path(tmp) / "bench.db")
        sync_config(db, config)
        services = service_settings({"ZOTERO_API_URL": url})
        started = time.perf_counter()
        first = harvest_search(db, search, config, services)
        full = time.perf_counter() - started
        for i in range(10):
            state.edit(make_key(i * max(1, args.items // 10)), title=f"Edited {i}")
        before = len(state.requests)
        started = time.perf_counter()
        second = harvest_search(db, search, config, services)
        incremental = time.perf_counter() - started
        requests = len(state.requests) - before
        for i in range(args.push):
            record_id = db["records"].insert({"title": f"Bench record {i}", "year": 2024,
                                              "doi": f"10.9999/bench.{i}",
                                              "authors": '["Nordmann, Kari"]'}).last_pk
            db["decisions"].insert({"record_id": record_id, "reviewer": "bench",
                                    "stage": "screening", "decision": "include",
                                    "created_at": now()})
        started = time.perf_counter()
        pushed = zp.push(db, config, services, collection="Bench")
        push_time = time.perf_counter() - started
        started = time.perf_counter()
        again = zp.push(db, config, services, collection="Bench")
        again_time = time.perf_counter() - started
    print(f"machine: {machine()}")
    print(f"first sync: {first.fetched} items in {full:.2f} s = {first.fetched / full:,.0f} "
          f"items/s")
    print(f"incremental sync after 10 edits: {second.fetched} items, {requests} requests, "
          f"{incremental:.3f} s")
    print(f"push: {pushed.created} new items in {push_time:.2f} s = "
          f"{pushed.created / push_time:,.0f} records/s; second push: {again.created} created, "
          f"{again.updated} updated in {again_time:.2f} s")


if __name__ == "__main__":
    main()
