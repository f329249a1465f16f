"""Commands for deduplication: ``evidence dedupe`` and ``evidence duplicates``."""

from __future__ import annotations

import click

from evidence.options import config_option, db_option, open_config, open_database, user_errors


@click.command()
@db_option
@config_option
@user_errors
def dedupe(db_path: str, config_path: str) -> None:
    """Fold hits that have no record yet into records (one record per work).

    Example:

        evidence dedupe
    """
    from harvest.dedupe import dedupe as run_dedupe

    config = open_config(config_path, required=False)
    result = run_dedupe(open_database(db_path), config.dedupe if config else None)
    click.echo(f"{result.hits} hits: {result.new_records} new records, {result.merged} joined "
               f"existing records, {result.uncertain} uncertain pairs")


@click.group(invoke_without_command=True)
@db_option
@click.pass_context
def duplicates(ctx: click.Context, db_path: str) -> None:
    """List uncertain duplicate pairs; `merge A B` or `split A B` decides one.

    Example:

        evidence duplicates
    """
    if ctx.invoked_subcommand is None:
        raise click.ClickException("not implemented yet")


COMMANDS = [dedupe, duplicates]
