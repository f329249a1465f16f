"""Commands for running a server: ``evidence backup``, ``evidence restore``, ``evidence doctor``."""

from __future__ import annotations

import click

from evidence.options import config_option, db_option, user_errors


def _counts_line(counts: dict[str, int]) -> str:
    shown = ("records", "hits", "decisions", "users", "searches", "runs")
    picked = [f"{name} {counts[name]:,}" for name in shown if name in counts]
    return ", ".join(picked) + f" ({len(counts)} tables)"


@click.command()
@click.option("--out", type=click.Path(), help="Backup file, or a folder (ending in /) for a "
              "timestamped copy. Default: backups/ beside the database.")
@click.option("--keep", type=click.IntRange(min=1), help="Keep this many backups, removing "
              "the oldest (timestamped copies in the folder; FILE.1, FILE.2 ... for --out FILE).")
@click.option("--counts", "all_counts", is_flag=True, help="Print the row count of every table.")
@click.option("--fast", is_flag=True, help="Copy at full speed (default: rest between steps and "
              "run at low priority, so the screening app keeps its speed).")
@db_option
@user_errors
def backup(out: str | None, keep: int | None, all_counts: bool, fast: bool,
           db_path: str) -> None:
    """Copy the working database safely, also while the screening app is writing.

    The copy is one consistent moment of the database (SQLite's online backup), written
    under a temporary name and given its name only after `PRAGMA integrity_check` passed.

    Example:

        evidence backup --out /srv/backups/ --keep 14
    """
    import os

    from evidence.db.backup import backup as make_backup

    if not fast:
        os.nice(10)  # background work: the app's requests go first
    result = make_backup(db_path, out, keep=keep, pace=0.0 if fast else 1.0)
    click.echo(f"Backup written: {result.path} ({result.size / 1e6:,.1f} MB, integrity "
               f"{result.integrity}, {result.migrations} migrations)")
    click.echo(f"Rows: {_counts_line(result.counts)}")
    if all_counts:
        for table, count in result.counts.items():
            click.echo(f"  {table}\t{count}")
    for path in result.removed:
        click.echo(f"Removed old backup {path}", err=True)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing working database (it is kept "
              "beside it as DB.replaced-TIME).")
@db_option
@user_errors
def restore(file: str, force: bool, db_path: str) -> None:
    """Put a backup in place as the working database.

    Refuses a file that is not an evidence database, is damaged or was written by a newer
    version, and a database that a running `evidence screen` still has open.

    Example:

        evidence restore backups/evidence-20261206T210000Z.db --force
    """
    from evidence.db.backup import restore as restore_backup

    result = restore_backup(file, db_path, force=force)
    if result.replaced:
        click.echo(f"The replaced database is kept as {result.replaced}", err=True)
    click.echo(f"Restored {file} to {result.path}: {_counts_line(result.counts)}")
    if result.pending:
        click.echo(f"It is from an older version: {len(result.pending)} migrations run when it "
                   "is next opened", err=True)


@click.command()
@click.option("--quick", is_flag=True, help="PRAGMA quick_check instead of the full "
              "integrity_check (seconds instead of a minute on a large database).")
@db_option
@config_option
@user_errors
def doctor(quick: bool, db_path: str, config_path: str) -> None:
    """Check the configuration, the database and the environment; list what is missing.

    Exits with 1 when something must be fixed; advice alone (an optional key not set) keeps 0.

    Example:

        evidence doctor && evidence screen
    """
    from evidence.doctor import examine

    report = examine(db_path, config_path, environ=None, quick=quick)
    for line in report.ok:
        click.echo(f"ok    {line}")
    for line in report.advice:
        click.echo(f"note  {line}")
    if report.problems:
        click.echo(f"\n{len(report.problems)} to fix:")
        for line in report.problems:
            click.echo(f"  - {line}")
        raise SystemExit(1)
    click.echo("\nNothing to fix.")


COMMANDS = [backup, restore, doctor]
