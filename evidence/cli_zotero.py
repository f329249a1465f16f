"""Commands for Zotero: ``evidence zotero push``."""

from __future__ import annotations

import click


@click.group()
def zotero() -> None:
    """Write included records back to a Zotero library."""


COMMANDS = [zotero]
