"""Benchmark: Crossref and OpenAlex harvests against a naive loop, and `evidence enrich`.

Both sides of each comparison follow the same politeness policy, the services' documented
polite pool (``mailto``): Crossref 10 requests/s and 3 at a time, OpenAlex 10 requests/s. The
stand-ins (tests/standins/crossref.py, tests/standins/openalex.py, each in its own process)
serve recorded works re-keyed across one year and take ``--latency`` seconds per answer.

- harvest: ``harvest.runs.harvest_search`` (what `evidence harvest` runs per search): the
  window in date slices, one cursor each, pages in flight while the page before is stored;
- naive: one request a page with ``cursor=*`` then the returned cursor, ``json()``,
  ``to_hit``, ``save_hits``; the same page size, the same ``mailto``.
- enrich: ``harvest.enrich.enrich`` (what `evidence enrich` runs) on ``--records`` records of
  a Google Scholar-like export (no abstracts; one in ten without a DOI) at ``--enrich-latency``
  seconds per request: DOIs in batches of 50, titles one by one, OpenAlex and Crossref at once.

Usage::

    python bench/scholarly_bench.py [--works 6000] [--page-size 100] [--latency 0.3]
                                    [--records 5000] [--enrich-latency 0.2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.pubmed_bench import machine  # noqa: E402
from evidence.config import DateWindow, Search, service_settings  # noqa: E402
from evidence.db.config_sync import ensure_search  # noqa: E402
from evidence.db.migrations import open_db  # noqa: E402
from evidence.dedupe.cluster import dedupe  # noqa: E402
from evidence.harvest import store  # noqa: E402
from evidence.harvest.crossref.convert import to_hit as crossref_hit  # noqa: E402
from evidence.harvest.enrich import enrich  # noqa: E402
from evidence.harvest.openalex.convert import to_hit as openalex_hit  # noqa: E402
from evidence.harvest.runs import harvest_search  # noqa: E402
from tests.standins import crossref as cr  # noqa: E402
from tests.standins import openalex as oa  # noqa: E402

START, END = dt.date(2023, 10, 21), dt.date(2024, 10, 21)
MAILTO = "bench@example.org"


def _server(kind: str, works: int, latency: float, queue: multiprocessing.Queue) -> None:
    state = (cr.CrossrefState if kind == "crossref" else oa.OpenAlexState).generated(
        works, START, END)
    state.latency = latency
    # encode every work once before timing starts (as the pubmed bench writes its XML), so
    # neither side pays the stand-in's first encoding
    from evidence.harvest.openalex.client import FIELDS

    select = ",".join(FIELDS) if kind == "openalex" else ""
    for work in state.works:
        state.encoded(work, select)
    with cr.serve(state) as (url, _):
        queue.put(url)
        while True:
            time.sleep(3600)


def start_server(kind: str, works: int, latency: float) -> tuple[str, multiprocessing.Process]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_server, args=(kind, works, latency, queue),
                                      daemon=True)
    process.start()
    return queue.get(timeout=600), process


def services(kind: str, url: str):
    key = "CROSSREF_API_URL" if kind == "crossref" else "OPENALEX_API_URL"
    return service_settings({key: url, "EVIDENCE_MAILTO": MAILTO})


def bench_harvest(kind: str, url: str, works: int, page_size: int, tmp: Path) -> float:
    db = open_db(tmp / f"{kind}-harvest.db")
    search = Search(name="bench", source=kind, query="psykisk helse kommune",
                    window=DateWindow(start=START, end=END),
                    settings={"filter": {}, "page_size": page_size})
    began = time.perf_counter()
    summary = harvest_search(db, search, None, services(kind, url))
    elapsed = time.perf_counter() - began
    assert summary.new == works, summary
    return works / elapsed


def bench_naive(kind: str, url: str, works: int, page_size: int, tmp: Path) -> float:
    db = open_db(tmp / f"{kind}-naive.db")
    run_id = store.start_run(db, ensure_search(db, "naive", kind))
    session = requests.Session()
    cursor, dates = "*", f"{START},{END}"
    began = time.perf_counter()
    while True:
        if kind == "crossref":
            params = {"query.bibliographic": "psykisk helse kommune", "rows": page_size,
                      "filter": "from-pub-date:{},until-pub-date:{}".format(*dates.split(",")),
                      "cursor": cursor, "mailto": MAILTO}
            message = session.get(f"{url}/works", params=params).json()["message"]
            items, cursor = message["items"], message.get("next-cursor")
            to_hit = crossref_hit
        else:
            params = {"search": "psykisk helse kommune", "per-page": page_size,
                      "filter": "from_publication_date:{},to_publication_date:{}".format(
                          *dates.split(",")), "cursor": cursor, "mailto": MAILTO}
            body = session.get(f"{url}/works", params=params).json()
            items, cursor = body["results"], body["meta"]["next_cursor"]
            to_hit = openalex_hit
        if not items:
            break
        store.save_hits(db, run_id, [to_hit(i) for i in items])
        if not cursor:
            break  # one request at a time at this latency stays under 10 a second
    elapsed = time.perf_counter() - began
    assert db["hits"].count == works, db["hits"].count
    return works / elapsed


def bench_enrich(records: int, latency: float, tmp: Path) -> tuple[float, str]:
    """Records whose works both services know (recorded works, re-keyed)."""
    oa_url, oa_proc = start_server("openalex", records, latency)
    cr_url, cr_proc = start_server("crossref", records, latency)
    try:
        db = open_db(tmp / "enrich.db")
        run_id = store.start_run(db, ensure_search(db, "google-scholar"))
        works = oa.OpenAlexState.generated(records, START, END).works
        hits = []
        for n, work in enumerate(works):
            hit = openalex_hit(work)
            hits.append({"external_id": f"gs{n}", "title": hit["title"],
                         "authors": hit["authors"], "year": hit["year"],
                         "doi": None if n % 10 == 9 else hit["doi"]})
        store.save_hits(db, run_id, hits)
        dedupe(db)
        env = service_settings({"OPENALEX_API_URL": oa_url, "CROSSREF_API_URL": cr_url,
                                "EVIDENCE_MAILTO": MAILTO})
        began = time.perf_counter()
        result = enrich(db, None, env)
        elapsed = time.perf_counter() - began
    finally:
        for process in (oa_proc, cr_proc):
            process.terminate()
            process.join()
    return result.looked_up / elapsed, result.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=6_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--enrich-latency", type=float, default=0.2)
    parser.add_argument("--only", choices=["crossref", "openalex", "enrich"])
    args = parser.parse_args()
    load = os.getloadavg()[0]
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("crossref", "openalex"):
            if args.only and args.only != kind:
                continue
            url, process = start_server(kind, args.works, args.latency)
            try:
                ours = bench_harvest(kind, url, args.works, args.page_size, Path(tmp))
                naive = bench_naive(kind, url, args.works, args.page_size, Path(tmp))
            finally:
                process.terminate()
                process.join()
            lines.append(f"{kind}: evidence harvest {ours:,.0f} works/s, naive loop "
                         f"{naive:,.0f} works/s: {ours / naive:.1f}x ({args.works} works, "
                         f"{args.page_size} a page, {args.latency * 1000:.0f} ms a page)")
        if not args.only or args.only == "enrich":
            rate, summary = bench_enrich(args.records, args.enrich_latency, Path(tmp))
            lines.append(f"evidence enrich: {rate:,.0f} records/s ({args.records} records, "
                         f"{args.enrich_latency * 1000:.0f} ms a request): {summary}")
    print(f"machine: {machine()}, load average {load:.1f} at start")
    print("policy: polite pool (mailto); Crossref 10 requests/s, 3 at a time; "
          "OpenAlex 10 requests/s")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
