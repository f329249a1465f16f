"""Commands for publishing: ``evidence publish``, ``evidence serve``, ``evidence export``."""

from __future__ import annotations

import click

from evidence.options import config_option, db_option, open_config, open_database, user_errors


@click.command()
@click.option("--out", default="published.db", show_default=True,
              type=click.Path(dir_okay=False), help="Published SQLite file to (re)build.")
@click.option("--edition", default=None, metavar="NAME",
              help="Edition to publish (default: project.edition in the configuration, else"
                   " the current year). Editions are ordered by the year in their name; works"
                   " no earlier edition published are its new ones. Re-publishing an edition"
                   " replaces that edition only, and an older one takes no works from a later"
                   " one.")
@db_option
@config_option
@user_errors
def publish(out: str, edition: str | None, db_path: str, config_path: str) -> None:
    """Build the published database of included records (atomically replaces --out).

    Example:

        evidence publish --edition 2024 --out published.db && evidence serve published.db
    """
    from evidence.publish.build import publish as build

    config = open_config(config_path)
    result = build(open_database(db_path), out, config, edition)
    counts = result.prisma
    click.echo(f"Rule: {result.rule} (screening.reviewers_per_record: "
               f"{result.reviewers_per_record} in {config_path})")
    click.echo(f"{result.path}: {result.records} included records, {result.themes} themes, "
               f"{result.searches} searches; {counts.get('identified_total', 0)} hits, "
               f"{counts.get('records', 0)} records, {counts.get('excluded', 0)} excluded")
    click.echo(f"Edition {result.edition}: {result.new_records} of the {result.records} works"
               " are new in it (no earlier edition published them).")
    if result.awaiting_edition:
        n = result.awaiting_edition
        click.echo(f"{n} {'work was' if n == 1 else 'works were'} included after a later"
                   " edition than"
                   f" {result.edition} was published: they are new in no edition until the"
                   " next one publishes them (docs/publishing.md, Editions).")
    if result.waiting:
        click.echo(f"Not published: {result.waiting} records included by fewer than "
                   f"{result.reviewers_per_record} reviewers so far.")
    if result.theme_conflicts:
        click.echo(f"Warning: {result.theme_conflicts} included records have a theme conflict"
                   " no lead has resolved (the reviewers chose different themes or summaries);"
                   " published with the union of their themes and the first summary written."
                   " Resolve them on the app's Conflicts page.", err=True)
    before = result.previous
    if before and before["reviewers_per_record"] != result.reviewers_per_record:
        click.echo(f"Warning: the rule changed since the last publish ({before['published_at']}"
                   f"): reviewers_per_record {before['reviewers_per_record']} -> "
                   f"{result.reviewers_per_record}, included records {before['records']} -> "
                   f"{result.records}.", err=True)


@click.command()
@click.argument("file", default="published.db", type=click.Path(dir_okay=False))
@click.option("--port", default=8002, show_default=True, type=int,
              help="Port to listen on (the screening app's default is 8001).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@user_errors
def serve(file: str, port: int, host: str) -> None:
    """Serve the published database read-only with Datasette.

    Example:

        evidence serve published.db --port 8002
    """
    from evidence import server
    from evidence.publish.site.app import make_datasette

    ds = make_datasette(file)
    click.echo(f"Serving {file} at http://{host}:{port}/", err=True)
    server.run(ds.app(), host, port)


@click.command()
@click.option("--format", "fmt", required=True,
              type=click.Choice(["ris", "csv", "bibtex", "xlsx"]), help="Output format.")
@click.option("--decision", type=click.Choice(["include", "exclude", "maybe", "undecided"]),
              help="Only records with this final decision (default: all).")
@click.option("--theme", help="Only records with this theme (its slug or name in evidence.yml).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Output file (default: standard output; required for xlsx).")
@db_option
@config_option
@user_errors
def export(fmt: str, decision: str | None, theme: str | None, out: str | None, db_path: str,
           config_path: str) -> None:
    """Export records of the working database as RIS, CSV, BibTeX or the xlsx evidence table.

    Example:

        evidence export --format xlsx --out evidence-table.xlsx
    """
    from evidence.db.config_sync import save_screening_rule
    from evidence.publish.exports import export_records

    config = open_config(config_path, required=False)
    db = open_database(db_path)
    if config:  # --decision counts final decisions by the file's rule, not a stored copy
        save_screening_rule(db, config.screening.reviewers_per_record, config.screening.stages)
    count, text = export_records(db, fmt, out, decision=decision,
                                 theme=theme, language=config.language if config else "nb",
                                 config_path=config_path)
    if text is not None:
        click.echo(text, nl=False)
    click.echo(f"{count} records exported" + (f" to {out}" if out else ""), err=True)


COMMANDS = [publish, serve, export]
