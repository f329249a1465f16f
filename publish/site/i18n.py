"""Interface text of the published site, one catalogue per language (bokmål and English).

Templates hold no literal user-facing text: they call ``t("key")``. The language comes from
the published database (``site.language``), which ``evidence publish`` copies from the
configuration.
"""

from __future__ import annotations

from collections.abc import Callable

from evidence.citation import suffix_entries
from evidence.publish.site import i18n_tables

CATALOGUE: dict[str, dict[str, str]] = {
    "nb": {
        "home_intro": ("Forskning sortert etter tema. Søk i alle inkluderte arbeider, "
                       "eller velg et tema."),
        "search_placeholder": ("Søk i tittel, originaltittel, sammendrag, forfattere, "
                               "redaktører og nøkkelord"),
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
        "open_access": "Fulltekst (åpen tilgang)",
        "back_to_results": "Tilbake til resultatene", "all_works": "Alle arbeider",
        "download": "Last ned referansen",
        "not_found": "Fant ikke dette arbeidet.",
        "home": "Forside",
        "identified": "Identifisert",
        "identified_total": "Treff i alt",
        "duplicates_removed": "Duplikater fjernet",
        "records": "Unike arbeider vurdert",
        "awaiting": "Ikke avgjort ennå",
        "not_screened_stopping_rule": "Ikke vurdert: stoppregel",
        "screening_method": "Gjennomgang",
        "excluded": "Ekskludert",
        "included": "Inkludert",
        "sought": "Rapporter søkt i fulltekst",
        "not_retrieved": "Fulltekst ikke funnet",
        "assessed": "Fulltekst vurdert",
        "full_text_excluded": "Ekskludert etter fulltekst",
        "identification": "Identifisering",
        "screening": "Vurdering",
        "inclusion": "Inkludering",
        "search_results": "Søk", "n_hits": "{n} treff", "n_hit": "{n} treff",
        "for_query": "for «{q}»", "ranked": "Beste treff først.",
        "in_table": "Filtrer, fasetter og sorter utvalget i tabellen",
        "no_hits": "Ingen arbeider passer til søket. Prøv færre eller kortere ord.",
        "search_help": ("Søket finner ord inni sammensatte ord og bøyde former: «rus» finner "
                        "«rusmiddelproblemer», «rusmidler» finner «rusmiddelbruk», og norske "
                        "og engelske fagord finner hverandre: «depresjon» finner "
                        "«depression». Titler søkes også på arbeidets eget språk "
                        "(originaltittel), og redaktører som forfattere."),
        "matched_themes": "Treff bare i temaet arbeidet er sortert under",
        "matched_keywords": "Treff bare i nøkkelord (vises ikke ellers)",
        "synonyms_used": "Søkte også etter",
        "match_folded": "(treff her)",
        "all_themes": "Alle tema", "previous": "Forrige", "next": "Neste",
        "page_of": "side {page} av {pages}",
        "method_intro": ("Søkene som faktisk ble kjørt, med søkestreng, tidsvindu, "
                         "dato for kjøringen og antall treff."),
        "not_run": "Ikke kjørt ennå", "run_on": "Kjørt", "window": "Tidsvindu",
        "query": "Søkestreng", "source": "Kilde", "hits_col": "Treff",
        "records_col": "Arbeider", "included_col": "Inkludert", "runs": "Kjøringer",
        "method_table": "Søkene som tabell (CSV, JSON)", "feeds": "Følg med (Atom)",
        "feed_all": "Alle nye inkluderte arbeider", "feed_theme": "Nye arbeider med dette temaet",
        "format_csv": "CSV", "format_xlsx": "Excel (xlsx)", "format_ris": "RIS",
        "format_bibtex": "BibTeX", "filter_rows": "Filtrer og sorter", "filter_op": "Vilkår",
        "filter_value": "Verdi", "download_selection": "Last ned treffene",
        # editions
        "new_in_edition": "Nytt i {edition}-utgaven", "editions": "Utgaver",
        "edition": "Utgave", "edition_published": "Publisert", "edition_records": "Arbeider",
        "edition_new": "Nye", "edition_searches": "Søk (treff, sist kjørt)",
        "edition_prisma": "PRISMA", "edition_intro": ("Hver årlige utgave med datoen den ble "
            "publisert, søkene den bygger på og PRISMA-tallene. «Nye» er arbeider som ingen "
            "tidligere utgave hadde med."),
        "feed_edition": "Nye arbeider i {edition}-utgaven", "no_new": "ingen nye arbeider",
        "current_edition": "denne utgaven",
        # the map
        "map": "Kunnskapskart", "map_link": "Kunnskapskart: tema etter år og type arbeid",
        "map_intro": ("Hvor mye forskning hvert tema har. Tallet i hver rute er antall "
                      "arbeider; velg et tall for å se arbeidene."),
        "map_by": "Vis kolonner etter", "map_by_year": "publiseringsår",
        "map_by_kind": "type arbeid",
        "map_caption_year": "Inkluderte arbeider per tema og publiseringsår",
        "map_caption_kind": "Inkluderte arbeider per tema og type arbeid",
        "map_theme": "Tema", "map_total": "I alt", "map_all": "Alle arbeider",
        "map_cell": "{theme}, {column}: {n} arbeider", "map_none": "ingen arbeider",
        "map_cell_1": "{theme}, {column}: 1 arbeid", "trend_bar_1": "{year}: 1 arbeid",
        "map_row_total_1": "{theme}: 1 arbeid i alt",
        "map_column_total_1": "{column}: 1 arbeid i alt",
        "map_row_total": "{theme}: {n} arbeider i alt",
        "map_column_total": "{column}: {n} arbeider i alt",
        "map_no_year": "Uten år", "map_no_kind": "Ukjent type",
        "map_scroll": "Kartet kan rulles sideveis.",
        "map_note": ("Et arbeid kan ha flere tema. «Alle arbeider» teller hvert arbeid én "
                     "gang, også arbeider uten tema."),
        "map_json": "Kartet som JSON",
        "kind_review": "Systematiske oversikter", "kind_nordic": "Norsk og nordisk forskning",
        "kind_book": "Bøker og bokkapitler", "kind_other": "Annen forskning",
        # theme trend
        "trend": "Arbeider per publiseringsår", "trend_label": "Arbeider per år: {years}",
        "trend_earlier": "før {year}", "trend_bar": "{year}: {n} arbeider",
        # method page
        "window_open": "uten tidsgrense", "window_from": "fra {start}",
        "window_until": "til {end}", "source_pubmed": "PubMed", "source_zotero": "Zotero",
        "source_file": "importert fil", "source_crossref": "Crossref",
        "source_openalex": "OpenAlex",
        "col_first_edition": "Første utgave", "col_kind": "Type arbeid",
        "col_new_records": "Nye arbeider", "col_created_at": "Først publisert",
        "col_published_at": "Publisert", "col_prisma": "PRISMA",
        # a work without authors is cited by its editors: "Moe, Kari (red.)"
        "editors": "Redaktører", **suffix_entries("nb"),
        "original_title": "Originaltittel",
        "download_too_many": ("Mer enn {n} rader: avgrens utvalget (et tema, et år eller et "
                              "søk) og last ned igjen."),
    },
    "en": {
        "home_intro": "Research sorted by theme. Search all included works, or choose a theme.",
        "search_placeholder": ("Search titles, original titles, abstracts, authors, editors "
                               "and keywords"),
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
        "open_access": "Full text (open access)",
        "back_to_results": "Back to the results", "all_works": "All works",
        "download": "Download the reference",
        "not_found": "No such work.",
        "home": "Home",
        "identified": "Identified",
        "identified_total": "Hits in total",
        "duplicates_removed": "Duplicates removed",
        "records": "Unique works screened",
        "awaiting": "Not decided yet",
        "not_screened_stopping_rule": "Not screened: stopping rule",
        "screening_method": "Screening",
        "excluded": "Excluded",
        "included": "Included",
        "sought": "Reports sought for retrieval",
        "not_retrieved": "Reports not retrieved",
        "assessed": "Reports assessed for eligibility",
        "full_text_excluded": "Reports excluded",
        "identification": "Identification",
        "screening": "Screening",
        "inclusion": "Included",
        "search_results": "Search", "n_hits": "{n} hits", "n_hit": "{n} hit",
        "for_query": "for “{q}”", "ranked": "Best matches first.",
        "in_table": "Filter, facet and sort the selection in the table",
        "no_hits": "No works match the search. Try fewer or shorter words.",
        "search_help": ("Search finds words inside compounds and inflected forms: “rus” finds "
                        "“rusmiddelproblemer”, “problem” finds “problems”, and Norwegian and "
                        "English words of the field find each other: “depresjon” finds "
                        "“depression”. Titles are searched in the work's own language "
                        "too (original title), and editors as authors."),
        "matched_themes": "Matched only in the theme the work is sorted under",
        "matched_keywords": "Matched only in keywords (not shown otherwise)",
        "synonyms_used": "Also searched for",
        "match_folded": "(matches here)",
        "all_themes": "All themes", "previous": "Previous", "next": "Next",
        "page_of": "page {page} of {pages}",
        "method_intro": ("The searches that were actually run, with search string, date "
                         "window, date run and number of hits."),
        "not_run": "Not run yet", "run_on": "Run", "window": "Date window",
        "query": "Search string", "source": "Source", "hits_col": "Hits",
        "records_col": "Works", "included_col": "Included", "runs": "Runs",
        "method_table": "The searches as a table (CSV, JSON)", "feeds": "Follow (Atom)",
        "feed_all": "All new included works", "feed_theme": "New works with this theme",
        "format_csv": "CSV", "format_xlsx": "Excel (xlsx)", "format_ris": "RIS",
        "format_bibtex": "BibTeX", "filter_rows": "Filter and sort", "filter_op": "Condition",
        "filter_value": "Value", "download_selection": "Download the hits",
        # editions
        "new_in_edition": "New in the {edition} edition", "editions": "Editions",
        "edition": "Edition", "edition_published": "Published", "edition_records": "Works",
        "edition_new": "New", "edition_searches": "Searches (hits, last run)",
        "edition_prisma": "PRISMA", "edition_intro": ("Each yearly edition with the date it "
            "was published, the searches it rests on and its PRISMA counts. “New” are works "
            "no earlier edition had."),
        "feed_edition": "New works in the {edition} edition", "no_new": "no new works",
        "current_edition": "this edition",
        # the map
        "map": "Evidence map", "map_link": "Evidence map: themes by year and kind of work",
        "map_intro": ("How much research each theme has. The number in each cell is the "
                      "number of works; choose a number to see them."),
        "map_by": "Columns by", "map_by_year": "publication year",
        "map_by_kind": "kind of work",
        "map_caption_year": "Included works by theme and publication year",
        "map_caption_kind": "Included works by theme and kind of work",
        "map_theme": "Theme", "map_total": "Total", "map_all": "All works",
        "map_cell": "{theme}, {column}: {n} works", "map_none": "no works",
        "map_cell_1": "{theme}, {column}: 1 work", "trend_bar_1": "{year}: 1 work",
        "map_row_total_1": "{theme}: 1 work in total",
        "map_column_total_1": "{column}: 1 work in total",
        "map_row_total": "{theme}: {n} works in total",
        "map_column_total": "{column}: {n} works in total",
        "map_no_year": "No year", "map_no_kind": "Unknown kind",
        "map_scroll": "The map scrolls sideways.",
        "map_note": ("A work may have several themes. “All works” counts each work once, "
                     "works without a theme included."),
        "map_json": "The map as JSON",
        "kind_review": "Systematic reviews", "kind_nordic": "Norwegian and Nordic research",
        "kind_book": "Books and chapters", "kind_other": "Other research",
        # theme trend
        "trend": "Works per publication year", "trend_label": "Works per year: {years}",
        "trend_earlier": "before {year}", "trend_bar": "{year}: {n} works",
        # method page
        "window_open": "no date limit", "window_from": "from {start}",
        "window_until": "until {end}", "source_pubmed": "PubMed", "source_zotero": "Zotero",
        "source_file": "imported file", "source_crossref": "Crossref",
        "source_openalex": "OpenAlex",
        "col_first_edition": "First edition", "col_kind": "Kind of work",
        "col_new_records": "New works", "col_created_at": "First published",
        "col_published_at": "Published", "col_prisma": "PRISMA",
        "editors": "Editors", **suffix_entries("en"),
        "original_title": "Original title",
        "download_too_many": ("More than {n} rows: narrow the selection (a theme, a year or "
                              "a search) and download again."),
    },
}


def translator(language: str) -> Callable[[str], str]:
    """``t(key)`` for ``language`` (English when unknown); a missing key shows itself."""
    if language not in CATALOGUE:
        language = "en"
    catalogue = {**i18n_tables.CATALOGUE[language], **CATALOGUE[language]}
    return lambda key: catalogue.get(key, key)
