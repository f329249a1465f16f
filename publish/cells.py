"""Spreadsheet-safe cells for every CSV and xlsx we write (CLI exports and the public site).

Imported titles and abstracts are untrusted: a cell beginning ``=HYPERLINK(...)`` or
``cmd|' /C calc'!A0`` runs as a formula when the file is opened in Excel or LibreOffice.
OWASP's advice (CSV injection): a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return gets a leading apostrophe in CSV. In xlsx the cell is written as text with
Excel's *quote prefix* style instead, so the value itself is unchanged and re-imports exactly.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Characters the xlsx format cannot hold (openpyxl refuses them).
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def starts_like_formula(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    """``value`` with an apostrophe in front when a spreadsheet would read it as a formula."""
    return "'" + value if starts_like_formula(value) else value


def xlsx_value(value: Any) -> Any:
    """``value`` without the control characters xlsx cannot store."""
    return _ILLEGAL_XLSX.sub("", value) if isinstance(value, str) else value


def protect_xlsx_cell(cell: Any) -> None:
    """Make an openpyxl cell holding formula-like text a plain text cell (quote prefix)."""
    if starts_like_formula(cell.value) or cell.data_type == "f":
        cell.data_type = "s"
        cell.quotePrefix = True
