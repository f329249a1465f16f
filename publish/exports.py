"""Exports of the working database: RIS (rispy), CSV, BibTeX (bibtexparser 1.4), xlsx (openpyxl).

``select_records`` reads records with their final decision, reason, summary, note, themes and
searches; the writers turn those dicts into files. ``ris_entry`` and ``bibtex_entry`` also serve
the published site's .ris and .bibtex renderers, which pass rows of the published ``records``
table (authors there are one "; "-separated string).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import bibtexparser
import rispy
import sqlite_utils
from bibtexparser.bibdatabase import BibDatabase
from bibtexparser.bwriter import BibTexWriter

from evidence import markup
from evidence.citation import editor_suffix, editors_of  # shared with the screening app
from evidence.db.outcomes import outcomes
from evidence.errors import EvidenceError
from evidence.publish.cells import csv_cell, protect_xlsx_cell, xlsx_value
from evidence.publish.outputs import check_output, database_file

FORMATS = ("ris", "csv", "bibtex", "xlsx")
DECISIONS = ("include", "exclude", "maybe", "undecided")
CSV_COLUMNS = (
    "id", "title", "authors", "year", "journal", "volume", "issue", "pages", "doi", "pmid",
    "abstract", "decision", "reason", "summary", "note", "themes", "searches", "decided_at",
)
#: Columns of the evidence table (xlsx); ``harvest.evidence_table`` reads the same names back.
XLSX_COLUMNS = (
    "reference", "year", "title", "summary", "note", "decision", "reason", "themes",
    "searches", "reviewer", "authors", "journal", "doi", "pmid", "record_id",
)
#: The evidence table of the published site: the same columns less the private ones.
PUBLIC_XLSX_COLUMNS = tuple(c for c in XLSX_COLUMNS
                            if c not in ("note", "decision", "reason", "reviewer"))
RIS_TYPES = {"journalArticle": "JOUR", "book": "BOOK", "bookSection": "CHAP",
             "report": "RPRT", "thesis": "THES", "conferencePaper": "CONF", "webpage": "ELEC"}
BIBTEX_TYPES = {"JOUR": "article", "BOOK": "book", "CHAP": "incollection", "RPRT": "techreport",
                "THES": "phdthesis", "CONF": "inproceedings", "ELEC": "misc"}


class ExportError(EvidenceError):
    """An export that cannot be made (unknown theme, format or decision)."""


_SELECT = """
SELECT r.*, rs.decision, rs.decided_at, d.reason, d.reviewer,
  (SELECT summary FROM decisions WHERE record_id = r.id AND summary IS NOT NULL
     AND summary != '' ORDER BY id DESC LIMIT 1) AS summary,
  (SELECT note FROM decisions WHERE record_id = r.id AND note IS NOT NULL
     AND note != '' ORDER BY id DESC LIMIT 1) AS note
FROM records r JOIN record_status rs ON rs.record_id = r.id
LEFT JOIN decisions d ON d.id = (SELECT max(id) FROM decisions WHERE record_id = r.id
  AND decision IS NOT NULL AND (rs.decision IS NULL OR decision = rs.decision))
