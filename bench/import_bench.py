"""Time `import_file` on a generated RIS export (records per second).

Usage: python3 bench/import_bench.py [--entries 50000] [--keep DIR] [--skip-dedupe] [--narrow]
       python3 bench/import_bench.py --real [--copies 4] [--repeat 3]
       python3 bench/import_bench.py --file EXPORT.ris [--repeat 3]

``--real`` imports real records instead (titles, abstracts, DOIs, years and, where the set has
them, authors and journals of the labelled sets in tests/fixtures: two screened reviews and the
dedupe set), as one RIS file; ``--copies 4`` makes it four times larger (shuffled titles);
``--repeat`` runs it several times.
``--file`` times an export of your own (any format ``evidence import`` reads).

Prints the machine (cores, RAM), then figures for the same file: parsing only
(``read_file``), import without deduplication, import with the deduplication that
``import_file`` runs (into a fresh database each time), a re-import, and the ``evidence import``
command in a new process (Python's start and imports included).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

WORDS = ("community mental health primary care service organisation competence "
         "interdisciplinary nursing integrated substance use addiction municipal outcomes "
         "systematic review meta-analysis stigma loneliness workforce efficiency").split()
#: Made-up extra title words and surnames so entries differ as much as real ones do: with only
#: WORDS and the 15 NAMES, every entry shares its dedupe blocking keys (title ends,
#: first author + year) with thousands of others and the fuzzy dedupe compares far more pairs
#: than a real export gives (``--narrow`` keeps that worst case).
SYLLABLES = "ka lo mi ne su ta ve ri do fa gu be ho ja ly".split()
EXTRA = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in ("n", "r", "s", "l")]
NAMES = ("Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen "
         "Berg Haugen Hagen Eriksen Bakke").split()


def write_ris(path: Path, entries: int, seed: int = 1, narrow: bool = False) -> None:
    rng = random.Random(seed)
    vocabulary = WORDS if narrow else WORDS + EXTRA
    names = NAMES if narrow else NAMES + [w.capitalize() + "sen" for w in EXTRA]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(entries):
            title = " ".join(rng.choice(vocabulary) for _ in range(12)).capitalize()
            abstract = " ".join(rng.choice(WORDS) for _ in range(150))
            f.write("TY  - JOUR\n")
            f.write(f"TI  - {title} ({i})\n")
            for _ in range(rng.randint(1, 6)):
                f.write(f"AU  - {rng.choice(names)}, {rng.choice('ABCDEFGHIJ')}.\n")
            f.write(f"PY  - {rng.choice((2023, 2024))}\n")
            f.write(f"T2  - Journal of {rng.choice(WORDS).capitalize()} Studies\n")
            f.write(f"VL  - {rng.randint(1, 60)}\nIS  - {rng.randint(1, 12)}\n")
            f.write(f"SP  - {rng.randint(1, 900)}\nEP  - {rng.randint(901, 999)}\n")
            f.write(f"DO  - 10.{rng.randint(1000, 9999)}/bench.{i}\n")
            f.write(f"AB  - BACKGROUND: {abstract[:400]} METHODS: {abstract[400:]}\n")
            for _ in range(3):
                f.write(f"KW  - {rng.choice(WORDS)}\n")
            if i % 2:
                f.write(f"AN  - bench-{i}\n")
            f.write("ER  - \n\n")


FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def write_real_ris(path: Path, copies: int = 1) -> int:
    """The real records of the labelled sets as one RIS file; returns how many.

    ``copies`` > 1 adds copies of every record as other works of the same size: the title's
    words shuffled, the DOI and id suffixed, the year 10 years earlier per copy (so they share
    no blocking key with the original). A file of real records' size and shape, larger than
    the sets are (12,112 records with ``--copies 4``).
    """
    import csv

    sets = [FIXTURES / "ranking" / "Nagtegaal_2019.csv", FIXTURES / "ranking" / "Sep_2021.csv",
            FIXTURES / "dedup" / "labelled_dev.csv"]
    rows = []
    for source in sets:
        with open(source, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                value = {k: (v or "").strip() for k, v in row.items()}
                value = {k: "" if v == "NA" else " ".join(v.split()) for k, v in value.items()}
                if value.get("title"):
                    rows.append((source.stem, value))
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as f:
        for copy in range(copies):
            for stem, value in rows:
                title, doi, year = value["title"], value.get("doi"), value.get("year")
                if copy:
                    words = title.split()
                    title = " ".join(rng.sample(words, len(words)))
                    doi = f"{doi}.c{copy}" if doi else doi
                    year = str(int(year) - 10 * copy) if (year or "").isdigit() else year
                f.write("TY  - JOUR\n")
                f.write(f"ID  - {stem}-{value['record_id']}{f'-c{copy}' if copy else ''}\n")
                f.write(f"TI  - {title}\n")
                for author in filter(None, value.get("author", "").split(";")):
                    f.write(f"AU  - {author.strip()}\n")
                fields = {**value, "doi": doi, "year": year}
                for key, tag in (("year", "PY"), ("journal", "T2"), ("volume", "VL"),
                                 ("number", "IS"), ("pages", "SP"), ("doi", "DO"),
                                 ("abstract", "AB")):
                    if fields.get(key):
                        f.write(f"{tag}  - {fields[key]}\n")
                f.write("ER  - \n\n")
    return len(rows) * copies


def machine() -> str:
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    return (f"{platform.processor() or platform.machine()}, nproc={os.cpu_count()}, RAM {mem},"
            f" Python {platform.python_version()}")


def timed(label: str, entries: int, fn) -> None:
    """Wall time, and CPU time of this process (steadier when others share the cores).

    The disk cache is flushed first, so the writes of the run before are not written back
    during this one."""
    os.sync()
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{label:<32} {seconds:7.2f} s wall {entries / seconds:8,.0f}/s"
          + (f"   {cpu:7.2f} s CPU {entries / cpu:8,.0f}/s" if cpu > 0.01 else ""))


def run_command(ris: Path, db: Path) -> None:
    """``evidence import`` as a researcher runs it: a new process (Python's start and the
    command's imports included) into a new working database, no configuration."""
    subprocess.run([sys.executable, "-m", "evidence", "import", str(ris), "--db", str(db)],
                   check=True, capture_output=True, cwd=db.parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--keep", help="Directory for the file and databases (default: temp)")
    parser.add_argument("--skip-dedupe", action="store_true", help="Skip the runs with dedupe")
    parser.add_argument("--narrow", action="store_true",
                        help="Titles from 20 words only (worst case for the fuzzy dedupe)")
    parser.add_argument("--real", action="store_true",
                        help="Real records of the labelled sets instead of generated ones")
    parser.add_argument("--copies", type=int, default=1,
                        help="With --real: the records this many times, as other works")
    parser.add_argument("--file", type=Path, help="An export of your own to import instead")
    parser.add_argument("--repeat", type=int, default=1, help="Runs of each figure")
    args = parser.parse_args()

    from evidence.db.migrations import open_db
    from evidence.dedupe import cluster as dedupe
    from evidence.harvest import files
    from evidence.harvest.files.importing import import_file

    directory = Path(args.keep or tempfile.mkdtemp(prefix="import-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("a.db", "b.db", "c.db"):  # fresh databases: a kept one would make a re-import
        for suffix in ("", "-wal", "-shm"):
            (directory / (name + suffix)).unlink(missing_ok=True)
    ris = directory / "bench.ris"
    if args.file:
        ris = args.file
        args.entries = sum(1 for _ in files.read_file(ris))
    elif args.real:
        args.entries = write_real_ris(ris, args.copies)
    else:
        write_ris(ris, args.entries, narrow=args.narrow)
    print(f"machine: {machine()}")
    print(f"file: {ris.name if args.file else 'generated'}: {args.entries:,} entries,"
          f" {ris.stat().st_size / 1e6:.1f} MB"
          f"{', real records' if args.real else ''}"
          f"{', narrow vocabulary' if args.narrow else ''}")
    for run in range(args.repeat):
        for name in ("a.db", "b.db", "c.db"):
            for suffix in ("", "-wal", "-shm"):
                (directory / f"{run}{name}{suffix}").unlink(missing_ok=True)
                if run:  # the last run's databases: they only fill the disk cache
                    (directory / f"{run - 1}{name}{suffix}").unlink(missing_ok=True)
        timed("parse only (read_file)", args.entries,
              lambda: sum(1 for _ in files.read_file(ris)))
        no_dedupe = dedupe.DedupeResult()
        with mock.patch("evidence.harvest.files.importing.dedupe.dedupe",
                        return_value=no_dedupe):
            timed("import_file without dedupe", args.entries,
                  lambda run=run: import_file(open_db(directory / f"{run}a.db"), ris))
        print(f"load average: {os.getloadavg()[0]:.1f}")
        if args.skip_dedupe:
            continue
        timed("import_file with dedupe", args.entries,
              lambda run=run: import_file(open_db(directory / f"{run}b.db"), ris))
        timed("re-import (all already stored)", args.entries,
              lambda run=run: import_file(open_db(directory / f"{run}b.db"), ris))
        timed("evidence import (the command)", args.entries,
              lambda run=run: run_command(ris, directory / f"{run}c.db"))


if __name__ == "__main__":
    main()
