"""Theme suggestions for an included record, learned from records already themed.

Few themed records exist (a year gives about a hundred, many with a Norwegian title only), so
the suggester is a nearest-neighbour vote rather than a trained classifier:

- text = title, abstract and journal; features = in-word character 2-5-grams (Norwegian
  compounds share their parts: ``rusbehandling`` / ``rusproblemer``) plus words, tf-idf,
  fitted on the themed records and the new one;
- a theme's score = the similarity-weighted vote of the five most similar themed records, plus
  the similarity to the centroid of all records with that theme, plus a tiny share of its
  frequency (to break ties);
- themes of one group (the configured theme group; for bare ids like ``1.4.2.1`` the prefix
  ``1.4.2``) lift each other: a record close to substance-use reviews gets the substance-use
  review themes, not the most frequent theme of another group.

A theme's name can be given as one more example (the app passes the configured names), so
even a theme nobody has used yet can be suggested.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from evidence.screening.ranking import clean_text

#: How many neighbours vote, and how much a group's best theme lifts its siblings.
NEIGHBOURS = 5
GROUP_LIFT = 1.0
CENTROID_WEIGHT = 1.0
LIMIT = 3


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


def group_of(theme: str, groups: dict[str, str] | None = None) -> str:
    """The theme's group: from ``groups`` when given, else a dotted id's prefix."""
    if groups and theme in groups:
        return groups[theme]
    return theme.rsplit(".", 1)[0] if "." in theme else theme


def _text(title: str, abstract: str, journal: str) -> str:
    return " ".join(part for part in (clean_text(title), clean_text(abstract),
                                      clean_text(journal)) if part)


def _features(texts: list[str]) -> sparse.csr_matrix:
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    words = TfidfVectorizer(sublinear_tf=True)
    return normalize(sparse.hstack([chars.fit_transform(texts), words.fit_transform(texts)],
                                   format="csr"))


def suggest(examples: Sequence[Example], title: str, abstract: str = "", journal: str = "",
            *, groups: dict[str, str] | None = None, limit: int = LIMIT) -> list[Suggestion]:
    """Up to ``limit`` themes for this record, best first; [] when nothing is themed yet."""
    examples = [e for e in examples if e.themes]
    text = _text(title, abstract, journal)
    if not examples or not text:
        return []
    matrix = _features([_text(e.title, e.abstract, e.journal) for e in examples] + [text])
    known, new = matrix[:-1], matrix[-1]
    sims = (known @ new.T).toarray().ravel()
    scores: dict[str, float] = defaultdict(float)
    for i in np.argsort(-sims)[:NEIGHBOURS]:
        for theme in examples[i].themes:
            scores[theme] += float(sims[i])
    members: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        for theme in example.themes:
            members[theme].append(i)
    counts = Counter(t for e in examples for t in e.themes)
    for theme, rows in members.items():
        centroid = np.asarray(known[rows].mean(axis=0)).ravel()
        norm = float(np.linalg.norm(centroid)) or 1.0
        scores[theme] += (CENTROID_WEIGHT * float((new @ centroid)[0]) / norm
                          + 1e-3 * counts[theme])
    best: dict[str, float] = defaultdict(float)
    for theme, score in scores.items():
        best[group_of(theme, groups)] = max(best[group_of(theme, groups)], score)
    lifted = {t: s + GROUP_LIFT * best[group_of(t, groups)] for t, s in scores.items()}
    total = sum(lifted.values()) or 1.0
    ranked = sorted(lifted.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [Suggestion(theme, round(score / total, 3)) for theme, score in ranked]
