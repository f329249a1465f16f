"""Shared fixtures: fresh databases, the example configuration, browser launch settings.

Stand-in HTTP servers live in tests/standins/ (one module per service).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from evidence.config import load_config
from evidence.db.migrations import open_db

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE_CONFIG = ROOT / "evidence" / "templates" / "evidence.example.yml"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "evidence.db"


@pytest.fixture
def db(db_path: Path):
    database = open_db(db_path)
    yield database
    database.close()


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "evidence.yml"
    shutil.copy(EXAMPLE_CONFIG, path)
    return path


@pytest.fixture
def config(config_path: Path):
    return load_config(config_path)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright cannot download its own browser here."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run should have installed it")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"],
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last.

    Playwright's sync API keeps an event loop running in the main thread while its session
    browser is open, and ``asyncio.run`` (Datasette's test client) refuses to start inside it.
    """
    items.sort(key=lambda item: item.path.name.startswith("test_browser_"))
