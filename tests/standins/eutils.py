"""A stand-in for NCBI E-utilities (esearch.fcgi, efetch.fcgi) for tests and the benchmark.

Records are generated from a template shaped like real EFetch output (the pubmed_250101 DTD
header, as PubMed sends today; structure checked against tests/fixtures/pubmed/): structured
and plain abstracts, no abstract, collective authors, MedlineDate, MeSH, keywords, PMC ids,
30 cited references per article (a ReferenceList, as modern records have) and book chapters.
ESearch filters by ``mindate``/``maxdate`` (the query text is ignored) and keeps the result on
a history server (WebEnv + query_key); EFetch pages through it.

Faults (``state.faults``, consumed first come first served, each a dict):
``{"endpoint": "efetch", "kind": "429" | "500" | "slow" | "truncate" | "expire" | "error"
| "empty"}`` ("empty": a well-formed answer without the records asked for),
and for ESearch also ``"field-error"`` (ErrorList) and ``"phrase-not-found"`` (no results);
``state.reported_per_day`` inflates ESearch counts (to exercise window splitting);
``{"kind": "hang"}`` accepts the request and never answers (until ``state.release`` is set).
``"slow"`` answers after ``state.slow_seconds``; with ``slow_seconds = None`` it answers only
once the client has hung up (its read timeout fired), so the answer is late however slowly a
loaded machine runs the client: a fixed delay raced the client's timeout.
``state.latency = (base, per_record)`` makes every answer take ``base`` seconds plus, for
EFetch, ``per_record`` seconds per record (NCBI-like: 0.150 + 0.004 per record); with
``state.serial`` the answers come one at a time (a test that needs them in order). An ESearch
with ``retmax`` > 0 lists the PMIDs (``IdList``), as a loop without the history server uses.
``state.hold_from = N`` holds every history EFetch from ``retstart`` N on until
``state.release`` is set (a test that needs the harvester waiting at a known point).

Usage::

    with serve(EutilsState.generated(300)) as (url, state):
        ...  # NCBI_EUTILS_URL=url; state.requests logs (endpoint, params)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

ESEARCH_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD'
    ' esearch 20060628//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
EFETCH_HEAD = (
    '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle,'
    ' 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
    "<PubmedArticleSet>\n"
)
EFETCH_ERROR = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eFetchResult PUBLIC "-//NLM//DTD efetch'
    ' 20131226//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n'
    "<eFetchResult>\n\t<ERROR>{}</ERROR>\n</eFetchResult>\n"
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FIRST_PMID = 38_000_000
REFERENCES = 30  # cited references per generated journal article


def _date(tag: str, day: dt.date, attrs: str = "") -> str:
    return (f"<{tag}{attrs}><Year>{day.year}</Year><Month>{day.month:02d}</Month>"
            f"<Day>{day.day:02d}</Day></{tag}>")


def _abstract(n: int) -> str:
    if n % 7 == 3:
        return ""
    if n % 2:
        return (f"<Abstract><AbstractText>Plain abstract for record {n}: community mental"
                " health services &amp; primary care.</AbstractText></Abstract>")
    sections = ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")
    texts = "".join(
        f'<AbstractText Label="{s}" NlmCategory="{s}">{s.title()} of record {n}, with'
        f" <i>italic</i> and p &lt; 0.05.</AbstractText>" for s in sections)
    return f"<Abstract>{texts}<CopyrightInformation>© 2024</CopyrightInformation></Abstract>"


def _authors(n: int) -> str:
    people = "".join(
        f'<Author ValidYN="Y"><LastName>Author{n}x{i}</LastName><ForeName>Kari {chr(65 + i)}'
        f"</ForeName><Initials>K{chr(65 + i)}</Initials><AffiliationInfo><Affiliation>"
        f"University of Oslo, Norway.</Affiliation></AffiliationInfo></Author>"
        for i in range(1 + n % 4))
    if n % 10 == 5:
        people += '<Author ValidYN="Y"><CollectiveName>PRISMA Group</CollectiveName></Author>'
    return f'<AuthorList CompleteYN="Y">{people}</AuthorList>'


def _references(n: int, count: int = REFERENCES) -> str:
    """Cited references, as most records since about 2020 carry (often 30-60 of them)."""
    refs = "".join(
        f"<Reference><Citation>Author{i} A, Other B. Cited study {i} of record {n}. J Cited"
        f" Res. 2019;{i}(2):{i}-{i + 9}.</Citation><ArticleIdList><ArticleId IdType=\"doi\">"
        f"10.5555/cited.{n}.{i}</ArticleId><ArticleId IdType=\"pubmed\">{30_000_000 + i}"
        "</ArticleId></ArticleIdList></Reference>\n" for i in range(count))
    return f"<ReferenceList>{refs}</ReferenceList>" if refs else ""


def article_xml(n: int, pmid: int, day: dt.date) -> str:
    """One PubmedArticle (or, every 50th record, a PubmedBookArticle) for record ``n``."""
    if n % 50 == 49:
        return book_xml(n, pmid, day)
    pubdate = (f"<PubDate><MedlineDate>{day.year} {MONTHS[day.month - 1]}-"
               f"{MONTHS[day.month % 12]}</MedlineDate></PubDate>" if n % 9 == 4 else
               f"<PubDate><Year>{day.year}</Year><Month>{MONTHS[day.month - 1]}</Month>"
               f"<Day>{day.day:02d}</Day></PubDate>")
    pmc = f'<ArticleId IdType="pmc">PMC{9_000_000 + n}</ArticleId>' if n % 3 == 0 else ""
    return f"""<PubmedArticle>
