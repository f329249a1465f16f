"""A backup of a large working database while screening goes on: how long it takes, and what
it costs the reviewers (decision POST to next record, median and p95, before and during).

The database: ``--records`` records (as bench/screen_bench.py seeds them) whose hits carry
raw payloads of ``--raw-kb`` kB each (what a harvest stores: an EFetch record's XML is a few
kB), so 100,000 records of 9 kB make about 1 GB. ``evidence backup`` runs in its own process,
as the nightly timer would, while one reviewer keeps deciding in the app (in this process,
through Datasette's ASGI client). Target: median decision under 50 ms during the backup.

Example:

    python3 bench/backup_bench.py --records 100000 --raw-kb 9
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.screen_bench import machine  # noqa: E402
from evidence.screening import auth, sessions  # noqa: E402
from evidence.screening.app import make_datasette  # noqa: E402
from tests.screening_data import add_users, seed  # noqa: E402


def pad(db_path: Path, raw_kb: int) -> None:
    """Give every hit a raw payload of ``raw_kb`` kB (hex text, so it does not compress)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE hits SET raw = hex(randomblob(?))", [raw_kb * 512])
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def decide(ds, cookies: dict, token: str, response, timings: list[float]):
    record_id = response.text.split('data-record-id="', 1)[1].split('"', 1)[0]
    form = {"decision": "exclude", "csrftoken": token, "reason": "wrong-topic"}
    start = time.perf_counter()
    posted = await ds.client.post(f"/-/screen/record/{record_id}", content=urlencode(form),
                                  cookies=cookies,
                                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert posted.status_code == 302, posted.text[:300]
    response = await ds.client.get(posted.headers["location"], cookies=cookies)
    timings.append((time.perf_counter() - start) * 1000)
    return response


async def run(ds, db_path: Path, out: Path, before: int, fast: bool = False) -> dict:
    page = await ds.client.get("/-/login")
    token = page.cookies["ds_csrftoken"]
    cookies = {"ds_actor": sessions.cookie_value(ds, {"id": "bench", "role": "reviewer"}, 0),
               "ds_csrftoken": token}
    response = await ds.client.get("/-/screen", cookies=cookies)
    quiet: list[float] = []
    for _ in range(before):
        response = await decide(ds, cookies, token, response, quiet)
    during: list[float] = []
    started = time.perf_counter()
    backup = subprocess.Popen(
        [sys.executable, "-m", "evidence", "backup", "--db", str(db_path), "--out", str(out),
         *(["--fast"] if fast else [])],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while backup.poll() is None:
        response = await decide(ds, cookies, token, response, during)
    seconds = time.perf_counter() - started
    output = backup.stdout.read()
    assert backup.returncode == 0, output
    return {"quiet": quiet, "during": during, "seconds": seconds, "output": output.strip()}


def figures(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, "
            f"max {ordered[-1]:.1f} ms ({len(ordered)} decisions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--raw-kb", type=int, default=9, help="Raw payload per hit, kB.")
    parser.add_argument("--before", type=int, default=100,
                        help="Decisions timed before the backup starts.")
    parser.add_argument("--fast", action="store_true",
                        help="`evidence backup --fast`: no rests, normal priority.")
    parser.add_argument("--dir", help="Work folder (kept, and its database reused); default: "
                        "a temporary one, removed afterwards.")
    args = parser.parse_args()
    directory = Path(args.dir or tempfile.mkdtemp(prefix="backup-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
        shutil.copy(ROOT / "evidence" / "templates" / "evidence.example.yml", config_path)
        if not db_path.exists():
            started = time.perf_counter()
            seed(db_path, config_path, args.records)
            pad(db_path, args.raw_kb)
            auth.ITERATIONS = 1_000
            add_users(db_path, {"bench": "reviewer"})
            print(f"built the database in {time.perf_counter() - started:.0f} s")
        size = os.path.getsize(db_path)
        print(f"working database: {size / 1e9:.2f} GB, {args.records:,} records")
        ds = make_datasette(db_path, config_path, secret="bench")
        out = directory / "backup.db"
        out.unlink(missing_ok=True)
        result = asyncio.run(run(ds, db_path, out, args.before, args.fast))
        rate = size / 1e6 / result["seconds"]
        print(f"backup{' --fast' if args.fast else ''}: {result['seconds']:.1f} s "
              f"({rate:.0f} MB/s), {out.stat().st_size / 1e9:.2f} GB")
        print("  " + result["output"].replace("\n", "\n  "))
        print(f"decision POST -> next record, before the backup: {figures(result['quiet'])}")
        print(f"decision POST -> next record, during the backup: {figures(result['during'])}")
        print(f"machine: {machine()}, load {os.getloadavg()[0]:.1f}")
    finally:
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
