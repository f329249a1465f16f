"""Benchmark: harvest N records from the E-utilities stand-in, against a naive Bio.Entrez loop.

The stand-in runs in a separate process (so its XML writing does not share our GIL).
Three figures, records per second:

- harvest: ``harvest.pubmed.harvest_search`` end to end (ESearch, window split, EFetch of
  500-record batches from the history server with one batch downloading while the previous is
  stored), rate limit off as for a local server;
- parse+store: the same EFetch answers already downloaded, through ``parse_articles``,
  ``to_hit`` and ``store.save_hits`` only, in one process, then as the harvester does it
  (parser processes, storing in the main thread);
- naive: ``Bio.Entrez.efetch`` of 100 PMIDs at a time, ``Entrez.read``, ``to_hit``,
  ``save_hits`` (Bio.Entrez's own spacing of requests, 0.1 s with an API key, included:
  that is what such a loop gets).

Usage::

    python bench/pubmed_bench.py --records 20000 [--naive-records 3000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from Bio import Entrez  # noqa: E402

from evidence.config import DateWindow, Search, service_settings  # noqa: E402
from evidence.db.migrations import open_db  # noqa: E402
from evidence.harvest import store  # noqa: E402
from evidence.harvest.pubmed import client as pubmed  # noqa: E402
from evidence.harvest.pubmed import pipeline  # noqa: E402
from evidence.harvest.pubmed.convert import to_hit  # noqa: E402
from evidence.harvest.runs import harvest_search  # noqa: E402
from tests.standins.eutils import FIRST_PMID, EutilsState, serve  # noqa: E402

START, END = dt.date(2023, 1, 1), dt.date(2024, 12, 31)
NCBI = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"


def _server(records: int, queue: multiprocessing.Queue) -> None:
    state = EutilsState.generated(records, START, END)
    for pmid, _ in state.records:  # write every record's XML once, before timing starts
        state.xml(pmid)
    with serve(state) as (url, _):
        queue.put(url)
        while True:
            time.sleep(3600)


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, nproc={os.cpu_count()}, "
            f"RAM={mem:.1f} GiB, Python {platform.python_version()}")


def bench_harvest(url: str, records: int, tmp: Path) -> float:
    db = open_db(tmp / "harvest.db")
    search = Search(name="bench", source="pubmed", query="bench",
                    window=DateWindow(start=START, end=END))
    client = pubmed.EUtils(url, per_second=0)
    began, cpu = time.perf_counter(), _cpu()
    summary = harvest_search(db, search, None, service_settings({}), client=client)
    elapsed = time.perf_counter() - began
    assert summary.new == records, summary
    return records / elapsed, records / (_cpu() - cpu)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the harvester's parsers).

    On a shared machine, wall-clock rates depend on the neighbours; CPU seconds much less.
    """
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _bodies(url: str, limit: int) -> list[bytes]:
    """EFetch answers (500 records each) downloaded in advance, so only parse+store is timed."""
    client = pubmed.EUtils(url, per_second=0)
    history = client.esearch("bench", "pdat", START, END)
    return [client.call("efetch.fcgi", {
        "query_key": history.query_key, "WebEnv": history.webenv, "retmode": "xml",
        "retstart": retstart, "retmax": 500}, lambda body: body)
        for retstart in range(0, min(history.count, limit, pipeline.MAX_RESULTS), 500)]


def bench_parse_store(url: str, tmp: Path, limit: int) -> tuple[float, float, int]:
    bodies = _bodies(url, limit)
    db = open_db(tmp / "parse.db")
    run_id = store.start_run(db, store.ensure_search(db, "parse-bench", "pubmed"))
    began, cpu = time.perf_counter(), time.process_time()
    count = 0
    for body in bodies:
        hits = [to_hit(a) for a in pubmed.parse_articles(body)]
        store.save_hits(db, run_id, hits)
        count += len(hits)
    return (count / (time.perf_counter() - began), count / (time.process_time() - cpu), count)


def bench_parse_store_parallel(url: str, tmp: Path, limit: int) -> tuple[float, int]:
    """Parse+store as the harvester does it: parser processes, storing in the main thread."""
    bodies = _bodies(url, limit)
    db = open_db(tmp / "parallel.db")
    run_id = store.start_run(db, store.ensure_search(db, "parallel-bench", "pubmed"))
    workers = min(2, os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pool.submit(os.getpid).result()  # processes started before the clock
        began, count = time.perf_counter(), 0
        for hits in pool.map(pipeline._hits_from_xml, bodies):
            store.save_hits(db, run_id, hits)
            count += len(hits)
    return count / (time.perf_counter() - began), count


def bench_naive(url: str, records: int, tmp: Path) -> float:
    original = Entrez._build_request

    def local(cgi, *args, **kwargs):
        return original(cgi.replace(NCBI, url), *args, **kwargs)

    Entrez._build_request = local
    Entrez.email, Entrez.api_key = "bench@example.org", "bench"
    db = open_db(tmp / "naive.db")
    run_id = store.start_run(db, store.ensure_search(db, "naive", "pubmed"))
    pmids = [str(FIRST_PMID + i) for i in range(records)]
    began, cpu = time.perf_counter(), _cpu()
    try:
        for i in range(0, records, 100):
            handle = Entrez.efetch(db="pubmed", id=",".join(pmids[i:i + 100]), retmode="xml")
            result = Entrez.read(handle)
            handle.close()
            articles = list(result["PubmedArticle"]) + list(result["PubmedBookArticle"])
            store.save_hits(db, run_id, [to_hit(a) for a in articles])
    finally:
        Entrez._build_request = original
    return records / (time.perf_counter() - began), records / (_cpu() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--naive-records", type=int, default=3_000,
                        help="records for the (slow) naive loop; its rate is what is compared")
    args = parser.parse_args()
    queue: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=_server, args=(args.records, queue), daemon=True)
    server.start()
    try:
        url = queue.get(timeout=600)
        with tempfile.TemporaryDirectory() as tmp:
            harvest, harvest_cpu = bench_harvest(url, args.records, Path(tmp))
            parse_store, parse_cpu, parsed = bench_parse_store(url, Path(tmp), args.records)
            parallel, parallel_n = bench_parse_store_parallel(url, Path(tmp), args.records)
            naive_n = min(args.naive_records, args.records)
            naive, naive_cpu = bench_naive(url, naive_n, Path(tmp))
    finally:
        server.terminate()
        server.join()
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f}")
    print(f"harvest_search, {args.records} records: {harvest:,.0f} records/s"
          f" ({harvest_cpu:,.0f} per CPU second, parser processes included)")
    print(f"parse+store only, one process, {parsed} records: {parse_store:,.0f} records/s"
          f" ({parse_cpu:,.0f} per CPU second)")
    print(f"parse+store as the harvester does it (parser processes + storing thread),"
          f" {parallel_n} records: {parallel:,.0f} records/s")
    print(f"naive Bio.Entrez.efetch loop (100 ids/request), {naive_n} records: "
          f"{naive:,.0f} records/s ({naive_cpu:,.0f} per CPU second)")
    print(f"harvest / naive: {harvest / naive:.1f}x wall clock,"
          f" {harvest_cpu / naive_cpu:.1f}x per CPU second")


if __name__ == "__main__":
    main()