WHERE {where}
ORDER BY r.id
"""


def select_records(db: sqlite_utils.Database, *, decision: str | None = None,
                   theme: str | None = None) -> Iterator[dict[str, Any]]:
    """Records of the working database with decision, reason, summary, note, themes, searches.

    ``decision`` is include, exclude, maybe or undecided; ``theme`` is a theme slug.
    """
    where, params = ["r.id IN (SELECT record_id FROM hits WHERE deleted = 0)"], []
    if decision == "undecided":
        where.append("rs.decision IS NULL")
    elif decision:
        if decision not in DECISIONS:
            raise ExportError(f"--decision {decision!r}: use one of {', '.join(DECISIONS)}")
        where.append("rs.decision = ?")
        params.append(decision)
    if theme:
        slug = theme_slug(db, theme)
        where.append("r.id IN (SELECT rt.record_id FROM record_themes rt JOIN themes t"
                     " ON t.id = rt.theme_id WHERE t.slug = ?)")
        params.append(slug)
    themes = _themes_per_record(db)
    searches = _searches_per_record(db)
    final = outcomes(db.conn)  # the final decision's summary (db/outcomes.py)
    for row in db.query(_SELECT.format(where=" AND ".join(where)), params):
        if row["id"] in final:
            row["summary"] = final[row["id"]].summary
        row["authors"] = _list(row["authors"])
        row["keywords"] = _list(row["keywords"])
        row["themes"] = themes.get(row["id"], [])
        row["searches"] = searches.get(row["id"], [])
        yield row


def theme_slug(db: sqlite_utils.Database, theme: str) -> str:
    """The slug of ``theme``, given as its slug or its name in either language (any case)."""
    row = db.execute("SELECT slug FROM themes WHERE lower(?) IN (lower(slug), lower(name),"
                     " lower(coalesce(name_nb, '')), lower(coalesce(name_en, '')))"
                     " ORDER BY slug != ? LIMIT 1", [theme, theme]).fetchone()
    if row is None:
        known = ", ".join(r[0] for r in db.execute("SELECT slug FROM themes ORDER BY position"))
        raise ExportError(f"--theme {theme!r}: no such theme (known: {known or 'none'})")
    return row[0]


def _themes_per_record(db: sqlite_utils.Database) -> dict[int, list[dict]]:
    result: dict[int, list[dict]] = {}
    for row in db.query("SELECT rt.record_id, t.slug, t.name, t.group_slug, t.group_nb,"
                        " t.group_en FROM record_themes rt JOIN themes t ON t.id = rt.theme_id"
                        " ORDER BY t.position"):
        result.setdefault(row.pop("record_id"), []).append(row)
    return result


def _searches_per_record(db: sqlite_utils.Database) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for record_id, name in db.execute(
            "SELECT DISTINCT h.record_id, s.name FROM hits h JOIN searches s"
            " ON s.id = h.search_id WHERE h.deleted = 0 ORDER BY s.name").fetchall():
        result.setdefault(record_id, []).append(name)
    return result


def _list(value: Any) -> list[str]:
    """A stored list: JSON text (working db) or "; "-separated text (published db)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("["):
        try:
            return [str(v) for v in json.loads(value)]
        except ValueError:
            pass
    return [part.strip() for part in str(value).split(";") if part.strip()]


# --- RIS and BibTeX entries (shared with the published site's renderers) -------------------

def ris_entry(record: dict[str, Any]) -> dict[str, Any]:
    """One record as a rispy entry dict."""
    entry: dict[str, Any] = {"type_of_reference": RIS_TYPES.get(record.get("item_type") or "",
                                                                "JOUR")}
    for key, tag in (("title", "title"), ("journal", "secondary_title"), ("volume", "volume"),
                     ("issue", "number"), ("doi", "doi"), ("abstract", "abstract"),
                     ("issn", "issn")):
        if record.get(key):
            # RIS has one line per tag: paragraph breaks of structured abstracts become spaces
            entry[tag] = _one_line(plain(record[key]))
    if record.get("year"):
        entry["year"] = str(record["year"])
    authors = [_one_line(a) for a in _list(record.get("authors"))]
    if authors:
        entry["authors"] = authors
    editors = [_one_line(e) for e in editors_of(record)]
    if editors:
        entry["secondary_authors"] = editors  # A2: the editors, as Zotero and EndNote read it
    keywords = [_one_line(k) for k in _keywords(record)]
    if keywords:
        entry["keywords"] = keywords
    if record.get("pages"):
        start, _, end = _one_line(record["pages"]).partition("-")
        entry["start_page"] = start
        if end:
            entry["end_page"] = end
    if record.get("url"):
        entry["urls"] = [_one_line(record["url"])]  # rispy: UR is a list tag
    if record.get("pmid"):
        entry["accession_number"] = _one_line(record["pmid"])
    notes = [_one_line(record[k]) for k in ("summary", "note") if record.get(k)]
    if notes:
        entry["notes"] = notes
    if record.get("id") is not None:
        entry["id"] = str(record["id"])
    return entry


def _one_line(value: Any) -> str:
    """``value`` on one line: in RIS a line break followed by ``ER  -`` or ``TY  -`` would end
    the entry and start a forged one, so every run of whitespace becomes one space."""
    return " ".join(str(value).split())


def plain(value: Any) -> str:
    """Text for a plain-text format: inline markup (<i>, <sup>) removed."""
    return markup.strip(str(value)) if value is not None else ""


def theme_names(record: dict[str, Any]) -> list[str]:
    """The record's themes by name: theme dicts (working database) or a JSON list of names
    (published ``records.themes``)."""
    themes = record.get("themes")
    if isinstance(themes, list):
        return [t.get("label") or t.get("name") or t.get("slug") if isinstance(t, dict)
                else str(t) for t in themes]
    return _list(themes)


def _keywords(record: dict[str, Any]) -> list[str]:
    """Keywords, then the themes (RIS KW and BibTeX keywords carry both)."""
    return list(dict.fromkeys(_list(record.get("keywords")) + theme_names(record)))


