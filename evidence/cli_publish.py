"""Commands for publishing: ``evidence publish``, ``evidence serve``, ``evidence export``."""

from __future__ import annotations

import click


@click.command()
def publish() -> None:
    """Build the published database of included records."""
    raise click.ClickException("not implemented yet")


@click.command()
def serve() -> None:
    """Serve the published database read-only with Datasette."""
    raise click.ClickException("not implemented yet")


@click.command()
def export() -> None:
    """Export records as RIS, CSV, BibTeX or xlsx."""
    raise click.ClickException("not implemented yet")


COMMANDS = [publish, serve, export]
