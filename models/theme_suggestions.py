"""Theme suggestions for an included record, learned from records already themed.

Few themed records exist (a year gives about a hundred, many with a Norwegian title only), so
the suggester is a nearest-neighbour vote rather than a trained classifier:

- text = title, abstract and journal; features = in-word character 2-5-grams (Norwegian
  compounds share their parts: ``rusbehandling`` / ``rusproblemer``) plus words, tf-idf, plus
  the record's *kind* (:mod:`models.record_kind`: a review, Nordic, substance use, a book),
  so a record's nearest themed records are works of its own kind first;
- a theme's score = the similarity-weighted vote of the five most similar themed records,
  plus its share among all themed records weighted by a softmax of their similarity (the
  theme's frequency among works *of this kind*: the report files many Norwegian works under
  the broad heading 1.3.3, many reviews under a few themes of their group);
- themes of one group (the configured theme group; for bare ids like ``1.4.2.1`` the prefix
  ``1.4.2``) lift each other: a record close to substance-use reviews gets the substance-use
  review themes, not the most frequent theme of another group.

A theme's name can be given as one more example (the app passes the configured names with
their group's name), so even a theme nobody has used yet can be suggested.

Measured by ``bench/themes_bench.py`` (docs/ranking.md); a centroid term (similarity to the
mean of a theme's records) was measured and left out: it favoured broad themes everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from evidence.models.ranking import clean_text
from evidence.models.record_kind import KINDS, kinds

LIMIT = 3


@dataclass(frozen=True)
class Settings:
    """How many neighbours vote, how much a group's best theme lifts its siblings, the weight
    of the kind columns against the text, and the weight and softmax temperature of the
    frequency-among-similar-records vote. The defaults are what the app uses; a figure that
    tuning did not see (bench/themes_bench.py, nested cross-validation) picks among a few of
    these on the training works alone."""

    neighbours: int = 5
    group_lift: float = 1.0
    kind_weight: float = 1.0
    prior_weight: float = 0.5
    prior_temperature: float = 0.5


DEFAULTS = Settings()


@dataclass(frozen=True)
class Example:
    title: str
    abstract: str
    journal: str
    themes: tuple[str, ...]


@dataclass(frozen=True)
class Suggestion:
    theme: str
    confidence: float  # share of the summed scores of all themes, 0..1


def name_example(theme: str, names: Sequence[str]) -> Example:
    """A theme's names and its group's names as one more example of the theme, as the app
    and ``simulate-themes --themes`` add them (the group's name tells the kind: "reviews")."""
    words = (" ".join(name.replace("_", " ").split()) for name in names if name)
    return Example(". ".join(w for w in words if w), "", "", (theme,))


def group_of(theme: str, groups: dict[str, str] | None = None) -> str:
    """The theme's group: from ``groups`` when given, else a dotted id's prefix."""
    if groups and theme in groups:
        return groups[theme]
    return theme.rsplit(".", 1)[0] if "." in theme else theme


def _text(title: str, abstract: str, journal: str) -> str:
    return " ".join(part for part in (clean_text(title), clean_text(abstract),
                                      clean_text(journal)) if part)


def _kind_columns(records: list[tuple[str, str, str]], weight: float) -> sparse.csr_matrix:
    """One column per kind (:data:`record_kind.KINDS`), rows of length ``weight``."""
    matrix = np.zeros((len(records), len(KINDS)))
    for i, record in enumerate(records):
        for kind in kinds(*record):
            matrix[i, KINDS.index(kind)] = 1.0
    return sparse.csr_matrix(normalize(matrix) * weight)


def features(records: list[tuple[str, str, str]],
             kind_weight: float = DEFAULTS.kind_weight) -> sparse.csr_matrix:
    """Rows of (title, abstract, journal): characters, words and kind, each block of unit
    length before the whole row is normalised (so no block drowns the others). Fitted on
    ``records`` (the examples and the record asked about), so a row's similarity to another
    is the same whatever order they come in."""
    texts = [_text(*record) for record in records]
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    words = TfidfVectorizer(sublinear_tf=True)
    return normalize(sparse.hstack([normalize(chars.fit_transform(texts)),
                                    normalize(words.fit_transform(texts)),
                                    _kind_columns(records, kind_weight)], format="csr"))


def suggest(examples: Sequence[Example], title: str, abstract: str = "", journal: str = "",
            *, groups: dict[str, str] | None = None, limit: int = LIMIT,
            settings: Settings = DEFAULTS) -> list[Suggestion]:
    """Up to ``limit`` themes for this record, best first; [] when nothing is themed yet."""
    examples = [e for e in examples if e.themes]
    if not examples or not _text(title, abstract, journal):
        return []
    matrix = features([(e.title, e.abstract, e.journal) for e in examples]
                      + [(title, abstract, journal)], settings.kind_weight)
    sims = (matrix[:-1] @ matrix[-1].T).toarray().ravel()
    return rank(examples, sims, groups=groups, limit=limit, settings=settings)


def rank(examples: Sequence[Example], sims: np.ndarray, *, groups: dict[str, str] | None = None,
         limit: int = LIMIT, settings: Settings = DEFAULTS) -> list[Suggestion]:
    """The themes of ``examples`` scored by their similarities ``sims`` to the record (the
    second half of :func:`suggest`, apart so a bench can try settings on one similarity)."""
    scores: dict[str, float] = defaultdict(float)
    for i in np.argsort(-sims, kind="stable")[:settings.neighbours]:
        for theme in examples[i].themes:
            scores[theme] += float(sims[i])
    weights = np.exp((sims - sims.max()) / settings.prior_temperature)
    weights *= settings.prior_weight / weights.sum()
    for i, example in enumerate(examples):
        for theme in example.themes:
            scores[theme] += float(weights[i])
    best: dict[str, float] = defaultdict(float)
    for theme, score in scores.items():
        best[group_of(theme, groups)] = max(best[group_of(theme, groups)], score)
    lifted = {t: s + settings.group_lift * best[group_of(t, groups)] for t, s in scores.items()}
    total = sum(lifted.values()) or 1.0
    ranked = sorted(lifted.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [Suggestion(theme, round(score / total, 3)) for theme, score in ranked]
