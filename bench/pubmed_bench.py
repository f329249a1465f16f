"""Benchmark: `evidence harvest` of a PubMed year against a naive loop, under NCBI's policy.

Both sides get the same rules: an API key (10 requests per second) and a stand-in E-utilities
server (tests/standins/eutils.py, in its own process) answering at NCBI-like speed: every
answer takes ``--base`` seconds, plus ``--per-record`` seconds per record for EFetch
(default 0.150 s + 0.004 s per record). Records are real-shaped, with 30 cited references
each, as modern records have.

- harvest: ``harvest.runs.harvest`` (what `evidence harvest` calls) with one configured PubMed
  search over the year: ESearch on the history server, EFetch batches in flight, parse,
  store, and the deduplication of the new hits into records;
- naive: ESearch for the ids, then ``Bio.Entrez.efetch`` of 200 ids at a time,
  ``Entrez.read``, ``to_hit`` and ``save_hits`` (Bio.Entrez spaces its requests 0.1 s apart
  with an API key: the same 10 requests per second).

Usage::

    python bench/pubmed_bench.py [--records 5000] [--base 0.150] [--per-record 0.004]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from Bio import Entrez  # noqa: E402

from evidence.config import parse_config, service_settings  # noqa: E402
from evidence.db.migrations import open_db  # noqa: E402
from evidence.harvest import store  # noqa: E402
from evidence.harvest.pubmed.convert import to_hit  # noqa: E402
from evidence.harvest.runs import harvest  # noqa: E402
from tests.standins.eutils import EutilsState, serve  # noqa: E402

START, END = dt.date(2023, 10, 21), dt.date(2024, 10, 21)
NCBI = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
CONFIG = f"""
project: {{title: Bench}}
searches:
  - name: bench
    source: pubmed
    query: '"mental health"[tiab] AND systematic[sb]'
    window: {{from: {START}, to: {END}}}
"""


def _server(records: int, latency: tuple[float, float], queue: multiprocessing.Queue) -> None:
    state = EutilsState.generated(records, START, END)
    for pmid, _ in state.records:  # write every record's XML once, before timing starts
        state.xml(pmid)
    state.latency = latency
    with serve(state) as (url, _):
        queue.put(url)
        while True:
            time.sleep(3600)


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, nproc={os.cpu_count()}, "
            f"RAM={mem:.1f} GiB, Python {platform.python_version()}")


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the harvester's parsers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bench_harvest(url: str, records: int, tmp: Path) -> tuple[float, float]:
    config = parse_config(CONFIG, tmp / "evidence.yml")
    services = service_settings({"NCBI_EUTILS_URL": url, "NCBI_API_KEY": "bench",
                                 "NCBI_EMAIL": "bench@example.org"})
    db = open_db(tmp / "harvest.db")
    began, cpu = time.perf_counter(), _cpu()
    result = harvest(db, config, services)
    elapsed = time.perf_counter() - began
    (summary,) = result.runs
    assert summary.new == records, summary
    assert db.execute("SELECT count(*) FROM hits WHERE record_id IS NULL").fetchone()[0] == 0
    return records / elapsed, _cpu() - cpu


def bench_naive(url: str, records: int, tmp: Path) -> tuple[float, float]:
    original = Entrez._build_request

    def local(cgi, *args, **kwargs):
        return original(cgi.replace(NCBI, url), *args, **kwargs)

    Entrez._build_request = local
    Entrez.email, Entrez.api_key = "bench@example.org", "bench"
    db = open_db(tmp / "naive.db")
    run_id = store.start_run(db, store.ensure_search(db, "naive", "pubmed"))
    began, cpu = time.perf_counter(), _cpu()
    try:
        handle = Entrez.esearch(db="pubmed", term="bench", retmax=records, datetype="pdat",
                                mindate=START.strftime("%Y/%m/%d"),
                                maxdate=END.strftime("%Y/%m/%d"))
        pmids = list(Entrez.read(handle)["IdList"])
        handle.close()
        for i in range(0, len(pmids), 200):
            handle = Entrez.efetch(db="pubmed", id=",".join(pmids[i:i + 200]), retmode="xml")
            result = Entrez.read(handle)
            handle.close()
            articles = list(result["PubmedArticle"]) + list(result["PubmedBookArticle"])
            store.save_hits(db, run_id, [to_hit(a) for a in articles])
    finally:
        Entrez._build_request = original
    assert db["hits"].count == records
    return records / (time.perf_counter() - began), _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--base", type=float, default=0.150,
                        help="seconds every answer takes (default 0.150)")
    parser.add_argument("--per-record", type=float, default=0.004,
                        help="extra seconds per record of an EFetch answer (default 0.004)")
    args = parser.parse_args()
    queue: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=_server, daemon=True, args=(
        args.records, (args.base, args.per_record), queue))
    server.start()
    try:
        url = queue.get(timeout=600)
        with tempfile.TemporaryDirectory() as tmp:
            load = os.getloadavg()[0]
            harvest_rate, harvest_cpu = bench_harvest(url, args.records, Path(tmp))
            naive_rate, naive_cpu = bench_naive(url, args.records, Path(tmp))
    finally:
        server.terminate()
        server.join()
    print(f"machine: {machine()}, load average {load:.1f} at start")
    print(f"stand-in latency: {args.base * 1000:.0f} ms per answer + "
          f"{args.per_record * 1000:.0f} ms per EFetch record; 10 requests/s (API key)")
    print(f"evidence harvest (harvest + dedupe), {args.records} records: "
          f"{harvest_rate:,.0f} records/s ({harvest_cpu:.1f} CPU s)")
    print(f"naive loop (ESearch, EFetch 200 ids, Entrez.read, insert), {args.records} records: "
          f"{naive_rate:,.0f} records/s ({naive_cpu:.1f} CPU s)")
    print(f"harvest / naive: {harvest_rate / naive_rate:.1f}x")


if __name__ == "__main__":
    main()
