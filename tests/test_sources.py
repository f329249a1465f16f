"""The source contract: a new source is one module plus one registering line.

tests/example_source.py is that module; each test registers it with the one line a real
source would add to harvest/__init__.py, then uses it through the configuration, the run
lifecycle and `evidence harvest` without any other change.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.config import ConfigError, load_config, parse_config, service_settings
from evidence.harvest import SOURCES
from evidence.harvest.runs import harvest_search


@pytest.fixture(autouse=True)
def example_source(monkeypatch):
    monkeypatch.setitem(SOURCES, "example", "tests.example_source")  # the registering line


@pytest.fixture
def feed(tmp_path):
    path = tmp_path / "feed.jsonl"
    path.write_text("".join(json.dumps({"id": f"ex{i}", "title": f"Work {i}",
                                        "doi": f"10.5555/ex.{i}"}) + "\n" for i in range(5)))
    return path


def write_config(tmp_path, feed, extra=""):
    path = tmp_path / "evidence.yml"
    path.write_text("project: {title: T}\nsearches:\n"
                    f"  - {{name: feed, source: example, path: '{feed}'{extra}}}\n")
    return path


def test_settings_are_validated_from_the_source_spec(tmp_path, feed):
    search = load_config(write_config(tmp_path, feed)).search("feed")
    assert search.settings == {"path": str(feed), "page_size": 2}
    with pytest.raises(ConfigError, match=r"evidence.yml:6: searches\[0\].page_size: must be"
                                          r" a whole number"):
        parse_config(f"project: {{title: T}}\nsearches:\n  - name: f\n    source: example\n"
                     f"    path: {feed}\n    page_size: many\n")
    with pytest.raises(ConfigError, match=r"searches\[0\].page_size: must be at least 1"):
        load_config(write_config(tmp_path, feed, ", page_size: 0"))
    with pytest.raises(ConfigError, match=r"searches\[0\].path: required"):
        parse_config("project: {title: T}\nsearches:\n  - {name: f, source: example}\n")
    with pytest.raises(ConfigError, match=r"searches\[0\].date_field: unknown key \(allowed "
                                          r"here: name, source, query, description, window, "
                                          r"path, page_size\)"):
        parse_config("project: {title: T}\nsearches:\n  - {name: f, source: example, "
                     "path: x, date_field: pdat}\n")


def test_evidence_harvest_runs_the_new_source(tmp_path, feed):
    config_path = write_config(tmp_path, feed)
    args = ["harvest", "--config", str(config_path), "--db", str(tmp_path / "e.db"), "-s"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "feed: complete, 5 reported, 5 fetched, 5 new" in result.output
    assert "dedupe: 5 new records" in result.output
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert "feed: complete, 5 reported, 5 fetched, 0 new" in again.output


def test_failed_page_fails_the_run_and_an_unfinished_run_resumes(tmp_path, feed, db):
    config = load_config(write_config(tmp_path, feed))
    search, services = config.search("feed"), service_settings({})
    with pytest.raises(ConnectionError):
        harvest_search(db, search, config, services, fail_after=1)
    assert db.execute("select status, error from runs").fetchone() == (
        "failed", "ConnectionError: the example feed went away")
    assert db["hits"].count == 2  # the first page was stored with its checkpoint
    db.execute("update runs set status = 'interrupted'")  # as Ctrl-C leaves it
    summary = harvest_search(db, search, config, services)
    assert summary.message == "resumed run 1" and summary.run_id == 1
    assert (summary.fetched, summary.new) == (5, 5)
    assert sorted(r["external_id"] for r in db["hits"].rows) == [f"ex{i}" for i in range(5)]
