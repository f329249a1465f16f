"""Time from a decision POST to the next record rendered, on a database of many records.

Each round POSTs a decision for the record on screen (as the browser form does, CSRF token
included) and then GETs ``/-/screen`` for the next one, through Datasette's ASGI client (no
network). Target: median under 50 ms with 100,000 records.

Example:

    python3 bench/screen_bench.py --records 100000 --decisions 200
    python3 bench/screen_bench.py --records 100000 --decisions 200 --decided 50000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence.screening import auth, sessions  # noqa: E402
from evidence.screening.app import make_datasette  # noqa: E402
from tests.screening_data import add_users, seed  # noqa: E402


def machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            kb = int(f.readline().split()[1])
        memory = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        memory = ""
    return f"{os.cpu_count()} CPUs (nproc){memory}, Python {sys.version.split()[0]}"


async def run(ds, decisions: int, order: str) -> list[float]:
    page = await ds.client.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    cookies = {"ds_actor": sessions.cookie_value(ds, {"id": "bench", "role": "reviewer"}, 0),
               "ds_csrftoken": token}
    response = await ds.client.get("/-/screen", cookies=cookies)
    if order == "relevance":
        response = await warm_up(ds, cookies, token, response)
    timings = []
    for i in range(decisions):
        record_id = response.text.split('data-record-id="', 1)[1].split('"', 1)[0]
        choice = ("include", "exclude", "maybe")[i % 3]
        form = {"decision": choice, "csrftoken": token, "reason": "wrong-topic",
                "themes": "stigma"}
        start = time.perf_counter()
        posted = await ds.client.post(
            f"/-/screen/record/{record_id}", content=urlencode(form), cookies=cookies,
            headers={"content-type": "application/x-www-form-urlencoded"})
        assert posted.status_code == 302, posted.text[:500]
        response = await ds.client.get(posted.headers["location"], cookies=cookies)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200 and "data-record-id" in response.text
    return timings


async def warm_up(ds, cookies: dict, token: str, response):
    """Relevance order: one inclusion and one exclusion, then wait until the background
    thread has built the features of every record and trained the first model, so the timed
    decisions run against a ranked queue (retraining goes on in the background meanwhile)."""
    for choice in ("include", "exclude"):
        record_id = response.text.split('data-record-id="', 1)[1].split('"', 1)[0]
        form = {"decision": choice, "csrftoken": token, "reason": "wrong-topic"}
        await ds.client.post(f"/-/screen/record/{record_id}", content=urlencode(form),
                             cookies=cookies,
                             headers={"content-type": "application/x-www-form-urlencoded"})
        response = await ds.client.get("/-/screen", cookies=cookies)
        assert "data-record-id" in response.text, (response.status_code, response.text[:3000])
    queue = ds._evidence_relevance
    started = time.perf_counter()
    queue.wait(timeout=900)
    print(f"first model (features of every record + training): "
          f"{time.perf_counter() - started:.1f} s")
    return await ds.client.get("/-/screen", cookies=cookies)


def prefill(db_path: Path, decided: int, layout: str = "spread") -> None:
    """Decisions by two earlier reviewers: on every other record (``spread``, as a queue
    half-way through looks), or on the first records of the queue (``front``: the ones the
    bench reviewer would see first, so the queue must step past all of them). The queue
    query must stay fast as ``decisions`` grows. Inserted as raw rows: the triggers of
    migration m160 keep ``current_decisions`` in step, as for any writer."""
    if not decided:
        return
    ids = range(1, 2 * decided + 1, 2) if layout == "spread" else range(1, decided + 1)
    rows = [(record_id, ("earlier-a", "earlier-b")[record_id % 2],
             ("include", "exclude", "maybe")[record_id % 3], "2024-01-01T00:00:00+00:00")
            for record_id in ids]
    with sqlite3.connect(db_path) as conn:
        conn.executemany("INSERT INTO decisions (record_id, reviewer, stage, decision, origin,"
                         " created_at) VALUES (?, ?, 'screening', ?, 'bench', ?)", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="Records in the database.")
    parser.add_argument("--decisions", type=int, default=200, help="Decisions to time.")
    parser.add_argument("--decided", type=int, default=0,
                        help="Decisions already in the database before timing (by others).")
    parser.add_argument("--decided-at", default="spread", choices=["spread", "front"],
                        help="Where the earlier decisions sit: every other record, or the"
                             " front of the queue.")
    parser.add_argument("--order", default="newest",
                        choices=["newest", "oldest", "search", "random", "relevance"])
    parser.add_argument("--safe-check", action="store_true",
                        help="With --order relevance: rule safe, in SAFE's check phase from the"
                             " start (the queue ranked by the second model).")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="screen-bench-"))
    try:
        config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
        text = (ROOT / "evidence" / "templates" / "evidence.example.yml").read_text("utf-8")
        rule = "\n  stopping:\n    rule: safe" if args.safe_check else ""
        config_path.write_text(text.replace("order: newest", f"order: {args.order}{rule}"),
                               "utf-8")
        started = time.perf_counter()
        seed(db_path, config_path, args.records)
        prefill(db_path, args.decided, args.decided_at)
        if args.safe_check:
            with sqlite3.connect(db_path) as conn:
                conn.execute("INSERT INTO stopping_events (kind, decision_id, created_at, figures)"
                             " VALUES ('check_started', 0, datetime('now'), '{}')")
        auth.ITERATIONS = 1_000  # login is not what is measured here
        add_users(db_path, {"bench": "reviewer"})
        print(f"seeded {args.records:,} records in {time.perf_counter() - started:.1f} s")
        ds = make_datasette(db_path, config_path, secret="bench")
        timings = asyncio.run(run(ds, args.decisions, args.order))
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
        print(f"decision POST -> next record rendered, {args.decisions} decisions, "
              f"order {args.order}{' (SAFE check model)' if args.safe_check else ''},"
              f" {args.records:,} records, {args.decided:,} decided before"
              f" ({args.decided_at}):")
        if args.order == "relevance":
            print(f"  background trainings during the timed decisions: "
                  f"{ds._evidence_relevance.trainings - 1}")
        print(f"  median {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, "
              f"max {timings[-1]:.1f} ms")
        print(f"machine: {machine()}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
