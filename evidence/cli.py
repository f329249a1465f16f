"""The ``evidence`` command: each sub-command opens the database, calls the library, reports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from evidence import __version__
from evidence.harvest import files
from evidence.options import (
    config_option,
    db_option,
    json_option,
    open_config,
    open_database,
    progress_enabled,
    silent_option,
    user_errors,
)


@click.group()
@click.version_option(__version__, prog_name="evidence")
def cli() -> None:
    """Literature evidence tracker: harvest, deduplicate, screen and publish.

    Typical year: `evidence harvest`, `evidence import FILE` for other databases,
    `evidence screen` to decide, `evidence publish` and `evidence serve` to share.
    """


@cli.command()
@db_option
@config_option
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@user_errors
def init(db_path: str, config_path: str, force: bool) -> None:
    """Write a starter configuration and create the working database.

    Example:

        evidence init && $EDITOR evidence.yml
    """
    from evidence.project import init_project

    result = init_project(config_path, db_path, force=force)
    click.echo(f"Wrote {result.config_path}" if result.wrote_config else
               f"Keeping existing {result.config_path} (use --force to overwrite)", err=True)
    click.echo(f"Database ready: {result.db_path}", err=True)


@cli.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", help="Configured search these hits belong to (default: the file "
              "name).")
@click.option("--new-search", is_flag=True,
              help="--source names a new search: create it instead of refusing the name.")
@click.option("--query", help="With --new-search: the search string the export was made with.")
@click.option("--format", "fmt", type=click.Choice(list(files.READERS)),
              help="File format (default: detected from the content).")
@db_option
@config_option
@user_errors
def import_(file: str, source: str | None, new_search: bool, query: str | None,
            fmt: str | None, db_path: str, config_path: str) -> None:
    """Import an export from another database (RIS, MEDLINE/.nbib, BibTeX, CSV/TSV, EndNote
    XML, EndNote tagged .enw, Web of Science, Cochrane Library, Ovid, a database's Excel
    export), or an xlsx evidence table (`evidence export --format xlsx`) with its decisions
    and themes.

    Example:

        evidence import idunn-2024.ris --source idunn
    """
    from evidence.db.config_sync import sync_config
    from evidence.harvest.files.evidence_table import EvidenceTableResult
    from evidence.harvest.files.importing import check_source, import_file

    if query and not new_search:
        raise click.UsageError("--query goes with --new-search")
    config = open_config(config_path, required=False)
    db = open_database(db_path, create=True)
    if config:
        sync_config(db, config)
    if source:
        check_source(db, config, source, new_search=new_search)
    result = import_file(db, file, source=source, fmt=fmt, config=config, query=query)
    click.echo(f"{file}: {result.entries} entries read as {result.format}, "
               f"{result.new_hits} new hits, {result.already_stored} already stored "
               f"(search {result.search!r}, run {result.run_id}); "
               f"{result.dedupe.new_records} new records, {result.dedupe.merged} merged")
    if isinstance(result, EvidenceTableResult):
        click.echo(f"{result.decisions} decisions and {result.themes} theme links imported")
        for warning in result.warnings:
            click.echo(f"Warning: {warning}", err=True)


@cli.command()
@click.option("--search", "search_names", multiple=True, help="Only this search (repeatable).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="Start of the window (default: the last run, else the configured window).")
@db_option
@config_option
@silent_option
@user_errors
def harvest(search_names: tuple[str, ...], since: dt.datetime | None, db_path: str,
            config_path: str, silent: bool) -> None:
    """Run the configured searches (PubMed, Zotero, Crossref, OpenAlex) and fetch what is new.

    With `enrich: {after_harvest: true}` in evidence.yml, the new records are then looked up
    in OpenAlex and Crossref for missing abstracts and DOIs (`evidence enrich`).

    Example:

        evidence harvest --search pubmed-mental-health
    """
    from evidence.config import service_settings
    from evidence.harvest.runs import harvest as run_harvest

    config = open_config(config_path)
    db = open_database(db_path, create=True)
    first_new = (db.execute("SELECT max(id) FROM records").fetchone()[0] or 0) + 1
    result = run_harvest(db, config, service_settings(),
                         names=search_names, since=since.date() if since else None,
                         progress=progress_enabled(silent),
                         report=lambda line, err: click.echo(line, err=err))
    dedupe = result.dedupe
    click.echo(f"dedupe: {dedupe.new_records} new records, {dedupe.merged} hits joined "
               f"existing records, {dedupe.uncertain} uncertain pairs")
    if config.enrich.after_harvest and dedupe.new_records:
        from evidence.harvest.enrich import enrich

        new_ids = [r for (r,) in db.execute("SELECT id FROM records WHERE id >= ?",
                                            [first_new])]
        enriched = enrich(db, config, service_settings(), record_ids=new_ids,
                          progress=progress_enabled(silent))
        click.echo(f"enrich: {enriched.summary()}")
    if result.failed:
        ran = len(result.runs) + len(result.failed)
        raise click.ClickException(
            f"{len(result.failed)} of {ran} searches failed: "
            + "; ".join(name for name, _ in result.failed)
            + " (each message is above; what they fetched is kept, and the next "
            "`evidence harvest` runs them again)")


@cli.command()
@db_option
@config_option
@json_option
@user_errors
def status(db_path: str, config_path: str, as_json: bool) -> None:
    """Counts per search, source and run: hits, records, screened, included.

    A record counts as decided by the rule in the configuration now
    (``screening.reviewers_per_record``), printed on the first line.

    Example:

        evidence status --json | jq .totals
    """
    from evidence.status import collect_status, format_stages, format_stopping, format_table

    data = collect_status(open_database(db_path), open_config(config_path, required=False))
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"Rule: {data['rule']['text']} ({data['rule']['from']})")
    totals = data["totals"]
    click.echo("Overall: " + " | ".join(
        f"{k.replace('_', ' ')}: {v}" for k, v in totals.items()))
    if totals.get("theme_conflicts"):
        click.echo(f"Unresolved theme conflicts: {totals['theme_conflicts']} records the"
                   " reviewers included with different themes or summaries; a lead resolves"
                   " them on the app's Conflicts page (publish uses the union of the themes"
                   " until then).")
    click.echo(f"\nStages\n{format_stages(data['stages'])}")
    click.echo(f"\nStopping\n{format_stopping(data['stopping'])}")
    for title, rows, columns in (
        ("Searches", data["searches"], ["search", "source", "hits", "records", "screened",
                                        "included", "last_run_at"]),
        ("Sources", data["sources"], ["source", "hits", "records", "screened", "included"]),
        ("Runs", data["runs"], ["run", "search", "status", "started_at", "reported", "hits",
                                "new_hits", "records", "already_screened"]),
    ):
        click.echo(f"\n{title}\n{format_table(rows, columns)}")


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="demo",
              show_default=True, help="Folder for the demo configuration and databases.")
@user_errors
def demo(directory: str) -> None:
    """Run the whole flow offline on bundled sample data, and say what to try next.

    Example:

        evidence demo && cd demo && evidence status
    """
    from evidence.demo import run_demo

    for line in run_demo(Path(directory)):
        click.echo(line)


def _add_optional_commands() -> None:
    """Commands that live in their own modules (one module per area of the tool)."""
    from evidence import (
        cli_dedupe,
        cli_enrich,
        cli_publish,
        cli_screen,
        cli_server,
        cli_simulate,
        cli_zotero,
    )

    for module in (cli_dedupe, cli_enrich, cli_publish, cli_screen, cli_simulate, cli_zotero,
                   cli_server):
        for command in module.COMMANDS:
            cli.add_command(command)


_add_optional_commands()
