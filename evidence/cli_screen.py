"""Commands for screening: ``evidence screen`` and ``evidence users``."""

from __future__ import annotations

import click


@click.command()
def screen() -> None:
    """Serve the screening app on the working database."""
    raise click.ClickException("not implemented yet")


@click.group()
def users() -> None:
    """Manage reviewer accounts."""


COMMANDS = [screen, users]
