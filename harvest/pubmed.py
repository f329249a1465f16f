"""Harvest a PubMed search through NCBI's E-utilities (ESearch + EFetch on the history server).

One run covers a date window. ESearch answers at most 9,999 records per query, so a window
that reports more is halved by days until every slice fits (a single day that still does not
fit is fetched up to the cap and the run's message says so). The slice plan and the position
inside it (``runs.checkpoint``) are written in the same transaction as each EFetch batch's hits,
so a run killed at any point is resumed by the next ``evidence harvest`` without duplicates.

HTTP goes through one :class:`EUtils` client: one ``requests.Session``, timeouts, NCBI's
``tool``/``email``/``api_key`` parameters, a process-wide rate limit (3 requests/s, 10 with an
API key) and retries with exponential backoff and jitter on 429, 5xx, connection errors,
timeouts and truncated XML, honouring ``Retry-After``. Responses are parsed with
``Bio.Entrez.read`` on the bytes; Biopython's own network calls are never used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from xml.parsers.expat import ExpatError

import requests
import sqlite_utils
from Bio import Entrez
from Bio.Entrez.Parser import CorruptedXMLError, NotXMLError, ValidationError
from tqdm import tqdm

from evidence.config import Config, Search, ServiceSettings
from evidence.errors import EvidenceError
from evidence.harvest import store

#: ESearch/EFetch cannot page past this many records of one query (retstart <= 9,998).
MAX_RESULTS = 9_999
BATCH_SIZE = 500
EARLIEST = dt.date(1800, 1, 1)
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_ERROR = re.compile(rb"<ERROR>(.*?)</ERROR>", re.S)
_EXPIRED = re.compile(r"unable to obtain query|cannot retrieve history|webenv|query_key",
                      re.I)
#: Inline markup PubMed keeps in titles and abstracts (<i>, <sub>, MathML); not "p <0.01".
_TAGS = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s+[\w:.-]+\s*=\s*\"[^\"]*\")*\s*/?>")
_PARSE_ERRORS = (CorruptedXMLError, NotXMLError, ValidationError, ExpatError)
#: Parts of a record no hit field uses: cited references, comment links, affiliations, dates of
#: processing, grants, chemicals, investigators, other-language abstracts, ORCIDs, journal
#: catalogue data. None of them nests in itself, so a lazy match is exact; they are most of a
#: modern record's bytes, and Bio.Entrez's parser costs time per element.
_UNUSED = re.compile(
    rb"<(Reference|CommentsCorrections|AffiliationInfo|History|GrantList|ChemicalList"
    rb"|DateCompleted|DateRevised|ArticleDate|MedlineJournalInfo|CitationSubset"
    rb"|CopyrightInformation|InvestigatorList|OtherAbstract|Identifier)\b[^>]*>.*?</\1>\s*",
    re.S)


class PubMedError(EvidenceError):
    """PubMed refused or failed a request; the message carries NCBI's own words."""


class HistoryExpired(PubMedError):
    """The history server forgot a WebEnv (they live for hours); re-run the ESearch."""


class _Transient(Exception):
    """A failure worth retrying: 429, 5xx, a dropped connection, a timeout, truncated XML."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimiter:
    """Spaces requests process-wide, so parallel searches together stay under NCBI's limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, per_second: float, sleep: Callable[[float], None] = time.sleep) -> None:
        if per_second <= 0:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + 1 / per_second
        if at > now:
            sleep(at - now)


RATE_LIMITER = RateLimiter()


@dataclass
class History:
    """One ESearch on the history server: how many records, and where to fetch them."""

    count: int
    webenv: str
    query_key: str


