"""Deduplication bench: accuracy on the labelled set, then time and peak memory on synthetic hits.

    python3 bench/dedupe_bench.py                      # 10k, 100k, incremental 1k into 100k
    python3 bench/dedupe_bench.py --sizes 10000 --incremental 0
    python3 bench/dedupe_bench.py --sizes 1000000 --incremental 0

Each size runs in a child process so its peak resident memory (getrusage maxrss) is its own.
Synthetic hits: 70 % distinct works, 30 % copies of them with typos, case changes, missing
DOIs, abbreviated journals, ``123-9`` pages, other author formats and trailing periods.
Targets (issue 5): 100k under 60 s; 1M under 15 min and 8 GiB; 1,000 new into 100k under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence.config import DedupeSettings  # noqa: E402
from evidence.db.migrations import open_db  # noqa: E402
from evidence.db.values import now  # noqa: E402
from evidence.dedupe.cluster import dedupe  # noqa: E402
from evidence.dedupe.evaluate import load_labelled, measure  # noqa: E402
from evidence.harvest import store  # noqa: E402

LABELLED = ROOT / "tests" / "fixtures" / "dedup" / "labelled_dev.csv"
SYLLABLES = ("ka", "ri", "so", "len", "mar", "to", "vik", "an", "sen", "ber", "ga", "lo",
             "nis", "tru", "hel", "dal", "jo", "ste", "fi", "rud", "ne", "bo", "ham", "kel")
JOURNALS = [("Journal of Clinical Psychology", "J Clin Psychol"),
            ("Scandinavian Journal of Public Health", "Scand J Public Health"),
            ("British Journal of Psychiatry", "Br J Psychiatry"),
            ("Community Mental Health Journal", "Community Ment Health J"),
            ("International Journal of Nursing Studies", "Int J Nurs Stud"),
            ("Addiction", "Addiction"), ("BMC Health Services Research", "BMC Health Serv Res"),
            ("Journal of Substance Abuse Treatment", "J Subst Abuse Treat")]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


class Generator:
    """Synthetic works, each rebuilt from its own seed so a copy never needs the original kept
    in memory (a million hits stream through in batches)."""

    def __init__(self, seed: int = 5, prefix: str = "w") -> None:
        rng = random.Random(seed)
        self.seed, self.prefix = seed, prefix
        self.vocabulary = [_word(rng) for _ in range(20_000)]
        self.surnames = [_word(rng).capitalize() for _ in range(30_000)]

    def work(self, i: int) -> dict:
        rng = random.Random(self.seed * 1_000_003 + i)
        words, journal, start = self.vocabulary, rng.choice(JOURNALS), rng.randint(1, 900)
        return {
            "external_id": f"{self.prefix}{i}",
            "title": " ".join(rng.choice(words) for _ in range(rng.randint(7, 15))).capitalize(),
            "authors": [f"{rng.choice(self.surnames)}, {rng.choice('ABCDEFGHIJKLMNOPRST')}."
                        for _ in range(rng.randint(1, 6))],
            "year": rng.randint(2000, 2025), "journal": journal[0], "journal_abbrev": journal[1],
            "volume": str(rng.randint(1, 80)), "pages": f"{start}-{start + rng.randint(5, 30)}",
            "doi": f"10.{rng.randint(5000, 9999)}/{self.prefix}{i}.{rng.randint(1, 99999)}"
            if rng.random() < 0.8 else None,
            "abstract": "Background. " + " ".join(rng.choice(words) for _ in range(40)),
        }


def synthetic_hits(n: int, seed: int = 5, duplicate_share: float = 0.3,
                   prefix: str = "w") -> Iterator[dict]:
    """``n`` hit dicts: distinct works, then varied copies of random ones among them."""
    generator = Generator(seed, prefix)
    works = int(n * (1 - duplicate_share))
    for i in range(works):
        yield generator.work(i)
    rng = random.Random(seed + 1)
    for k in range(n - works):
        work = generator.work(rng.randrange(works))
        yield _variant(rng, work, f"{work['external_id']}~{k}")


def _variant(rng: random.Random, work: dict, external_id: str) -> dict:
    hit = {**work, "external_id": external_id}
    title = hit["title"]
    for _ in range(rng.choice((0, 0, 1, 1, 2))):  # typos
        p = rng.randrange(len(title))
        title = title[:p] + rng.choice("aeiouxz") + title[p + 1:]
    case = rng.random()
    hit["title"] = title.upper() if case < 0.1 else title.lower() if case < 0.3 else title
    if rng.random() < 0.3:
        hit["title"] += "."
    if rng.random() < 0.5:
        hit["doi"] = None
    if rng.random() < 0.5:
        hit["journal"] = work["journal_abbrev"]
    if rng.random() < 0.5:
        hit["pages"] = medline_pages(work["pages"])
    if rng.random() < 0.5:
        hit["authors"] = "; ".join(a.replace(",", "") for a in work["authors"])
    if rng.random() < 0.3:
        hit["abstract"] = None
    return hit


def medline_pages(pages: str) -> str:
    """MEDLINE's short page range: the end page without the digits it shares with the start
    (``221-228`` -> ``221-8``, ``1234-1256`` -> ``1234-56``, ``53-62`` -> ``53-62``)."""
    start, end = pages.split("-")
    if start == end:
        return start
    if len(start) != len(end):
        return pages
    shared = 0
    while shared < len(end) - 1 and start[shared] == end[shared]:
        shared += 1
    return f"{start}-{end[shared:]}"


def store_hits(db, hits: Iterable[dict], search: str) -> None:
    """Bulk insert in batches (the bench measures dedupe, not the savers)."""
    run_id = store.start_run(db, store.ensure_search(db, search))
    run = db["runs"].get(run_id)
    extra = {"run_id": run_id, "search_id": run["search_id"], "source": run["source"],
             "created_at": now(), "deleted": 0}
    columns = [*store.HIT_FIELDS, *extra]
    sql = (f"INSERT INTO hits ({', '.join(columns)})"
           f" VALUES ({', '.join('?' * len(columns))})")
    batch = []
    with db.atomic():
        for hit in hits:
            row = {**store.normalise_hit(hit), **extra}
            batch.append([row.get(c) for c in columns])
            if len(batch) == 5000:
                db.conn.executemany(sql, batch)
                batch = []
        db.conn.executemany(sql, batch)
    store.finish_run(db, run_id)


def synthetic_errors(db) -> dict:
    """Copies left in a record of their own, and records holding more than one work."""
    works_of: dict[int, set[str]] = {}
    records_of: dict[str, set[int]] = {}
    for external_id, record_id in db.execute("SELECT external_id, record_id FROM hits"):
        work = external_id.split("~")[0]
        works_of.setdefault(record_id, set()).add(work)
        records_of.setdefault(work, set()).add(record_id)
    return {"missed": sum(len(r) - 1 for r in records_of.values()),
            "false_merges": sum(len(w) - 1 for w in works_of.values())}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_size(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        started = time.perf_counter()
        store_hits(db, synthetic_hits(n), "synthetic")
        loaded = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        result = dedupe(db, DedupeSettings())
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = round(peak_mib())
        records = db["records"].count
        return {"size": n, "load_s": round(loaded, 1), "dedupe_s": round(seconds, 1),
                "cpu_s": round(cpu, 1), "records": records, "expected_records": int(n * 0.7),
                **synthetic_errors(db),
                "uncertain": result.uncertain, "peak_mib": peak}


def run_incremental(base: int, new: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        store_hits(db, synthetic_hits(base, duplicate_share=0.0), "base")
        dedupe(db, DedupeSettings())
        rng = random.Random(9)
        generator = Generator()
        fresh = list(synthetic_hits(int(new * 0.7), seed=11, duplicate_share=0.0, prefix="n"))
        copies = [_variant(rng, generator.work(rng.randrange(base)), f"c{k}")
                  for k in range(new - len(fresh))]
        store_hits(db, fresh + copies, "new")
        started, cpu = time.perf_counter(), time.process_time()
        result = dedupe(db, DedupeSettings())
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        return {"cpu_s": round(cpu, 2), "new_hits": new,
                "base_records": db["records"].count - result.new_records,
                "dedupe_s": round(seconds, 2), "joined_existing": result.merged,
                "expected_joined": len(copies), "peak_mib": round(peak_mib())}


def accuracy() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "labelled.db")
        labels = load_labelled(db, LABELLED)
        started = time.perf_counter()
        dedupe(db, DedupeSettings())
        seconds = time.perf_counter() - started
        a = measure(db, labels)
        return {"records": len(labels), "sensitivity": round(a.sensitivity, 4),
                "specificity": round(a.specificity, 4), "missed": a.missed,
                "false_merges": a.false_merges, "seconds": round(seconds, 2)}


def child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return (f"{platform.processor() or platform.machine()}, nproc {os.cpu_count()}, "
            f"RAM {mem_kib / 1024 / 1024:.1f} GiB, Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="comma-separated hit counts (default 10000,100000)")
    parser.add_argument("--incremental", type=int, default=100_000,
                        help="records in the database before adding 1,000 hits (0: skip)")
    parser.add_argument("--new", type=int, default=1000, help="new hits for the incremental run")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-incremental", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_size(args.one)))
        return
    if args.one_incremental:
        print(json.dumps(run_incremental(args.one_incremental, args.new)))
        return
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f} at start")
    a = accuracy()
    print(f"labelled set ({a['records']} hits): sensitivity {a['sensitivity']}, specificity "
          f"{a['specificity']} ({a['missed']} missed, {a['false_merges']} false merges, "
          f"{a['seconds']} s)")
    for size in (int(s) for s in args.sizes.split(",") if s):
        r = child(["--one", str(size)])
        print(f"{size:>9,} hits: dedupe {r['dedupe_s']} s (CPU {r['cpu_s']} s; load "
              f"{r['load_s']} s), "
              f"{r['records']:,} records (expected {r['expected_records']:,}; "
              f"{r['missed']} missed, "
              f"{r['false_merges']} false merges), "
              f"{r['uncertain']} uncertain, peak RSS {r['peak_mib']} MiB")
    if args.incremental:
        r = child(["--one-incremental", str(args.incremental), "--new", str(args.new)])
        print(f"incremental: {r['new_hits']:,} new hits into {r['base_records']:,} records: "
              f"{r['dedupe_s']} s (CPU {r['cpu_s']} s), {r['joined_existing']} joined existing "
              f"records (expected "
              f"{r['expected_joined']}), peak RSS {r['peak_mib']} MiB")


if __name__ == "__main__":
    main()