class _RisWriter(rispy.RisWriter):
    """rispy's writer without its numbered ``1.`` line before each record: RIS has no such
    line, and some reference managers read it as junk before ``TY``."""

    def set_header(self, count: int) -> None:
        return None


def ris_text(records: Iterable[dict[str, Any]]) -> str:
    return rispy.dumps([ris_entry(r) for r in records], implementation=_RisWriter)


def bibtex_entry(record: dict[str, Any], used: set[str] | None = None) -> dict[str, str]:
    """One record as a bibtexparser v1 entry (all values strings; ``ID`` unique in ``used``)."""
    ris_type = RIS_TYPES.get(record.get("item_type") or "", "JOUR")
    entry = {"ENTRYTYPE": BIBTEX_TYPES.get(ris_type, "article"), "ID": _bibtex_key(record, used)}
    authors = _list(record.get("authors"))
    if authors:
        entry["author"] = " and ".join(authors)
    editors = editors_of(record)
    if editors:  # BibTeX styles cite the editors of a work that has no author
        entry["editor"] = " and ".join(editors)
    for key, field in (("title", "title"), ("journal", "journal"), ("year", "year"),
                       ("volume", "volume"), ("issue", "number"), ("doi", "doi"),
                       ("abstract", "abstract"), ("url", "url"), ("pmid", "pmid")):
        if record.get(key):
            entry[field] = plain(record[key])
    if record.get("pages"):
        entry["pages"] = str(record["pages"]).replace("-", "--")
    keywords = _keywords(record)
    if keywords:
        entry["keywords"] = ", ".join(keywords)
    if record.get("summary"):
        entry["annote"] = str(record["summary"])
    return {k: v if k in ("ENTRYTYPE", "ID") else bibtex_value(v) for k, v in entry.items()}


def bibtex_value(value: str) -> str:
    """``value`` safe inside ``field = {...}``: on one line, braces balanced, no backslash
    before a brace. An unmatched ``}`` in a title once closed the field and let the rest of
    the title write other fields; unmatched braces are dropped (readers drop braces anyway).
    """
    text = re.sub(r"\\+(?=[{}]|$)", "", _one_line(value))
    kept, open_at = [], []
    for char in text:
        if char == "{":
            open_at.append(len(kept))
        elif char == "}":
            if not open_at:
                continue
            open_at.pop()
        kept.append(char)
    for position in reversed(open_at):
        del kept[position]
    return "".join(kept)


def _bibtex_key(record: dict[str, Any], used: set[str] | None) -> str:
    authors = _list(record.get("authors"))
    last = authors[0].split(",")[0] if authors else "anon"
    base = re.sub(r"[^A-Za-z0-9]", "", last.lower()) or "anon"
    key = f"{base}{record.get('year') or ''}" or f"record{record.get('id')}"
    if used is not None:
        candidate, n = key, 0
        while candidate in used:
            n += 1
            candidate = f"{key}{chr(96 + n) if n < 27 else n}"
        used.add(candidate)
        key = candidate
    return key


def bibtex_text(records: Iterable[dict[str, Any]]) -> str:
    database = BibDatabase()
    used: set[str] = set()
    database.entries = [bibtex_entry(r, used) for r in records]
    writer = BibTexWriter()
    writer.order_entries_by = None
    return bibtexparser.dumps(database, writer)


# --- CSV and xlsx ---------------------------------------------------------------------------

