"""SAFE's check with a second model, simulated on the labelled sets.

Per set and prior pair: screen with the app's first model (ranking.rank, on the app's
retraining schedule) until SAFE's stopping heuristic is met (models/stopping.py: 10 %
screened, twice the estimated inclusions, 50 exclusions in a row), then go on with a second
model until another 50 exclusions in a row, as the app does. Printed: where the heuristic was
met (records screened, inclusions found of all), and per second model the records the check
took and the inclusions it found that the first phase had missed.

Second models: ``first model on`` (no switch: what screening on without SAFE's check finds),
``check model`` (the app's: ranking.rank_check, logistic regression on character 4-grams) and,
with ``--alternatives``, naive Bayes on single words and logistic regression on character
3-5-grams, the candidates measured against it (docs/ranking.md).

Example:

    python3 bench/safe_bench.py --priors 6
    python3 bench/safe_bench.py --sets Nagtegaal_2019 --priors 4 --alternatives
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ranking_bench import FIXTURES, SETS, machine, prior_pairs  # noqa: E402

from evidence.models import ranking  # noqa: E402
from evidence.models.simulation import read_labelled  # noqa: E402
from evidence.models.stopping import (  # noqa: E402
    estimate_remaining,
    leading_exclusions,
    safe_criteria,
)

RUN = 50
MIN_SHARE = 0.10
Scorer = Callable[[list[int], np.ndarray], np.ndarray]


def heuristic_met(y: np.ndarray, order: list[int]) -> bool:
    recent = ["include" if y[i] else "exclude" for i in reversed(order)]
    return all(safe_criteria(
        total=len(y), screened=len(order), inclusions=int(y[order].sum()),
        run=leading_exclusions(recent), remaining=estimate_remaining(recent, len(y) - len(order)),
        min_share=MIN_SHARE, run_needed=RUN).values())


def screen(score: Scorer, y: np.ndarray, order: list[int], done: Callable[[list[int]], bool]
           ) -> list[int]:
    """Go on from ``order``: the best-scored unseen record next, retrained on the app's
    schedule, until ``done(order)`` or nothing is left."""
    order = list(order)
    seen = np.zeros(len(y), dtype=bool)
    seen[order] = True
    scores, since = score(order, y[order]), 0
    while len(order) < len(y) and not done(order):
        if ranking.should_retrain(len(order), since, bool(y[order[-1]])):
            scores, since = score(order, y[order]), 0
        nxt = int(np.argmax(np.where(seen, -np.inf, scores)))
        order.append(nxt)
        seen[nxt] = True
        since += 1
    return order


def check_done(start: int, y: np.ndarray) -> Callable[[list[int]], bool]:
    return lambda order: leading_exclusions(
        ["include" if y[i] else "exclude" for i in reversed(order[start:])]) >= RUN


def second_models(records: list[tuple[str, str]], alternatives: bool) -> dict[str, Scorer]:
    first = ranking.build_features(records)
    check = ranking.build_check_features(records)
    models: dict[str, Scorer] = {
        "first model on": lambda rows, y: ranking.rank(first, rows, y),
        "check model": lambda rows, y: ranking.rank_check(check, rows, y),
    }
    if alternatives:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.naive_bayes import MultinomialNB

        texts = [ranking.record_text(t, a) for t, a in records]
        words = TfidfVectorizer(sublinear_tf=True, max_df=0.95).fit_transform(texts)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                max_df=0.95).fit_transform(texts)

        def balanced(y):
            return np.where(y == 1, 0.5 / (y == 1).sum(), 0.5 / (y == 0).sum()) * len(y)

        def nb(rows, y):
            model = MultinomialNB(alpha=3.822).fit(words[rows], y, sample_weight=balanced(y))
            return words @ (model.feature_log_prob_[1] - model.feature_log_prob_[0])

        def lr35(rows, y):
            model = LogisticRegression(max_iter=1000).fit(chars[rows], y,
                                                          sample_weight=balanced(y))
            return model.decision_function(chars)

        models |= {"naive Bayes, words": nb, "logistic, chars 3-5": lr35}
    return models


def bench_set(name: str, priors: int, alternatives: bool) -> None:
    included, excluded, _ = SETS[name]
    rows = read_labelled(FIXTURES / f"{name}.csv")
    index = {row.record_id: i for i, row in enumerate(rows)}
    y = np.array([int(row.value) for row in rows])
    records = [(row.title, row.abstract) for row in rows]
    models = second_models(records, alternatives)
    pairs = prior_pairs(list(y), (index[included[0]], index[excluded[0]]), priors)
    totals = {label: [0, 0, 0.0] for label in models}
    print(f"{name}: {len(y)} records, {y.sum()} inclusions")
    for pair in pairs:
        order = screen(models["first model on"], y, list(pair), lambda o: heuristic_met(y, o))
        found = int(y[order].sum())
        line = [f"  priors {pair}: heuristic met after {len(order)} records, {found} found"]
        for label, score in models.items():
            start = time.process_time()
            after = screen(score, y, order, check_done(len(order), y))
            cpu = time.process_time() - start
            more, extra = len(after) - len(order), int(y[after].sum()) - found
            totals[label][0] += more
            totals[label][1] += extra
            totals[label][2] += cpu
            line.append(f"{label}: +{extra} in {more}")
        print("; ".join(line), flush=True)
    for label, (more, extra, cpu) in totals.items():
        print(f"  {label}: {extra} missed inclusions found in {more} records over {len(pairs)}"
              f" prior pairs (CPU {cpu / len(pairs):.1f} s a check)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="labelled sets to simulate")
    parser.add_argument("--priors", type=int, default=4,
                        help="prior pairs: the reference pair and random ones (seed 7)")
    parser.add_argument("--alternatives", action="store_true",
                        help="also measure the second models not chosen")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for name in filter(None, args.sets.split(",")):
        bench_set(name, args.priors, args.alternatives)


if __name__ == "__main__":
    main()