@dataclass
class EUtils:
    """A small E-utilities client; ``sleep`` and ``per_second`` are there for tests."""

    base_url: str
    api_key: str | None = None
    email: str | None = None
    tool: str = "evidence-tracker"
    timeout: tuple[float, float] = (10.0, 120.0)
    retries: int = 6
    backoff: float = 1.0
    per_second: float | None = None
    sleep: Callable[[float], None] = time.sleep
    limiter: RateLimiter = RATE_LIMITER
    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def from_services(cls, services: ServiceSettings, **kwargs: Any) -> EUtils:
        return cls(base_url=services.eutils_url, api_key=services.ncbi_api_key,
                   email=services.ncbi_email, tool=services.ncbi_tool, **kwargs)

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        base = {"db": "pubmed", "tool": self.tool, "email": self.email, "api_key": self.api_key}
        return {k: v for k, v in {**base, **params}.items() if v is not None}

    def call(self, endpoint: str, params: dict[str, Any], parse: Callable[[bytes], Any], *,
             post: bool = False) -> Any:
        """GET (or POST) ``endpoint`` and ``parse`` the body, retrying transient failures."""
        url = f"{self.base_url.rstrip('/')}/{endpoint}"
        per_second = self.per_second if self.per_second is not None else (
            10 if self.api_key else 3)
        for attempt in range(self.retries + 1):
            self.limiter.wait(per_second, self.sleep)
            try:
                return parse(self._get(url, self._params(params), post))
            except _Transient as e:
                if attempt == self.retries:
                    raise PubMedError(f"{endpoint}: gave up after {attempt + 1} attempts: {e}"
                                      " (PubMed may be down; run `evidence harvest` again later,"
                                      " it resumes)") from e
                delay = e.retry_after
                if delay is None:
                    delay = self.backoff * 2 ** attempt + random.uniform(0, self.backoff)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _get(self, url: str, params: dict[str, Any], post: bool) -> bytes:
        try:
            if post:
                response = self.session.post(url, data=params, timeout=self.timeout)
            else:
                response = self.session.get(url, params=params, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as e:
            raise _Transient(f"{type(e).__name__}: {e}") from e
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code >= 400:
            raise PubMedError(f"{url}: HTTP {response.status_code}: {response.text[:300]}"
                              " (check the query and NCBI_API_KEY)")
        return response.content

    def esearch(self, query: str, date_field: str, start: dt.date, end: dt.date) -> History:
        params = {"term": query, "usehistory": "y", "retmax": 0, "datetype": date_field,
                  "mindate": start.strftime("%Y/%m/%d"), "maxdate": end.strftime("%Y/%m/%d")}
        return self.call("esearch.fcgi", params, _parse_esearch, post=len(query) > 1500)

    def efetch_xml(self, history: History, retstart: int, retmax: int) -> bytes:
        """One EFetch page from the history server, checked for errors and truncation."""
        params = {"query_key": history.query_key, "WebEnv": history.webenv, "retmode": "xml",
                  "retstart": retstart, "retmax": retmax}
        return self.call("efetch.fcgi", params, _check_fetched)

    def efetch(self, history: History, retstart: int, retmax: int) -> list[dict[str, Any]]:
        return parse_articles(self.efetch_xml(history, retstart, retmax))

    def efetch_ids(self, pmids: list[str]) -> list[dict[str, Any]]:
        """Fetch records by PMID (POST, so long id lists fit)."""
        return self.call("efetch.fcgi", {"id": ",".join(pmids), "retmode": "xml"},
                         parse_articles, post=True)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _check_error(body: bytes) -> None:
    """Turn NCBI's ``<ERROR>`` inside a 200 answer into an exception."""
    match = _ERROR.search(body[:4000])
    if match:
        message = match.group(1).decode("utf-8", "replace").strip()
        if _EXPIRED.search(message):
            raise HistoryExpired(message)
        raise PubMedError(message)


def _read(body: bytes) -> Any:
    try:
        return Entrez.read(io.BytesIO(body))
    except _PARSE_ERRORS as e:
        raise _Transient(f"broken or truncated XML ({e})") from e


def _parse_esearch(body: bytes) -> History:
    _check_error(body)
    result = _read(body)
    errors = {k: [str(x) for x in v] for k, v in result.get("ErrorList", {}).items()
              if v and k != "PhraseNotFound"}
    if errors:
        raise PubMedError("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
    return History(int(result["Count"]), str(result.get("WebEnv", "")),
                   str(result.get("QueryKey", "")))


def parse_articles(body: bytes) -> list[dict[str, Any]]:
    """The PubmedArticle and PubmedBookArticle elements of an EFetch XML answer."""
    _check_error(body)
    if not body.strip():
        raise _Transient("empty answer")
    result = _read(_UNUSED.sub(b"", body))
    return list(result.get("PubmedArticle", [])) + list(result.get("PubmedBookArticle", []))


# --- record conversion ------------------------------------------------------------------------

def _text(value: Any) -> str | None:
    if value is None:
        return None
    # MathML and line breaks leave runs of layout whitespace behind the removed tags.
    text = " ".join(_TAGS.sub("", str(value)).split())
    return text or None


def _date(parts: Any) -> str | None:
    """``YYYY-MM-DD`` (or shorter) from a PubDate, or the MedlineDate text as it stands."""
    if not parts:
        return None
    if parts.get("MedlineDate"):
        return str(parts["MedlineDate"])
    year = str(parts.get("Year", "")).strip()
    if not year:
        return None
    month = str(parts.get("Month", "")).strip()
    if not month:
        return year
    month_no = int(month) if month.isdigit() else MONTHS.get(month[:3].lower())
    if not month_no:
        return year
    day = str(parts.get("Day", "")).strip()
    return f"{year}-{month_no:02d}" + (f"-{int(day):02d}" if day.isdigit() else "")


def _authors(author_list: Any) -> list[str]:
    authors = []
    for author in author_list or []:
        if author.get("CollectiveName"):
            authors.append(_text(author["CollectiveName"]))
        elif author.get("LastName"):
            initials = author.get("Initials") or author.get("ForeName")
            authors.append(f"{author['LastName']}, {initials}" if initials
                           else str(author["LastName"]))
    return [a for a in authors if a]


def _abstract(abstract: Any) -> str | None:
    """Labelled sections become "LABEL: text" paragraphs separated by a blank line."""
    if not abstract:
        return None
    paragraphs = []
    for part in abstract.get("AbstractText", []):
        text = _text(part)
        label = getattr(part, "attributes", {}).get("Label")
        if text:
            paragraphs.append(f"{label}: {text}" if label else text)
    return "\n\n".join(paragraphs) or None


def _ids(id_list: Any) -> dict[str, str]:
    return {str(i.attributes.get("IdType")): str(i) for i in id_list or []}


def _plain(value: Any) -> Any:
    """Bio.Entrez's element classes as plain JSON-ready values, empty parts left out."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def to_hit(article: dict[str, Any]) -> dict[str, Any]:
    """One parsed PubmedArticle or PubmedBookArticle as a hit dict (see store.HIT_FIELDS)."""
    if "BookDocument" in article:
        return _book_hit(article)
    citation = article["MedlineCitation"]
    art = citation["Article"]
    journal = art.get("Journal", {})
    issue = journal.get("JournalIssue", {})
    ids = _ids(article.get("PubmedData", {}).get("ArticleIdList"))
    elocations = {str(e.attributes.get("EIdType")): str(e) for e in art.get("ELocationID", [])}
    pages = art.get("Pagination", {})
    pgn = pages.get("MedlinePgn") or "-".join(
        str(pages[k]) for k in ("StartPage", "EndPage") if pages.get(k))
    pmid = str(citation["PMID"])
    keywords = [_text(k) for group in citation.get("KeywordList", []) for k in group]
    return {
        "external_id": pmid, "pmid": pmid,
        "doi": elocations.get("doi") or ids.get("doi"), "pmcid": ids.get("pmc"),
        "title": _text(art.get("ArticleTitle")) or _text(art.get("VernacularTitle")),
        "abstract": _abstract(art.get("Abstract")),
        "authors": _authors(art.get("AuthorList")),
        "journal": _text(journal.get("Title")),
        "journal_abbrev": _text(journal.get("ISOAbbreviation")),
        "issn": _text(journal.get("ISSN")),
        "volume": _text(issue.get("Volume")), "issue": _text(issue.get("Issue")),
        "pages": pgn or None,
        "pub_date": _date(issue.get("PubDate")),
        "language": ", ".join(str(x) for x in art.get("Language", [])) or None,
        "publication_types": [str(p) for p in art.get("PublicationTypeList", [])],
        "mesh_terms": [str(m["DescriptorName"]) for m in citation.get("MeshHeadingList", [])],
        "keywords": [k for k in keywords if k],
        "item_type": "journalArticle",
        "url": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        "raw": _plain(article),
    }


def _book_hit(article: dict[str, Any]) -> dict[str, Any]:
    doc = article["BookDocument"]
    book = doc.get("Book", {})
    ids = _ids(doc.get("ArticleIdList"))
    pmid = str(doc["PMID"])
    chapter = _text(doc.get("ArticleTitle"))
    authors = _authors(next(iter(doc.get("AuthorList", [])), None)
                       or next(iter(book.get("AuthorList", [])), None))
    keywords = [_text(k) for group in doc.get("KeywordList", []) for k in group]
    return {
        "external_id": pmid, "pmid": pmid, "doi": ids.get("doi"), "pmcid": ids.get("pmc"),
        "title": chapter or _text(book.get("BookTitle")),
        "journal": _text(book.get("BookTitle")) if chapter else None,
        "abstract": _abstract(doc.get("Abstract")),
        "authors": authors,
        "isbn": ", ".join(str(i) for i in book.get("Isbn", [])) or None,
        "volume": _text(book.get("Volume")),
        "pub_date": _date(book.get("PubDate")),
        "language": ", ".join(str(x) for x in doc.get("Language", [])) or None,
        "publication_types": [str(p) for p in doc.get("PublicationType", [])],
        "keywords": [k for k in keywords if k],
        "item_type": "bookSection" if chapter else "book",
        "url": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        "raw": _plain(article),
    }


# --- windows, slices and runs -----------------------------------------------------------------

def default_window(db: sqlite_utils.Database, search_id: int, search: Search,
                   since: dt.date | None = None,
                   today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Since the last complete run (or ``since``), else the configured window, up to its end."""
    today = today or dt.date.today()
    start, end = search.window.resolve(today) if search.window else (None, None)
    end = end or today
    last = db.execute("SELECT window_end FROM runs WHERE search_id = ? AND status = 'complete'"
                      " AND window_end IS NOT NULL ORDER BY id DESC LIMIT 1",
                      [search_id]).fetchone()
    if since:
        start = since
    elif last:
        start = dt.date.fromisoformat(last[0])
    start = start or EARLIEST
    if start > end:
        raise PubMedError(f"search {search.name!r}: window starts {start} after it ends {end};"
                          " use an earlier --since or a later window.to/cutoff")
    return start, end


def plan_slices(client: EUtils, search: Search, start: dt.date, end: dt.date,
                notes: list[str]) -> list[list[Any]]:
    """Date slices ``[start, end, count]`` that each report fewer than 10,000 records."""
    history = client.esearch(search.query, search.date_field, start, end)
    if history.count <= MAX_RESULTS or start >= end:
        if history.count > MAX_RESULTS:
            notes.append(f"{start} alone has {history.count} records; only the first "
                         f"{MAX_RESULTS} are fetched (narrow the query)")
        return [[start.isoformat(), end.isoformat(), history.count]] if history.count else []
    middle = start + dt.timedelta(days=(end - start).days // 2)
    return (plan_slices(client, search, start, middle, notes)
            + plan_slices(client, search, middle + dt.timedelta(days=1), end, notes))


def _open_run(db: sqlite_utils.Database, search_id: int, search: Search,
              since: dt.date | None, today: dt.date | None) -> tuple[int, dict[str, Any], bool]:
    """An unfinished run to resume, else a new one; returns (run id, checkpoint, resumed)."""
    row = db.execute("SELECT id, checkpoint FROM runs WHERE search_id = ? AND status IN"
                     " ('running', 'interrupted') ORDER BY id DESC LIMIT 1",
                     [search_id]).fetchone()
    if row:
        db["runs"].update(row[0], {"status": "running", "error": None})
        return row[0], json.loads(row[1] or "{}"), True
    start, end = default_window(db, search_id, search, since, today)
    checkpoint = {"slices": None, "slice": 0, "retstart": 0, "notes": []}
    run_id = store.start_run(db, search_id, query=search.query, window_start=start.isoformat(),
                             window_end=end.isoformat(), checkpoint=json.dumps(checkpoint))
    return run_id, checkpoint, False


def harvest_search(db: sqlite_utils.Database, search: Search, config: Config | None,
                   services: ServiceSettings, *, since: dt.date | None = None,
                   progress: bool = False, client: EUtils | None = None,
                   today: dt.date | None = None,
                   batch_size: int = BATCH_SIZE) -> store.RunSummary:
    """Run one PubMed search over its window (or resume its unfinished run) and store the hits."""
    client = client or EUtils.from_services(services)
    search_id = store.ensure_search(db, search)
    run_id, checkpoint, resumed = _open_run(db, search_id, search, since, today)
    try:
        _harvest(db, client, search, run_id, checkpoint, progress, batch_size)
    except KeyboardInterrupt:
        store.finish_run(db, run_id, "interrupted",
                         error="interrupted; the next `evidence harvest` resumes this run")
        raise
    except PubMedError as e:
        store.finish_run(db, run_id, "failed", error=str(e))
        raise PubMedError(f"PubMed search {search.name!r} (run {run_id}): {e}") from e
    except Exception as e:
        store.finish_run(db, run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    notes = list(checkpoint.get("notes", []))
    if resumed:
        notes.insert(0, f"resumed run {run_id}")
    store.finish_run(db, run_id, "complete")
    run = db["runs"].get(run_id)
    return store.RunSummary(search=search.name, run_id=run_id,
                            reported=run["reported_count"] or 0, fetched=run["hit_count"],
                            new=run["new_hit_count"], status="complete",
                            message="; ".join(notes))


def _save(db: sqlite_utils.Database, run_id: int, hits: list[dict[str, Any]],
          checkpoint: dict[str, Any], **columns: Any) -> None:
    """Hits and the checkpoint that says they are stored: one transaction, so kill -9 is safe."""
    with db.atomic():
        if hits:
            store.save_hits(db, run_id, hits)
        db["runs"].update(run_id, {"checkpoint": json.dumps(checkpoint), **columns})


def _harvest(db: sqlite_utils.Database, client: EUtils, search: Search, run_id: int,
             checkpoint: dict[str, Any], progress: bool, batch_size: int) -> None:
    run = db["runs"].get(run_id)
    if checkpoint.get("slices") is None:
        notes: list[str] = []
        start, end = (dt.date.fromisoformat(run[k]) for k in ("window_start", "window_end"))
        checkpoint.update(slices=plan_slices(client, search, start, end, notes), slice=0,
                          retstart=0, notes=notes)
        reported = sum(s[2] for s in checkpoint["slices"])
        _save(db, run_id, [], checkpoint, reported_count=reported)
        run = db["runs"].get(run_id)
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=run["reported_count"], initial=run["hit_count"],
                                       unit=" records", desc=search.name, file=sys.stderr,
                                       disable=not progress))
        pipeline = stack.enter_context(_Pipeline(client, batch_size))
        for index in range(checkpoint["slice"], len(checkpoint["slices"])):
            if index != checkpoint["slice"]:
                checkpoint.update(slice=index, retstart=0)
            for hits in pipeline.slice_batches(search, checkpoint):
                _save(db, run_id, hits, checkpoint,
                      reported_count=sum(s[2] for s in checkpoint["slices"]))
                bar.update(len(hits))
        checkpoint.update(slice=len(checkpoint["slices"]), retstart=0)
        _save(db, run_id, [], checkpoint)


def _hits_from_xml(body: bytes) -> list[dict[str, Any]]:
    """Parse one EFetch answer into hit dicts (runs in a parser process).

    ``raw`` leaves as JSON text (what store.normalise_hit would make of it): a string is cheaper
    to send back than nested dicts, and the storing thread is the one that cannot be parallel.
    """
    try:
        hits = [to_hit(a) for a in parse_articles(body)]
    except _Transient as e:
        raise PubMedError(str(e)) from None
    for hit in hits:
        hit["raw"] = json.dumps(hit["raw"], ensure_ascii=False)
    return hits


def _watch_parent(parent: int) -> None:
    """In a parser process: exit when the harvester is gone (kill -9 leaves no orphans).

    A forked worker inherits the write end of its own task pipe, so it never sees EOF when
    the parent dies; it would wait for work forever.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def _check_fetched(body: bytes) -> bytes:
    """Cheap checks on an EFetch answer before it goes to a parser process."""
    _check_error(body)
    if not body.rstrip().endswith(b"</PubmedArticleSet>"):
        raise _Transient("truncated XML (no closing </PubmedArticleSet>)")
    return body


class _Pipeline:
    """Downloads, parses and stores EFetch batches at the same time, in order.

    Three batches are in flight: each is downloaded by a thread (retries and rate limit as
    usual) and parsed by one of two processes (Bio.Entrez's parser is pure Python, so threads
    would queue on the GIL), while the main thread stores the batch before them. The third
    batch downloads while both parsers are busy (about 30% faster than two in flight).
    """

    def __init__(self, client: EUtils, batch_size: int, depth: int = 3):
        self.client, self.batch_size, self.depth = client, batch_size, depth
        self.threads = ThreadPoolExecutor(max_workers=depth)
        self.processes: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Pipeline:
        # Start the parser processes now, from this thread, before any download thread runs:
        # forking while another thread holds a lock (as requests' can) may hang the child.
        self.processes = ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1),
                                             initializer=_watch_parent, initargs=(os.getpid(),))
        self.processes.submit(os.getpid).result()
        return self

    def __exit__(self, *exc: object) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)
        if self.processes:
            self.processes.shutdown(wait=True, cancel_futures=True)

    def _parse(self, body: bytes) -> list[dict[str, Any]]:
        assert self.processes is not None, "use the pipeline as a context manager"
        return self.processes.submit(_hits_from_xml, body).result()

    def _batch(self, history: History, retstart: int, retmax: int) -> list[dict[str, Any]]:
        return self._parse(self.client.efetch_xml(history, retstart, retmax))

    def slice_batches(self, search: Search,
                      checkpoint: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Hit batches of the checkpoint's current slice from its retstart; advances it."""
        start, end, _count = checkpoint["slices"][checkpoint["slice"]]
        start, end = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        renewals = 0
        retstart = checkpoint["retstart"]
        while True:
            history = self.client.esearch(search.query, search.date_field, start, end)
            if history.count != checkpoint["slices"][checkpoint["slice"]][2]:
                # PubMed changed under a resumed or renewed slice: positions may have moved, so
                # fetch the slice again from the top (hits already stored are not stored twice).
                checkpoint["slices"][checkpoint["slice"]][2] = history.count
                retstart = 0
            limit = min(history.count, MAX_RESULTS)
            starts = iter(range(retstart, limit, self.batch_size))
            pending: deque[tuple[int, Future]] = deque()
            try:
                while True:
                    while len(pending) < self.depth:
                        at = next(starts, None)
                        if at is None:
                            break
                        size = min(self.batch_size, limit - at)
                        pending.append((at, self.threads.submit(self._batch, history, at, size)))
                    if not pending:
                        return
                    at, future = pending.popleft()
                    hits = future.result()
                    retstart = at + self.batch_size
                    checkpoint["retstart"] = retstart
                    yield hits
                    if not hits:
                        return
            except HistoryExpired:
                renewals += 1
                if renewals > 3:
                    raise
            finally:
                for _at, future in pending:
                    future.cancel()
