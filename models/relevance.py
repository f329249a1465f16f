"""The relevance-ranked queue of the screening app (``screening.order: relevance``).

One :class:`RelevanceQueue` per server keeps the features of every record in memory and one
ranking per reviewer, and retrains in a background thread, so a decision POST never waits for
a model: the request path only reads the last ranking (:meth:`RelevanceQueue.candidates`) and
tells the thread about the decision (:meth:`RelevanceQueue.decided`).

What a reviewer's model learns from (blind dual screening stays blind): the final
title/abstract decisions (``stage_status``: agreed votes or a lead's resolution), from every
year in the database, and this reviewer's own current votes, never another reviewer's vote
that is not final. ``maybe`` is not a label. Until there is at least one inclusion and one
exclusion there is no model and the queue falls back to ``screening.relevance_fallback``.

SAFE's check (``screening.stopping.rule: safe``): once the stopping heuristic has been met,
:mod:`models.safe` stores where, and from then on every reviewer's queue is ranked by the
second model (:func:`ranking.rank_check`, logistic regression on character 4-grams),
trained on the same labels (blind as above). Its features are built in the background the
first time they are needed; until then the first model's ranking serves.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from evidence.models import ranking, safe

_log = logging.getLogger(__name__)

#: At most one training per reviewer in this many seconds. A reviewer reading titles and
#: abstracts needs about this long per record, so in practice that is still "after every
#: decision"; a burst of decisions (a script, the bench) does not keep the process busy. At
#: 100,000 records one training holds the interpreter for about a second, and requests
#: served meanwhile wait for it (the GIL), so this bounds that cost to a tenth of the time.
MIN_SECONDS = 10.0

#: How many of the best-ranked records the request path hands to the queue query; more than
#: the decisions made between two retrainings, so the query nearly always finds one open.
CANDIDATES = 500


@dataclass
class _Ranking:
    order: np.ndarray                 # record ids, best first, those labelled at training left out
    ids: np.ndarray                   # record ids in ascending order (the feature rows)
    percentile: np.ndarray            # per row of ``ids``: predicted relevance 0..100, -1 labelled
    labelled: int                     # labels the model was trained on
    since_fit: int = 0
    model: str = "first"              # "first" (the SVM) or "check" (SAFE's second model)


@dataclass
class _Features:
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    counts: sparse.csr_matrix | None = None
    weighted: sparse.csr_matrix | None = None


def training_labels(conn: sqlite3.Connection, reviewer: str) -> dict[int, int]:
    """{record_id: 1 include / 0 exclude}: final title/abstract decisions, then this reviewer's
    own current votes on records without a final decision."""
    labels: dict[int, int] = {}
    for record_id, decision in conn.execute(
            "SELECT record_id, decision FROM current_decisions WHERE stage = 'screening'"
            " AND reviewer = ? AND decision IN ('include', 'exclude')", [reviewer]):
        labels[record_id] = int(decision == "include")
    for record_id, decision in conn.execute(
            "SELECT record_id, decision FROM stage_status WHERE stage = 'screening'"
            " AND decision IN ('include', 'exclude')"):
        labels[record_id] = int(decision == "include")
    return labels


class RelevanceQueue:
    """Rankings per reviewer, trained off the request path on a read-only connection."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self._features = _Features()
        self._rankings: dict[str, _Ranking | None] = {}
        self._wanted: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.trainings = 0  # for tests and the bench
        #: Rank with the second model once SAFE's check has started (rule ``safe``; set by
        #: the app from the configuration, which a lead may change while it runs).
        self.check_enabled = False
        self._check_features = _Features()
        self._busy = False
        self._last: dict[str, float] = {}

    # --- request path (cheap) ---------------------------------------------------------------

    def candidates(self, reviewer: str, limit: int = CANDIDATES) -> list[int] | None:
        """The reviewer's best-ranked record ids, or None while there is no model yet."""
        with self._lock:
            known = reviewer in self._rankings
            current = self._rankings.get(reviewer)
        if not known:
            self._request(reviewer)
        return None if current is None else current.order[:limit].tolist()

    def relevance(self, reviewer: str, record_id: int) -> int | None:
        """Predicted relevance of a record for this reviewer, 0..100, or None."""
        with self._lock:
            current = self._rankings.get(reviewer)
        if current is None or not len(current.ids):
            return None
        row = int(np.searchsorted(current.ids, record_id))
        if row >= len(current.ids) or current.ids[row] != record_id:
            return None
        value = int(current.percentile[row])
        return value if value >= 0 else None

    def model(self, reviewer: str) -> str | None:
        """Which model ranked this reviewer's queue: "first", "check", or None (no model)."""
        with self._lock:
            current = self._rankings.get(reviewer)
        return None if current is None else current.model

    def phase_changed(self, reviewer: str | None = None) -> None:
        """SAFE's check started (or was seen to have started): retrain ``reviewer``'s
        ranking, or every reviewer's, with the model the phase asks for."""
        with self._lock:
            reviewers = [reviewer] if reviewer else list(self._rankings)
            for name in reviewers:
                self._last.pop(name, None)  # no pause: the phase changed, not the labels
        for name in reviewers:
            self._request(name)

    def decided(self, reviewer: str, included: bool) -> None:
        """Note a decision; retrain in the background when the schedule says so."""
        with self._lock:
            current = self._rankings.get(reviewer)
            if current is not None:
                current.since_fit += 1
                due = ranking.should_retrain(current.labelled, current.since_fit, included)
            else:
                due = True
        if due:
            self._request(reviewer)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until no training is pending (tests and the bench)."""
        end = threading.Event()
        for _ in range(int(timeout * 20)):
            with self._lock:
                if not self._wanted and not self._busy:
                    return True
            end.wait(0.05)
        return False

    # --- background ---------------------------------------------------------------------------

    def _request(self, reviewer: str) -> None:
        with self._lock:
            self._wanted.add(reviewer)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="relevance",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=60)
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._wanted:
                        self._busy = False
                        break
                    reviewer = self._wanted.pop()
                    self._busy = True
                    pause = self._last.get(reviewer, 0.0) + MIN_SECONDS - time.monotonic()
                if pause > 0:  # a burst of decisions: the old ranking serves meanwhile
                    time.sleep(pause)
                try:
                    result = self._train(reviewer)
                except Exception:  # keep the last ranking; the thread must not die
                    _log.exception("relevance ranking for %s failed", reviewer)
                    result = self._rankings.get(reviewer)
                with self._lock:
                    self._rankings[reviewer] = result
                    self._last[reviewer] = time.monotonic()
                    self.trainings += 1

    def _train(self, reviewer: str) -> _Ranking | None:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            checking = self.check_enabled and safe.check_start(conn) is not None
            if checking:  # only the features the model in use reads are built
                self._check_features = _refresh(conn, self._check_features,
                                                ranking.count_check_features)
            else:
                self._features = _refresh(conn, self._features, ranking.count_features)
            labels = training_labels(conn, reviewer)
        finally:
            conn.close()
        features = self._check_features if checking else self._features
        ids = features.ids
        position = {int(r): i for i, r in enumerate(ids)}
        rows = [position[r] for r in labels if r in position]
        y = [labels[int(ids[i])] for i in rows]
        if len(set(y)) < 2:
            return None
        score = ranking.rank_check if checking else ranking.rank
        scores = score(features.weighted, rows, y)
        scores[rows] = -np.inf
        best = np.argsort(-scores, kind="stable")[:len(ids) - len(rows)]
        percentile = np.full(len(ids), -1, dtype=np.int16)
        count = max(len(best) - 1, 1)
        percentile[best] = np.rint(100 * (1 - np.arange(len(best)) / count)).astype(np.int16)
        return _Ranking(order=ids[best], ids=ids, percentile=percentile, labelled=len(rows),
                        model="check" if checking else "first")


def _refresh(conn: sqlite3.Connection, current: _Features, count) -> _Features:
    """``current`` with the rows of records new since it was built (hashed features need no
    refit); ``count`` makes the rows (the first model's or the check model's)."""
    last = int(current.ids.max()) if len(current.ids) else 0
    new = conn.execute("SELECT id, title, abstract FROM records WHERE id > ? ORDER BY id",
                       [last]).fetchall()
    if not new and current.weighted is not None:
        return current
    counts = count([(t, a) for _, t, a in new])
    ids = np.array([r[0] for r in new], dtype=np.int64)
    if current.counts is not None:
        counts = sparse.vstack([current.counts, counts], format="csr")
        ids = np.concatenate([current.ids, ids])
    return _Features(ids=ids, counts=counts, weighted=ranking.weight_features(counts))


_QUEUES_LOCK = threading.Lock()


def queue_for(datasette, db_path: str) -> RelevanceQueue:
    """The server's one relevance queue (kept on the Datasette instance)."""
    with _QUEUES_LOCK:
        current = getattr(datasette, "_evidence_relevance", None)
        if current is None or current.db_path != db_path:
            current = RelevanceQueue(db_path)
            datasette._evidence_relevance = current
        return current
