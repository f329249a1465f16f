"""The E-utilities client: one ``requests.Session``, NCBI's parameters, rate limit, retries.

HTTP goes through one :class:`EUtils` client: timeouts, NCBI's ``tool``/``email``/``api_key``
parameters, a process-wide rate limit (3 requests/s, 10 with an API key) and retries with
exponential backoff and jitter on 429, 5xx, connection errors, timeouts and truncated XML,
honouring ``Retry-After``. Responses are parsed with ``Bio.Entrez.read`` on the bytes;
Biopython's own network calls are never used.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

import requests
import urllib3
from Bio import Entrez
from Bio.Entrez.Parser import CorruptedXMLError, NotXMLError, ValidationError

from evidence.config import ServiceSettings
from evidence.errors import EvidenceError

log = logging.getLogger("evidence.harvest.pubmed")

_ERROR = re.compile(rb"<ERROR>(.*?)</ERROR>", re.S)
_EXPIRED = re.compile(r"unable to obtain query|cannot retrieve history|webenv|query_key",
                      re.I)
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
    """A small E-utilities client; ``sleep`` and ``per_second`` are there for tests.

    A server that accepts the connection but never answers is waited for ``timeout[1]``
    seconds per attempt (each retry is logged, saying what it waits for), and one call gives
    up after ``patience`` seconds in all, so a dead server ends the run with a clear error
    in minutes rather than hanging it.
    """

    base_url: str
    api_key: str | None = None
    email: str | None = None
    tool: str = "evidence-tracker"
    timeout: tuple[float, float] = (10.0, 60.0)
    #: One answer, start to end: a server dripping a byte a second never trips the read
    #: timeout (it is per read), so the whole answer has its own deadline ...
    answer_seconds: float = 120.0
    #: ... and a size limit (an EFetch page of 500 records is about 5 MB).
    max_bytes: int = 256 * 1024 * 1024
    retries: int = 6
    patience: float = 300.0
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

    def rate(self) -> float:
        """Requests per second allowed: NCBI's 3, 10 with an API key, or ``per_second``."""
        if self.per_second is not None:
            return self.per_second
        return 10 if self.api_key else 3

    def call(self, endpoint: str, params: dict[str, Any], parse: Callable[[bytes], Any], *,
             post: bool = False) -> Any:
        """GET (or POST) ``endpoint`` and ``parse`` the body, retrying transient failures."""
        url = f"{self.base_url.rstrip('/')}/{endpoint}"
        per_second = self.rate()
        started = time.monotonic()
        for attempt in range(self.retries + 1):
            self.limiter.wait(per_second, self.sleep)
            try:
                return parse(self._get(url, self._params(params), post))
            except _Transient as e:
                delay = e.retry_after
                if delay is None:
                    delay = self.backoff * 2 ** attempt + random.uniform(0, self.backoff)
                waited = time.monotonic() - started
                if attempt == self.retries or waited + delay + self.timeout[1] > self.patience:
                    raise PubMedError(
                        f"{endpoint}: gave up after {attempt + 1} attempts in {waited:.0f} s:"
                        f" {e} (PubMed may be down; run `evidence harvest` again later, it"
                        " resumes)") from e
                log.warning("PubMed %s: %s (attempt %d of %d); trying again in %.0f s",
                            endpoint, e, attempt + 1, self.retries + 1, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _get(self, url: str, params: dict[str, Any], post: bool) -> bytes:
        try:
            if post:
                response = self.session.post(url, data=params, timeout=self.timeout,
                                             stream=True)
            else:
                response = self.session.get(url, params=params, timeout=self.timeout,
                                            stream=True)
            with response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Transient(f"HTTP {response.status_code}", _retry_after(response))
                body = self._body(response)
        except requests.ReadTimeout as e:
            raise _Transient(f"no answer from {self.base_url} within {self.timeout[1]:g} s"
                             f" (the server accepted the connection)") from e
        except (requests.ConnectionError, requests.Timeout) as e:
            raise _Transient(f"{type(e).__name__}: {e}") from e
        except requests.RequestException as e:  # a redirect to file://, a malformed URL ...
            raise PubMedError(f"{url}: {type(e).__name__}: {str(e)[:300]} (only http and "
                              "https are followed; check NCBI_EUTILS_URL)") from e
        if response.status_code >= 400:
            raise PubMedError(f"{url}: HTTP {response.status_code}: "
                              f"{body[:300].decode('utf-8', 'replace')}"
                              " (check the query and NCBI_API_KEY)")
        return body

    def _body(self, response: requests.Response) -> bytes:
        """The answer's bytes, within ``answer_seconds`` and ``max_bytes``: read as they come
        (``read1``), so a dripping server is measured after every few bytes."""
        started, chunks, size = time.monotonic(), [], 0
        while True:
            try:
                chunk = response.raw.read1(64 * 1024, decode_content=True)
            except urllib3.exceptions.ReadTimeoutError as e:
                raise requests.ReadTimeout(str(e)) from e
            except urllib3.exceptions.HTTPError as e:
                raise requests.ConnectionError(str(e)) from e
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_bytes:
                raise PubMedError(f"the answer is larger than {self.max_bytes // 2**20} MB; "
                                  "fetch fewer records at a time")
            chunks.append(chunk)
            if time.monotonic() - started > self.answer_seconds:
                raise _Transient(f"the answer from {self.base_url} took over "
                                 f"{self.answer_seconds:g} s (still arriving)")
        return b"".join(chunks)

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


#: PubmedArticleSet's DOCTYPE line, whatever DTD it names (``http://`` or ``https://``, any
#: year), or none. Bio.Entrez refuses ``http://`` and fetches a DTD it does not bundle; every
#: year's DTD Biopython bundles is used from disk, any other year's file parses with the newest.
_ARTICLE_SET = re.compile(rb"\A(\s*(?:<\?xml[^>]*\?>\s*)?)(?:<!DOCTYPE\s+PubmedArticleSet\b"
                          rb"[^>]*?(?:\"[^\"]*?/(pubmed_\d+\.dtd)\")?[^>]*>\s*)?(?=<PubmedArticleSet\b)")
_DTD_LINE = ('<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle//EN"'
             ' "https://dtd.nlm.nih.gov/ncbi/pubmed/out/{}">\n')


def _bundled_dtds() -> list[str]:
    folder = Path(Entrez.__file__).parent / "DTDs"
    return sorted(p.name for p in folder.glob("pubmed_*.dtd"))


_BUNDLED = _bundled_dtds()


def with_bundled_dtd(body: bytes) -> bytes:
    """An EFetch answer or a saved PubMed XML file with its DOCTYPE line pointing at a DTD
    Biopython bundles: the one it names where bundled, else the newest, so no DTD is ever
    fetched (and ``http://`` lines of older files are read, not refused)."""

    def line(match: re.Match) -> bytes:
        named = (match.group(2) or b"").decode()
        dtd = named if named in _BUNDLED else _BUNDLED[-1]
        return match.group(1) + _DTD_LINE.format(dtd).encode()

    return _ARTICLE_SET.sub(line, body, count=1)


def _read(body: bytes) -> Any:
    try:
        # validate=False: elements a DTD year lacks (older files' DateCreated) are skipped.
        return Entrez.read(io.BytesIO(with_bundled_dtd(body)), validate=False)
    except _PARSE_ERRORS as e:
        raise _Transient(f"broken or truncated XML ({e})") from e
    except ValueError as e:  # no DTD, or a DTD outside NCBI: not an E-utilities answer
        raise PubMedError(f"the answer is not PubMed XML ({str(e)[:200]})") from e


def _parse_esearch(body: bytes) -> History:
    _check_error(body)
    result = _read(body)
    errors = {k: [str(x) for x in v] for k, v in result.get("ErrorList", {}).items()
              if v and k != "PhraseNotFound"}
    if errors:
        raise PubMedError("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
    try:
        count = int(str(result["Count"]).strip())
    except (KeyError, ValueError):
        raise PubMedError(f"ESearch's answer has no number of records (Count: "
                          f"{str(result.get('Count'))[:40]!r}); is NCBI_EUTILS_URL E-utilities?"
                          ) from None
    return History(count, str(result.get("WebEnv", "")),
                   str(result.get("QueryKey", "")))


def parse_articles(body: bytes) -> list[dict[str, Any]]:
    """The PubmedArticle and PubmedBookArticle elements of an EFetch XML answer."""
    _check_error(body)
    if not body.strip():
        raise _Transient("empty answer")
    result = _read(_UNUSED.sub(b"", body))
    return list(result.get("PubmedArticle", [])) + list(result.get("PubmedBookArticle", []))


def _check_fetched(body: bytes) -> bytes:
    """Cheap checks on an EFetch answer before it goes to a parser process."""
    _check_error(body)
    if not body.rstrip().endswith(b"</PubmedArticleSet>"):
        raise _Transient("truncated XML (no closing </PubmedArticleSet>)")
    return body
