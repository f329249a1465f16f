"""Relevance ranking of records: text features, the model, and the active-learning loop.

The approach is ASReview LAB's default, ELAS u4 (TF-IDF of word 1-2-grams with sublinear tf
and max_df 0.95, a linear SVM with C = 0.11 and ASReview's "Balanced" sample weights, the
highest score screened next; docs/ranking.md lists its source files), with three changes:

- The app's features are *hashed* (``HashingVectorizer``, :data:`N_FEATURES` columns), so a
  record's row never depends on the other records: the app adds new records without
  refitting a vocabulary, and the features of 100,000 records are built once and kept
  (``idf`` is recomputed from the counts, cheaply). A simulation ranks a fixed set and uses
  ASReview's vocabulary instead (:func:`build_features`): the same words and weights without
  hash collisions. Model, weights and schedule are the same code for both.
- The model reads title and abstract as stored, markup and all, as ASReview does (its
  ``TextMerger`` joins the raw fields). Removing HTML first cost WSS@95 on Sep_2021 (0.378
  against ASReview's 0.426 with its priors, 0.409 against 0.416 over 10 prior pairs) and
  gained nothing on Nagtegaal_2019; with the raw text both sets match ASReview on every
  measure (docs/ranking.md). The tokenizer copes with any markup (a tag adds words such as
  ``sup`` or ``lt``); what reviewers see is sanitised separately (screening/text.py). A
  record without abstract is ranked on its title. Character n-grams (for Norwegian
  compounds) were measured and left out: they lifted one labelled set and sank the other
  (docs/ranking.md); the theme suggester, which works on short titles, does use them.
- Retraining (:func:`should_retrain`) follows every label for the first
  :data:`EVERY_LABEL_UNTIL` labels, as ASReview does, and after that every inclusion and
  otherwise a few per cent more labels. Retraining after every label to the end would
  double a 2,000-record simulation's CPU budget; where it matters (before 95 % of the
  inclusions are found) both give the same order on the sets measured (docs/ranking.md).

Everything here is plain numpy/scipy/scikit-learn on arrays; the app and the ``simulate``
command both call :func:`rank` and :func:`should_retrain`, so what the benchmark measures is
what reviewers get, up to the hash collisions of the app's features.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

#: Hash space of the app's features. 100,000 abstracts hold millions of distinct word pairs,
#: so some share a column; at 2,019 records 2**20 columns cost about 0.01 WSS@95 against a
#: vocabulary and 2**22 about half that (docs/ranking.md), for 16 MB per training.
N_FEATURES = 2 ** 22
#: Inverse regularisation of the linear SVM (ASReview LAB's ELAS u4).
SVM_C = 0.11
#: ASReview's "Balanced" balancer for ELAS u4: the inclusions together weigh this many times
#: the exclusions together (asreview/models/balancers.py, models.py).
BALANCE_RATIO = 9.8
#: Words and word pairs in more than this share of the records are left out (ELAS u4's max_df).
MAX_DF = 0.95
#: Retrain after every label until there are this many (ASReview retrains after every label
#: throughout; a fit on up to 1,000 labels takes a few to 20 ms, later ones up to 40 ms).
EVERY_LABEL_UNTIL = 1000
#: After that, retrain when the labels grew by this share since the last fit (and after every
#: inclusion).
RETRAIN_SHARE = 0.02

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")

_WORDS = HashingVectorizer(ngram_range=(1, 2), n_features=N_FEATURES, alternate_sign=False,
                           norm=None, lowercase=True)


def clean_text(value: str | None) -> str:
    """Plain text from a title or abstract that may hold HTML or escaped HTML (OpenAlex serves
    ``&lt;b&gt;``): unescape, drop tags, unescape again, collapse white space. The theme
    suggester's input (its character n-grams would learn tag letters); the relevance model
    reads the raw text (:func:`record_text`)."""
    if not value:
        return ""
    text = _TAG.sub(" ", html.unescape(str(value)))
    text = _TAG.sub(" ", html.unescape(text))
    return _SPACE.sub(" ", text).strip()


def record_text(title: str | None, abstract: str | None) -> str:
    """The text a record is ranked on: title and abstract as stored (the title alone when
    there is none). Markup is kept, as ASReview keeps it: measured, stripping it cost
    ranking quality (module docstring); :func:`clean_text` is for the theme suggester."""
    return f"{title or ''}. {abstract or ''}".strip(" .")


def count_features(records: Iterable[tuple[str | None, str | None]]) -> sparse.csr_matrix:
    """Hashed counts of the word 1-2-grams of title and abstract, one row per
    ``(title, abstract)``. Rows are independent of each other, so new records are simply
    stacked below old ones."""
    return _WORDS.transform(record_text(t, a) for t, a in records).astype(np.float32)


def weight_features(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """Sublinear tf-idf, l2-normalised rows; the idf comes from all rows given. Columns found
    in more than :data:`MAX_DF` of the rows are dropped first, as ``TfidfVectorizer(max_df=)``
    drops them from its vocabulary."""
    counts = sparse.csr_matrix(counts, copy=True)
    counts.sum_duplicates()
    frequent = np.bincount(counts.indices, minlength=counts.shape[1]) > MAX_DF * counts.shape[0]
    if frequent.any():
        counts.data[frequent[counts.indices]] = 0
        counts.eliminate_zeros()
    return TfidfTransformer(sublinear_tf=True, norm="l2").fit_transform(counts)


def build_features(records: Sequence[tuple[str | None, str | None]]) -> sparse.csr_matrix:
    """The model's input for a fixed set of ``(title, abstract)`` pairs (a simulation): the
    same words, word pairs and weights as :func:`count_features` + :func:`weight_features`,
    but with a vocabulary of this set instead of hashed columns, so no two word pairs share a
    column; this is exactly ASReview's ``TfidfVectorizer``. A set without any word gets one
    empty column (every record then ranks the same)."""
    texts = [record_text(t, a) for t, a in records]
    for max_df in (MAX_DF, 1.0):  # a tiny set may have only words found in (nearly) all
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_df=max_df)
        try:
            return vectorizer.fit_transform(texts)
        except ValueError:  # no word left
            continue
    return sparse.csr_matrix((len(texts), 1))


def sample_weights(y: np.ndarray) -> np.ndarray:
    """ASReview's "Balanced" sample weights: an inclusion weighs 1, an exclusion
    ``n_included / (BALANCE_RATIO * n_excluded)``, then all are scaled to average 1. So the
    few inclusions count :data:`BALANCE_RATIO` times as much as all exclusions together
    (scikit-learn's ``class_weight="balanced"`` would make them count the same: ranking
    was measurably worse with that, docs/ranking.md)."""
    included = y == 1
    weights = np.where(included, 1.0, included.sum() / (BALANCE_RATIO * (~included).sum()))
    return weights * (len(y) / weights.sum())


def rank(features: sparse.csr_matrix, labelled: Sequence[int],
         labels: Sequence[int]) -> np.ndarray:
    """Relevance scores for every row (higher = more likely an inclusion), from a linear SVM
    (squared hinge loss) trained on the labelled rows with :func:`sample_weights`.

    The SVM is fitted on the columns the labelled rows use, not all the hashed ones: its
    weights are a sum of training rows, so the other columns would get weight 0 anyway, and
    the fit is the same, only faster. Needs at least one inclusion and one exclusion among
    ``labels`` (else ValueError)."""
    y = np.asarray(labels, dtype=np.int8)
    if y.min() == y.max():
        raise ValueError("ranking needs at least one inclusion and one exclusion")
    return _fit_and_score(features, labelled, y, LinearSVC(C=SVM_C), sample_weights(y))


def _fit_and_score(features: sparse.csr_matrix, labelled: Sequence[int], y: np.ndarray,
                   model, weights: np.ndarray) -> np.ndarray:
    """Fit a linear ``model`` on the labelled rows, restricted to the columns they use, and
    score every row. With an L2 penalty an unused column's weight is 0 anyway, so the fit is
    the same, only much faster on hashed columns."""
    train = features[np.asarray(labelled)]
    used = np.zeros(features.shape[1], dtype=bool)
    used[train.indices] = True
    columns = np.flatnonzero(used)
    position = np.cumsum(used) - 1  # column -> its place among the used ones
    train = sparse.csr_matrix((train.data, position[train.indices], train.indptr),
                              shape=(train.shape[0], len(columns)))
    model.fit(train, y, sample_weight=weights)
    coef = np.zeros(features.shape[1], dtype=features.dtype)
    coef[columns] = model.coef_[0]
    return np.asarray(features @ coef).ravel() + model.intercept_[0]


#: The check model's features: in-word character n-grams of this length, hashed. 4-grams
#: only, not 3-5: the same kind of evidence at a third of the memory and CPU (at 100,000
#: records about 660 per record, 0.5 GB of counts, built in about two minutes).
CHECK_NGRAMS = (4, 4)
CHECK_FEATURES = 2 ** 20
#: Inverse regularisation of the check model's logistic regression (scikit-learn's default).
CHECK_C = 1.0

_CHARACTERS = HashingVectorizer(analyzer="char_wb", ngram_range=CHECK_NGRAMS,
                                n_features=CHECK_FEATURES, alternate_sign=False, norm=None,
                                lowercase=True)


def count_check_features(records: Iterable[tuple[str | None, str | None]]
                         ) -> sparse.csr_matrix:
    """Hashed counts of the in-word character n-grams of title and abstract: the check
    model's input (weighted by :func:`weight_features`, as the first model's are). Rows are
    independent, as in :func:`count_features`."""
    return _CHARACTERS.transform(record_text(t, a) for t, a in records).astype(np.float32)


def build_check_features(records: Sequence[tuple[str | None, str | None]]
                         ) -> sparse.csr_matrix:
    """The check model's input for a fixed set (a simulation): the same n-grams with a
    vocabulary of the set, as :func:`build_features` does for the first model."""
    texts = [record_text(t, a) for t, a in records]
    for max_df in (MAX_DF, 1.0):
        try:
            return TfidfVectorizer(analyzer="char_wb", ngram_range=CHECK_NGRAMS,
                                   sublinear_tf=True, max_df=max_df).fit_transform(texts)
        except ValueError:
            continue
    return sparse.csr_matrix((len(texts), 1))


def rank_check(features: sparse.csr_matrix, labelled: Sequence[int],
               labels: Sequence[int]) -> np.ndarray:
    """Scores of SAFE's check phase: a *different* model from :func:`rank`, as SAFE asks.

    Logistic regression on tf-idf of in-word character 4-grams, inclusions and exclusions
    weighing the same in total. It differs from the first model in both parts. The features
    see inside words, so a relevant record that words its topic differently (a Norwegian
    compound, another inflection or spelling: ``rusbehandling`` and ``behandling av rus``)
    still shares evidence with the inclusions found so far, where word 1-2-grams share none.
    And the classifier is fitted to the likelihood of every label, not only the margin of
    the hardest ones. SAFE's check exists to catch the inclusions the first model's view of
    the text hides, so a second model that sees the same words in the same way would repeat
    its blind spots. bench/safe_bench.py measures it against going on with the first model
    and against naive Bayes on single words (docs/ranking.md)."""
    y = np.asarray(labels, dtype=np.int8)
    if y.min() == y.max():
        raise ValueError("ranking needs at least one inclusion and one exclusion")
    included = y == 1
    weights = np.where(included, 0.5 / included.sum(), 0.5 / (~included).sum()) * len(y)
    return _fit_and_score(features, labelled, y, LogisticRegression(C=CHECK_C, max_iter=1000),
                          weights)


def should_retrain(labelled: int, since_fit: int, last_included: bool) -> bool:
    """After every label up to :data:`EVERY_LABEL_UNTIL` labels; later after an inclusion, or
    once the labels have grown by :data:`RETRAIN_SHARE` since the last fit (every few dozen)."""
    if since_fit <= 0:
        return False
    return (labelled <= EVERY_LABEL_UNTIL or last_included
            or since_fit >= max(1, int(labelled * RETRAIN_SHARE)))


def simulate(records: Sequence[tuple[str | None, str | None]], labels: Sequence[int],
             prior_included: Sequence[int], prior_excluded: Sequence[int]) -> list[int]:
    """Screen all rows as a reviewer would: the priors first, then always the highest-scored
    unscreened row, its label revealed after it is shown, the model retrained on schedule.

    Returns the row indices in the order shown (priors first)."""
    features = build_features(records)
    y = np.asarray(labels, dtype=np.int8)
    order = list(prior_included) + list(prior_excluded)
    seen = np.zeros(len(y), dtype=bool)
    seen[order] = True
    scores = rank(features, order, y[order])
    since_fit = 0
    while len(order) < len(y):
        if should_retrain(len(order), since_fit, bool(y[order[-1]])):
            scores = rank(features, order, y[order])
            since_fit = 0
        masked = np.where(seen, -np.inf, scores)
        nxt = int(np.argmax(masked))
        order.append(nxt)
        seen[nxt] = True
        since_fit += 1
    return order
