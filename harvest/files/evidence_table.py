"""Read an xlsx evidence table (the one researchers kept by hand, or ``evidence export
--format xlsx``) back in, with its decisions, so an old Excel table can seed the database.

Every sheet is read; the first row names the columns (English or Norwegian, any case):
reference, year, title, summary, note, decision, reason, themes, searches, reviewer, authors,
journal, doi, pmid. Rows become hits of one run (search: ``source`` or the file's stem), are
deduplicated into records, and each row with a decision adds a ``decisions`` row (origin
``import``, reviewer from its column or ``import``) and its themes. One transaction: a bad row
leaves the database as it was. Importing the same file twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from evidence.config import Config, Search
from evidence.db.decisions import append_decision
from evidence.dedupe import cluster as dedupe
from evidence.errors import EvidenceError
from evidence.harvest import store
from evidence.harvest.files.importing import ImportResult
from evidence.normalise import clean_text, normalise_doi, normalise_pmid

ALIASES = {
    "referanse": "reference", "år": "year", "tittel": "title", "oppsummering": "summary",
    "sammendrag": "summary", "summary/note": "note", "notat": "note", "merknad": "note",
    "beslutning": "decision", "vurdering": "decision", "årsak": "reason",
    "begrunnelse": "reason", "tema": "themes", "theme": "themes", "søk": "searches",
    "search": "searches", "forfattere": "authors", "author": "authors",
    "tidsskrift": "journal", "reviewer": "reviewer", "vurdert av": "reviewer",
}
DECISION_WORDS = {
    "include": "include", "included": "include", "inkluder": "include",
    "inkludert": "include", "ja": "include", "yes": "include",
    "exclude": "exclude", "excluded": "exclude", "ekskluder": "exclude",
    "ekskludert": "exclude", "nei": "exclude", "no": "exclude",
    "maybe": "maybe", "kanskje": "maybe", "usikker": "maybe",
}


class EvidenceTableError(EvidenceError):
    """An evidence table that cannot be read, naming the file, sheet and row."""


@dataclass
class EvidenceTableResult(ImportResult):
    decisions: int = 0
    themes: int = 0
    warnings: list[str] = field(default_factory=list)


#: Bytes an xlsx may hold once unzipped. openpyxl reads the shared strings into memory, so a
#: 1 MB file holding one 1 GB cell took 3.9 GB before failing; a real evidence table of
#: 10,000 rows unzips to about 15 MB.
MAX_UNZIPPED = 200 * 1024 * 1024


def check_unzipped_size(path: str | Path, limit: int | None = None) -> None:
    """Refuse a workbook whose parts unzip to more than ``limit`` bytes, or whose XML holds
    what Excel never writes, before parsing it.

    The sizes come from the zip directory; zipfile stops reading a part at its declared size,
    so a part cannot hold more than it claims. Each XML part is then scanned once (linear):
    a DTD or entity declaration (XXE, entity expansion) and a comment over
    :data:`MAX_COMMENT` bytes (which the XML parser would take quadratic time over) are
    refused with the part's name.
    """
    limit = limit or MAX_UNZIPPED
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
            if total > limit:
                raise EvidenceTableError(
                    f"{path}: unzips to {total / 1e6:,.0f} MB, more than the "
                    f"{limit / 1e6:,.0f} MB an evidence table may hold (a cell that large is "
                    "not a reference)")
            for info in archive.infolist():
                if info.filename.endswith((".xml", ".rels", ".vml")):
                    with archive.open(info) as part:
                        _scan_xml_part(path, info.filename, part)
    except (OSError, zipfile.BadZipFile) as e:
        raise EvidenceTableError(f"{path}: not a readable xlsx workbook ({e})") from e


#: Longest XML comment a workbook part may hold (Excel writes none).
MAX_COMMENT = 1 << 20
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)


def _scan_xml_part(path: str | Path, name: str, part: Any) -> None:
    """One pass over an XML part in 1 MB pieces (a 4-byte overlap keeps markers whole)."""
    tail, comment_start, offset = b"", None, 0
    while chunk := part.read(1 << 20):
        data = tail + chunk
        base = offset - len(tail)
        if _DECLARATION.search(data):
            raise EvidenceTableError(f"{path}: {name} declares a DTD or entities; a workbook "
                                     "from Excel never does (refused: XXE / entity expansion)")
        at = 0
        while True:
            if comment_start is None:
                found = data.find(b"<!--", at)
                if found < 0:
                    break
                comment_start, at = base + found, found + 4
            end = data.find(b"-->", at)
            if end < 0:
                break
            comment_start, at = None, end + 3
        if comment_start is not None and base + len(data) - comment_start > MAX_COMMENT:
            raise EvidenceTableError(f"{path}: {name} holds an XML comment over "
                                     f"{MAX_COMMENT // 2**20} MB; save the workbook again from "
                                     "Excel")
        offset += len(chunk)
        tail = data[-4:]


def read_evidence_table(path: str | Path,
                        skipped: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of every sheet as dicts of our column names (plus ``_where``: sheet and row).

    A row with values but no title cannot be a hit: it is left out and named in ``skipped``
    (the import reports it), never dropped silently.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    check_unzipped_size(path)
    try:
        book = load_workbook(str(path), read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as e:
        raise EvidenceTableError(f"{path}: not a readable xlsx workbook ({e})") from e
    try:
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if not header:
                continue
            names = [_column(h) for h in header]
            if "title" not in names:
                raise EvidenceTableError(
                    f"{path}: sheet {sheet.title!r} has no title column (first row: "
                    f"{', '.join(str(h) for h in header if h)})")
            for number, values in enumerate(rows, start=2):
                row = {n: v for n, v in zip(names, values, strict=False) if n}
                where = f"{path}: sheet {sheet.title!r} row {number}"
                if clean_text(row.get("title")):
                    yield {**row, "_where": where}
                elif skipped is not None and any(clean_text(v) for v in row.values()):
                    skipped.append(f"{where}: no title (row skipped)")
    finally:
        book.close()


def _column(header: Any) -> str | None:
    if header is None:
        return None
    name = str(header).strip().lower()
    return ALIASES.get(name, name)


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    return [p.strip() for p in str(value).replace("\n", ";").split(";") if p.strip()]


def to_hit(row: dict[str, Any]) -> dict[str, Any]:
    """One evidence-table row as a hit dict; the id is its DOI, PMID or title and year."""
    doi, pmid = normalise_doi(row.get("doi")), normalise_pmid(row.get("pmid"))
    title = clean_text(row.get("title"))
    if doi:
        external_id = f"doi:{doi}"
    elif pmid:
        external_id = f"pmid:{pmid}"
    else:
        key = f"{title.lower()}|{row.get('year') or ''}"
        external_id = "title:" + hashlib.sha1(key.encode()).hexdigest()[:16]
    return {
        "external_id": external_id, "title": title, "year": row.get("year"),
        "authors": _split(row.get("authors")), "journal": row.get("journal"), "doi": doi,
        "pmid": pmid, "raw": {k: str(v) for k, v in row.items() if v is not None},
    }


def import_evidence_table(db: sqlite_utils.Database, path: str | Path, *,
                          source: str | None = None,
                          config: Config | None = None) -> EvidenceTableResult:
    """Import ``path`` as one run plus its decisions and themes (see the module docstring)."""
    path = Path(path)
    name = source or path.stem
    search = next((s for s in config.searches if s.name == name), None) if config else None
    skipped: list[str] = []
    rows = list(read_evidence_table(path, skipped))
    hits: dict[str, dict[str, Any]] = {}
    per_sheet: set[tuple[str, str]] = set()
    for row in rows:
        hit = to_hit(row)
        row["_external_id"] = hit["external_id"]
        # The export lists a record once per theme group's sheet; twice in one sheet is news.
        sheet_key = (row["_where"].rsplit(" row ", 1)[0], hit["external_id"])
        if sheet_key in per_sheet:
            skipped.append(f"{row['_where']}: the same work as an earlier row (same DOI, PMID "
                           "or title and year), read as one hit")
        per_sheet.add(sheet_key)
        hits.setdefault(hit["external_id"], hit)
    with db.atomic():
        search_id = store.ensure_search(db, search or Search(name=name, source="file"))
        run_id = store.start_run(db, search_id, query=(search.query or None) if search else None,
                                 file_path=str(path),
                                 file_sha256=store.file_sha256(str(path)))
        new, existing = store.save_hits(db, run_id, hits.values())
        store.finish_run(db, run_id, "complete", reported_count=len(hits))
        folded = dedupe.dedupe(db, config.dedupe if config else None)
        result = EvidenceTableResult(run_id, name, "xlsx", len(hits), new, existing, folded,
                                     warnings=skipped)
        _save_decisions(db, search_id, rows, result)
    return result


def _save_decisions(db: sqlite_utils.Database, search_id: int, rows: list[dict],
                    result: EvidenceTableResult) -> None:
    """Each row's decision, through the one decision writer (same theme rules as the app)."""
    themes = _lookup(db, "themes", ("slug", "name", "name_nb", "name_en"))
    reasons = _lookup(db, "exclusion_reasons", ("slug", "name_nb", "name_en"))
    seen: set[tuple] = set()
    for row in rows:
        record_id = db.execute("SELECT record_id FROM hits WHERE search_id = ? AND"
                               " external_id = ?", [search_id, row["_external_id"]]).fetchone()[0]
        slugs = _theme_slugs(row, themes, result)
        decision = _decision(row)
        if decision is None:
            if slugs:
                result.warnings.append(f"{row['_where']}: themes without a decision (skipped; "
                                       "themes belong to included records)")
            continue
        if (record_id, decision) in seen:
            continue
        seen.add((record_id, decision))
        reason_text = clean_text(row.get("reason"))
        fields = {
            "reason": reasons.get(reason_text.lower(), reason_text) if reason_text else None,
            "note": clean_text(row.get("note")), "summary": clean_text(row.get("summary")),
            "theme_slugs": slugs if decision == "include" else [],
        }
        reviewer = clean_text(row.get("reviewer")) or "import"
        if _already_there(db, record_id, reviewer, decision, fields):
            continue
        append_decision(db.conn, record_id, reviewer, decision, origin="import", **fields)
        result.decisions += 1
        result.themes += len(fields["theme_slugs"])


