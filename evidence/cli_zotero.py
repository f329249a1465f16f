"""Commands for Zotero: ``evidence zotero push``."""

from __future__ import annotations

import click

from evidence.options import config_option, db_option, open_config, open_database, user_errors


@click.group()
def zotero() -> None:
    """Write included records back to a Zotero library."""


@zotero.command()
@click.option("--collection", help="Collection to put them in (default: the project title); "
                                   "created if missing.")
@click.option("--library", "library_name",
              help="Configured zotero library name (default: the first one).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@db_option
@config_option
@user_errors
def push(collection: str | None, library_name: str | None, dry_run: bool, db_path: str,
         config_path: str) -> None:
    """Put included records into a Zotero collection, tagged with their themes.

    Records already in the library (by Zotero key, DOI or PMID) get the tags and the
    collection added; the others become new items. Running it twice changes nothing.
    Needs ZOTERO_API_KEY with write access.

    Example:

        evidence zotero push --collection "Kunnskapsgrunnlag 2024" --dry-run
    """
    from evidence.config import service_settings
    from evidence.db.config_sync import sync_config
    from evidence.publish.zotero_push import push as push_records

    config = open_config(config_path)
    db = open_database(db_path)
    sync_config(db, config)
    result = push_records(db, config, service_settings(), library_name=library_name,
                          collection=collection, dry_run=dry_run)
    for line in result.actions if dry_run else []:
        click.echo(line)
    verb = "would be" if dry_run else "were"
    click.echo(f"{result.library} / {result.collection!r}: {result.created} {verb} created, "
               f"{result.updated} updated, {result.unchanged} already up to date"
               + (f", {result.conflicts} conflicts re-read and merged" if result.conflicts
                  else "")
               + (" (collection created)" if result.collection_created and not dry_run
                  else ""))


COMMANDS = [zotero]
