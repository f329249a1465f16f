"""The CLI edge: init, status, errors as `Error: ...` lines, help for every command."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from evidence.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_init_writes_config_and_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("init")
    assert result.exit_code == 0, result.output
    assert Path("evidence.yml").exists() and Path("evidence.db").exists()
    again = run("init")
    assert "Keeping existing evidence.yml" in again.output


def test_status_json_counts_configured_searches(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init")
    data = json.loads(run("status", "--json").output)
    assert data["totals"]["identified"] == 0
    names = {row["search"] for row in data["searches"]}
    assert {"pubmed-mental-health", "pubmed-substance-use", "idunn"} <= names


def test_status_without_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("status")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: evidence.db does not exist (run `evidence init` first)"


def test_config_error_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("evidence.yml").write_text("project:\n  title: T\n  colour: red\n")
    result = run("harvest")
    assert result.exit_code == 1
    assert result.output.startswith("Error: evidence.yml:3: project.colour: unknown key")


def test_unknown_search_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init")
    result = run("harvest", "--search", "nope")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no search named 'nope'")


def test_every_command_has_help_and_is_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert command.help, f"{name} has no help text"
        assert f"evidence {name}" in readme, f"`evidence {name}` is not documented in README.md"


def test_installed_command_runs():
    command = shutil.which("evidence")
    args = [command] if command else [sys.executable, "-m", "evidence"]
    result = subprocess.run([*args, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "evidence" in result.stdout
