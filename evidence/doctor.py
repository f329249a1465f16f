"""``evidence doctor``: is this project ready to run, and if not, what is missing, in one list.

Checks the configuration (it validates), the working database (an evidence database of this
version or older, its integrity, migrations still to run, accounts), the environment each
configured source declares it reads (``Source.environment`` in its module, so a new source
is checked without changing this file), and the server's own variables. Reads only: the
database is opened read-only and never migrated.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from evidence.config import Config, ConfigError, load_config
from evidence.db.identity import identify, refusal
from evidence.web import SECURE_COOKIES_ENV

SECRET_ENV = "EVIDENCE_SECRET"
#: A signing secret shorter than this is guessable (``openssl rand -hex 32`` gives 64).
MIN_SECRET = 32


@dataclass
class Report:
    """``ok``: what was checked and is fine; ``advice``: worth doing, not wrong;
    ``problems``: to fix (the command exits 1)."""

    ok: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def examine(db_path: str | Path, config_path: str | Path, *,
            environ: Mapping[str, str] | None = None, quick: bool = False) -> Report:
    """Every check; see the module docstring."""
    env = os.environ if environ is None else environ
    report = Report()
    config = check_config(config_path, report)
    check_database(Path(db_path), report, quick=quick, config=config)
    if config is not None:
        check_sources(config, env, report, searches_run(Path(db_path)))
        check_folders(config, report)
    check_server_environment(config, env, report)
    return report


def check_config(config_path: str | Path, report: Report) -> Config | None:
    if not Path(config_path).exists():
        report.problems.append(f"{config_path} does not exist: run `evidence init` or point "
                               "--config / EVIDENCE_CONFIG at the configuration")
        return None
    try:
        config = load_config(config_path)
    except ConfigError as e:
        report.problems.append(str(e))
        return None
    report.ok.append(f"configuration {config_path}: {len(config.searches)} searches, "
                     f"{len(config.themes)} themes, {len(config.exclusion_reasons)} reasons")
    return config


def check_database(db_path: Path, report: Report, *, quick: bool = False,
                   config: Config | None = None) -> None:
    if not db_path.exists():
        report.problems.append(f"no working database at {db_path}: `evidence init` creates one"
                               " (or `evidence restore BACKUP`)")
        return
    identity = identify(db_path)
    reason = refusal(db_path, identity)
    if reason:
        report.problems.append(reason)
        return
    if identity.kind == "new":
        report.advice.append(f"{db_path} is empty: `evidence init` sets it up")
        return
    if identity.pending:
        report.advice.append(f"{db_path}: {len(identity.pending)} migrations run at the next "
                             "start of a command (`evidence backup` first)")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        pragma = "quick_check" if quick else "integrity_check"
        try:
            answers = [row[0] for row in conn.execute(f"PRAGMA {pragma}")]
        except sqlite3.DatabaseError as e:  # damage SQLite cannot even walk past
            answers = [str(e)]
        if answers != ["ok"]:
            report.problems.append(f"{db_path} failed {pragma}: {'; '.join(answers[:3])}; "
                                   "restore a backup (`evidence restore`)")
            return
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        accounts = _accounts(conn)
    finally:
        conn.close()
    report.ok.append(f"database {db_path}: {pragma} ok, {len(identity.applied)} migrations"
                     f"{'' if identity.pending else ' (up to date)'}, {records:,} records")
    sso = bool(config and config.screening.auth.header)
    if not accounts.get("lead") and not sso:
        report.advice.append("no lead account for the screening app: `evidence users add NAME "
                             "--role lead`")
    elif accounts:
        report.ok.append("accounts: " + ", ".join(f"{n} {role}" for role, n in accounts.items()))


def _accounts(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT role, count(*) FROM users WHERE NOT disabled"
                             " GROUP BY role ORDER BY role").fetchall())


def searches_run(db_path: Path) -> set[str] | None:
    """Names of the searches with at least one run (harvested or imported); None when
    nothing has run yet or the database cannot say (a new project)."""
    if not db_path.exists() or refusal(db_path, identify(db_path)):
        return None
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
        try:
            names = {row[0] for row in conn.execute(
                "SELECT DISTINCT s.name FROM runs r JOIN searches s ON s.id = r.search_id")}
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return names or None


def check_sources(config: Config, env: Mapping[str, str], report: Report,
                  run: set[str] | None = None) -> None:
    """The environment variables each configured search's source declares, once per variable.

    A variable a search needs is a problem (exit 1) when that search is in use: it has run
    (``run``: the searches with runs), or nothing has run yet (``run`` None: a new project is
    about to run what it configures). A search that has never run in a project that has
    (the demo, fed from files; a Zotero library configured but not used) only gets a note:
    `evidence harvest` would need the variable once it runs that search.
    """
    from evidence.harvest import get_source

    seen: dict[str, list[str]] = {}
    declared: dict[str, tuple] = {}
    needed_by: dict[str, list[str]] = {}  # in-use searches that cannot run without it
    dormant: dict[str, list[str]] = {}  # searches never run that would need it
    silent: set[str] = set()
    for search in config.searches:
        source = get_source(search.source)
        if source is not None and not getattr(source, "environment", ()):
            silent.add(source.title)
        for var in getattr(source, "environment", ()) if source else ():
            declared.setdefault(var.name, (var, source.title))
            seen.setdefault(var.name, []).append(search.name)
            if var.is_needed(source.options(search), config):
                in_use = run is None or search.name in run
                (needed_by if in_use else dormant).setdefault(var.name, []).append(search.name)
    for name, (var, title) in declared.items():
        value = env.get(name, "").strip()
        if value and var.url and not _is_http_url(value):
            report.problems.append(f"{name}={value!r} is not an http(s) address ({var.help})")
        elif value:
            report.ok.append(f"{name} set ({title}: {_names(seen[name])})")
        elif name in needed_by:
            report.problems.append(f"{name} is not set; {title} needs it for "
                                   f"{_names(needed_by[name])}: {var.help}")
        elif name in dormant:
            report.advice.append(f"{name} is not set; {title} needs it for "
                                 f"{_names(dormant[name])} (never run in this project: set it"
                                 f" before `evidence harvest` runs it): {var.help}")
        elif not var.url:
            report.advice.append(f"{name} is not set ({title}: {_names(seen[name])}): "
                                 f"{var.help}")
    for title in sorted(silent):
        report.advice.append(f"{title} declares no environment variables (Source.environment):"
                             " doctor cannot say whether it has what it needs")


def _names(searches: list[str]) -> str:
    return ", ".join(searches[:3]) + (" ..." if len(searches) > 3 else "")


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def check_folders(config: Config, report: Report) -> None:
    folder = config.screening.full_text_folder
    if folder and not Path(folder).is_dir():
        report.problems.append(f"screening.full_text_folder {folder} is not a folder")


def check_server_environment(config: Config | None, env: Mapping[str, str],
                             report: Report) -> None:
    secret = env.get(SECRET_ENV, "")
    if not secret:
        report.advice.append(f"{SECRET_ENV} is not set: `evidence screen` makes a random one, "
                             "so logins end at every restart (docs/deploy.md)")
    elif len(secret) < MIN_SECRET:
        report.problems.append(f"{SECRET_ENV} is {len(secret)} characters: use at least "
                               f"{MIN_SECRET} (`openssl rand -hex 32`)")
    else:
        report.ok.append(f"{SECRET_ENV} set")
    secure = env.get(SECURE_COOKIES_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    if config is not None and config.screening.auth.header and not secure:
        report.advice.append(f"screening.auth.header is set (a proxy, so HTTPS): set "
                             f"{SECURE_COOKIES_ENV}=1 so cookies are sent over HTTPS only")
