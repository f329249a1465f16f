"""Commands that measure the screening aids on labelled files: ``evidence simulate`` and
``evidence simulate-themes``."""

from __future__ import annotations

import click

from evidence.options import user_errors


@click.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--prior-included", "prior_included", multiple=True, required=True,
              help="record_id of a record known to be included (repeatable).")
@click.option("--prior-excluded", "prior_excluded", multiple=True, required=True,
              help="record_id of a record known to be excluded (repeatable).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="CSV to write: record_id,label in the order shown.")
@user_errors
def simulate(data: str, prior_included: tuple[str, ...], prior_excluded: tuple[str, ...],
             out_path: str) -> None:
    """Screen a labelled set (record_id,title,abstract,label_included) with the app's own
    relevance ranking, starting from the prior records and revealing each label after the
    record is shown; write every record_id with its label in the order shown.

    Example:

        evidence simulate set.csv --prior-included 17 --prior-excluded 4 --out order.csv
    """
    from evidence.models.simulation import read_labelled, simulate_order, write_csv

    rows = read_labelled(data)
    order = simulate_order(rows, list(prior_included), list(prior_excluded))
    write_csv(out_path, ["record_id", "label"], [list(item) for item in order])
    click.echo(f"{out_path}: {len(order)} records in screening order", err=True)


@click.command(name="simulate-themes")
@click.argument("test", type=click.Path(exists=True, dir_okay=False))
@click.option("--train", "train_path", type=click.Path(exists=True, dir_okay=False),
              required=True, help="Themed records to learn from (record_id,title,abstract,themes).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="CSV to write: record_id,suggestions (';'-separated, best first).")
@click.option("--themes", "themes_path", type=click.Path(exists=True, dir_okay=False),
              help="Optional theme legend (theme_id,heading[,group]): the headings are learned "
                   "from and the groups lift each other, as the app does with its configured "
                   "themes.")
@user_errors
def simulate_themes(test: str, train_path: str, out_path: str,
                    themes_path: str | None) -> None:
    """Suggest up to three themes for each TEST record in file order, learned from TRAIN and
    the TEST records before it (record_id,title,abstract,themes; themes ';'-separated).

    Example:

        evidence simulate-themes 2025.csv --train 2024.csv --out suggestions.csv
    """
    from evidence.models.simulation import read_legend, read_themed, write_csv
    from evidence.models.simulation import simulate_themes as run

    legend = read_legend(themes_path) if themes_path else None
    result = run(read_themed(train_path), read_themed(test), legend)
    write_csv(out_path, ["record_id", "suggestions"],
              [[record_id, ";".join(themes)] for record_id, themes in result])
    click.echo(f"{out_path}: suggestions for {len(result)} records", err=True)


COMMANDS = [simulate, simulate_themes]