<MedlineCitation Status="MEDLINE" Owner="NLM" IndexingMethod="Automated">
<PMID Version="1">{pmid}</PMID>{_date("DateCompleted", day)}{_date("DateRevised", day)}
<Article PubModel="Print-Electronic"><Journal><ISSN IssnType="Electronic">1234-567{n % 10}</ISSN>
<JournalIssue CitedMedium="Internet"><Volume>{10 + n % 40}</Volume><Issue>{1 + n % 12}</Issue>
{pubdate}</JournalIssue><Title>Journal of Community Mental Health {n % 17}</Title>
<ISOAbbreviation>J Community Ment Health {n % 17}</ISOAbbreviation></Journal>
<ArticleTitle>Record {n}: community care for <i>substance use</i> &amp; mental health.
</ArticleTitle>
<Pagination><StartPage>{100 + n % 300}</StartPage><EndPage>{110 + n % 300}</EndPage>
<MedlinePgn>{100 + n % 300}-{110 + n % 300}</MedlinePgn></Pagination>
<ELocationID EIdType="doi" ValidYN="Y">10.5555/ev.{n}</ELocationID>
{_abstract(n)}{_authors(n)}<Language>{"nor" if n % 11 == 0 else "eng"}</Language>
<PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType>
<PublicationType UI="D000078182">Systematic Review</PublicationType></PublicationTypeList>
{_date("ArticleDate", day, ' DateType="Electronic"')}
</Article><MedlineJournalInfo><Country>England</Country>
<MedlineTA>J Community Ment Health</MedlineTA>
<NlmUniqueID>{100000 + n % 17}</NlmUniqueID><ISSNLinking>1234-5670</ISSNLinking>
</MedlineJournalInfo>
<CitationSubset>IM</CitationSubset><MeshHeadingList>
<MeshHeading><DescriptorName UI="D008603" MajorTopicYN="Y">Mental Health</DescriptorName>
</MeshHeading>
<MeshHeading>
<DescriptorName UI="D003152" MajorTopicYN="N">Community Mental Health Services</DescriptorName>
<QualifierName UI="Q000639" MajorTopicYN="N">trends</QualifierName></MeshHeading></MeshHeadingList>
<KeywordList Owner="NOTNLM"><Keyword MajorTopicYN="N">primary care</Keyword>
<Keyword MajorTopicYN="N">record {n}</Keyword></KeywordList></MedlineCitation>
<PubmedData><History><PubMedPubDate PubStatus="pubmed"><Year>{day.year}</Year>
<Month>{day.month}</Month>
<Day>{day.day}</Day><Hour>6</Hour><Minute>0</Minute></PubMedPubDate></History>
<PublicationStatus>ppublish</PublicationStatus><ArticleIdList>
<ArticleId IdType="pubmed">{pmid}</ArticleId><ArticleId IdType="doi">10.5555/ev.{n}</ArticleId>{pmc}
</ArticleIdList>{_references(n)}</PubmedData></PubmedArticle>
"""


def book_xml(n: int, pmid: int, day: dt.date) -> str:
    """A chapter of an NCBI Bookshelf book, shaped like PubMed's PubmedBookArticle."""
    return f"""<PubmedBookArticle><BookDocument><PMID Version="1">{pmid}</PMID>
<ArticleIdList><ArticleId IdType="bookaccession">NBK{500000 + n}</ArticleId></ArticleIdList>
<Book><Publisher><PublisherName>Norwegian Institute of Public Health</PublisherName>
<PublisherLocation>Oslo</PublisherLocation></Publisher>
<BookTitle book="nipph">Community Mental Health Handbook</BookTitle>
<PubDate><Year>{day.year}</Year><Month>{MONTHS[day.month - 1]}</Month></PubDate>
<AuthorList Type="editors"><Author ValidYN="Y"><LastName>Editor{n}</LastName>
<ForeName>Ola</ForeName><Initials>O</Initials></Author></AuthorList>
<Isbn>978-82-8082-{n % 1000:03d}-1</Isbn></Book>
<LocationLabel Type="chapter">Chapter {n}</LocationLabel>
<ArticleTitle book="nipph" part="ch{n}">Record {n}: chapter on municipal services</ArticleTitle>
<Language>eng</Language><AuthorList Type="authors"><Author ValidYN="Y">
<LastName>Chapterauthor{n}</LastName>
<ForeName>Ingrid</ForeName><Initials>I</Initials></Author></AuthorList>
<PublicationType UI="D016454">Review</PublicationType>
<Abstract><AbstractText Label="INTRODUCTION">Chapter {n} introduction.</AbstractText></Abstract>
</BookDocument><PubmedBookData><History><PubMedPubDate PubStatus="pubmed"><Year>{day.year}</Year>
<Month>{day.month}</Month><Day>{day.day}</Day></PubMedPubDate></History>
<PublicationStatus>ppublish</PublicationStatus><ArticleIdList>
<ArticleId IdType="pubmed">{pmid}</ArticleId>
<ArticleId IdType="bookaccession">NBK{500000 + n}</ArticleId>
</ArticleIdList></PubmedBookData></PubmedBookArticle>
"""


