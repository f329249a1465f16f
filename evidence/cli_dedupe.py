"""Commands for deduplication: ``evidence dedupe`` and ``evidence duplicates``."""

from __future__ import annotations

import getpass
import json

import click

from evidence.options import (
    config_option,
    db_option,
    json_option,
    open_config,
    open_database,
    user_errors,
)


@click.command()
@db_option
@config_option
@user_errors
def dedupe(db_path: str, config_path: str) -> None:
    """Fold hits that have no record yet into records (one record per work).

    Example:

        evidence dedupe
    """
    from evidence.dedupe.cluster import dedupe as run_dedupe

    config = open_config(config_path, required=False)
    result = run_dedupe(open_database(db_path), config.dedupe if config else None)
    click.echo(f"{result.hits} hits: {result.new_records} new records, {result.merged} joined "
               f"existing records, {result.uncertain} uncertain pairs")


def _short(record: dict, width: int = 70) -> str:
    title = record.get("title") or "(no title)"
    title = title if len(title) <= width else title[:width - 1] + "…"
    first = json.loads(record.get("authors") or "[]")[:1]
    return f"{record['id']}: {title} ({', '.join(first) or '?'}, {record.get('year') or '?'})"


@click.group(invoke_without_command=True)
@db_option
@json_option
@click.pass_context
@user_errors
def duplicates(ctx: click.Context, db_path: str, as_json: bool) -> None:
    """List uncertain duplicate pairs; `merge A B` or `split A B` decides one.

    A and B are record ids as listed. Decisions are kept: a split pair is never merged
    again, and a merge stays.

    Example:

        evidence duplicates && evidence duplicates merge 12 40
    """
    ctx.obj = {"db_path": db_path}
    if ctx.invoked_subcommand is not None:
        return
    from evidence.dedupe.cluster import list_uncertain_pairs

    pairs = list_uncertain_pairs(open_database(db_path))
    if as_json:
        click.echo(json.dumps(pairs, indent=2, ensure_ascii=False))
        return
    if not pairs:
        click.echo("No uncertain pairs.")
        return
    for pair in pairs:
        click.echo(f"pair {pair['pair_id']}, score {pair['score']:.2f}\n"
                   f"  A {_short(pair['record_a'])}\n  B {_short(pair['record_b'])}")
    click.echo(f"\n{len(pairs)} pairs; decide with `evidence duplicates merge A B` or "
               "`evidence duplicates split A B`")


def _decide(decision: str):
    help_text = ("Merge records A and B into one (kept by later runs)." if decision == "merge"
                 else "Mark records A and B as different works (never merged).")

    @click.command(name=decision, help=help_text)
    @click.argument("record_a", type=int)
    @click.argument("record_b", type=int)
    @click.option("--reviewer", default=None, help="Who decided (default: your login name).")
    @click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
                  help="Working SQLite database (default: the group's --db).")
    @click.pass_context
    @user_errors
    def command(ctx: click.Context, record_a: int, record_b: int, reviewer: str | None,
                db_path: str | None) -> None:
        from evidence.dedupe.cluster import decide_records

        db = open_database(db_path or ctx.obj["db_path"])
        survivor = decide_records(db, record_a, record_b, decision,
                                  reviewer or getpass.getuser())
        if decision == "merge":
            click.echo(f"merged records {record_a} and {record_b} into {survivor}")
        else:
            click.echo(f"records {record_a} and {record_b} stay apart")
    return command


duplicates.add_command(_decide("merge"))
duplicates.add_command(_decide("split"))

COMMANDS = [dedupe, duplicates]