def csv_text(records: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for r in records:
        row = {**r, "title": plain(r.get("title")), "abstract": plain(r.get("abstract")),
               "authors": "; ".join(r["authors"]),
               "themes": "; ".join(t["slug"] for t in r["themes"]),
               "searches": "; ".join(r["searches"])}
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return out.getvalue()


def reference(record: dict[str, Any], language: str = "nb") -> str:
    """A short citation: "Smith et al. (2024)", "Smith & Doe (2024)"; a work without
    authors by its editors, "Moe & Dahl (red.) (2024)"."""
    people = list(record["authors"])
    editors = [] if people else editors_of(record)
    last = [a.split(",")[0].strip() for a in people or editors]
    names = (last[0] if len(last) == 1 else f"{last[0]} & {last[1]}" if len(last) == 2
             else f"{last[0]} et al." if last else "-")
    if editors:
        names += " " + editor_suffix(language, len(editors))
    return f"{names} ({record.get('year') or 'n.d.'})"


def write_xlsx(records: Iterable[dict[str, Any]], path: str | Path | IO[bytes],
               language: str = "nb", columns: tuple[str, ...] = XLSX_COLUMNS) -> int:
    """The evidence table: one sheet per theme group, plus one for records without a group
    and excluded records (their themes stay in the themes column).

    A record with themes in two groups appears on both sheets (as in the report's tables).
    ``path`` may be a binary file (the published site writes to memory); ``columns`` may
    leave out the private ones (``PUBLIC_XLSX_COLUMNS``).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    sheets: dict[str, Any] = {}
    rows: dict[str, int] = {}  # rows written per sheet, the header included
    count = 0
    for record in records:
        count += 1
        groups = [] if record.get("decision") == "exclude" else list(dict.fromkeys(
            (t[f"group_{language}"] or t["group_slug"]) for t in record["themes"]))
        row = [xlsx_value(_xlsx_value(record, column, language)) for column in columns]
        for group in groups or [_OTHER[language]]:
            if group not in sheets:
                sheets[group] = book.create_sheet(_sheet_title(group, sheets))
                sheets[group].append(list(columns))
                for cell in sheets[group][1]:
                    cell.font = Font(bold=True)
                sheets[group].freeze_panes = "A2"
            sheets[group].append(row)
            # the row just appended, by its number: ``sheet.max_row`` and ``sheet[n]`` scan
            # every cell of the sheet (16 s for 3,000 rows, quadratic)
            rows[group] = rows.get(group, 1) + 1
            for column in range(1, len(row) + 1):
                protect_xlsx_cell(sheets[group].cell(row=rows[group], column=column))
    if not sheets:
        book.create_sheet(_OTHER[language]).append(list(columns))
    book.save(str(path) if isinstance(path, (str, Path)) else path)
    return count


_OTHER = {"nb": "Uten tema eller ekskludert", "en": "No theme group or excluded"}


#: Excel's longest sheet name.
SHEET_NAME_MAX = 31


def _sheet_title(name: str, existing: dict[str, Any]) -> str:
    """A sheet name Excel accepts, cut between words (not ``…om psyk``) and unique, ignoring
    case as Excel does: the words that fit; if another sheet has those, the first word, ``…``
    and the last words that fit (``Systematiske … rusmiddelbruk``); else a number."""
    words = re.sub(r"[\[\]\*\?/\\:]", " ", name).split() or ["-"]
    taken = {s.title.casefold() for s in existing.values()}
    limit = SHEET_NAME_MAX

    def fits(parts: list[str]) -> str:
        text = ""
        for word in parts:
            candidate = f"{text} {word}".strip()
            if len(candidate) > limit:
                break
            text = candidate
        return text or parts[0][:limit]

    candidates = [fits(words)]
    if len(words) > 2:
        tail: list[str] = []
        for word in reversed(words[1:]):
            if len(" ".join([words[0], "…", word, *tail])) > limit:
                break
            tail.insert(0, word)
        if tail:
            candidates.append(" ".join([words[0], "…", *tail]))
    for title in candidates:
        if title.casefold() not in taken:
            return title
    n = 2
    while True:
        suffix = f" {n}"
        title = fits(words)[:limit - len(suffix)].rstrip() + suffix
        if title.casefold() not in taken:
            return title
        n += 1


def _xlsx_value(record: dict[str, Any], column: str, language: str) -> Any:
    if column == "reference":
        return reference(record, language)
    if column == "record_id":
        return record["id"]
    if column == "themes":
        return "; ".join(t.get("label") or t["slug"] for t in record["themes"])
    if column == "title":
        return plain(record.get("title"))
    if column in ("searches", "authors"):
        return "; ".join(record[column])
    return record.get(column)


def export_records(db: sqlite_utils.Database, fmt: str, out: str | Path | None, *,
                   decision: str | None = None, theme: str | None = None,
                   language: str = "nb", config_path: str | Path | None = None
                   ) -> tuple[int, str | None]:
    """Write the selected records as ``fmt`` to ``out``; returns (count, text when out is None).

    xlsx needs a file; the text formats return their text when ``out`` is None (stdout).
    ``out`` may not be the working database, ``config_path`` or any SQLite or YAML file
    (:func:`evidence.publish.outputs.check_output`).
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if out is not None:
        out = check_output(out, fmt, protected=[database_file(db.conn), config_path])
    records = select_records(db, decision=decision, theme=theme)
    try:
        if fmt == "xlsx":
            if out is None:
                raise ExportError("--format xlsx needs --out FILE.xlsx (a spreadsheet is not text)")
            return write_xlsx(records, out, language), None
        rows = list(records)
        text = {"ris": ris_text, "bibtex": bibtex_text, "csv": csv_text}[fmt](rows)
        if out is None:
            return len(rows), text
        Path(out).write_text(text, encoding="utf-8")
    except OSError as e:
        raise ExportError(f"--out {out}: cannot write ({e.strerror or e})") from e
    return len(rows), None
