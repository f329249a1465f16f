"""Theme suggestions: how often a right theme is among the three suggested.

Runs the code of ``evidence simulate-themes`` (:func:`models.simulation.simulate_themes`)
on the 2024 report's 52 themed works (tests/fixtures/themes/sintef2024_dev.csv), and beside
it the baseline "the three themes used most so far", in three ways:

- leave one out: each work suggested for from the other 51 (the steadiest figure; closest to
  a new year learning from last year's themed works);
- two halves in file order (every other work), each half learning, the other suggested for in
  order with its themes revealed after each work (the figure published before);
- 20 random halves (seeded), the same way; mean, lowest and highest.

Each for the suggester as ``evidence simulate-themes`` runs it by default (TRAIN only), with
``--themes legend.csv`` (the theme headings and groups, as the app knows them from its
configuration), and for the baseline; the leave-one-out figure also per kind of work
(reviews, the others), and the CPU seconds of each. Goal (issue 14): a right theme among
three for 70 % of the works.

Those figures are optimistic: the settings (:class:`models.theme_suggestions.Settings`) were
tuned on these same 52 works. ``--nested`` prints a figure tuning did not see: repeated
5-fold cross-validation whose splits are fixed by a seed before anything is tuned; inside
each outer training part, every setting of :data:`GRID` (the values explored while tuning,
docs/ranking.md) is scored by leave-one-out on that part alone, the best is kept, and only
then are the held-out works suggested for, from the training part. The same outer splits
give the fixed defaults' figure (tuned on all 52, so still optimistic) and the baseline's.
``--repeats 0`` leaves one work out in the outer loop too: each work from the other 51, as
the leave-one-out figure, with settings chosen on those 51 alone.

Example:

    python3 bench/themes_bench.py --splits 20
    python3 bench/themes_bench.py --nested --repeats 10
    python3 bench/themes_bench.py --nested --repeats 0
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "fixtures" / "themes" / "sintef2024_dev.csv"
LEGEND = DATA.with_name("legend.csv")
sys.path.insert(0, str(ROOT))

from evidence.models import theme_suggestions as ts  # noqa: E402
from evidence.models.record_kind import kinds  # noqa: E402
from evidence.models.simulation import (  # noqa: E402
    Legend,
    Row,
    read_legend,
    read_themed,
    simulate_themes,
)

Run = Callable[[list[Row], list[Row]], list[tuple[str, list[str]]]]


def most_used(train: list[Row], test: list[Row]) -> list[tuple[str, list[str]]]:
    """The baseline: the three themes used most so far (ties by id), learning as it goes."""
    counts = Counter(t for row in train for t in _themes(row))
    result = []
    for row in test:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        result.append((row.record_id, [theme for theme, _ in ranked]))
        counts.update(_themes(row))
    return result


def _themes(row: Row) -> list[str]:
    return [t.strip() for t in row.value.split(";") if t.strip()]


def hits(rows: list[Row], result: list[tuple[str, list[str]]]) -> list[bool]:
    truth = {row.record_id: set(_themes(row)) for row in rows}
    return [bool(set(suggested) & truth[record_id]) for record_id, suggested in result]


def leave_one_out(rows: list[Row], run: Run) -> list[bool]:
    return [hits(rows, run(rows[:i] + rows[i + 1:], [row]))[0] for i, row in enumerate(rows)]


def share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def halves(rows: list[Row], run: Run) -> tuple[float, float]:
    first, second = rows[::2], rows[1::2]
    return share(hits(rows, run(first, second))), share(hits(rows, run(second, first)))


def random_halves(rows: list[Row], run: Run, splits: int) -> list[float]:
    rng = random.Random(2024)
    figures = []
    for _ in range(splits):
        shuffled = rows[:]
        rng.shuffle(shuffled)
        middle = len(shuffled) // 2
        figures.append(share(hits(rows, run(shuffled[:middle], shuffled[middle:]))))
    return figures


#: The settings tried inside each outer training part: the values explored while tuning
#: (docs/ranking.md, "Measured and left out"), 540 combinations.
GRID = [ts.Settings(n, lift, kind, weight, temp) for n, lift, kind, weight, temp in
        itertools.product((3, 4, 5, 6, 8), (0.0, 0.5, 1.0, 2.0), (0.5, 1.0, 1.5),
                          (0.25, 0.5, 1.0), (0.25, 0.5, 1.0))]


def _example(row: Row) -> ts.Example:
    return ts.Example(row.title, row.abstract, row.journal, tuple(_themes(row)))


def _right(suggestions: list[ts.Suggestion], row: Row) -> bool:
    return bool({s.theme for s in suggestions} & set(_themes(row)))


def best_settings(train: list[Row], legend: Legend | None) -> ts.Settings:
    """The setting of :data:`GRID` with the most right suggestions by leave-one-out on
    ``train`` alone (ties: the first in the grid's order).

    Each left-out work's similarities are a row of one matrix per kind weight: the features
    are fitted on the left-out work and its examples, which is ``train`` (and the legend's
    names) every time, so the matrix is that of :func:`ts.suggest` for each of them."""
    names = legend.names if legend else []
    groups = legend.groups if legend else None
    examples = [_example(r) for r in train] + names
    records = [(e.title, e.abstract, e.journal) for e in examples]
    n = len(train)
    scores: list[int] = []
    grams = {}
    for kind_weight in sorted({s.kind_weight for s in GRID}):
        matrix = ts.features(records, kind_weight)
        grams[kind_weight] = (matrix @ matrix.T).toarray()
    others = [[j for j in range(len(examples)) if j != i] for i in range(n)]
    for settings in GRID:
        gram = grams[settings.kind_weight]
        right = 0
        for i in range(n):
            keep = others[i]
            found = ts.rank([examples[j] for j in keep], gram[i, keep], groups=groups,
                            settings=settings)
            right += _right(found, train[i])
        scores.append(right)
    return GRID[scores.index(max(scores))]


def nested(rows: list[Row], legend: Legend | None, repeats: int, folds: int = 5,
           ) -> tuple[list[float], list[float], list[float], Counter]:
    """Per repeat: the share of right suggestions for held-out works with settings chosen on
    the training part only (nested), with the fixed defaults, and for the baseline; and how
    often each setting was chosen."""
    names = legend.names if legend else []
    groups = legend.groups if legend else None
    chosen: Counter = Counter()
    honest, defaults, baseline = [], [], []
    for repeat in range(repeats):
        order = rows[:]
        random.Random(1000 + repeat).shuffle(order)  # the splits, fixed before any tuning
        right = {"nested": 0, "defaults": 0, "baseline": 0}
        for fold in range(folds):
            test = order[fold::folds]
            train = [r for r in order if r not in test]
            settings = best_settings(train, legend)
            chosen[settings] += 1
            examples = [_example(r) for r in train] + names
            for row in test:
                for key, use in (("nested", settings), ("defaults", ts.DEFAULTS)):
                    found = ts.suggest(examples, row.title, row.abstract, row.journal,
                                       groups=groups, settings=use)
                    right[key] += _right(found, row)
            right["baseline"] += sum(hits(rows, _frozen_most_used(train, test)))
        honest.append(right["nested"] / len(rows))
        defaults.append(right["defaults"] / len(rows))
        baseline.append(right["baseline"] / len(rows))
    return honest, defaults, baseline, chosen


def nested_leave_one_out(rows: list[Row], legend: Legend | None,
                         ) -> tuple[list[bool], list[bool], Counter]:
    """Each work suggested for from the other 51 (as the leave-one-out figure), with the
    settings chosen by leave-one-out on those 51 alone: tuning never sees the work."""
    names = legend.names if legend else []
    groups = legend.groups if legend else None
    chosen: Counter = Counter()
    honest, defaults = [], []
    for i, row in enumerate(rows):
        train = rows[:i] + rows[i + 1:]
        settings = best_settings(train, legend)
        chosen[settings] += 1
        examples = [_example(r) for r in train] + names
        for flags, use in ((honest, settings), (defaults, ts.DEFAULTS)):
            flags.append(_right(ts.suggest(examples, row.title, row.abstract, row.journal,
                                           groups=groups, settings=use), row))
    return honest, defaults, chosen


def _frozen_most_used(train: list[Row], test: list[Row]) -> list[tuple[str, list[str]]]:
    """The baseline without learning from the held-out works: the training part's three
    most used themes for each of them."""
    counts = Counter(t for row in train for t in _themes(row))
    top = [theme for theme, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
    return [(row.record_id, top) for row in test]


def _spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.1%} ({min(values):.0%}-{max(values):.0%})"


def main_nested(rows: list[Row], legend: Legend, repeats: int) -> None:
    outer = f"{repeats} x 5-fold" if repeats else "leave one out"
    print(f"nested: outer {outer}, settings chosen by leave-one-out on each training part "
          f"among {len(GRID)}; a right theme among three for held-out works"
          + (", mean of the repeats (lowest-highest)" if repeats else ""))
    for name, use in (("suggester", None), ("--themes", legend)):
        started = time.process_time()
        if repeats == 0:  # the outer loop leaves one out
            honest_flags, default_flags, chosen = nested_leave_one_out(rows, use)
            common = ", ".join(f"{s.neighbours}/{s.group_lift:g}/{s.kind_weight:g}/"
                               f"{s.prior_weight:g}/{s.prior_temperature:g} x{n}"
                               for s, n in chosen.most_common(3))
            print(f"{name:9}  nested leave one out {share(honest_flags):.1%}  fixed defaults "
                  f"{share(default_flags):.1%}  CPU {time.process_time() - started:.0f} s")
            print(f"           chosen most often (neighbours/lift/kind/weight/temperature): "
                  f"{common}")
            continue
        honest, defaults, baseline, chosen = nested(rows, use, repeats)
        cpu = time.process_time() - started
        common = ", ".join(f"{s.neighbours}/{s.group_lift:g}/{s.kind_weight:g}/"
                           f"{s.prior_weight:g}/{s.prior_temperature:g} x{n}"
                           for s, n in chosen.most_common(3))
        print(f"{name:9}  nested {_spread(honest)}  fixed defaults {_spread(defaults)}  "
              f"baseline {_spread(baseline)}  CPU {cpu:.0f} s")
        print(f"           chosen most often (neighbours/lift/kind/weight/temperature): "
              f"{common}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA), help="themed CSV (record_id,title,"
                        "abstract,themes[,journal])")
    parser.add_argument("--themes", default=str(LEGEND), help="theme legend CSV "
                        "(theme_id,heading[,group]) for the --themes figures")
    parser.add_argument("--splits", type=int, default=20, help="random halves to average")
    parser.add_argument("--nested", action="store_true", help="only the figure tuning did not "
                        "see: nested cross-validation (about a minute per repeat)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the nested 5-fold "
                        "cross-validation; 0: the outer loop leaves one work out")
    args = parser.parse_args()
    rows = read_themed(args.data)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(rows)} themed works from {Path(args.data).name}; {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, load {load:.1f} at start")
    legend = read_legend(args.themes)
    if args.nested:
        main_nested(rows, legend, args.repeats)
        return
    print("a right theme among the three: suggester (baseline: three most used so far)")
    review = [("review" in kinds(r.title, r.abstract, r.journal)) for r in rows]
    runs: list[tuple[str, Run]] = [
        ("suggester", simulate_themes),
        ("--themes", lambda train, test: simulate_themes(train, test, legend)),
        ("baseline", most_used)]
    for name, run in runs:
        started = time.process_time()
        loo = leave_one_out(rows, run)
        one, two = halves(rows, run)
        spread = random_halves(rows, run, args.splits)
        cpu = time.process_time() - started
        reviews = share([h for h, r in zip(loo, review, strict=True) if r])
        others = share([h for h, r in zip(loo, review, strict=True) if not r])
        print(f"{name:9}  leave one out {share(loo):.1%} (reviews {reviews:.0%} of "
              f"{sum(review)}, others {others:.0%} of {len(rows) - sum(review)})  "
              f"halves {one:.0%} / {two:.0%}  {args.splits} random halves mean "
              f"{statistics.mean(spread):.1%} ({min(spread):.0%}-{max(spread):.0%})  "
              f"CPU {cpu:.1f} s")


if __name__ == "__main__":
    main()
