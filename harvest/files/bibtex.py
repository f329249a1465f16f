"""BibTeX/BibLaTeX reader that never loses an entry without saying so.

bibtexparser 1.4 silently drops an entry whose braces do not balance, and often the entry after
it too (real Scopus exports have a stray ``{`` in abstracts). So the file is cut into entries
at each line that starts with ``@type{``, each entry is parsed on its own, and an entry the
parser rejects is recovered from its ``field = {value},`` lines (the layout every exporter
writes). An entry that cannot be recovered either is an error naming the file, the entry key
and its line: "entries read" always equals the entries in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bibtexparser.bparser import BibTexParser
from bibtexparser.customization import convert_to_unicode
from pyparsing import ParseException

from evidence import normalise as n
from evidence.harvest.files import FileFormatError, IdKeeper, first, read_text, split_structured

_START = re.compile(r"^[ \t]*@[ \t]*([A-Za-z]+)[ \t]*[{(][ \t]*([^,\n]*)", re.M)
_NOT_ENTRIES = ("comment", "string", "preamble")
_FIELD = re.compile(r"^\s*([A-Za-z][\w:.+-]*)\s*=\s*(.*)$")


def bibtex_chunks(text: str) -> Iterator[tuple[int, str, str, str]]:
    """(line, entry type, key, text) for each ``@type{key, ...}`` in the file."""
    matches = list(_START.finditer(text))
    for match, after in zip(matches, [*matches[1:], None], strict=True):
        end = after.start() if after else len(text)
        line = text.count("\n", 0, match.start()) + 1
        yield line, match.group(1).lower(), match.group(2).strip(), text[match.start():end]


def read_bibtex(path: str | Path) -> Iterator[dict[str, Any]]:
    """BibTeX/BibLaTeX (Zotero, JabRef, Scopus, Web of Science, Google Scholar); the entry key
    is the external id."""
    path = Path(path)
    text = read_text(path)
    parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False)
    parser.expect_multiple_parse = True
    parser.customization = convert_to_unicode
    ids = IdKeeper()
    number = 0
    for line, kind, key, chunk in bibtex_chunks(text):
        if kind in ("string", "preamble"):
            _parse(parser, chunk)
        if kind in _NOT_ENTRIES:
            continue
        number += 1
        if chunk.count("{") > MAX_NESTING and _brace_depth(chunk) > MAX_NESTING:
            # pyparsing recurses per level: 100,000 nested braces would be a RecursionError
            raise FileFormatError(f"{path.name}: entry {number} {key!r} (line {line}): braces "
                                  f"nested more than {MAX_NESTING} deep; fix it in the file")
        entry = _parse_entry(parser, chunk) or _recover(chunk, kind, key)
        if entry is None:
            raise FileFormatError(f"{path.name}: entry {number} {key!r} (line {line}): "
                                  f"{_problem(chunk)}; fix it in the file and import again")
        if not entry.get("ID"):
            raise FileFormatError(f"{path.name}: entry {number} (line {line}) has no "
                                  "citation key")
        yield ids.assign(bibtex_to_hit(entry), entry["ID"], number)
    if number == 0:
        raise FileFormatError(f"{path.name}: no BibTeX entries found (no '@type{{key,' line)")


#: Deepest brace nesting read (LaTeX in a title nests two or three levels).
MAX_NESTING = 64


def _brace_depth(chunk: str) -> int:
    depth = deepest = 0
    for char in chunk:
        if char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "}":
            depth -= 1
    return deepest


def _parse(parser: BibTexParser, chunk: str) -> list[dict[str, Any]]:
    entries = parser.bib_database.entries
    before = len(entries)
    try:
        parser.parse(chunk)
    except ParseException:
        del entries[before:]
        return []
    new = entries[before:]
    del entries[before:]
    return new


def _parse_entry(parser: BibTexParser, chunk: str) -> dict[str, Any] | None:
    """The entry when the parser reads exactly one from ``chunk`` and the braces balance
    (otherwise a stray brace may have swallowed text into a field)."""
    if _depth(chunk) != 0:
        return None
    entries = _parse(parser, chunk)
    return entries[0] if len(entries) == 1 else None


def _depth(text: str) -> int:
    text = text.replace("\\{", "").replace("\\}", "")
    return text.count("{") - text.count("}")


def _recover(chunk: str, kind: str, key: str) -> dict[str, Any] | None:
    """Fields read line by line (``name = {value},``), the value's outer braces or quotes
    removed; lines that start no field continue the one above. None when the entry is not
    laid out one field per line."""
    fields: dict[str, str] = {}
    name = None
    for line in chunk.split("\n")[1:]:
        match = _FIELD.match(line)
        if match:
            name = match.group(1).lower()
            fields[name] = match.group(2)
        elif name and line.strip() not in ("}", ")", ""):
            fields[name] += "\n" + line
    if not key or "title" not in fields:
        return None
    entry = {k: _strip_value(v) for k, v in fields.items()}
    entry.update({"ENTRYTYPE": kind, "ID": key.rstrip(",")})
    return convert_to_unicode(entry)


def _strip_value(value: str) -> str:
    value = value.strip().rstrip(",").strip()
    if value.endswith("}") and not value.startswith("{"):
        value = value.rstrip("}").strip().rstrip(",")
    if value[:1] in ("{", '"'):
        value = value[1:]
        value = value[:-1] if value[-1:] in ("}", '"') else value
    return value.strip()


def _problem(chunk: str) -> str:
    """Which field's braces do not balance, for the error message."""
    for line in chunk.split("\n")[1:]:
        match = _FIELD.match(line)
        if match and _depth(match.group(2).rstrip().rstrip(",")) != 0:
            return f"unbalanced braces in field {match.group(1)!r}"
    depth = _depth(chunk)
    if depth:
        return f"{abs(depth)} {'unclosed' if depth > 0 else 'extra closing'} brace(s)"
    return "the entry cannot be parsed"


def _unbrace(value: Any) -> str | None:
    return n.clean_text(str(value).replace("{", "").replace("}", "")) if value else None


def bibtex_to_hit(e: dict[str, Any]) -> dict[str, Any]:
    authors = [a for a in re.split(r"\s+and\s+", _unbrace(e.get("author")) or "") if a]
    keywords = re.split(r"\s*[;,]\s*", _unbrace(first(e.get("keywords"),
                                                      e.get("author_keywords"))) or "")
    return {
        "title": _unbrace(e.get("title")), "abstract": split_structured(_unbrace(
            e.get("abstract"))), "authors": authors,
        "year": e.get("year") or e.get("date"), "pub_date": e.get("date"),
        "journal": _unbrace(first(e.get("journal"), e.get("journaltitle"), e.get("booktitle"))),
        "journal_abbrev": _unbrace(first(e.get("shortjournal"), e.get("abbrev_source_title"),
                                         e.get("journal-iso"))),
        "volume": e.get("volume"), "issue": e.get("number") or e.get("issue"),
        "pages": first(e.get("pages"), e.get("art_number"), e.get("eid")),
        "doi": _unbrace(e.get("doi")),
        "pmid": first(e.get("pmid"), e.get("pubmed_id"), e.get("pubmed-id")),
        "pmcid": e.get("pmcid"), "isbn": e.get("isbn"), "issn": e.get("issn"),
        "url": e.get("url"), "language": e.get("language") or e.get("langid"),
        "keywords": [k for k in keywords if k], "item_type": e.get("ENTRYTYPE"), "raw": e,
    }
