"""Shared click options and the error boundary, defined once and reused by every command."""

from __future__ import annotations

import functools
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import click

from evidence.config import Config, load_config
from evidence.errors import EvidenceError
from evidence.project import load_optional_config, open_database  # noqa: F401


def db_option(fn: Callable) -> Callable:
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False), default="evidence.db",
        show_default=True, envvar="EVIDENCE_DB", help="Working SQLite database.")(fn)


def config_option(fn: Callable) -> Callable:
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default="evidence.yml",
        show_default=True, envvar="EVIDENCE_CONFIG", help="Configuration file (YAML).")(fn)


def silent_option(fn: Callable) -> Callable:
    return click.option("-s", "--silent", is_flag=True, help="Hide progress bars.")(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON instead of a table.")(fn)


def open_config(config_path: str, *, required: bool = True) -> Config | None:
    """Load the configuration; without ``required``, a missing file gives None."""
    if not required:
        return load_optional_config(config_path)
    return load_config(config_path)


def user_errors(fn: Callable) -> Callable:
    """Turn our library errors into ``Error: ...`` with exit code 1.

    Only :class:`EvidenceError` (and its subclasses such as ``ConfigError``) is the user's to
    fix; anything else is a bug in this program and keeps its traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EvidenceError as e:
            raise click.ClickException(str(e)) from e
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                raise
            raise click.ClickException(
                "the database is busy: another evidence command (or the screening app) kept "
                "it locked for longer than the 10 s wait; try again when it has finished"
            ) from e

    return wrapper


def progress_enabled(silent: bool) -> bool:
    """Progress bars only for a person at a terminal, on stderr, and never with --silent."""
    return not silent and sys.stderr.isatty() and not os.environ.get("CI")
