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

Example:

    python3 bench/themes_bench.py --splits 20
"""

from __future__ import annotations

import argparse
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

from evidence.models.record_kind import kinds  # noqa: E402
from evidence.models.simulation import (  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA), help="themed CSV (record_id,title,"
                        "abstract,themes[,journal])")
    parser.add_argument("--themes", default=str(LEGEND), help="theme legend CSV "
                        "(theme_id,heading[,group]) for the --themes figures")
    parser.add_argument("--splits", type=int, default=20, help="random halves to average")
    args = parser.parse_args()
    rows = read_themed(args.data)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(rows)} themed works from {Path(args.data).name}; {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, load {load:.1f} at start")
    print("a right theme among the three: suggester (baseline: three most used so far)")
    review = [("review" in kinds(r.title, r.abstract, r.journal)) for r in rows]
    legend = read_legend(args.themes)
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
