"""Hostile load against real servers (issue 13): what a reader or reviewer waits meanwhile.

1. Published site: ``--sql-clients`` clients loop an expensive SQL query (one that runs until
   the time limit stops it) while one reader loads record pages; prints the reader's median and
   p95, and the SQL answers by status (400 = stopped by the time limit, 429 = turned away).
2. Published site: ``select randomblob(1000000000)`` and 1,000 rows of ``zeroblob(900000)``;
   prints status, time and the server's peak memory growth; then work inside one function
   call (``printf('%.*c', 2000000000, 'x')``, ``instr``/``replace`` of a long needle).
2b. Published site: ``--search-clients`` clients loop broad searches (``_searchmode=raw`` with
   ``a* OR b* ... OR z*``, and 16 two-letter words) while one reader loads record pages.
   ``--published DB`` serves that published file instead of the demo's (the 200,000-record
   file of ``bench/publish_bench.py --dir DIR`` shows the cost of a broad search).
3. Screening app: ``--login-clients`` clients loop failed logins (real 600,000-round PBKDF2)
   while a reviewer loads the queue; prints the reviewer's median and p95.

Example:

    python3 bench/security_bench.py --sql-clients 10 --login-clients 10 --seconds 8
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SLOW_SQL = ("with recursive c(x) as (select 1 union all select x + 1 from c)"
            " select count(*) from c")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], cwd: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "EVIDENCE_SECRET": "bench"}
    process = subprocess.Popen([sys.executable, "-m", "evidence", *args, "--port", str(port)],
                               cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server on port {port} did not start")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def loop(fn, stop: threading.Event, results: list) -> None:
    while not stop.is_set():
        results.append(fn())


def timed_pages(url: str, cookies: dict, seconds: float) -> list[float]:
    times, end = [], time.monotonic() + seconds
    session = requests.Session()
    while time.monotonic() < end:
        started = time.monotonic()
        session.get(url, cookies=cookies, timeout=60)
        times.append((time.monotonic() - started) * 1000)
    return times


def under_load(load, clients: int, url: str, cookies: dict, seconds: float):
    stop, results = threading.Event(), []
    threads = [threading.Thread(target=loop, args=(load, stop, results)) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    times = timed_pages(url, cookies, seconds)
    stop.set()
    for t in threads:
        t.join()
    return times, results


def summary(times: list[float]) -> str:
    times = sorted(times)
    return (f"median {statistics.median(times):.0f} ms, "
            f"p95 {times[int(len(times) * 0.95) - 1]:.0f} ms ({len(times)} pages)")


def counts(statuses: list[int]) -> str:
    return ", ".join(f"{s}: {statuses.count(s)}" for s in sorted(set(statuses)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sql-clients", type=int, default=10)
    parser.add_argument("--login-clients", type=int, default=10)
    parser.add_argument("--search-clients", type=int, default=16)
    parser.add_argument("--published", help="A published.db to serve instead of the demo's.")
    parser.add_argument("--seconds", type=float, default=8)
    options = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="security-bench-"))
    try:
        subprocess.run([sys.executable, "-m", "evidence", "demo", "--dir", str(work)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        published(work, options)
        screening(work, options)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def published(work: Path, options) -> None:
    port = free_port()
    server = start(["serve", str(Path(options.published).resolve()) if options.published
                    else "published.db"], work, port)
    name = Path(options.published).stem if options.published else "published"
    base = f"http://127.0.0.1:{port}"
    try:
        record = f"{base}/-/records/" + requests.get(
            f"{base}/{name}.json", params={"sql": "select min(id) from records",
                                              "_shape": "arrayfirst"}).json()[0].__str__()
        quiet = timed_pages(record, {}, 2)
        print(f"published record page, quiet: {summary(quiet)}")

        def slow_sql() -> int:
            return requests.get(f"{base}/{name}.json", params={"sql": SLOW_SQL},
                                timeout=60).status_code

        times, statuses = under_load(slow_sql, options.sql_clients, record, {},
                                     options.seconds)
        print(f"published record page, {options.sql_clients} clients looping slow SQL: "
              f"{summary(times)}; SQL answers {counts(statuses)}")
        before = rss_kb(server.pid)
        for sql in ("select randomblob(1000000000)",
                    "with recursive c(x) as (select 1 union all select x + 1 from c limit 1000)"
                    " select zeroblob(900000) from c"):
            started = time.monotonic()
            status = requests.get(f"{base}/{name}.json", params={"sql": sql},
                                  timeout=120).status_code
            print(f"{sql[:60]!r}: HTTP {status} in {time.monotonic() - started:.2f} s, "
                  f"server memory +{(rss_kb(server.pid) - before) / 1024:.0f} MB")
        for sql in ("select printf('%.*c', 2000000000, 'x')",
                    "select instr(hex(zeroblob(499999)), hex(zeroblob(100000)) || '1')",
                    "select replace(hex(zeroblob(499999)), hex(zeroblob(100000)) || '1', 'x')",
                    "select ltrim(hex(zeroblob(400000)) || 'x',"
                    " replace(hex(zeroblob(30000)), '0', '1') || '0')"):
            started = time.monotonic()
            status = requests.get(f"{base}/{name}.json", params={"sql": sql},
                                  timeout=120).status_code
            print(f"{sql[:60]!r}: HTTP {status} in {time.monotonic() - started:.2f} s")
        letters = " OR ".join(f"{c}*" for c in "abcdefghijklmnopqrstuvwxyz")
        words = " ".join(a + b for a, b in zip("abcdefghijklmnop", "etaoinshrdlucmfw",
                                               strict=True))

        def broad_search() -> int:
            raw = requests.get(f"{base}/{name}/records", params={
                "_search": letters, "_searchmode": "raw"}, timeout=60).status_code
            plain = requests.get(f"{base}/{name}/records", params={"_search": words},
                                 timeout=60).status_code
            return max(raw, plain)

        times, statuses = under_load(broad_search, options.search_clients, record, {},
                                     options.seconds)
        print(f"published record page, {options.search_clients} clients looping broad "
              f"searches: {summary(times)}; search answers {counts(statuses)}")
    finally:
        server.terminate()
        server.wait()


def screening(work: Path, options) -> None:
    from evidence.db.migrations import open_db
    from evidence.screening.auth import add_user

    db = open_db(work / "evidence.db")
    add_user(db, "benchreviewer", "bench password", "reviewer")
    db.close()
    port = free_port()
    server = start(["screen"], work, port)
    base = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        token = session.get(f"{base}/-/login").cookies["ds_csrftoken"]
        session.post(f"{base}/-/login", data={"username": "benchreviewer",
                                              "password": "bench password",
                                              "csrftoken": token}, allow_redirects=False)
        cookies = dict(session.cookies)
        quiet = timed_pages(f"{base}/-/screen", cookies, 2)
        print(f"screening queue page, quiet: {summary(quiet)}")

        def failed_login() -> int:
            s = requests.Session()
            csrf = s.get(f"{base}/-/login").cookies["ds_csrftoken"]
            return s.post(f"{base}/-/login", data={"username": "benchreviewer",
                                                   "password": "wrong password",
                                                   "csrftoken": csrf},
                          allow_redirects=False, timeout=60).status_code

        times, statuses = under_load(failed_login, options.login_clients,
                                     f"{base}/-/screen", cookies, options.seconds)
        print(f"screening queue page, {options.login_clients} clients looping failed logins: "
              f"{summary(times)}; login answers {counts(statuses)}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
