"""The CLI edge: init, status, errors as `Error: ...` lines, help for every command."""

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
import sqlite_utils
from click.testing import CliRunner

from evidence.cli import cli
from evidence.config import starter_config_text

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


NEEDS_A_PROJECT = [
    ["status"], ["dedupe"], ["duplicates"], ["duplicates", "merge", "1", "2"],
    ["users", "list"], ["users", "add", "ana", "--password-stdin"],
    ["export", "--format", "ris"], ["publish"], ["zotero", "push"], ["screen"],
]


@pytest.mark.parametrize("args", NEEDS_A_PROJECT, ids=" ".join)
def test_commands_that_need_a_project_do_not_create_a_database(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    Path("evidence.yml").write_text(starter_config_text(), encoding="utf-8")
    result = CliRunner().invoke(cli, args, input="secret-password\n")
    assert result.exit_code != 0, result.output
    assert "no working database at evidence.db: run `evidence init`" in result.output
    assert not Path("evidence.db").exists()


def test_import_refuses_an_unknown_source_and_lists_the_configured_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init")
    Path("x.ris").write_text("TY  - JOUR\nTI  - A title\nER  - \n", encoding="utf-8")
    result = run("import", "x.ris", "--source", "idun")
    assert result.exit_code == 1
    assert result.output.startswith("Error: --source 'idun' is not a configured search (known: ")
    assert "idunn" in result.output and "--new-search" in result.output
    assert json.loads(run("status", "--json").output)["totals"]["identified"] == 0
    made = run("import", "x.ris", "--source", "idun", "--new-search", "--query", "rus*")
    assert made.exit_code == 0, made.output
    again = run("import", "x.ris", "--source", "idun")  # now a stored search: accepted
    assert again.exit_code == 0 and "0 new hits" in again.output
    db = sqlite_utils.Database("evidence.db")
    assert next(db["searches"].rows_where("name = 'idun'"))["query"] == "rus*"


def test_screen_and_serve_have_different_default_ports():
    def port(command):
        return next(p.default for p in command.params if p.name == "port")

    assert port(cli.commands["screen"]) != port(cli.commands["serve"])


def test_a_port_in_use_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        run("init")
        result = CliRunner().invoke(cli, ["screen", "--port", port])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: port {port} on 127.0.0.1 is already in use")


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


def _walk(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))


def test_every_command_has_help_and_is_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"evidence {name}" in readme, f"`evidence {name}` is not documented in README.md"


@pytest.mark.parametrize("path", [p for p, _ in _walk(cli)], ids=" ".join)
def test_every_sub_command_prints_its_description(path):
    command = dict(_walk(cli))[path]
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert command.help and len(command.help) > 20, f"{' '.join(path)} has no help text"
    first_line = command.help.strip().splitlines()[0]
    assert first_line[:40] in " ".join(result.output.split())


def test_installed_command_runs():
    # the script of the environment running the tests (a shim earlier on PATH may belong to
    # another Python), else whatever PATH finds, else the module
    beside = Path(sys.executable).with_name("evidence")
    command = str(beside) if beside.exists() else shutil.which("evidence")
    args = [command] if command else [sys.executable, "-m", "evidence"]
    result = subprocess.run([*args, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "evidence" in result.stdout
