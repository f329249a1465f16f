"""``evidence enrich``: fill missing abstracts, DOIs and open-access links (harvest/enrich.py)."""

from __future__ import annotations

import click

from evidence.options import (
    config_option,
    db_option,
    open_config,
    open_database,
    progress_enabled,
    silent_option,
    user_errors,
)


@click.command()
@click.option("--source", "sources", multiple=True, type=click.Choice(["openalex", "crossref"]),
              help="Ask only this service (repeatable; default: enrich.sources, OpenAlex then "
                   "Crossref).")
@click.option("--again", is_flag=True,
              help="Ask again about records looked up before (a work not found then may be "
                   "indexed now).")
@db_option
@config_option
@silent_option
@user_errors
def enrich(sources: tuple[str, ...], again: bool, db_path: str, config_path: str,
           silent: bool) -> None:
    """Look up records with no abstract or no DOI in OpenAlex and Crossref.

    By DOI (in batches of 50), else by title; a title match is applied only when
    it is clearly the same work (title, year and first author, as the deduplication judges).
    A work found becomes a hit of that service on the record, so the source of each field
    stays visible. Running it again asks nothing again; an interrupted run resumes. Set
    EVIDENCE_MAILTO to use the services' polite pools (faster), OPENALEX_API_KEY if you
    have one.

    Example:

        EVIDENCE_MAILTO=you@example.org evidence enrich
    """
    from evidence.config import service_settings
    from evidence.harvest.enrich import enrich as run_enrich

    config = open_config(config_path, required=False)
    result = run_enrich(open_database(db_path), config, service_settings(),
                        sources=sources or None, again=again,
                        progress=progress_enabled(silent))
    click.echo(result.summary())


COMMANDS = [enrich]
