"""Interface text of the published site, one catalogue per language (bokmål and English).

Templates hold no literal user-facing text: they call ``t("key")``. The language comes from
the published database (``site.language``), which ``evidence publish`` copies from the
configuration.
"""

from __future__ import annotations

from collections.abc import Callable

CATALOGUE: dict[str, dict[str, str]] = {
    "nb": {
        "home_intro": ("Forskning sortert etter tema. Søk i alle inkluderte arbeider, "
                       "eller velg et tema."),
        "search_placeholder": "Søk i tittel, sammendrag, forfattere og nøkkelord",
        "search": "Søk",
        "theme_groups": "Temagrupper",
        "works": "arbeider",
        "all_records": "Alle inkluderte arbeider",
        "method": "Metode: søk og tidsvinduer",
        "prisma": "PRISMA-flytdiagram",
        "prisma_table": "PRISMA-tall som tabell",
        "last_run": "Sist oppdatert",
        "theme": "Tema",
        "group": "Temagruppe",
        "table_view": "Filtrer, fasetter og last ned (CSV, JSON, RIS, BibTeX)",
        "no_records": "Ingen inkluderte arbeider med dette temaet ennå.",
        "authors": "Forfattere",
        "year": "År",
        "journal": "Tidsskrift",
        "summary": "Oppsummering",
        "abstract": "Sammendrag (abstract)",
        "themes": "Tema",
        "searches": "Funnet av søk",
        "screened_at": "Vurdert",
        "links": "Lenker",
        "download": "Last ned referansen",
        "not_found": "Fant ikke dette arbeidet.",
        "home": "Forside",
        "identified": "Identifisert",
        "identified_total": "Treff i alt",
        "duplicates_removed": "Duplikater fjernet",
        "records": "Unike arbeider vurdert",
        "awaiting": "Ikke avgjort ennå",
        "excluded": "Ekskludert",
        "included": "Inkludert",
        "identification": "Identifisering",
        "screening": "Vurdering",
        "inclusion": "Inkludering",
    },
    "en": {
        "home_intro": "Research sorted by theme. Search all included works, or choose a theme.",
        "search_placeholder": "Search titles, abstracts, authors and keywords",
        "search": "Search",
        "theme_groups": "Theme groups",
        "works": "works",
        "all_records": "All included works",
        "method": "Method: searches and date windows",
        "prisma": "PRISMA flow diagram",
        "prisma_table": "PRISMA counts as a table",
        "last_run": "Last updated",
        "theme": "Theme",
        "group": "Theme group",
        "table_view": "Filter, facet and download (CSV, JSON, RIS, BibTeX)",
        "no_records": "No included works with this theme yet.",
        "authors": "Authors",
        "year": "Year",
        "journal": "Journal",
        "summary": "Summary",
        "abstract": "Abstract",
        "themes": "Themes",
        "searches": "Found by searches",
        "screened_at": "Screened",
        "links": "Links",
        "download": "Download the reference",
        "not_found": "No such work.",
        "home": "Home",
        "identified": "Identified",
        "identified_total": "Hits in total",
        "duplicates_removed": "Duplicates removed",
        "records": "Unique works screened",
        "awaiting": "Not decided yet",
        "excluded": "Excluded",
        "included": "Included",
        "identification": "Identification",
        "screening": "Screening",
        "inclusion": "Included",
    },
}


def translator(language: str) -> Callable[[str], str]:
    """``t(key)`` for ``language`` (English when unknown); a missing key shows itself."""
    catalogue = CATALOGUE.get(language, CATALOGUE["en"])
    return lambda key: catalogue.get(key, key)