def _theme_slugs(row: dict[str, Any], themes: dict[str, str],
                 result: EvidenceTableResult) -> list[str]:
    slugs = []
    for label in _split(row.get("themes")):
        theme = themes.get(label.lower())
        if theme is None:
            result.warnings.append(f"{row['_where']}: unknown theme {label!r} (skipped; "
                                   "add it to theme_groups in evidence.yml)")
        else:
            slugs.append(theme)
    return list(dict.fromkeys(slugs))


def _decision(row: dict[str, Any]) -> str | None:
    word = clean_text(row.get("decision"))
    if not word:
        return None
    decision = DECISION_WORDS.get(word.lower())
    if decision is None:
        raise EvidenceTableError(f"{row['_where']}: decision {word!r} is not include, "
                                 "exclude or maybe (nor inkluder, ekskluder, kanskje)")
    return decision


def _lookup(db: sqlite_utils.Database, table: str, columns: tuple[str, ...]) -> dict[str, str]:
    """Lower-cased slug and names -> slug, for matching what people typed."""
    result: dict[str, str] = {}
    for row in db.query(f"SELECT {', '.join(columns)} FROM {table}"):
        for column in columns:
            if row[column]:
                result.setdefault(str(row[column]).lower(), row["slug"])
    return result


def _already_there(db: sqlite_utils.Database, record_id: int, reviewer: str, decision: str,
                   fields: dict[str, Any]) -> bool:
    """True when this reviewer's current decision on the record says the same already."""
    latest = db.execute(
        "SELECT decision, reason, note, summary, themes FROM decisions WHERE record_id = ?"
        " AND reviewer = ? AND stage = 'screening' ORDER BY id DESC LIMIT 1",
        [record_id, reviewer]).fetchone()
    themes = json.dumps(fields["theme_slugs"]) if fields["theme_slugs"] else None
    wanted = (decision, fields["reason"], fields["note"] or None, fields["summary"] or None,
              themes)
    return latest is not None and tuple(latest) == wanted
