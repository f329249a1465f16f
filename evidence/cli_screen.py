"""Commands for screening: ``evidence screen`` and ``evidence users``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from evidence.options import config_option, db_option, open_database, user_errors


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to reach it from other machines).")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@db_option
@config_option
@user_errors
def screen(host: str, port: int, db_path: str, config_path: str) -> None:
    """Serve the screening app on the working database.

    Sessions are signed with EVIDENCE_SECRET; without it a random secret is made at every
    start, which logs everybody out when the server restarts.

    Example:

        EVIDENCE_SECRET=$(openssl rand -hex 32) evidence screen --port 8001
    """
    from evidence import server
    from evidence.screening.app import make_datasette

    if not Path(config_path).exists():
        raise click.ClickException(f"{config_path} does not exist (run `evidence init`)")
    open_database(db_path).close()  # refuses a missing database instead of creating one
    secret = os.environ.get("EVIDENCE_SECRET")
    if not secret:
        click.echo("Note: EVIDENCE_SECRET is not set; using a random secret, so sessions end "
                   "when the server stops.", err=True)
    ds = make_datasette(db_path, config_path, secret=secret)
    click.echo(f"Screening at http://{host}:{port}/-/screen", err=True)
    server.run(ds.app(), host, port)


@click.group()
def users() -> None:
    """Manage reviewer accounts."""


@users.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(["reviewer", "lead"]), default="reviewer",
              show_default=True, help="A lead also resolves conflicts and sees the summary.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--no-password", is_flag=True, help="An account that signs in through the "
              "institution's proxy (screening.auth): set the role, ask no password.")
@db_option
@user_errors
def users_add(name: str, role: str, password_stdin: bool, no_password: bool,
              db_path: str) -> None:
    """Add an account, or set a new password and role for an existing one.

    Example:

        evidence users add ana --role lead
        evidence users add kari@uni.no --role lead --no-password
    """
    from evidence.screening.auth import add_proxy_user, add_user

    if no_password:
        if password_stdin:
            raise click.UsageError("--no-password and --password-stdin exclude each other")
        add_proxy_user(open_database(db_path), name, role)
        click.echo(f"User {name} ({role}) saved in {db_path}, signing in through the proxy",
                   err=True)
        return
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    add_user(open_database(db_path), name, password, role)
    click.echo(f"User {name} ({role}) saved in {db_path}", err=True)


@users.command(name="list")
@db_option
@user_errors
def users_list(db_path: str) -> None:
    """List the accounts: name, role, created, disabled.

    Example:

        evidence users list
    """
    from evidence.screening.auth import list_users

    for user in list_users(open_database(db_path)):
        disabled = " (disabled)" if user["disabled"] else ""
        click.echo(f"{user['username']}\t{user['role']}\t{user['created_at']}{disabled}")


COMMANDS = [screen, users]