@dataclass
class EutilsState:
    """The stand-in's data (``records``: (pmid, date) sorted by date), faults and request log."""

    records: list[tuple[int, dt.date]]
    faults: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    reported_per_day: int | None = None
    slow_seconds: float | None = 1.0
    latency: tuple[float, float] | None = None
    serial: bool = False
    hold_from: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    histories: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _xml: dict[int, str] = field(default_factory=dict)
    _serial: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def generated(cls, n: int, start: dt.date = dt.date(2023, 10, 21),
                  end: dt.date = dt.date(2024, 10, 21)) -> EutilsState:
        days = (end - start).days + 1
        records = [(FIRST_PMID + i, start + dt.timedelta(days=i * days // n)) for i in range(n)]
        return cls(records=records)

    def xml(self, pmid: int) -> str:
        if pmid not in self._xml:
            n = pmid - FIRST_PMID
            self._xml[pmid] = article_xml(n, pmid, self.records[n][1])
        return self._xml[pmid]

    def fault(self, endpoint: str) -> str | None:
        with self.lock:
            for i, f in enumerate(self.faults):
                if f.get("endpoint", endpoint) == endpoint:
                    del self.faults[i]
                    return f["kind"]
        return None

    def esearch(self, params: dict[str, str]) -> str:
        lo = dt.datetime.strptime(params.get("mindate", "1800/01/01"), "%Y/%m/%d").date()
        hi = dt.datetime.strptime(params.get("maxdate", "3000/12/31"), "%Y/%m/%d").date()
        pmids = [p for p, day in self.records if lo <= day <= hi]
        webenv = "MCID_" + uuid.uuid4().hex
        with self.lock:
            self.histories[webenv] = pmids
        count = len(pmids)
        if self.reported_per_day is not None:
            count = self.reported_per_day * ((hi - lo).days + 1)
        term = escape(params.get("term", ""))
        start, retmax = int(params.get("retstart", 0)), int(params.get("retmax", 20))
        ids = "".join(f"<Id>{p}</Id>" for p in pmids[start:start + retmax])
        self._wait(0)
        return (f"{ESEARCH_HEAD}<eSearchResult><Count>{count}</Count><RetMax>{retmax}</RetMax>"
                f"<RetStart>{start}</RetStart><QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv>"
                f"<IdList>{ids}</IdList><TranslationSet/><QueryTranslation>{term}"
                f"</QueryTranslation></eSearchResult>\n")

    def _wait(self, records: int) -> None:
        if self.latency:
            base, per_record = self.latency
            with self._serial if self.serial else contextlib.nullcontext():
                time.sleep(base + per_record * records)

    def efetch(self, params: dict[str, str]) -> str:
        if "id" in params:
            pmids = [int(p) for p in params["id"].split(",") if p]
        else:
            webenv = params.get("WebEnv", "")
            if webenv not in self.histories:
                return EFETCH_ERROR.format("Unable to obtain query #1")
            start = int(params.get("retstart", 0))
            pmids = self.histories[webenv][start:start + int(params.get("retmax", 20))]
            if self.hold_from is not None and start >= self.hold_from:
                self.release.wait(timeout=60)
        known = {p for p, _ in self.records}
        self._wait(len(pmids))
        return EFETCH_HEAD + "".join(self.xml(p) for p in pmids if p in known) + (
            "</PubmedArticleSet>\n")


class _Handler(BaseHTTPRequestHandler):
    state: EutilsState

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet tests
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._answer(parse_qs(urlparse(self.path).query))

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        length = int(self.headers.get("Content-Length", 0))
        self._answer(parse_qs(self.rfile.read(length).decode()))

    def _answer(self, query: dict[str, list[str]]) -> None:
        endpoint = urlparse(self.path).path.rsplit("/", 1)[-1].replace(".fcgi", "")
        params = {k: v[-1] for k, v in query.items()}
        state = self.state
        with state.lock:
            state.requests.append((endpoint, params))
        if endpoint not in ("esearch", "efetch"):
            return self._send(404, b"unknown endpoint")
        kind = state.fault(endpoint)
        if kind == "429":
            return self._send(429, b'{"error":"API rate limit exceeded"}', {"Retry-After": "1"})
        if kind == "500":
            return self._send(500, b"Internal Server Error")
        if kind == "slow" and state.slow_seconds is not None:
            time.sleep(state.slow_seconds)
        elif kind == "slow":
            self._wait_for_hang_up(state)
        if kind == "hang":
            state.release.wait(600)
            return None
        if kind == "expire":
            with state.lock:
                state.histories.clear()
        if kind == "error":
            body = (EFETCH_ERROR.format("Search Backend failed: internal error") if
                    endpoint == "efetch" else f"{ESEARCH_HEAD}<eSearchResult><ERROR>Invalid"
                    " query: unbalanced parentheses</ERROR></eSearchResult>\n")
            return self._send(200, body.encode())
        if kind == "empty" and endpoint == "efetch":
            return self._send(200, (EFETCH_HEAD + "</PubmedArticleSet>\n").encode())
        if kind == "phrase-not-found":
            body = (f"{ESEARCH_HEAD}<eSearchResult><Count>0</Count><RetMax>0</RetMax>"
                    "<RetStart>0</RetStart><QueryKey>1</QueryKey><WebEnv>MCID_none</WebEnv>"
                    "<IdList></IdList><TranslationSet/><QueryTranslation></QueryTranslation>"
                    "<ErrorList><PhraseNotFound>zzxq</PhraseNotFound></ErrorList><WarningList>"
                    "<OutputMessage>No items found.</OutputMessage></WarningList>"
                    "</eSearchResult>\n")
            return self._send(200, body.encode())
        if kind == "field-error":
            body = (f"{ESEARCH_HEAD}<eSearchResult><Count>0</Count><RetMax>0</RetMax>"
                    "<RetStart>0</RetStart><IdList></IdList><TranslationSet/>"
                    "<QueryTranslation></QueryTranslation><ErrorList><FieldNotFound>badfield"
                    "</FieldNotFound></ErrorList></eSearchResult>\n")
            return self._send(200, body.encode())
        body = (state.esearch(params) if endpoint == "esearch" else state.efetch(params)).encode()
        if kind == "truncate":
            body = body[: len(body) // 2]
        self._send(200, body)

    def _wait_for_hang_up(self, state: EutilsState, limit: float = 60.0) -> None:
        """Hold the answer until the client closes the connection (at most ``limit`` s, or
        until ``state.release``)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not state.release.is_set():
            if select.select([self.connection], [], [], 0.05)[0]:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return  # end of stream: the client gave up on this request
                except OSError:
                    return
                time.sleep(0.05)  # bytes of another request: not a hang-up

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (a timeout test); nothing to tell it


@contextlib.contextmanager
def serve(state: EutilsState) -> Iterator[tuple[str, EutilsState]]:
    """Run the stand-in on 127.0.0.1 on a free port; yields (base URL, state)."""
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/entrez/eutils", state
    finally:
        server.shutdown()
        server.server_close()
